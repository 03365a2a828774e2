"""A vehicle track whose fitted centres drift is parked when its points stand still (still_points.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.prelabel.refine import RefineOptions, refine_track
from lidarlabel.prelabel.still_points import still_votes
from lidarlabel.prelabel.tracker import Observation, TrackRecord

DT_US = 100_000
TIMES = np.arange(40) * DT_US
L, W, H = 4.5, 1.8, 1.5


def _outline(cx: float, cy: float, rng: np.random.Generator, n: int = 60) -> np.ndarray:
    """(n, 3) points on the rear face and the near flank of a yaw-0 car centred at (cx, cy)."""
    rear = np.c_[np.full(n // 2, cx - L / 2), cy + rng.uniform(-W / 2, W / 2, n // 2)]
    flank = np.c_[cx + rng.uniform(-L / 2, L / 2, n - n // 2), np.full(n - n // 2, cy - W / 2)]
    xy = np.r_[rear, flank]
    return np.c_[xy, rng.uniform(0.3, H, n)]


def _track(speed: float, drift: float, seed: int) -> TrackRecord:
    """A car moving at ``speed`` m/s whose fitted boxes run ``drift`` m/s ahead of it (far partial views)."""
    rng = np.random.default_rng(seed)
    rec = TrackRecord("p00000")
    for f in range(40):
        t = f * DT_US / 1e6
        x = 40.0 + speed * t
        box = np.array([x + drift * t + rng.normal(0, 0.05), 8.0, H / 2, L, W, H, 0.0])
        rec.observations[f] = Observation(f, int(TIMES[f]), box.copy(), box.copy(), 0.6, "car", 60,
                                          np.array([0.5 * f, 0.0, 1.8]), "vehicle.car", 0.9,
                                          _outline(x, 8.0, rng))
    return rec


@pytest.mark.parametrize("seed", [0, 1])
def test_a_parked_car_whose_fitted_boxes_drift_is_static(seed):
    rec = _track(speed=0.0, drift=1.5, seed=seed)
    out = refine_track(rec, TIMES, RefineOptions(angular_spacing=0.0))
    assert not out.moving
    assert len({tuple(np.round(b, 6)) for b in out.boxes.values()}) == 1  # one box in every frame
    # the centre-based rules alone call it moving (the drift is real in the fitted boxes)
    assert refine_track(_track(0.0, 1.5, seed), TIMES, RefineOptions(angular_spacing=0.0, still_share=2.0)).moving


@pytest.mark.parametrize("speed", [1.5, 8.0])
def test_a_moving_car_whose_points_move_stays_moving(speed):
    out = refine_track(_track(speed=speed, drift=0.0, seed=3), TIMES, RefineOptions(angular_spacing=0.0))
    assert out.moving
    assert abs(out.boxes[39][0] - out.boxes[0][0] - speed * 3.9) < 1.0


def test_still_votes_compare_unshifted_and_shifted_clouds():
    rng = np.random.default_rng(5)
    frames = list(range(0, 20))
    parked = [_outline(40.0, 8.0, rng) for _ in frames]
    claimed = np.c_[40.0 + 0.2 * np.arange(20), np.full(20, 8.0)]  # 2 m/s read from jumping centres
    still, total = still_votes(parked, frames, claimed)
    assert total >= 10 and still == total
    moving = [_outline(40.0 + 0.2 * k, 8.0, rng) for k in range(20)]
    still, total = still_votes(moving, frames, claimed)
    assert total >= 10 and still == 0
    # no points, or no claimed displacement worth testing: no votes
    assert still_votes([None] * 20, frames, claimed) == (0, 0)
    assert still_votes(parked, frames, np.full((20, 2), 8.0)) == (0, 0)
