"""The pre-labeler end to end on a hand-made scene: detection, tracking, refinement, documents, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.boxes import bev_iou_matrix, yaw_difference
from lidarlabel.core.transforms import invert_pose, pose_from_yaw, transform_points
from lidarlabel.io.labels import load_document
from lidarlabel.io.scene import SceneWriter
from lidarlabel.prelabel.batch import prelabel_document, prelabel_scene
from tests.conftest import CHECKER
from tests.test_prelabel_fitting import visible_surface

SLOPE = 0.03
# category, first box [x, y, z(bottom), l, w, h, yaw], velocity (vx, vy)
OBJECTS = {
    "parked": ("vehicle.car", [15.0, 7.0, 0.0, 4.6, 1.9, 1.55, 0.3], (0.0, 0.0)),
    "moving": ("vehicle.car", [-18.0, -3.5, 0.0, 4.4, 1.85, 1.5, 0.0], (8.0, 0.0)),
    "walker": ("human.pedestrian.adult", [6.0, -9.0, 0.0, 0.6, 0.6, 1.75, np.pi / 2], (0.0, 1.4)),
}


def object_boxes(frame: int) -> dict[str, np.ndarray]:
    """Ground-truth (7,) boxes (geometric centre) of every object at ``frame`` (10 Hz)."""
    out = {}
    for name, (_, b, v) in OBJECTS.items():
        x, y = b[0] + v[0] * 0.1 * frame, b[1] + v[1] * 0.1 * frame
        ground = SLOPE * x
        out[name] = np.array([x, y, ground + b[5] / 2, b[3], b[4], b[5], b[6]])
    return out


def make_object_scene(path: Path, frames: int = 12, seed: int = 0) -> Path:
    """A scene of a sloped road with a parked car, a passing car and a walker, seen by a moving LiDAR."""
    rng = np.random.default_rng(seed)
    lidar_ext = pose_from_yaw(0.0, [0.0, 0.0, 1.8])
    with SceneWriter(path, "objects", lidar_ext, [], source="sim") as w:
        for i in range(frames):
            ego = pose_from_yaw(0.0, [0.5 * i, 0.0, SLOPE * 0.5 * i])
            sensor = (ego @ lidar_ext)[:3, 3]
            r = np.sqrt(rng.uniform(3**2, 50**2, 40000))
            a = rng.uniform(-np.pi, np.pi, len(r))
            gx, gy = sensor[0] + r * np.cos(a), sensor[1] + r * np.sin(a)
            parts = [np.c_[gx, gy, SLOPE * gx + rng.normal(0, 0.02, len(r))]]
            for box in object_boxes(i).values():
                dist = np.hypot(*(box[:2] - sensor[:2]))
                parts.append(visible_surface(box, sensor, max(0.06, 0.006 * dist), rng))
            world = np.concatenate(parts)
            lidar = transform_points(invert_pose(ego @ lidar_ext), world)
            pts = np.c_[lidar, rng.uniform(0, 1, len(lidar)), np.zeros(len(lidar))].astype(np.float32)
            w.add_frame(1_700_000_000_000_000 + 100_000 * i, ego, pts, {})
    return path


@pytest.fixture(scope="module")
def object_scene(tmp_path_factory) -> Path:
    return make_object_scene(tmp_path_factory.mktemp("objects") / "objects.h5")


@pytest.fixture(scope="module")
def prelabeled(object_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "objects.json"
    res = prelabel_scene(object_scene, out)
    assert res.ok, res.error
    return res, load_document(out), out


def _match(doc, name):
    """The predicted track that overlaps object ``name`` most, and its per-frame BEV IoU."""
    best, best_iou = None, {}
    for tid, t in doc.tracks.items():
        ious = {f: float(bev_iou_matrix(b.as_array()[None], object_boxes(f)[name][None])[0, 0])
                for f, b in t.boxes.items()}
        if sum(ious.values()) > sum(best_iou.values()):
            best, best_iou = tid, ious
    return best, best_iou


def test_document_follows_the_contract(prelabeled, object_scene):
    res, doc, out = prelabeled
    check = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert doc.version.source == "prelabel" and doc.version.author == "lidarlabel-prelabel/geometric"
    assert doc.scene == "objects"
    boxes = [b for t in doc.tracks.values() for b in t.boxes.values()]
    assert boxes and all(b.source == "prelabel" and b.keyframe is False for b in boxes)
    assert all(0.0 < b.score <= 1.0 for b in boxes)
    assert all(b.timestamp_us == 1_700_000_000_000_000 + 100_000 * b.frame for b in boxes)
    assert all(b.num_lidar_pts is not None for b in boxes)
    assert res.stage_ms_per_frame.keys() >= {"ground", "cluster", "fit", "classify", "track"}


@pytest.mark.parametrize("name,thr", [("parked", 0.7), ("moving", 0.7), ("walker", 0.4)])
def test_each_object_is_one_track_with_the_right_category(prelabeled, name, thr):
    _, doc, _ = prelabeled
    tid, ious = _match(doc, name)
    assert tid is not None
    assert doc.tracks[tid].category == OBJECTS[name][0]
    good = [f for f, v in ious.items() if v >= thr]
    assert len(good) >= 10, ious  # of 12 frames


def test_parked_car_keeps_one_box_and_moving_car_heads_along_its_motion(prelabeled):
    _, doc, _ = prelabeled
    parked = doc.tracks[_match(doc, "parked")[0]]
    arrays = np.array([b.as_array() for b in parked.boxes.values()])
    assert np.ptp(arrays, axis=0).max() < 1e-9
    moving = doc.tracks[_match(doc, "moving")[0]]
    yaws = np.array([b.yaw for b in moving.boxes.values()])
    assert np.all(np.abs(yaw_difference(yaws, 0.0)) < np.deg2rad(5))
    assert not np.isclose(*[b.center[0] for b in list(moving.boxes.values())[:2]])


def test_scores_rank_real_objects_above_the_rest(prelabeled):
    _, doc, _ = prelabeled
    real = {_match(doc, n)[0] for n in OBJECTS}
    others = [max(b.score for b in t.boxes.values()) for tid, t in doc.tracks.items() if tid not in real]
    real_scores = [min(b.score for b in doc.tracks[t].boxes.values()) for t in real]
    assert not others or min(real_scores) > max(others)


def test_same_input_gives_the_same_ids_and_boxes(object_scene, prelabeled):
    _, doc, _ = prelabeled
    again, _ = prelabel_document(object_scene)
    assert list(again.tracks) == list(doc.tracks)
    for tid, t in again.tracks.items():
        for f, b in t.boxes.items():
            np.testing.assert_allclose(b.as_array(), doc.tracks[tid].boxes[f].as_array(), atol=1e-4)


def test_interrupt_leaves_no_partial_file(object_scene, tmp_path):
    out = tmp_path / "objects.json"

    def stop(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prelabel_scene(object_scene, out, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_prelabel_command_skips_up_to_date_reports_failures_and_goes_on(object_scene, tmp_path, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    good = scenes / "good.h5"
    good.write_bytes(object_scene.read_bytes())
    bad = scenes / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a truncated HDF5 file
    out = tmp_path / "labels"
    code = main(["prelabel", str(bad), str(good), "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    summary = json.loads(captured.out)
    assert summary["failed"] == 1 and summary["done"] == 1
    assert str(bad) in captured.err
    assert (out / "good.json").is_file() and not (out / "bad.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["good.json"]  # no temporary files left
    mtime = (out / "good.json").stat().st_mtime_ns
    assert main(["prelabel", str(good), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == 1 and (out / "good.json").stat().st_mtime_ns == mtime
    assert main(["prelabel", str(good), "--out", str(out), "--force", "--workers", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == 1 and (out / "good.json").stat().st_mtime_ns != mtime


def test_prelabel_command_usage_errors(tmp_path):
    assert main(["prelabel", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o")]) == 1
    with pytest.raises(SystemExit) as exc:
        main(["prelabel", "x.h5", "--out", str(tmp_path), "--workers", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["prelabel", "x.h5", "--out", str(tmp_path), "--executor", "nowhere"])
    assert exc.value.code == 2
    assert main(["prelabel", "x.h5", "--out", str(tmp_path), "--detector", "onnx"]) == 1


@pytest.mark.parametrize("frames", [1, 2])
def test_short_scene_keeps_its_detections(tmp_path, frames):
    # issue #3: a 1-frame scene (a KITTI object frame) used to give an empty document
    scene = make_object_scene(tmp_path / "short.h5", frames=frames)
    out = tmp_path / "short.json"
    res = prelabel_scene(scene, out)
    assert res.ok, res.error
    doc = load_document(out)
    for name in ("parked", "moving", "walker"):
        tid, ious = _match(doc, name)
        assert tid is not None, name
        assert doc.tracks[tid].category == OBJECTS[name][0]
        assert len(ious) == frames and min(ious.values()) >= 0.4, (name, ious)
    check = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_short_scene_options_cap_track_length_at_the_scene_length():
    from lidarlabel.prelabel.batch import short_scene_options

    trk, ref = short_scene_options({}, 1)
    assert (trk.min_hits, ref.min_observations) == (1, 1)
    trk, ref = short_scene_options({}, 40)
    assert (trk.min_hits, ref.min_observations) == (2, 3)  # long scenes keep the defaults
    trk, ref = short_scene_options({"refine": {"min_observations": 5}}, 4)
    assert ref.min_observations == 4
