"""Box fitting for one object's points: search-based L-shape fitting.

For each candidate heading in [0, 90) degrees the points are projected on the
two rectangle axes and scored with the *closeness* criterion of Zhang et al.
(2017, "Efficient L-shape fitting for vehicle detection using laser
scanners"): points close to one of the two nearest edges score high. This
finds the heading of partial, L-shaped and single-edge views, where a
minimum-area or PCA box fails. A size prior grows a partial view to a full box
away from the sensor, keeping the visible edges where they were measured.
"""

from __future__ import annotations

import numpy as np

from lidarlabel.core.boxes import normalize_yaw

__all__ = ["fit_box", "l_shape_heading", "resolve_heading"]

_ANGLES = np.deg2rad(np.arange(0.0, 90.0, 3.0))
_FINE = np.deg2rad(np.arange(-3.0, 3.01, 0.25))
_MAX_FIT_POINTS = 120


def _closeness(xy: np.ndarray, angles: np.ndarray) -> np.ndarray:
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    c1 = c * xy[:, 0] + s * xy[:, 1]
    c2 = -s * xy[:, 0] + c * xy[:, 1]
    d1 = np.minimum(c1.max(axis=1, keepdims=True) - c1, c1 - c1.min(axis=1, keepdims=True))
    d2 = np.minimum(c2.max(axis=1, keepdims=True) - c2, c2 - c2.min(axis=1, keepdims=True))
    d = np.maximum(np.minimum(d1, d2), 0.05)
    return (1.0 / d).sum(axis=1)


def l_shape_heading(xy: np.ndarray) -> float:
    """Heading in [0, pi/2) of the rectangle that best hugs (N, 2) points (closeness criterion).

    A 3 degree search over [0, 90) refined with 0.25 degree steps around the best.
    """
    xy = np.asarray(xy, dtype=float)
    if len(xy) < 3:
        return 0.0
    if len(xy) > _MAX_FIT_POINTS:
        xy = xy[np.linspace(0, len(xy) - 1, _MAX_FIT_POINTS).astype(int)]
    xy = xy - xy.mean(axis=0)
    best = _ANGLES[int(np.argmax(_closeness(xy, _ANGLES)))]
    fine = best + _FINE
    best = fine[int(np.argmax(_closeness(xy, fine)))]
    return float(np.mod(best, np.pi / 2))


def resolve_heading(theta: float, extents: tuple[float, float], yaw_hint: float | None) -> tuple[float, bool]:
    """Choose the box heading among theta + k*pi/2; returns (yaw, swapped axes).

    Without a hint the longer side is the length and the heading points into
    [-pi/2, pi/2); with ``yaw_hint`` the candidate nearest to it wins.
    """
    cands = np.array([theta, theta + np.pi / 2, theta + np.pi, theta + 1.5 * np.pi])
    if yaw_hint is None:
        k = 0 if extents[0] >= extents[1] else 1
        yaw = float(normalize_yaw(cands[k]))
        if abs(yaw) > np.pi / 2:
            yaw = float(normalize_yaw(yaw + np.pi))
        return yaw, k == 1
    diff = np.abs(normalize_yaw(cands - yaw_hint))
    k = int(np.argmin(diff))
    return float(normalize_yaw(cands[k])), k % 2 == 1


def fit_box(
    points_world: np.ndarray,
    size_prior: tuple[float, float, float] | None = None,
    yaw_hint: float | None = None,
    ground_z: float | None = None,
    viewpoint: np.ndarray | None = None,
    axis: float | None = None,
) -> np.ndarray:
    """Fit one (7,) box ``[x, y, z, l, w, h, yaw]`` to one object's (N, 3) points (world frame).

    - heading by L-shape search; ``yaw_hint`` (radians) picks among the four
      equivalent headings (e.g. the track's direction of motion);
    - ``size_prior`` (length, width, height): a side seen shorter than the prior
      is grown to it, away from ``viewpoint`` (the sensor's (3,) position; without
      it the growth is symmetric). Sides seen longer keep their measured extent;
    - ``ground_z``: the box bottom is put on the ground (otherwise the lowest point);
    - ``axis``: a rectangle direction known already (radians); skips the search.
    Raises ValueError for an empty point set.
    """
    pts = np.asarray(points_world, dtype=float)
    if pts.ndim != 2 or pts.shape[1] < 3 or len(pts) == 0:
        raise ValueError(f"fit_box needs (N>=1, 3) points, got shape {pts.shape}")
    pts = pts[np.isfinite(pts[:, :3]).all(axis=1), :3]
    if len(pts) == 0:
        raise ValueError("fit_box: no finite points")
    xy = pts[:, :2]
    theta = l_shape_heading(xy) if axis is None else float(np.mod(axis, np.pi / 2))
    c, s = np.cos(theta), np.sin(theta)
    a1 = c * xy[:, 0] + s * xy[:, 1]
    a2 = -s * xy[:, 0] + c * xy[:, 1]
    ext = (float(np.ptp(a1)), float(np.ptp(a2)))
    yaw, swapped = resolve_heading(theta, ext, yaw_hint)
    cy, sy = np.cos(yaw), np.sin(yaw)
    u = cy * xy[:, 0] + sy * xy[:, 1]  # along the heading
    v = -sy * xy[:, 0] + cy * xy[:, 1]  # across
    lo = np.array([u.min(), v.min()])
    hi = np.array([u.max(), v.max()])
    if size_prior is not None:
        want = np.array(size_prior[:2], dtype=float)
        if viewpoint is not None:
            vp = np.asarray(viewpoint, dtype=float)[:2]
            vpl = np.array([cy * vp[0] + sy * vp[1], -sy * vp[0] + cy * vp[1]])
        for k in range(2):
            short = want[k] - (hi[k] - lo[k])
            if short <= 0:
                continue
            if viewpoint is None:
                lo[k] -= short / 2
                hi[k] += short / 2
            elif abs(vpl[k] - lo[k]) <= abs(vpl[k] - hi[k]):
                hi[k] += short  # the sensor sees the low side: grow towards high
            else:
                lo[k] -= short
    zmax = float(pts[:, 2].max())
    zmin = float(pts[:, 2].min()) if ground_z is None else min(float(ground_z), float(pts[:, 2].min()))
    height = max(zmax - zmin, 0.1)
    if size_prior is not None and ground_z is not None and height < 0.6 * size_prior[2]:
        height = max(height, 0.6 * size_prior[2])
    mu, mv = (lo + hi) / 2
    length, width = max(hi[0] - lo[0], 0.1), max(hi[1] - lo[1], 0.1)
    cx = cy * mu - sy * mv
    cyy = sy * mu + cy * mv
    return np.array([cx, cyy, zmin + height / 2, length, width, height, yaw])
