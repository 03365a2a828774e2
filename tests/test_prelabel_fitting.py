"""Ground removal and box fitting on hand-made geometry (slopes, curbs, L-shaped views)."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.core.boxes import box_corners, iou3d_pairs, points_in_boxes, yaw_difference
from lidarlabel.prelabel.fitting import fit_box, l_shape_heading
from lidarlabel.prelabel.ground import estimate_ground, ground_mask


def visible_surface(box: np.ndarray, sensor: np.ndarray, spacing: float, rng) -> np.ndarray:
    """Points on the faces of a (7,) box that face ``sensor`` (3,), like a LiDAR sees them."""
    x, y, z, L, W, H, yaw = box
    c, s = np.cos(yaw), np.sin(yaw)
    pts = []
    for axis, half, other in ((0, L / 2, W), (1, W / 2, L)):
        for sign in (-1, 1):
            normal_local = np.zeros(2)
            normal_local[axis] = sign
            normal = np.array([c * normal_local[0] - s * normal_local[1], s * normal_local[0] + c * normal_local[1]])
            face_centre = np.array([x, y]) + normal * half
            if np.dot(sensor[:2] - face_centre, normal) <= 0:
                continue
            n = max(3, int(other / spacing))
            m = max(3, int(H / spacing))
            t = np.linspace(-other / 2, other / 2, n)
            h = np.linspace(z - H / 2 + 0.3, z + H / 2, m)
            tt, hh = np.meshgrid(t, h)
            local = np.zeros((tt.size, 2))
            local[:, axis] = sign * half
            local[:, 1 - axis] = tt.ravel()
            xy = local @ np.array([[c, s], [-s, c]]) + [x, y]
            pts.append(np.c_[xy, hh.ravel()])
    out = np.concatenate(pts)
    return out + rng.normal(0, 0.01, out.shape)


@pytest.mark.parametrize("yaw", [0.0, 0.3, 0.9, -1.2, 2.5])
def test_l_shape_fit_recovers_heading_and_box_of_a_partial_view(yaw):
    rng = np.random.default_rng(1)
    truth = np.array([12.0, 5.0, 0.85, 4.6, 1.9, 1.7, yaw])
    sensor = np.array([0.0, 0.0, 1.8])
    pts = visible_surface(truth, sensor, 0.1, rng)
    assert abs(yaw_difference(2 * l_shape_heading(pts[:, :2]), 2 * yaw)) < np.deg2rad(3) * 2 or \
        abs(yaw_difference(2 * l_shape_heading(pts[:, :2]) + np.pi, 2 * yaw)) < np.deg2rad(3) * 2
    box = fit_box(pts, size_prior=(4.6, 1.9, 1.7), yaw_hint=yaw + 0.2, ground_z=0.0, viewpoint=sensor)
    assert abs(yaw_difference(box[6], yaw)) < np.deg2rad(3)
    assert iou3d_pairs(box[None], truth[None])[0] > 0.8


def test_fit_box_grows_a_one_sided_view_away_from_the_sensor():
    rng = np.random.default_rng(2)
    truth = np.array([0.0, 10.0, 0.85, 4.6, 1.9, 1.7, 0.0])  # seen from the side only
    pts = visible_surface(truth, np.array([0.0, 0.0, 1.8]), 0.1, rng)
    assert np.ptp(pts[:, 1]) < 0.2
    box = fit_box(pts, size_prior=(4.6, 1.9, 1.7), yaw_hint=0.0, ground_z=0.0, viewpoint=np.zeros(3))
    assert box[1] > pts[:, 1].mean() + 0.5  # the hidden far side lies beyond the seen side
    assert iou3d_pairs(box[None], truth[None])[0] > 0.8
    # without a viewpoint the growth is symmetric: the centre sits on the seen side
    sym = fit_box(pts, size_prior=(4.6, 1.9, 1.7), yaw_hint=0.0, ground_z=0.0)
    assert abs(sym[1] - pts[:, 1].mean()) < 0.1


def test_fit_box_without_prior_encloses_the_points_and_rejects_empty_input():
    rng = np.random.default_rng(3)
    pts = rng.uniform([-1, -0.4, 0], [1, 0.4, 1.5], (200, 3))
    box = fit_box(pts)
    assert points_in_boxes(pts, box[None] * [1, 1, 1, 1.001, 1.001, 1.001, 1]).all()
    assert box[3] >= box[4]
    with pytest.raises(ValueError):
        fit_box(np.zeros((0, 3)))


def _terrain(rng, slope: float, curb_y: float, curb: float):
    xy = rng.uniform(-40, 40, (60000, 2))
    z = slope * xy[:, 0] + np.where(xy[:, 1] > curb_y, curb, 0.0) + rng.normal(0, 0.02, len(xy))
    return np.c_[xy, z]


@pytest.mark.parametrize("slope", [0.0, 0.08, -0.12])
def test_ground_mask_survives_slopes_and_curbs(slope):
    rng = np.random.default_rng(4)
    ground = _terrain(rng, slope, 6.0, 0.15)
    objects, heights = [], []
    for cx, cy, L, W, H in ((10, 0, 4.6, 1.9, 1.6), (-15, 3, 11, 2.9, 3.3), (20, 8, 0.6, 0.6, 1.8)):
        gz = slope * cx + (0.15 if cy > 6 else 0.0)
        box = np.array([cx, cy, gz + H / 2, L, W, H, 0.4])
        pts = visible_surface(box, np.array([0, 0, 1.8]), 0.1, rng)
        objects.append(pts)
        heights.append(pts[:, 2] - slope * pts[:, 0] - np.where(pts[:, 1] > 6.0, 0.15, 0.0))
    obj, above = np.concatenate(objects), np.concatenate(heights)
    mask = ground_mask(np.concatenate([ground, obj]))
    assert mask[: len(ground)].mean() > 0.99
    # everything 0.4 m above its ground is kept (the 0.25 m tolerance plus slope error)
    assert (~mask[len(ground):][above > 0.4]).mean() > 0.995
    assert (~mask[len(ground):]).mean() > 0.95


def _ring_ranges(height: float = 1.8, step: float = 0.006) -> np.ndarray:
    """Ranges (m) where a spinning sensor ``height`` m up, lasers ``step`` rad apart, meets flat ground."""
    return height / np.tan(step * np.arange(1, 200))


@pytest.mark.parametrize("slope", [0.0, 0.03, -0.03])
def test_a_far_car_between_sparse_ground_rings_is_not_ground(slope):
    # 1.8 m up, lasers 0.006 rad apart: ground rings ~r^2 x 0.006 / 1.8 apart, ~5 m near 40 m
    rings = _ring_ranges()
    rings = rings[rings < 70]
    front = rings[rings < 40].max()
    face = front + 1.0  # the car's near face, 1 m behind a ring: the next ring is hidden behind it
    az = np.deg2rad(np.arange(-60.0, 60.0, 0.2))
    ground = np.concatenate([np.c_[r * np.cos(az), r * np.sin(az)] for r in rings])
    shadow = (ground[:, 0] > face) & (np.abs(ground[:, 1]) < 2.3 * ground[:, 0] / face)
    ground = ground[~shadow]
    ground = np.c_[ground, slope * ground[:, 0] - 1.8]
    u, z = np.meshgrid(np.linspace(-2.3, 2.3, 20), np.linspace(0.3, 1.5, 4))
    car = np.c_[np.full(u.size, face), u.ravel(), z.ravel()]
    car[:, 2] += slope * car[:, 0] - 1.8
    pts = np.concatenate([ground, car])
    _, near_only = estimate_ground(pts, centre=np.zeros(2))
    _, far_too = estimate_ground(pts, centre=np.zeros(2), far_window=8.0, far_range=25.0)
    true_ground = slope * car[:, 0] - 1.8
    assert np.median(near_only[len(ground):] - true_ground) > 0.25  # the car's bottom taken for the road
    assert np.abs(far_too[len(ground):] - true_ground).max() < 0.15
    # the road itself stays ground (the detector's tolerance is 0.25 m)
    assert np.abs(far_too[:len(ground)] - ground[:, 2]).max() < 0.2


def test_ground_mask_handles_empty_and_tiny_clouds():
    assert ground_mask(np.zeros((0, 3))).shape == (0,)
    assert ground_mask(np.array([[0.0, 0.0, 0.0]])).tolist() == [True]


def test_box_corner_helper_is_consistent_with_fit_box_output_shape():
    box = fit_box(np.random.default_rng(5).uniform(-1, 1, (50, 3)))
    assert box.shape == (7,) and box_corners(box).shape == (1, 8, 3)
