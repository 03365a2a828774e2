"""One box for a parked vehicle from the points of all its frames (Waymo 3D Auto Labeling's static refinement).

A parked car seen while the ego drives past shows its rear, then its flank,
then its front: no single sweep shows its whole outline, but all sweeps
together do. Each frame's non-ground points are cropped to the track's box
grown by a margin (so a neighbour that joined the cluster in one frame, or a
person walking by, cannot widen it), accumulated in the world frame, and one
rectangle is fitted to the union with the L-shape closeness criterion. Its
extents are those of the whole outline; a side is extended to the class prior
only where no frame saw past it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lidarlabel.core.boxes import points_in_each_box
from lidarlabel.prelabel.fitting import _closeness
from lidarlabel.prelabel.refine import RefinedTrack

__all__ = ["StaticShape", "crop_tracks", "extend_static", "static_shape"]

_FINE = np.deg2rad(np.arange(-1.0, 1.01, 0.1))
_MAX_HEADING_POINTS = 800
_MIN_INCIDENCE = np.sin(np.deg2rad(15.0))  # flatter sight lines sample a face too sparsely to end it
_MIN_FRAMES_ACROSS = 4  # from this many sweeps on, the width ignores the one sweep reaching farthest out


@dataclass
class StaticShape:
    """Extents of an object's accumulated points in its own axes.

    ``yaw`` (rad, world); ``lo``/``hi`` (2,) the (along, across) extents in the
    rotated world frame (u = x cos(yaw) + y sin(yaw), v = -x sin(yaw) + y cos(yaw));
    ``seen_lo``/``seen_hi`` (2,) bool: some frame saw past that side (its
    position is measured, not a sampling or occlusion cut); ``reach_lo``/``reach_hi``
    (2,) int: from how many viewpoints sweeps reach that side to within one
    return spacing (at least 0.1 m): each new viewpoint samples the side
    afresh, so the gap the sampling leaves shrinks as they add up
    (:meth:`sampling_gap`); ``top`` (m, world z) of the points; ``num_points``.
    """

    yaw: float
    lo: np.ndarray
    hi: np.ndarray
    seen_lo: np.ndarray
    seen_hi: np.ndarray
    reach_lo: np.ndarray
    reach_hi: np.ndarray
    top: float
    num_points: int

    def sampling_gap(self, spacing: float) -> np.ndarray:
        """Expected shortfall (2,) (m) of the (along, across) extents against the object's own.

        One sweep's returns fall on a face at ``spacing`` m, at a random phase:
        its outermost return stops short of the side by spacing / 2 on average.
        The outermost of n sweeps' returns, from n viewpoints, stops short by
        spacing / (n + 1): the extents of many sweeps need (almost) no padding,
        those of one sweep a whole spacing. (Across, :func:`static_shape` takes
        the second outermost sweep from four on, short by about twice that; the
        range noise spreads returns about as far out: parked cars' widths come
        out 0.02 m wide on the simulator's scenes.)
        """
        n_lo, n_hi = np.maximum(self.reach_lo, 1), np.maximum(self.reach_hi, 1)
        return spacing * (1.0 / (n_lo + 1) + 1.0 / (n_hi + 1))

    def placed(self, length: float, width: float, sensor: np.ndarray) -> np.ndarray:
        """xy centre (2,) of a (length, width) box on the measured sides of this shape.

        Per axis: an extent shorter than the box grows away from a side seen
        past (both or neither: away from the side nearer the (3,) ``sensor``).
        """
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        su = np.array([c * sensor[0] + s * sensor[1], -s * sensor[0] + c * sensor[1]])
        centre = (self.lo + self.hi) / 2
        for k, size in enumerate((length, width)):
            if self.hi[k] - self.lo[k] >= size:
                continue
            if self.seen_lo[k] != self.seen_hi[k]:
                keep_lo = bool(self.seen_lo[k])
            else:
                keep_lo = abs(su[k] - self.lo[k]) < abs(su[k] - self.hi[k])
            centre[k] = self.lo[k] + size / 2 if keep_lo else self.hi[k] - size / 2
        return np.array([c * centre[0] - s * centre[1], s * centre[0] + c * centre[1]])


def crop_tracks(points: np.ndarray, boxes: np.ndarray, margin: float) -> list[np.ndarray]:
    """The (K_i, 3) world points inside each of the (M, 7) boxes grown by ``margin`` m on every side."""
    grown = np.array(boxes, dtype=float).reshape(-1, 7)
    grown[:, 3:6] += 2 * margin
    return points_in_each_box(points, grown)


def _heading(xy: np.ndarray, yaw_guess: float, max_turn: float) -> float:
    """Rectangle axis of (N, 2) points nearest ``yaw_guess`` (rad): 1, then 0.1 degree steps.

    ``max_turn`` (rad) bounds the search around the guess; from pi/4 on, every
    axis is tried and the candidate nearest the guess (modulo pi/2) is returned.
    """
    if len(xy) > _MAX_HEADING_POINTS:
        xy = xy[np.linspace(0, len(xy) - 1, _MAX_HEADING_POINTS).astype(int)]
    xy = xy - xy.mean(axis=0)
    if max_turn >= np.pi / 4:
        a = np.deg2rad(np.arange(0.0, 90.0, 1.0))
    else:
        a = yaw_guess + np.arange(-max_turn, max_turn + 1e-9, np.deg2rad(1.0))
    best = a[int(np.argmax(_closeness(xy, a)))]
    fine = best + _FINE
    theta = float(fine[int(np.argmax(_closeness(xy, fine)))])
    k = np.round((yaw_guess - theta) / (np.pi / 2))
    return theta + k * np.pi / 2


def static_shape(clouds: list[np.ndarray], sensors: np.ndarray, yaw_guess: float, spacing: float,
                 min_points: int = 30, max_turn: float = np.deg2rad(20.0)) -> StaticShape | None:
    """Outline of a static object from per-frame world points ``clouds[k]`` (N_k, 3) seen from ``sensors[k]`` (3,).

    ``yaw_guess`` (rad): the track's heading (the fitted axis may turn it by
    up to ``max_turn``); ``spacing`` (m): the distance between neighbouring
    returns at the object's range. A side counts as seen past when a frame's
    points reach it (within 2 spacings, at least 0.3 m) while its sensor faced
    that side, or faced the adjacent face at more than 15 degrees of
    incidence, where the face's end would show. Across the object, from four
    sweeps on, the one sweep reaching farthest out on each side is left out.
    None under ``min_points``.
    """
    keep = [k for k, c in enumerate(clouds) if c is not None and len(c)]
    if not keep or sum(len(clouds[k]) for k in keep) < min_points:
        return None
    pts = np.concatenate([clouds[k] for k in keep])
    yaw = _heading(pts[:, :2], yaw_guess, max_turn)
    c, s = np.cos(yaw), np.sin(yaw)
    def to_uv(xy: np.ndarray) -> np.ndarray:  # elementwise, not BLAS: the same bits on any thread count
        return np.stack([c * xy[..., 0] + s * xy[..., 1], -s * xy[..., 0] + c * xy[..., 1]], axis=-1)

    uv = to_uv(pts[:, :2])
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    per_frame = [to_uv(clouds[k][:, :2]) for k in keep]
    frame_lo = np.array([q.min(axis=0) for q in per_frame])
    frame_hi = np.array([q.max(axis=0) for q in per_frame])
    if len(keep) >= _MIN_FRAMES_ACROSS:
        # a flank, once in view, is seen by many sweeps: one sweep's points reaching beyond all the others'
        # across the car are something beside it for that sweep (a passer-by, a pole joined to the cluster).
        # Not along: the front of a parked car may be seen by the last sweep alone as the ego passes it.
        lo[1] = np.partition(frame_lo[:, 1], 1)[1]
        hi[1] = np.partition(frame_hi[:, 1], -2)[-2]
    seen_lo, seen_hi = np.zeros(2, dtype=bool), np.zeros(2, dtype=bool)
    # per side, the viewpoints (sensor positions to within ``close``) whose sweeps reach it: a stopped ego
    # or a phase-locked sensor samples the same spots sweep after sweep, which is one sampling, not many
    reached: list[list[set]] = [[set(), set()], [set(), set()]]
    tol = max(0.3, 2 * spacing)
    close = max(spacing, 0.1)
    for k, qlo, qhi in zip(keep, frame_lo, frame_hi):
        sv = to_uv(np.asarray(sensors[k], dtype=float)[:2])
        for ax in range(2):
            other = 1 - ax
            # sensor beside the adjacent faces: sees them (and their ends) at this incidence
            off = max(lo[other] - sv[other], sv[other] - hi[other], 0.0)
            for side, bound, reach, sign in ((0, lo[ax], qlo[ax], -1.0), (1, hi[ax], qhi[ax], 1.0)):
                if abs(reach - bound) <= close:
                    reached[side][ax].add(tuple(np.round(np.asarray(sensors[k][:2], dtype=float) / close)))
                if abs(reach - bound) > tol:
                    continue
                faces = sign * (sv[ax] - bound) > 0
                along = abs(sv[ax] - bound)
                flank = off > 0 and off / max(np.hypot(off, along), 1e-9) > _MIN_INCIDENCE
                if faces or flank:
                    (seen_lo if side == 0 else seen_hi)[ax] = True
    reach_lo, reach_hi = (np.array([len(v) for v in reached[side]]) for side in (0, 1))
    return StaticShape(yaw, lo, hi, seen_lo, seen_hi, reach_lo, reach_hi, float(pts[:, 2].max()), len(pts))


def extend_static(tracks: list[RefinedTrack], frame_points: Mapping[int, np.ndarray], min_points: int) -> None:
    """Give each parked car (in place) its box in frames outside its track where the box holds points.

    ``frame_points``: frame -> (M, 3) world non-ground points of that frame.

    A parked car does not come and go: before its cluster was first detected
    and after it was last, its box is still there; where that frame's
    non-ground points fill it (>= ``min_points``), the box is added with 0.9 x
    the track's score, as a bridged frame.
    """
    if not tracks:
        return
    for f, pts in frame_points.items():
        if pts is None or len(pts) == 0:
            continue
        todo = [r for r in tracks if f not in r.boxes]
        if not todo:
            continue
        boxes = np.array([next(iter(r.boxes.values())) for r in todo])  # a static track has one box
        for r, box, c in zip(todo, boxes, crop_tracks(pts, boxes, 0.0)):
            if len(c) >= min_points:
                r.boxes[f] = box.copy()
                r.scores[f] = 0.9 * max(r.scores.values())
                r.interpolated.add(f)
