"""Object-centric shape of a whole track (Waymo 3D Auto Labeling's static-object refinement).

A parked car seen while the ego drives past shows its rear, then its flank,
then its front: no single sweep shows its whole outline, but all sweeps
together do. The points of every frame's cluster are accumulated in the
object's own frame (one world pose for a static object), and one heading and
one set of extents are read from the accumulated shape with robust
percentiles, so a stray point of a neighbour merged in one frame does not
widen the box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.prelabel.fitting import _closeness

__all__ = ["AccumulatedShape", "accumulate_static"]

_ANGLES = np.deg2rad(np.arange(0.0, 90.0, 1.0))
_FINE = np.deg2rad(np.arange(-1.0, 1.01, 0.1))
_MAX_HEADING_POINTS = 600


@dataclass
class AccumulatedShape:
    """Extents of an object's accumulated points in its own axes.

    ``yaw`` (rad, world frame); ``lo``/``hi`` (2,) the (along, across) extents
    in the rotated world frame (u = x cos(yaw) + y sin(yaw), v = -x sin(yaw) +
    y cos(yaw)); ``top`` (m) the height above ``ground_z``; ``num_points``.
    """

    yaw: float
    lo: np.ndarray
    hi: np.ndarray
    top: float
    ground_z: float
    num_points: int

    def observed_box(self) -> np.ndarray:
        """The (7,) world-frame box that hugs the accumulated points (no priors)."""
        mid = (self.lo + self.hi) / 2
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        ext = self.hi - self.lo
        return np.array([c * mid[0] - s * mid[1], s * mid[0] + c * mid[1], self.ground_z + self.top / 2,
                         ext[0], ext[1], self.top, self.yaw])


def _heading(xy: np.ndarray) -> float:
    """Rectangle direction in [0, pi/2) of (N, 2) points: 1 degree search, 0.1 degree refinement."""
    if len(xy) > _MAX_HEADING_POINTS:
        xy = xy[np.linspace(0, len(xy) - 1, _MAX_HEADING_POINTS).astype(int)]
    xy = xy - xy.mean(axis=0)
    best = _ANGLES[int(np.argmax(_closeness(xy, _ANGLES)))]
    fine = best + _FINE
    return float(np.mod(fine[int(np.argmax(_closeness(xy, fine)))], np.pi / 2))


def accumulate_static(
    clouds: list[np.ndarray], yaw_guess: float, ground_z: float, max_turn: float = np.deg2rad(20.0),
    percentile: float = 1.0,
) -> AccumulatedShape | None:
    """Shape of a static object from its per-frame clusters clouds[k] (N_k, 3), world frame.

    The heading is the L-shape direction of all points together, taken on the
    axis nearest ``yaw_guess`` (rad) and only if it turns it by less than
    ``max_turn`` (a merged neighbour can bend the outline); extents are the
    ``percentile`` / ``100 - percentile`` of the points along and across it.
    None without points.
    """
    clouds = [c for c in clouds if c is not None and len(c)]
    if not clouds:
        return None
    pts = np.concatenate(clouds)[:, :3]
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 10:
        return None
    theta = _heading(pts[:, :2])
    cands = theta + np.arange(4) * np.pi / 2
    diff = np.abs((cands - yaw_guess + np.pi) % (2 * np.pi) - np.pi)
    k = int(np.argmin(diff))
    yaw = float(cands[k]) if diff[k] < max_turn else float(yaw_guess)
    c, s = np.cos(yaw), np.sin(yaw)
    u = c * pts[:, 0] + s * pts[:, 1]
    v = -s * pts[:, 0] + c * pts[:, 1]
    q = (percentile, 100.0 - percentile)
    lo = np.array([np.percentile(u, q[0]), np.percentile(v, q[0])])
    hi = np.array([np.percentile(u, q[1]), np.percentile(v, q[1])])
    top = float(np.percentile(pts[:, 2], 100.0 - percentile / 2)) - ground_z
    return AccumulatedShape(yaw, lo, hi, max(top, 0.1), float(ground_z), len(pts))
