"""The scene the export benchmarks share: F frames of N random points, 3 small cameras, K moving boxes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.transforms import pose_from_yaw, rotz
from lidarlabel.io.scene import SceneWriter


def build_export_scene(path: Path, frames: int, points: int, objects: int,
                       categories: Sequence[str] = ("vehicle.car",), scene_id: str = "bench",
                       seed: int = 0) -> LabelDocument:
    """Write the bench scene to ``path``; return its labels (``objects`` moving boxes in every frame)."""
    rng = np.random.default_rng(seed)
    cams = []
    for k, yaw in enumerate((0.0, 2.1, -2.1)):
        T = np.eye(4)
        T[:3, :3] = rotz(yaw) @ np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
        T[:3, 3] = [1.0, 0.0, 1.6]
        cams.append(CameraModel(f"CAM_{k}", 320, 240, [[200, 0, 160], [0, 200, 120], [0, 0, 1]], np.zeros(5), T))
    jpgs = [cv2.imencode(".jpg", rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))[1].tobytes() for _ in cams]
    starts = rng.uniform(-40, 40, (objects, 2))
    yaws = rng.uniform(-np.pi, np.pi, objects)
    speeds = rng.uniform(0, 10, objects)
    tracks = [Track(f"object-{k}", categories[k % len(categories)]) for k in range(objects)]
    with SceneWriter(path, scene_id, pose_from_yaw(0.0, [1.0, 0.0, 1.8]), cams) as w:
        for f in range(frames):
            ts = 1_700_000_000_000_000 + 100_000 * f
            pts = np.c_[rng.uniform(-50, 50, (points, 2)), rng.uniform(-2, 2, points), rng.uniform(0, 1, points),
                        rng.integers(0, 32, points)].astype(np.float32)
            w.add_frame(ts, pose_from_yaw(0.01 * f, [0.5 * f, 0, 0]), pts, {c.name: jpgs[i] for i, c in enumerate(cams)})
            for k, t in enumerate(tracks):
                c = starts[k] + 0.1 * speeds[k] * f * np.array([np.cos(yaws[k]), np.sin(yaws[k])])
                t.boxes[f] = Box(f, (c[0] + 0.5 * f, c[1], -0.9), (4.5, 1.9, 1.7), float(yaws[k]), ts, "human")
    doc = LabelDocument.new(scene_id, source="human", author="bench")
    doc.tracks = {t.id: t for t in tracks}
    return doc
