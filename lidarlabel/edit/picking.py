"""Hit tests for the canvas's clicks: a view ray against boxes and against points (world frame)."""

from __future__ import annotations

import numpy as np

__all__ = ["nearest_point_on_ray", "ray_box_hit"]


def _unit(direction: np.ndarray) -> np.ndarray:
    d = np.asarray(direction, dtype=float).reshape(3)
    n = np.linalg.norm(d)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"ray direction must be a finite non-zero vector, got {d.tolist()}")
    return d / n


def ray_box_hit(origin: np.ndarray, direction: np.ndarray, boxes: np.ndarray) -> tuple[int | None, float]:
    """The first of (N, 7) boxes a ray hits: (index, distance along the unit ray) or (None, inf).

    ``origin`` (3,) and ``direction`` (3,) in the boxes' frame; a ray starting
    inside a box hits it at distance 0. Slab test in each box's own frame.
    """
    o = np.asarray(origin, dtype=float).reshape(3)
    d = _unit(direction)
    b = np.asarray(boxes, dtype=float).reshape(-1, 7)
    if len(b) == 0:
        return None, float("inf")
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    rel = o - b[:, :3]
    # origin and direction in each box frame (yaw about +z)
    lo_ = np.c_[c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]]
    ld = np.c_[c * d[0] + s * d[1], -s * d[0] + c * d[1], np.full(len(b), d[2])]
    half = b[:, 3:6] / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - lo_) / ld
        t2 = (half - lo_) / ld
    parallel = ld == 0
    outside = parallel & (np.abs(lo_) > half)
    t1 = np.where(parallel, -np.inf, t1)
    t2 = np.where(parallel, np.inf, t2)
    tnear = np.minimum(t1, t2).max(axis=1)
    tfar = np.maximum(t1, t2).min(axis=1)
    hit = (tnear <= tfar) & (tfar >= 0) & ~outside.any(axis=1)
    if not hit.any():
        return None, float("inf")
    dist = np.where(hit, np.maximum(tnear, 0.0), np.inf)
    i = int(np.argmin(dist))
    return i, float(dist[i])


def nearest_point_on_ray(origin: np.ndarray, direction: np.ndarray, points: np.ndarray, max_dist: float) -> int | None:
    """Index of the (N, 3) point nearest the viewer among those within ``max_dist`` of the ray.

    Points behind the origin are ignored. Among the points within ``max_dist`` (m,
    perpendicular) of the ray, the one closest to the origin wins: the click
    lands on the surface the user sees, not on what is behind it. None if none.
    """
    o = np.asarray(origin, dtype=float).reshape(3)
    d = _unit(direction)
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    rel = p - o
    along = rel @ d
    perp2 = (rel**2).sum(axis=1) - along**2
    ok = (along > 0) & (perp2 <= max_dist**2) & np.isfinite(perp2)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    return int(idx[np.argmin(along[idx])])
