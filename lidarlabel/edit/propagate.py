"""Carrying a box from frame to frame: predict with the track's velocity, refit to the points.

For each next frame: the box is predicted with a constant-velocity (and
constant yaw-rate) model; the points in a search window around the
prediction, above its bottom, are gathered; with enough of them the box is
refitted with its size kept: the heading by the L-shape search nearest the
predicted yaw, the position by the extents of the points, anchored on the
sides that face the sensor when the object is seen only in part (the far
sides are hidden, the near ones are measured). With too few points the
prediction stands. World frame throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from lidarlabel.core.boxes import count_points_in_boxes, normalize_yaw, yaw_difference
from lidarlabel.edit.fit import drop_posts, voxel_components
from lidarlabel.prelabel.fitting import l_shape_heading, resolve_heading

__all__ = ["FrameTrack", "MotionState", "propagate_boxes", "refit_kept_size"]

MIN_POINTS = 10
MARGIN = np.array([1.5, 1.0])  # m: search window beyond the predicted box, along and across
GROUND_CLEARANCE = 0.25  # m above the box bottom: lower points are road
MAX_TURN = np.deg2rad(25.0)  # a refit heading further than this from the prediction is noise
MAX_JUMP = 2.0  # m: a refit further than this from the prediction is another object
SMOOTHING = 0.5  # weight of the newest velocity measurement


@dataclass
class MotionState:
    """Velocity (3,) m/s and yaw rate rad/s of a track, world frame."""

    velocity: np.ndarray
    yaw_rate: float = 0.0

    @classmethod
    def from_boxes(cls, a: np.ndarray, ta: float, b: np.ndarray, tb: float) -> MotionState:
        """Motion from box ``a`` at time ``ta`` to box ``b`` at ``tb`` (seconds), both (7,)."""
        dt = tb - ta
        if dt == 0:
            return cls(np.zeros(3))
        return cls((b[:3] - a[:3]) / dt, float(yaw_difference(b[6], a[6])) / dt)

    def predict(self, box: np.ndarray, dt: float) -> np.ndarray:
        """The (7,) box ``dt`` seconds later."""
        out = np.array(box, dtype=float)
        out[:3] += self.velocity * dt
        out[6] = normalize_yaw(out[6] + self.yaw_rate * dt)
        return out


@dataclass(frozen=True)
class FrameTrack:
    """One propagated box: (7,) world frame, object points found for it, whether it was refitted,
    and (from :func:`propagate_boxes`) the frame's points inside the box."""

    box: np.ndarray
    num_points: int
    refitted: bool
    box_points: int | None = None


def refit_kept_size(points_world: np.ndarray, predicted: np.ndarray, viewpoint: np.ndarray | None = None,
                    iterations: int = 3) -> FrameTrack:
    """Refit the (7,) ``predicted`` box to (N, 3+) world points, keeping its size.

    The window follows the refit up to ``iterations`` times (a poor prediction
    sees only part of the object at first). Returns the prediction unchanged
    (``refitted=False``) when fewer than ``MIN_POINTS`` object points lie in the
    search window.
    """
    first = np.asarray(predicted, dtype=float)
    res = _refit_once(points_world, first, viewpoint)
    for _ in range(iterations - 1):
        if not res.refitted or np.hypot(*(res.box[:2] - predicted[:2])) < 0.05:
            break
        predicted = res.box
        res = _refit_once(points_world, predicted, viewpoint)
    if res.refitted and np.hypot(*(res.box[:2] - first[:2])) > MAX_JUMP:
        return FrameTrack(first, res.num_points, False)  # locked onto something else
    return res


def _refit_once(points_world: np.ndarray, predicted: np.ndarray, viewpoint: np.ndarray | None) -> FrameTrack:
    pred = np.asarray(predicted, dtype=float)
    pts = np.asarray(points_world, dtype=float)[:, :3]
    half = pred[3:5] / 2 + MARGIN
    reach = float(np.hypot(*half))
    rel = pts[:, :2] - pred[:2]
    near = (np.abs(rel[:, 0]) < reach) & (np.abs(rel[:, 1]) < reach)
    p, r = pts[near], rel[near]
    c, s = np.cos(pred[6]), np.sin(pred[6])
    u, v = c * r[:, 0] + s * r[:, 1], -s * r[:, 0] + c * r[:, 1]
    bottom, top = pred[2] - pred[5] / 2, pred[2] + pred[5] / 2
    inside = (np.abs(u) < half[0]) & (np.abs(v) < half[1]) & (p[:, 2] > bottom + GROUND_CLEARANCE) & (p[:, 2] < top + 0.5)
    obj = p[inside]
    if len(obj) < MIN_POINTS:
        return FrameTrack(pred, int(len(obj)), False)
    obj = _own_points(obj, pred, bottom)
    if len(obj) < MIN_POINTS:
        return FrameTrack(pred, int(len(obj)), False)
    xy = obj[:, :2]
    theta = l_shape_heading(xy)
    yaw, _ = resolve_heading(theta, (1.0, 0.0), float(pred[6]))
    if abs(yaw_difference(yaw, pred[6])) > MAX_TURN:
        yaw = float(pred[6])
    c, s = np.cos(yaw), np.sin(yaw)
    rel = xy - pred[:2]
    uv = np.c_[c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    size = pred[3:5]
    centre = (lo + hi) / 2
    if viewpoint is not None:
        vr = np.asarray(viewpoint, dtype=float)[:2] - pred[:2]
        vuv = np.array([c * vr[0] + s * vr[1], -s * vr[0] + c * vr[1]])
        for k in range(2):
            if hi[k] - lo[k] < size[k]:  # seen in part: keep the side facing the sensor
                near_lo = abs(vuv[k] - lo[k]) <= abs(vuv[k] - hi[k])
                cut_lo, cut_hi = lo[k] < -half[k] + 0.2, hi[k] > half[k] - 0.2  # ends cut by the window
                if cut_lo != cut_hi:
                    near_lo = cut_hi
                centre[k] = lo[k] + size[k] / 2 if near_lo else hi[k] - size[k] / 2
    out = pred.copy()
    out[0] = pred[0] + c * centre[0] - s * centre[1]
    out[1] = pred[1] + s * centre[0] + c * centre[1]
    out[6] = yaw
    return FrameTrack(out, int(len(obj)), True)


def _own_points(obj: np.ndarray, pred: np.ndarray, bottom: float) -> np.ndarray:
    """The (K, 3) points of the window's pieces that reach into the predicted (7,) box (posts left out)."""
    labels = voxel_components(obj)
    c, s = np.cos(pred[6]), np.sin(pred[6])
    rel = obj[:, :2] - pred[:2]
    u, v = c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]
    inside = (np.abs(u) < pred[3] / 2) & (np.abs(v) < pred[4] / 2)
    keep_labels = np.unique(labels[inside]) if inside.any() else [np.bincount(labels).argmax()]
    own = obj[np.isin(labels, keep_labels)]
    return own[drop_posts(own, np.full(len(own), bottom))]


def propagate_boxes(
    start: np.ndarray,
    start_time_s: float,
    frames: list[int],
    times_s: dict[int, float],
    points_of: Callable[[int], np.ndarray],
    viewpoint_of: Callable[[int], np.ndarray | None],
    motion: MotionState,
    anchors: dict[int, np.ndarray] | None = None,
) -> dict[int, FrameTrack]:
    """Propagate the (7,) ``start`` box through ``frames`` (in order), world frame.

    ``start_time_s`` is the start box's time and ``times_s`` maps each frame to its time (s);
    ``anchors`` are boxes (keyframes) that must not change: they are kept
    and restart the prediction. Returns frame -> :class:`FrameTrack` for
    the frames that are not anchors.
    """
    anchors = anchors or {}
    out: dict[int, FrameTrack] = {}
    prev_box, prev_t = np.asarray(start, dtype=float), float(start_time_s)
    for f in frames:
        t = times_s[f]
        dt = t - prev_t
        if f in anchors:
            box = np.asarray(anchors[f], dtype=float)
        else:
            pred = motion.predict(prev_box, dt)
            points = points_of(f)
            res = refit_kept_size(points, pred, viewpoint_of(f))
            # counted while the frame is at hand: a long walk outruns any frame cache
            res = replace(res, box_points=int(count_points_in_boxes(points, res.box[None, :])[0]))
            out[f] = res
            box = res.box
        if dt != 0:
            meas = MotionState.from_boxes(prev_box, 0.0, box, dt)
            motion = MotionState(
                SMOOTHING * meas.velocity + (1 - SMOOTHING) * motion.velocity,
                SMOOTHING * meas.yaw_rate + (1 - SMOOTHING) * motion.yaw_rate,
            )
        prev_box, prev_t = box, t
    return out
