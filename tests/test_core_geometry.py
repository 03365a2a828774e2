"""Geometry properties: poses, boxes, IoU, points-in-box, camera projection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from lidarlabel.core import boxes as B
from lidarlabel.core.camera import CameraModel
from lidarlabel.core.transforms import (
    compose,
    invert_pose,
    pose_from_quat,
    pose_from_yaw,
    pose_to_quat,
    transform_points,
    yaw_of,
)  # fmt: skip

coord = st.floats(-50, 50, allow_nan=False)
extent = st.floats(0.2, 12, allow_nan=False)
angle = st.floats(-10, 10, allow_nan=False)
box_st = st.tuples(coord, coord, st.floats(-3, 3), extent, extent, extent, angle).map(np.array)


def random_pose(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    return pose_from_quat(q / np.linalg.norm(q), rng.uniform(-100, 100, 3))


@given(st.integers(0, 2**32 - 1))
def test_pose_inverse_and_quaternion_round_trip(seed):
    rng = np.random.default_rng(seed)
    T = random_pose(rng)
    np.testing.assert_allclose(compose(T, invert_pose(T)), np.eye(4), atol=1e-9)
    q, t = pose_to_quat(T)
    np.testing.assert_allclose(pose_from_quat(q, t), T, atol=1e-9)
    pts = rng.normal(size=(20, 3))
    np.testing.assert_allclose(transform_points(invert_pose(T), transform_points(T, pts)), pts, atol=1e-9)


def test_compose_applies_right_pose_first():
    A = pose_from_yaw(np.pi / 2, [0, 0, 0])
    Bp = pose_from_yaw(0.0, [1, 0, 0])
    np.testing.assert_allclose(transform_points(compose(A, Bp), [[0, 0, 0]]), [[0, 1, 0]], atol=1e-12)
    assert yaw_of(A) == pytest.approx(np.pi / 2)


def test_corner_order_is_documented_order():
    c = B.box_corners(np.array([[10, 20, 1, 4, 2, 1.5, 0.0]]))[0]
    np.testing.assert_allclose(c[0], [12, 19, 0.25])  # front-right-bottom
    np.testing.assert_allclose(c[1], [12, 21, 0.25])  # front-left-bottom
    np.testing.assert_allclose(c[6], [8, 21, 1.75])  # rear-left-top
    c90 = B.box_corners(np.array([[0, 0, 0, 4, 2, 2, np.pi / 2]]))[0]
    np.testing.assert_allclose(c90[0], [1, 2, -1], atol=1e-12)  # front now points to +y


@settings(max_examples=150, deadline=None)
@given(box_st, box_st)
def test_iou_symmetric_bounded_and_matches_shapely(a, b):
    ab, ba = B.iou3d_pairs(a, b)[0], B.iou3d_pairs(b, a)[0]
    assert 0.0 <= ab <= 1.0
    assert ab == pytest.approx(ba, abs=1e-9)
    pa, pb = Polygon(B.bev_corners(a)[0]), Polygon(B.bev_corners(b)[0])
    expected = pa.intersection(pb).area / pa.union(pb).area
    assert B.bev_iou_pairs(a, b)[0] == pytest.approx(expected, abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(box_st, st.integers(0, 2**32 - 1))
def test_iou_is_one_for_identical_boxes_and_invariant_to_rigid_motion(a, seed):
    assert B.iou3d_pairs(a, a)[0] == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(seed)
    b = a + np.r_[rng.normal(size=3), rng.uniform(-0.5, 0.5, 3), rng.normal()]
    b[3:6] = np.abs(b[3:6]) + 0.1
    yaw, shift = rng.uniform(-np.pi, np.pi), np.r_[rng.uniform(-30, 30, 2), rng.uniform(-2, 2)]
    T = pose_from_yaw(yaw, shift)

    def moved(box):
        out = box.copy()
        out[:3] = transform_points(T, box[None, :3])[0]
        out[6] = box[6] + yaw
        return out

    assert B.iou3d_pairs(moved(a), moved(b))[0] == pytest.approx(B.iou3d_pairs(a, b)[0], abs=1e-7)


def test_iou_matrix_agrees_with_pairs():
    rng = np.random.default_rng(3)
    a = np.c_[rng.uniform(-5, 5, (30, 3)), rng.uniform(1, 4, (30, 3)), rng.uniform(-3, 3, 30)]
    b = a[rng.permutation(30)] + 0.2
    m = B.iou3d_matrix(a, b)
    ii, jj = np.meshgrid(range(30), range(30), indexing="ij")
    np.testing.assert_allclose(m, B.iou3d_pairs(a[ii.ravel()], b[jj.ravel()]).reshape(30, 30), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_points_in_boxes_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    boxes = np.c_[rng.uniform(-10, 10, (12, 2)), rng.uniform(-1, 1, 12), rng.uniform(0.5, 6, (12, 3)),
                  rng.uniform(-np.pi, np.pi, 12)]
    pts = rng.uniform(-14, 14, (3000, 3))
    expected = np.zeros((12, 3000), bool)
    for m, bx in enumerate(boxes):
        for n, p in enumerate(pts):  # brute force on purpose: the reference
            d = p - bx[:3]
            c, s = np.cos(bx[6]), np.sin(bx[6])
            lx, ly = c * d[0] + s * d[1], -s * d[0] + c * d[1]
            expected[m, n] = abs(lx) <= bx[3] / 2 and abs(ly) <= bx[4] / 2 and abs(d[2]) <= bx[5] / 2
    np.testing.assert_array_equal(B.points_in_boxes(pts, boxes), expected)
    np.testing.assert_array_equal(B.count_points_in_boxes(pts, boxes), expected.sum(1))


def test_count_points_sorted_path_matches_dense_path():
    rng = np.random.default_rng(5)
    pts = rng.uniform(-50, 50, (60_000, 3))
    pts[:500, 0] = 10.0  # ties in x and points exactly on faces
    boxes = np.c_[rng.uniform(-45, 45, (80, 2)), np.zeros(80), rng.uniform(1, 8, (80, 3)), rng.uniform(-3, 3, 80)]
    boxes[0] = [12.0, 0, 0, 4, 50, 60, 0]  # its rear face lies at x = 10
    np.testing.assert_array_equal(B.count_points_in_boxes(pts, boxes), B.points_in_boxes(pts, boxes).sum(1))
    mask = B.points_in_boxes(pts, boxes)
    for k, got in enumerate(B.points_in_each_box(pts, boxes)):  # the same points, in ascending x
        np.testing.assert_array_equal(got, pts[mask[k]][np.argsort(pts[mask[k], 0], kind="stable")])


@given(st.floats(-1e4, 1e4, allow_nan=False))
def test_normalize_yaw_range_and_equivalence(a):
    n = B.normalize_yaw(a)
    assert -np.pi <= n < np.pi
    assert np.cos(n) == pytest.approx(np.cos(a), abs=1e-6) and np.sin(n) == pytest.approx(np.sin(a), abs=1e-6)


CAM = CameraModel("C", 1280, 720, [[900, 0, 640], [0, 880, 360], [0, 0, 1]], [-0.1, 0.02, 0.001, -0.002, 0.0])


@settings(max_examples=60, deadline=None)
@given(st.floats(-0.6, 0.6), st.floats(-0.35, 0.35), st.floats(0.5, 80))
def test_point_projects_to_pinhole_pixel(xn, yn, z):
    """A camera-frame point lands on the pixel the distorted pinhole model says; unproject inverts it."""
    p = np.array([[xn * z, yn * z, z]])
    uv, valid = CAM.project(p)
    r2 = xn * xn + yn * yn
    k1, k2, p1, p2, k3 = CAM.dist
    rad = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = xn * rad + 2 * p1 * xn * yn + p2 * (r2 + 2 * xn * xn)
    yd = yn * rad + p1 * (r2 + 2 * yn * yn) + 2 * p2 * xn * yn
    assert valid[0]
    np.testing.assert_allclose(uv[0], [900 * xd + 640, 880 * yd + 360], atol=1e-9)
    ray = CAM.unproject(uv)[0]
    np.testing.assert_allclose(ray, p[0] / np.linalg.norm(p[0]), atol=1e-9)


def test_points_behind_camera_are_invalid():
    _, valid = CAM.project(np.array([[0, 0, -5.0], [0, 0, 5.0]]))
    assert valid.tolist() == [False, True]


def test_box_half_behind_camera_draws_only_visible_part_clipped_at_near_plane():
    box = np.array([[0, 0, 0.0, 2, 2, 2, 0]])  # camera frame: spans z in [-1, 1]
    corners = B.box_corners(box)
    segs, idx = CAM.project_box_edges(corners, near=0.1)
    assert len(segs) > 0 and (idx == 0).all()
    # every projected vertex comes from a point at z >= near: re-project the clipped face at z=0.1
    near_face = np.array([[x, y, 0.1] for x in (-1, 1) for y in (-1, 1)])
    uv_near, _ = CAM.project(near_face)
    span = np.abs(segs.reshape(-1, 2)).max()
    assert span <= np.abs(uv_near).max() + 1e-6
    assert np.isfinite(segs).all()


def test_box_fully_behind_camera_draws_nothing():
    segs, _ = CAM.project_box_edges(B.box_corners(np.array([[0, 0, -5.0, 2, 2, 2, 0]])))
    assert len(segs) == 0
