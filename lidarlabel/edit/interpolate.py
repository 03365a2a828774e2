"""Interpolation of a track's boxes between its keyframes (world frame, pure numpy/scipy).

Position is linear or cubic (a not-a-knot cubic spline through the keyframe
centres, in time) between keyframes; yaw follows the shortest arc from one
keyframe to the next (the keyframe yaws are unwrapped first, so a car turning
through +-pi does not spin the long way); size is linear between the two
neighbouring keyframes, so a track with one size keeps it.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from lidarlabel.core.boxes import normalize_yaw

__all__ = ["interpolate_boxes", "unwrap_yaws"]

METHODS = ("linear", "cubic")


def unwrap_yaws(yaws: np.ndarray) -> np.ndarray:
    """(K,) yaws made continuous: each differs from the previous one by the shortest arc."""
    yaws = np.asarray(yaws, dtype=float)
    if len(yaws) == 0:
        return yaws
    steps = normalize_yaw(np.diff(yaws))
    return np.r_[yaws[0], yaws[0] + np.cumsum(steps)]


def interpolate_boxes(key_times: np.ndarray, key_boxes: np.ndarray, times: np.ndarray, method: str | None = None) -> np.ndarray:
    """Boxes (M, 7) at ``times`` (M,) from keyframe boxes (K, 7) at ``key_times`` (K,), world frame.

    ``times`` must lie within the keyframe span (any monotonic unit, e.g. µs).
    ``method`` is ``"linear"`` or ``"cubic"``; None picks cubic when there are
    at least 3 keyframes. Yaw of the result is normalised to [-pi, pi).
    """
    kt = np.asarray(key_times, dtype=float)
    kb = np.asarray(key_boxes, dtype=float).reshape(-1, 7)
    t = np.asarray(times, dtype=float)
    if len(kt) < 2:
        raise ValueError("interpolation needs at least 2 keyframes")
    if np.any(np.diff(kt) <= 0):
        raise ValueError("keyframe times must increase strictly")
    method = method or ("cubic" if len(kt) >= 3 else "linear")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    yaw = unwrap_yaws(kb[:, 6])
    out = np.empty((len(t), 7))
    if method == "cubic" and len(kt) >= 3:
        out[:, :3] = CubicSpline(kt, kb[:, :3], axis=0)(t)
        out[:, 6] = CubicSpline(kt, yaw)(t)
    else:
        for k in range(3):
            out[:, k] = np.interp(t, kt, kb[:, k])
        out[:, 6] = np.interp(t, kt, yaw)
    for k in range(3, 6):
        out[:, k] = np.interp(t, kt, kb[:, k])
    out[:, 6] = normalize_yaw(out[:, 6])
    return out
