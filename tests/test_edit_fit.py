"""One-click fit with time context (opt-in): a moving car is not smeared, the walk stops at the scene ends."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.edit.fit import fit_at_point
from lidarlabel.edit.fit_context import static_object_points

CAR = np.array([20.0, 0.0, 0.75, 4.0, 1.8, 1.5, 0.0])  # shorter than the nuScenes mean car (4.63 m)


def face_points(box: np.ndarray, viewpoint: np.ndarray, step: float = 0.08) -> np.ndarray:
    """(K, 3) points on the vertical faces of an axis-aligned ``box`` (yaw 0) that face ``viewpoint``."""
    x, y, z, ln, wd, ht, _ = box
    zs = np.arange(z - ht / 2 + 0.05, z + ht / 2, step)
    out = []
    for axis, half, span in ((0, ln / 2, wd), (1, wd / 2, ln)):
        for sign in (-1.0, 1.0):
            if sign * (viewpoint[axis] - box[axis]) <= half:
                continue  # the face looks away from the sensor
            t = np.arange(-span / 2 + 0.02, span / 2, step)
            tt, zz = np.meshgrid(t, zs)
            p = np.zeros((tt.size, 3))
            p[:, axis] = box[axis] + sign * half
            p[:, 1 - axis] = box[1 - axis] + tt.ravel()
            p[:, 2] = zz.ravel()
            out.append(p)
    return np.concatenate(out)


def ground(centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    xy = centre[:2] + rng.uniform(-12, 12, size=(6000, 2))
    return np.c_[xy, rng.normal(0.0, 0.01, len(xy))]


def make_frames(car_at, n: int = 11, seed: int = 0):
    """Frames 0..n-1: the ego drives from behind the car (end-on view) to beside it."""
    rng = np.random.default_rng(seed)
    vps = [np.array([6.0 + 1.4 * f, -4.0, 1.8]) for f in range(n)]  # 14 m/s, one lane to the right
    frames = [np.r_[ground(CAR, rng), face_points(car_at(f), vps[f])] for f in range(n)]
    return frames, vps


def test_moving_car_is_not_smeared_over_frames():
    frames, vps = make_frames(lambda f: CAR + np.r_[1.0 * f, 0, 0, 0, 0, 0, 0])  # 10 m/s
    click = np.array([CAR[0] - 2.0 + 5.0, 0.0, 0.8])
    used = static_object_points(lambda f: frames[f], 5, fit_at_point(frames[5], click, vps[5], "vehicle.car").points,
                                click, (5.6, 2.2, 2.2), 9.0, lambda f: 0 <= f < len(frames))[1]
    assert used == [5]
    ctx = fit_at_point(frames[5], click, vps[5], "vehicle.car", frame=5,
                       points_world_of=lambda f: frames[f], viewpoint_of=lambda f: vps[f] if 0 <= f < 11 else None)
    assert ctx.box[3] < 5.0  # not stretched by the car's motion


def test_context_stops_at_the_scene_ends_without_viewpoints():
    frames, vps = make_frames(lambda f: CAR, n=3)

    def read(f: int) -> np.ndarray:
        if not 0 <= f < len(frames):
            raise IndexError(f)
        return frames[f]

    click = np.array([CAR[0] - 2.0, 0.0, 0.8])
    res = fit_at_point(frames[2], click, vps[2], "vehicle.car", frame=2, points_world_of=read)
    assert np.isfinite(res.box).all()
    with pytest.raises(Exception, match="no points within"):
        fit_at_point(frames[2], np.array([500.0, 500.0, 0.0]), vps[2], frame=2, points_world_of=read)
