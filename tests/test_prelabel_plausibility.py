"""Walls, poles and facade pieces are no vehicles, people or cyclists (issue #3 false positives)."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.core.transforms import pose_from_yaw
from lidarlabel.prelabel.detector import FrameData
from lidarlabel.prelabel.geometric import GeometricDetector
from lidarlabel.prelabel.plausibility import plane_view, small_plausibility, vehicle_plausibility
from tests.test_prelabel_fitting import visible_surface

SENSOR = np.array([0.0, 0.0, 1.8])


def _frame(objects: list[np.ndarray], seed: int = 0) -> FrameData:
    """One sweep: a flat ground disc plus the given (N, 3) world points; the LiDAR 1.8 m above the origin."""
    rng = np.random.default_rng(seed)
    r = np.sqrt(rng.uniform(3**2, 60**2, 60000))
    a = rng.uniform(-np.pi, np.pi, len(r))
    ground = np.c_[r * np.cos(a), r * np.sin(a), rng.normal(0, 0.02, len(r))]
    pts = np.concatenate([ground, *objects])
    return FrameData(0, 0, pts, np.eye(4), pose_from_yaw(0.0, SENSOR))


def _wall(x0: float, y0: float, x1: float, y1: float, top: float, spacing: float = 0.1) -> np.ndarray:
    """A vertical plane from (x0, y0) to (x1, y1), from 0.3 m to ``top`` m, sampled every ``spacing``."""
    n = int(np.hypot(x1 - x0, y1 - y0) / spacing)
    t = np.linspace(0, 1, n)
    z = np.arange(0.3, top, spacing)
    tt, zz = np.meshgrid(t, z)
    return np.c_[x0 + tt.ravel() * (x1 - x0), y0 + tt.ravel() * (y1 - y0), zz.ravel()]


def _pole(x: float, y: float, radius: float = 0.1, top: float = 2.8) -> np.ndarray:
    """The half of a vertical cylinder facing the sensor at the origin."""
    facing = np.arctan2(-y, -x)
    a = np.linspace(facing - np.pi / 2, facing + np.pi / 2, 6)
    z = np.arange(0.3, top, 0.08)
    aa, zz = np.meshgrid(a, z)
    return np.c_[x + radius * np.cos(aa.ravel()), y + radius * np.sin(aa.ravel()), zz.ravel()]


def test_plane_view_measures_length_thickness_and_viewing_angle():
    along_sight = _wall(20, 5, 26, 5, 2.0)[:, :2]  # a wall running away from the sensor
    length, thick, past = plane_view(along_sight)
    assert length == pytest.approx(6.0, abs=0.1) and thick < 0.01
    assert past > np.deg2rad(60)
    abeam = _wall(10, -3, 10, 3, 2.0)[:, :2]  # square on, the sensor opposite its middle
    assert plane_view(abeam)[2] == pytest.approx(0.0, abs=1e-6)


def test_plausibility_rules():
    assert vehicle_plausibility(_pole(15, 2)[:, :2]) == "narrow"  # 0.2 m wide: no vehicle face
    assert vehicle_plausibility(_wall(20, 5, 26, 5, 2.0)[:, :2]) == "reject"  # plane seen past its end
    assert vehicle_plausibility(_wall(15, -1.1, 15, 1.1, 2.0)[:, :2]) == "ok"  # a rear seen from behind
    assert vehicle_plausibility(_wall(8, -5, 8, 5, 3.0)[:, :2]) == "doubtful"  # a flank or a facade abeam
    rng = np.random.default_rng(1)
    car = visible_surface(np.array([20.0, 8.0, 0.8, 4.5, 1.9, 1.6, 0.2]), SENSOR, 0.12, rng)
    assert vehicle_plausibility(car[:, :2]) == "ok"  # an L-shape
    assert small_plausibility(_wall(20, 5, 21.2, 5, 1.8)[:, :2]) == "reject"
    walker = visible_surface(np.array([12.0, 3.0, 0.9, 0.5, 0.6, 1.75, 0.0]), SENSOR, 0.05, rng)
    assert small_plausibility(walker[:, :2]) == "ok"


def test_detector_drops_walls_and_poles_but_keeps_the_car_beside_them():
    rng = np.random.default_rng(2)
    car_box = np.array([18.0, -6.0, 0.8, 4.5, 1.9, 1.6, 0.3])
    clutter = [_wall(25, 8, 33, 8.5, 3.0), _wall(30, -14, 31.5, -14, 2.2),
               _pole(14, 4), _pole(22, -2, top=3.2)]
    det = GeometricDetector()
    only_clutter = det.detect(_frame(clutter))
    assert len(only_clutter.boxes) == 0, (only_clutter.categories, only_clutter.boxes)
    with_car = det.detect(_frame([*clutter, visible_surface(car_box, SENSOR, 0.1, rng)]))
    assert with_car.categories == ["vehicle.car"]
    assert np.hypot(*(with_car.boxes[0, :2] - car_box[:2])) < 0.5


def _person(x: float, y: float, rng) -> np.ndarray:
    """A standing person facing the sensor: legs, 0.45 m shoulders, a 0.2 m head (1.75 m tall)."""
    parts = []
    for z0, z1, half in ((0.3, 0.85, 0.18), (0.85, 1.45, 0.22), (1.45, 1.52, 0.12), (1.52, 1.75, 0.09)):
        a = rng.uniform(-np.pi / 2, np.pi / 2, 80)  # the half of an elliptic section facing the sensor
        parts.append(np.c_[x - 0.6 * half * np.cos(a), y + half * np.sin(a), rng.uniform(z0, z1, 80)])
    return np.concatenate(parts)


def test_headless_pedestrians_are_scored_down_and_people_are_not():
    from lidarlabel.prelabel.plausibility import head_ratio

    rng = np.random.default_rng(3)
    person, trunk = _person(10.0, 2.0, rng), _pole(10.0, -4.0, radius=0.2, top=2.0)
    assert head_ratio(person) < 0.6 and head_ratio(trunk) > 0.9

    def scores(**options):
        det = GeometricDetector(**options).detect(_frame([person, trunk]))
        assert det.categories == ["human.pedestrian.adult"] * 2  # the person is no "narrow vehicle"
        return {round(b[1]): s for b, s in zip(det.boxes, det.scores)}

    on, off = scores(), scores(head_width_ratio=10.0)
    assert on[2] == pytest.approx(off[2])
    assert on[-4] < 0.5 * off[-4]
