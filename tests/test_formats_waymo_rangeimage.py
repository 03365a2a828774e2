"""Waymo v1 import of points from range images we synthesise and encode ourselves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lidarlabel.core.transforms import compose, invert_pose, pose_from_yaw, transform_points
from lidarlabel.errors import InputError
from lidarlabel.io.formats.waymo import import_scene
from lidarlabel.io.formats.waymo.proto import message_class
from lidarlabel.io.formats.waymo.rangeimage import encode_matrix, pixel_poses
from lidarlabel.io.formats.waymo.tfrecord import write_records
from lidarlabel.io.scene import SceneReader

H, W = 6, 40


def _directions(incl_ascending: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit rays in the sensor frame for each pixel.

    Row 0 is the highest beam; column 0 looks backwards (azimuth +pi in the
    vehicle's heading) and azimuth decreases to the right.
    """
    inc = incl_ascending[::-1][:, None]
    az_vehicle = np.pi - (np.arange(W) + 0.5) * 2 * np.pi / W
    az = az_vehicle[None, :] - np.arctan2(ext[1, 0], ext[0, 0])
    return np.stack(np.broadcast_arrays(np.cos(az) * np.cos(inc), np.sin(az) * np.cos(inc), np.sin(inc)), -1)


def _set(msg, T):
    msg.transform.extend(np.asarray(T, float).ravel().tolist())


def _frame(rng, pose, top_ext, front_ext, top_incl, pixel_pose):
    Frame = message_class("Frame")
    fr = Frame(timestamp_micros=1_600_000_000_000_000)
    fr.context.name = "synthetic"
    _set(fr.pose, pose)
    lc = fr.context.laser_calibrations.add(name=1, beam_inclination_min=top_incl[0], beam_inclination_max=top_incl[-1])
    lc.beam_inclinations.extend(top_incl.tolist())
    _set(lc.extrinsic, top_ext)
    lc = fr.context.laser_calibrations.add(name=2, beam_inclination_min=-0.5, beam_inclination_max=0.2)
    _set(lc.extrinsic, front_ext)
    expected = []
    for name, ext, incl in ((1, top_ext, top_incl), (2, front_ext, -0.5 + (np.arange(H) + 0.5) / H * 0.7)):
        rng_img = rng.uniform(2.0, 40.0, (H, W))
        rng_img[rng.random((H, W)) < 0.3] = -1.0  # no return
        img = np.stack([rng_img, rng.uniform(0, 1, (H, W)), rng.uniform(0, 0.5, (H, W)), np.zeros((H, W))], -1)
        laser = fr.lasers.add(name=name)
        laser.ri_return1.range_image_compressed = encode_matrix(img.astype(np.float32))
        rays = _directions(incl, ext)
        pts_sensor = rays * img[..., :1].astype(np.float32)
        pts_vehicle = transform_points(ext, pts_sensor.reshape(-1, 3)).reshape(H, W, 3)
        if name == 1:
            laser.ri_return1.range_image_pose_compressed = encode_matrix(pixel_pose.astype(np.float32))
            T = np.einsum("ij,hwjk->hwik", invert_pose(pose), pixel_poses(pixel_pose.astype(np.float32)))
            pts_vehicle = np.einsum("hwij,hwj->hwi", T[..., :3, :3], pts_vehicle) + T[..., :3, 3]
        m = img[..., 0] > 0
        expected.append(np.c_[pts_vehicle[m], img[..., 1][m], img[..., 2][m], np.nonzero(m)[0], np.full(m.sum(), name), img[..., 0][m]])
    return fr, np.concatenate(expected)


def test_rpy_pixel_pose_is_rz_ry_rx():
    rpy = np.array([0.1, -0.2, 0.7])
    T = pixel_poses(np.r_[rpy, 1, 2, 3][None, None])[0, 0]
    want = Rotation.from_euler("ZYX", rpy[::-1]).as_matrix()
    assert np.allclose(T[:3, :3], want) and np.allclose(T[:3, 3], [1, 2, 3])


@pytest.mark.parametrize("seed", [0, 7])
def test_points_come_back_from_range_images(tmp_path, seed):
    rng = np.random.default_rng(seed)
    pose = compose(pose_from_yaw(0.8, [100.0, -40.0, 5.0]))
    top_ext = pose_from_yaw(0.25, [1.4, 0.0, 2.2])
    front_ext = pose_from_yaw(-0.1, [4.0, 0.0, 0.6])
    top_incl = np.sort(rng.uniform(-0.3, 0.05, H))  # non-uniform, stored ascending
    # rolling shutter: the vehicle moves 2 cm per column and yaws slightly while the TOP lidar spins
    pixel_pose = np.zeros((H, W, 6))
    pixel_pose[..., 2] = 0.8 + 1e-3 * np.arange(W)[None, :]
    pixel_pose[..., 3:] = np.array([100.0, -40.0, 5.0]) + 0.02 * np.arange(W)[None, :, None] * np.array([1, 0, 0])
    fr, want = _frame(rng, pose, top_ext, front_ext, top_incl, pixel_pose)
    rec = tmp_path / "ri.tfrecord"
    write_records(rec, [fr.SerializeToString()])
    assert import_scene(str(rec), tmp_path / "s.h5", {}) is None  # no labels
    with SceneReader.open(tmp_path / "s.h5") as s:
        assert np.allclose(s.lidar_extrinsic, top_ext)
        pts = s.points(0)
        f = s.point_fields
        assert f[:3] == ("x", "y", "z") and {"intensity", "elongation", "ring", "laser"} <= set(f)
        vehicle = transform_points(top_ext, pts[:, :3])
        assert len(pts) == len(want)
        order = np.lexsort((pts[:, f.index("ring")], pts[:, f.index("intensity")]))
        worder = np.lexsort((want[:, 5], want[:, 3]))
        assert np.abs(vehicle[order] - want[worder, :3]).max() < 1e-3
        assert np.allclose(pts[order, f.index("elongation")], want[worder, 4], atol=1e-6)
        assert np.array_equal(pts[order, f.index("laser")], want[worder, 6])
        # the geometry itself: a FRONT point lies at its encoded range from the FRONT lidar
        front = want[:, 6] == 2
        assert np.allclose(np.linalg.norm(want[front, :3] - front_ext[:3, 3], axis=1), want[front, 7], atol=1e-4)
        mine = pts[:, f.index("laser")] == 2
        assert np.allclose(np.sort(np.linalg.norm(vehicle[mine] - front_ext[:3, 3], axis=1)),
                           np.sort(want[front, 7]), atol=1e-3)

def test_range_image_with_a_wrong_shape_is_reported(tmp_path):
    rng = np.random.default_rng(1)
    fr, _ = _frame(rng, np.eye(4), np.eye(4), np.eye(4), np.linspace(-0.3, 0.0, H), np.zeros((H, W, 6)))
    fr.context.laser_calibrations[0].beam_inclinations.append(0.1)  # H + 1 beams for an H-row image
    rec = tmp_path / "bad.tfrecord"
    write_records(rec, [fr.SerializeToString()])
    with pytest.raises(InputError, match=r"bad\.tfrecord: record 0: laser 1 .*beam inclinations"):
        import_scene(str(rec), tmp_path / "s.h5", {})
    assert not (tmp_path / "s.h5").exists()
