"""Shared fixtures: a small hand-made scene, the real data folder, label helpers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.transforms import pose_from_yaw
from lidarlabel.io.scene import SceneWriter

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CHECKER = ROOT.parent / "shared" / "tools" / "check_label_document.py"


@pytest.fixture(autouse=True)
def _no_fit_time_budget(monkeypatch):
    """The one-click fit's neighbour walk stops on a time budget (an interactive edit); tests must
    not depend on the machine's load, so they walk every sweep. tests/test_edit_fit.py tests the budget."""
    from lidarlabel.edit import fit_context

    monkeypatch.setattr(fit_context, "WALK_BUDGET_S", float("inf"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real KITTI / nuScenes / Waymo frames (../shared/data); tests fail loudly if absent."""
    assert SHARED_DATA.is_dir(), f"real test data missing: {SHARED_DATA}"
    return SHARED_DATA


def make_tiny_scene(path: Path, frames: int = 5, points: int = 2000, seed: int = 0) -> Path:
    """Write a small scene: random points, one 320x240 camera, ego moving 1 m per frame along x."""
    rng = np.random.default_rng(seed)
    cam = CameraModel(
        "CAM_FRONT", 320, 240, [[200, 0, 160], [0, 200, 120], [0, 0, 1]], [0.01, 0, 0, 0, 0],
        # camera looks along ego +x: camera z = ego x, camera x = -ego y, camera y = -ego z
        np.array([[0, 0, 1, 1.5], [-1, 0, 0, 0], [0, -1, 0, 1.6], [0, 0, 0, 1]], dtype=float),
    )
    lidar_ext = pose_from_yaw(0.0, [1.0, 0.0, 1.8])
    with SceneWriter(path, "tiny", lidar_ext, [cam], source="sim") as w:
        for i in range(frames):
            pts = np.c_[rng.uniform(-30, 30, (points, 2)), rng.uniform(-2, 1, points),
                        rng.uniform(0, 1, points), rng.integers(0, 32, points)].astype(np.float32)
            img = np.full((240, 320, 3), 40 + 20 * i, np.uint8)
            ok, jpg = cv2.imencode(".jpg", img)
            w.add_frame(1_700_000_000_000_000 + 100_000 * i, pose_from_yaw(0.05 * i, [i, 0, 0]),
                        pts, {"CAM_FRONT": jpg.tobytes()})
    return path


@pytest.fixture
def tiny_scene(tmp_path: Path) -> Path:
    """Path of a freshly written 5-frame scene (see :func:`make_tiny_scene`)."""
    return make_tiny_scene(tmp_path / "tiny.h5")


@pytest.fixture(scope="module")
def ray_cluster():
    """A private 2-CPU local Ray instance for one test module (ray is a dev dependency)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024 * 1024)
    yield ray
    ray.shutdown()
