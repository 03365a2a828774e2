"""KITTI: real frames import onto KITTI's own 2D boxes; export/import round trip; clear errors."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.boxes import box_corners
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.transforms import compose, invert_pose, pose_matrix, transform_points
from lidarlabel.io.formats.nuscenes_common import quarter_turn
from lidarlabel.io.labels import load_document, save_document
from lidarlabel.io.scene import SceneReader
from tests.conftest import CHECKER, make_tiny_scene


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix)


def _import_and_measure(shared_data, tmp_path, frames: str) -> list[float]:
    """Import ``frames``; IoU of each box's projected rectangle with KITTI's own 2D box."""
    out = tmp_path / f"k{len(frames)}.h5"
    labels = tmp_path / f"k{len(frames)}.labels.json"
    assert main(["import", "kitti", str(shared_data / "kitti"), "--frames", frames, "--out", str(out)]) == 0
    assert subprocess.run([sys.executable, str(CHECKER), str(labels)]).returncode == 0
    doc = load_document(labels)
    ious = []
    with SceneReader.open(out) as sc:
        cam = sc.camera("image_2")
        assert sc.num_frames == len(frames.split(",")) and sc.num_points(0) > 100_000
        assert sc.image("image_2", 0).shape == (cam.height, cam.width, 3)
        for t in doc.tracks.values():
            for b in t.boxes.values():
                corners = transform_points(invert_pose(cam.ego_from_camera), box_corners(b.as_array())[0])
                uv, ok = cam.project(corners)
                assert ok.all()
                lo = np.clip(uv.min(0), 0, [cam.width - 1, cam.height - 1])
                hi = np.clip(uv.max(0), 0, [cam.width - 1, cam.height - 1])
                ious.append(_iou([*lo, *hi], b.extra["kitti"]["bbox"]))
    expected = sum(1 for f in frames.split(",") for line in (shared_data / "kitti" / "label_2" / f"{f}.txt")
                   .read_text().splitlines() if line.split() and line.split()[0] != "DontCare")
    assert len(ious) == expected
    return ious


def test_real_kitti_boxes_project_onto_kittis_2d_boxes(shared_data, tmp_path):
    # frame 000000 has its own calibration (another drive): two scenes
    ious = _import_and_measure(shared_data, tmp_path, "000000")
    ious += _import_and_measure(shared_data, tmp_path, "000001,000002,000003,000004,000005")
    assert len(ious) == 10
    assert np.median(ious) > 0.9 and min(ious) > 0.75


def test_kitti_frames_of_two_calibrations_are_refused(shared_data, tmp_path, capsys):
    assert main(["import", "kitti", str(shared_data / "kitti"), "--out", str(tmp_path / "k.h5")]) == 1
    err = capsys.readouterr().err
    assert "calib/000001.txt" in err and "--frames" in err and not (tmp_path / "k.h5").exists()


def _scene_with_boxes_in_view(tmp_path):
    scene = make_tiny_scene(tmp_path / "tiny.h5", frames=4, points=5000, seed=7)
    doc = LabelDocument.new("tiny", source="human", author="test")
    cats = ["vehicle.car", "vehicle.truck", "human.pedestrian.adult", "vehicle.bicycle", "vehicle.bus.rigid"]
    with SceneReader.open(scene) as sc:
        for k, cat in enumerate(cats):
            t = Track(f"t{k}", cat, {"cycle.with_rider": True} if cat == "vehicle.bicycle" else {})
            for f in range(4):
                ego = sc.ego_poses[f]
                c = transform_points(ego, np.array([[12.0 + 4 * k, -6.0 + 3 * k, -0.3 + 0.1 * k]]))[0]
                yaw = -2.5 + 1.1 * k + 0.05 * f
                t.boxes[f] = Box(f, tuple(c), (4.0 + k, 1.8 + 0.1 * k, 1.6), yaw, None, "human")
            doc.tracks[t.id] = t
    labels = save_document(doc, tmp_path / "labels.json")
    return scene, labels, doc


def test_kitti_round_trip_keeps_boxes_in_the_velodyne_frame(tmp_path):
    scene, labels, doc = _scene_with_boxes_in_view(tmp_path)
    out = tmp_path / "kitti"
    assert main(["export", "kitti", str(scene), "--labels", str(labels), "--out", str(out)]) == 0
    back = tmp_path / "back.h5"
    assert main(["import", "kitti", str(out), "--out", str(back)]) == 0
    got = load_document(tmp_path / "back.labels.json")
    with SceneReader.open(scene) as sc, SceneReader.open(back) as bk:
        R = quarter_turn(sc.lidar_extrinsic, 0.0)
        assert bk.num_frames == 4
        for f in range(4):
            velo_from_world = invert_pose(compose(sc.ego_poses[f], sc.lidar_extrinsic, pose_matrix(R, np.zeros(3))))
            want = []
            for t in doc.tracks.values():
                a = t.boxes[f].as_array()
                c = transform_points(velo_from_world, a[None, :3])[0]
                d = velo_from_world[:3, :3] @ [np.cos(a[6]), np.sin(a[6]), 0]
                want.append((t.category, np.array([*c, *a[3:6], np.arctan2(d[1], d[0])])))
            have = [(t.category, t.boxes[f].as_array()) for t in got.tracks.values() if f in t.boxes]
            assert len(have) == len(want) == 5
            for (wc, w), (hc, h) in zip(want, have):
                assert wc == hc
                np.testing.assert_allclose(h[:6], w[:6], atol=1e-4)
                assert abs(np.mod(h[6] - w[6] + np.pi, 2 * np.pi) - np.pi) < 1e-4
            np.testing.assert_allclose(bk.points(f)[:, :3], sc.points(f)[:, :3] @ R, atol=1e-6)
        np.testing.assert_allclose(bk.camera("image_2").K, sc.camera("CAM_FRONT").K)


def test_kitti_tracking_file_has_one_id_per_track(tmp_path):
    scene, labels, doc = _scene_with_boxes_in_view(tmp_path)
    out = tmp_path / "kitti"
    assert main(["export", "kitti", str(scene), "--labels", str(labels), "--out", str(out)]) == 0
    rows = [r.split() for r in (out / "tracking/training/label_02/0000.txt").read_text().splitlines()]
    assert len(rows) == doc.num_boxes() and all(len(r) == 17 for r in rows)
    by_id = {}
    for r in rows:
        by_id.setdefault(int(r[1]), set()).add(r[2])
    assert sorted(by_id) == [0, 1, 2, 3, 4]
    assert [by_id[i] for i in range(5)] == [{"Car"}, {"Truck"}, {"Pedestrian"}, {"Cyclist"}, {"Tram"}]
    calib = (out / "tracking/training/calib/0000.txt").read_text()
    assert "R_rect " in calib and "Tr_velo_cam " in calib
    assert (out / "tracking/training/velodyne/0000/000003.bin").stat().st_size == \
        (out / "object/training/velodyne/000003.bin").stat().st_size


def _kitti_copy(shared_data, tmp_path):
    root = tmp_path / "kitti"
    for sub in ("velodyne", "calib", "label_2", "image_2"):
        (root / sub).mkdir(parents=True)
        shutil.copy(shared_data / "kitti" / sub / f"000000.{'png' if sub == 'image_2' else 'txt' if sub in ('calib', 'label_2') else 'bin'}", root / sub)
    return root


def test_truncated_label_line_is_one_clear_error(shared_data, tmp_path, capsys):
    root = _kitti_copy(shared_data, tmp_path)
    label = root / "label_2" / "000000.txt"
    line = label.read_text().splitlines()[0]
    label.write_text(line + "\n" + line[:40] + "\n")
    assert main(["import", "kitti", str(root), "--out", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert "000000.txt: line 2: expected 15 space-separated fields" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.replace("P2:", "PX:"), "P2: missing"),
    (lambda t: "\n".join(line[:-20] if line.startswith("Tr_velo_to_cam") else line for line in t.splitlines()),
     "Tr_velo_to_cam: expected 12 numbers"),
    (lambda t: t.replace("R0_rect: 9.999128000000e-01", "R0_rect: 3.999128000000e-01"), "R0_rect: expected a rotation"),
])  # fmt: skip
def test_wrong_calib_is_one_clear_error(shared_data, tmp_path, capsys, mutate, message):
    root = _kitti_copy(shared_data, tmp_path)
    calib = root / "calib" / "000000.txt"
    calib.write_text(mutate(calib.read_text()))
    assert main(["import", "kitti", str(root), "--out", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert "calib/000000.txt" in err and message in err and len(err.splitlines()) == 1


def test_unknown_kitti_type_is_refused(shared_data, tmp_path, capsys):
    root = _kitti_copy(shared_data, tmp_path)
    label = root / "label_2" / "000000.txt"
    label.write_text(label.read_text().replace("Pedestrian", "Giraffe", 1))
    assert main(["import", "kitti", str(root), "--out", str(tmp_path / "x.h5")]) == 1
    assert "type: expected one of Car" in capsys.readouterr().err
