"""End to end on the real data in ../shared/data (read in place): KITTI frames, the Waymo
record, the nuScenes sweep. Independent conversions written here from the formats' own
definitions, then round trips through our exporters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.boxes import yaw_difference
from lidarlabel.io.labels import load_document
from lidarlabel.io.scene import SceneReader
from tests.test_e2e_support import box_errors, check_document, one_json

TOL = 1e-4
KITTI_DRIVE = "000001,000002,000003,000004,000005"  # 000000 comes from another drive


def run(capsys, *args) -> tuple[int, str, str]:
    """``lidarlabel ARGS`` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def kitti_boxes_in_velodyne(root: Path, name: str) -> np.ndarray:
    """KITTI label_2 objects (not DontCare) as (M, 7) boxes in the velodyne frame.

    KITTI: location = bottom centre in the rectified camera frame, dimensions h w l,
    rotation_y about camera +y; the box's forward direction in camera axes is
    (cos ry, 0, -sin ry).
    """
    cal = {}
    for line in (root / "calib" / f"{name}.txt").read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            cal[k] = np.array([float(x) for x in v.split()])
    cam_from_velo = np.eye(4)
    cam_from_velo[:3] = cal["Tr_velo_to_cam"].reshape(3, 4)
    rect = np.eye(4)
    rect[:3, :3] = cal["R0_rect"].reshape(3, 3)
    velo_from_rect = np.linalg.inv(rect @ cam_from_velo)
    out = []
    for line in (root / "label_2" / f"{name}.txt").read_text().splitlines():
        f = line.split()
        if f[0] == "DontCare":
            continue
        h, w, length = map(float, f[8:11])
        bottom = np.array([float(x) for x in f[11:14]])
        ry = float(f[14])
        centre = velo_from_rect @ np.r_[bottom - [0.0, h / 2, 0.0], 1.0]
        forward = velo_from_rect[:3, :3] @ np.array([np.cos(ry), 0.0, -np.sin(ry)])
        out.append([*centre[:3], length, w, h, np.arctan2(forward[1], forward[0])])
    return np.array(out).reshape(-1, 7)


@pytest.fixture(scope="module")
def kitti_import(shared_data, tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("e2e_kitti")
    scene = d / "kitti.h5"
    assert main(["import", "kitti", str(shared_data / "kitti"), "--frames", KITTI_DRIVE, "--out", str(scene)]) == 0
    return {"dir": d, "scene": scene, "labels": d / "kitti.labels.json"}


def test_real_kitti_import_matches_an_independent_conversion(kitti_import, shared_data):
    check_document(kitti_import["labels"])
    doc = load_document(kitti_import["labels"])
    for k, name in enumerate(KITTI_DRIVE.split(",")):
        want = kitti_boxes_in_velodyne(shared_data / "kitti", name)
        _, got = doc.frame_boxes(k)
        assert len(got) == len(want), name
        for b in want:
            j = int(np.argmin(np.linalg.norm(got[:, :3] - b[:3], axis=1)))
            assert np.abs(got[j, :6] - b[:6]).max() < TOL, (name, got[j], b)
            assert abs(yaw_difference(got[j, 6], b[6])) < TOL, (name, got[j], b)
    with SceneReader.open(kitti_import["scene"]) as r:
        raw = np.fromfile(shared_data / "kitti" / "velodyne" / "000003.bin", dtype=np.float32).reshape(-1, 4)
        pts = r.points(2)
        assert pts.shape[0] == raw.shape[0]
        assert np.allclose(pts[:, :3], raw[:, :3], atol=2e-3)  # stored values may be rounded to 1 mm


def test_real_kitti_export_import_round_trip(kitti_import, tmp_path, capsys):
    out = tmp_path / "k"
    rc, _, _ = run(capsys, "export", "kitti", kitti_import["scene"], "--labels", kitti_import["labels"],
                   "--out", out)
    assert rc == 0
    back = tmp_path / "back.h5"
    rc, stdout, _ = run(capsys, "import", "kitti", out / "object" / "training", "--out", back, "--json")
    assert rc == 0
    labels = Path(one_json(stdout)["labels"])
    err = box_errors(kitti_import["labels"], labels)
    assert err["unmatched"] == 0 and err["ref"] == err["new"] > 0
    assert err["center"] < TOL and err["size"] < TOL and err["yaw"] < TOL, err
    assert all(a == b for a, b in err["categories"])


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_real_waymo_import_export_round_trip(shared_data, tmp_path, capsys, fmt):
    scene = tmp_path / "w.h5"
    rc, stdout, _ = run(capsys, "import", "waymo", shared_data / "waymo" / "pvps_data_one_frame.tfrecord",
                        "--out", scene, "--json")
    assert rc == 0
    first = one_json(stdout)
    assert first["boxes"] == 75
    labels = Path(first["labels"])
    check_document(labels)
    out = tmp_path / "exp"
    rc, stdout, _ = run(capsys, "export", "waymo", scene, "--labels", labels, "--out", out, "--format", fmt,
                        "--json")
    assert rc == 0
    src = Path(one_json(stdout)["out"]) if fmt == "v1" else out
    back = tmp_path / "back.h5"
    rc, stdout, _ = run(capsys, "import", "waymo", src, "--out", back, "--json")
    assert rc == 0
    err = box_errors(labels, Path(one_json(stdout)["labels"]))
    assert err["unmatched"] == 0 and err["ref"] == err["new"] == 75
    assert err["center"] < TOL and err["size"] < TOL and err["yaw"] < TOL, err
    assert all(a == b for a, b in err["categories"])
    with SceneReader.open(scene) as r0, SceneReader.open(back) as r1:
        assert np.allclose(r0.ego_poses, r1.ego_poses, atol=1e-9)
        if fmt == "v1":  # v2 writes no images
            assert [c.name for c in r0.cameras] == [c.name for c in r1.cameras]
            for c0, c1 in zip(r0.cameras, r1.cameras):
                assert np.allclose(c0.K, c1.K) and np.allclose(c0.ego_from_camera, c1.ego_from_camera, atol=1e-9)


def test_real_nuscenes_sweep_imports_as_a_point_cloud(shared_data, tmp_path, capsys):
    src = next((shared_data / "nuscenes_frame").glob("*LIDAR_TOP*.pcd.bin"))
    raw = np.fromfile(src, dtype=np.float32).reshape(-1, 5)
    scene = tmp_path / "n.h5"
    rc, stdout, _ = run(capsys, "import", "pcd", src, "--out", scene, "--json")
    assert rc == 0 and one_json(stdout)["labels"] is None
    with SceneReader.open(scene) as r:
        assert r.num_frames == 1
        pts = r.points(0)
        assert pts.shape[0] == raw.shape[0]
        assert np.allclose(pts[:, :3], raw[:, :3], atol=2e-3)


def test_prelabel_finds_the_car_in_a_single_real_kitti_frame(shared_data, tmp_path, capsys):
    scene = tmp_path / "k3.h5"
    rc, _, _ = run(capsys, "import", "kitti", shared_data / "kitti", "--frames", "000003", "--out", scene)
    assert rc == 0
    rc, _, _ = run(capsys, "prelabel", scene, "--out", tmp_path / "pre")
    assert rc == 0
    car = kitti_boxes_in_velodyne(shared_data / "kitti", "000003")[0]  # the Car 13 m ahead
    _, pred = load_document(tmp_path / "pre" / "k3.json").frame_boxes(0)
    assert len(pred) > 0
    assert np.linalg.norm(pred[:, :2] - car[:2], axis=1).min() < 1.0
