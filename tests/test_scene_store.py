"""The HDF5 scene store: round trips, lazy reads, and every kind of bad file."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.transforms import pose_from_yaw
from lidarlabel.errors import InputError
from lidarlabel.io.scene import SceneReader, SceneWriter

from .conftest import make_tiny_scene


def test_round_trip_points_poses_images(tmp_path):
    rng = np.random.default_rng(1)
    frames = [rng.normal(size=(n, 5)).astype(np.float32) for n in (100, 0, 2500)]
    with SceneWriter(tmp_path / "s.h5", "s", pose_from_yaw(0.1, [1, 2, 3]), []) as w:
        for i, pts in enumerate(frames):
            w.add_frame(10 + i, pose_from_yaw(i, [i, 0, 0]), pts)
    with SceneReader.open(tmp_path / "s.h5") as s:
        assert s.num_frames == 3
        for i, pts in enumerate(frames):
            np.testing.assert_array_equal(s.points(i), pts)
        np.testing.assert_array_equal(s.timestamps_us, [10, 11, 12])
        np.testing.assert_allclose(s.ego_poses[2], pose_from_yaw(2, [2, 0, 0]))
        np.testing.assert_allclose(s.lidar_extrinsic, pose_from_yaw(0.1, [1, 2, 3]))
        world = s.points_world(2)
        np.testing.assert_allclose(world[0], s.world_from_lidar(2)[:3, :3] @ frames[2][0, :3] + s.world_from_lidar(2)[:3, 3], rtol=1e-6)


def test_compact_storage_rounds_points_to_the_requested_precision(tmp_path):
    rng = np.random.default_rng(2)
    pts = np.c_[rng.uniform(-80, 80, (50_000, 3)), rng.uniform(0, 1, 50_000), rng.integers(0, 64, 50_000)].astype(np.float32)
    for name, precision in (("exact.h5", None), ("mm.h5", 0.001)):
        with SceneWriter(tmp_path / name, "s", np.eye(4), [], point_precision=precision) as w:
            w.add_frame(0, np.eye(4), pts)
    with SceneReader.open(tmp_path / "exact.h5") as s:
        np.testing.assert_array_equal(s.points(0), pts)
    with SceneReader.open(tmp_path / "mm.h5") as s:
        got = s.points(0)
        assert np.abs(got - pts).max() <= 0.0005 + 1e-5
        np.testing.assert_array_equal(got[:, 4], pts[:, 4])  # ring numbers stay exact
    assert (tmp_path / "mm.h5").stat().st_size < 0.8 * (tmp_path / "exact.h5").stat().st_size


def test_camera_calibration_and_images_round_trip(tiny_scene):
    with SceneReader.open(tiny_scene) as s:
        cam = s.camera("CAM_FRONT")
        assert (cam.width, cam.height) == (320, 240)
        assert cam.dist[0] == pytest.approx(0.01)
        img = s.image("CAM_FRONT", 3)
        assert img.shape == (240, 320, 3) and abs(int(img.mean()) - 100) <= 2


def test_reading_one_frame_reads_only_its_chunks(tmp_path):
    path = make_tiny_scene(tmp_path / "big.h5", frames=30, points=40_000)
    with SceneReader.open(path) as s:
        ds = s._points
        # Rows of frame 20 lie in a handful of the file's chunks, not all of them.
        a, b = s._offsets[20], s._offsets[21]
        touched = (b - 1) // ds.chunks[0] - a // ds.chunks[0] + 1
        assert touched <= 3 < ds.shape[0] // ds.chunks[0]
        assert len(s.points(20)) == 40_000


def test_nonfinite_points_are_dropped_and_counted(tmp_path):
    pts = np.ones((10, 5), np.float32)
    pts[3, 0] = np.nan
    pts[7, 2] = np.inf
    with SceneWriter(tmp_path / "n.h5", "n", np.eye(4), []) as w:
        w.add_frame(0, np.eye(4), pts)
    with SceneReader.open(tmp_path / "n.h5") as s:
        assert len(s.points(0)) == 8
        assert s._f["lidar"].attrs["nonfinite_dropped"] == 2


def test_nan_points_written_by_another_tool_are_dropped_on_read(tiny_scene):
    with h5py.File(tiny_scene, "r+") as f:
        f["lidar/points"][5, 1] = np.nan
    with SceneReader.open(tiny_scene) as s:
        assert len(s.points(0)) == 1999


def test_interrupted_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), SceneWriter(tmp_path / "x.h5", "x", np.eye(4), []) as w:
        w.add_frame(0, np.eye(4), np.zeros((5, 5), np.float32))
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_gives_one_clear_error(tiny_scene, tmp_path):
    data = tiny_scene.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut.h5: (not a readable HDF5 scene|damaged)"):
        SceneReader.open(cut)


def test_not_hdf5_at_all(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(InputError, match="x.h5: not a readable HDF5 scene"):
        SceneReader.open(tmp_path / "x.h5")


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda f: f.attrs.__setitem__("format_version", 99), "format version 99 is not supported"),
        (lambda f: f.attrs.__setitem__("format", "other"), "not a lidarlabel scene"),
        (lambda f: f.__delitem__("lidar/offsets"), "missing dataset lidar/offsets"),
        (lambda f: (f.__delitem__("frames/ego_pose"), f.create_dataset("frames/ego_pose", data=np.zeros((5, 3, 4)))), "/frames/ego_pose: expected shape (5, 4, 4)"),
        (lambda f: f["lidar/offsets"].__setitem__(3, 10**9), "/lidar/offsets: expected non-decreasing"),
        (lambda f: f["cameras/CAM_FRONT"].__delitem__("intrinsic"), "missing dataset /cameras/CAM_FRONT/intrinsic"),
    ],
)
def test_damaged_layouts_name_the_field(tiny_scene, tmp_path, damage, words):
    bad = tmp_path / "bad.h5"
    shutil.copy(tiny_scene, bad)
    with h5py.File(bad, "r+") as f:
        damage(f)
    with pytest.raises(InputError) as err:
        SceneReader.open(bad)
    assert str(err.value).startswith(str(bad)) and words in str(err.value)


def test_info_json_contract(tiny_scene, capsys):
    (tiny_scene.parent / "tiny.gt.json").write_text("{}")
    assert main(["info", str(tiny_scene), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 5
    assert info["duration_s"] == pytest.approx(0.4)
    assert info["lidar_points"] == {"min": 2000, "median": 2000.0, "max": 2000, "total": 10000}
    assert info["cameras"] == [{"name": "CAM_FRONT", "width": 320, "height": 240}]
    assert len(info["ego_xyz"]) == 5 and info["ego_xyz"][3] == [3.0, 0.0, 0.0]
    assert info["has_ground_truth"] is True


def test_info_on_bad_file_exits_1_with_one_line(tmp_path, capsys):
    (tmp_path / "x.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 10)
    assert main(["info", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "x.h5" in err


def test_an_interrupt_while_the_file_is_being_set_up_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(SceneWriter, "_setup", interrupted)
    with pytest.raises(KeyboardInterrupt):
        SceneWriter(tmp_path / "x.h5", "x", np.eye(4), [])
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_refused_before_hdf5_runs_out_of_space(tmp_path, monkeypatch):
    import shutil as sh
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    w = SceneWriter(tmp_path / "x.h5", "x", np.eye(4), [])
    monkeypatch.setattr(sh, "disk_usage", lambda _p: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(InputError, match=r"x.h5: the disk is full: frame 0 needs about \d+ MB, 1 MB free"), w:
        w.add_frame(0, np.eye(4), np.zeros((100_000, 5), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_names_the_output(tmp_path):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits: use a file in the folder's place
            ro.chmod(0o700)
            ro.rmdir()
            ro.write_text("a file where a folder should be")
            with pytest.raises(InputError, match="ro/x.h5: the folder .* does not exist"):
                SceneWriter(ro / "x.h5", "x", np.eye(4), [])
        else:
            with pytest.raises(InputError, match=r"ro/x.h5: cannot write in .*permission denied"):
                SceneWriter(ro / "x.h5", "x", np.eye(4), [])
            assert list(ro.iterdir()) == []
    finally:
        if ro.is_dir():
            ro.chmod(0o700)
