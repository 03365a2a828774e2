"""Ground removal on a bird's-eye grid that survives slopes and curbs.

The ground surface is the grey-scale *opening* (minimum filter, then maximum
filter) of the per-cell lowest point height. An opening with a flat window of
side ``window`` removes every bump that cannot hold a ``window`` x ``window``
square (cars, people, buses seen from any side) but keeps ramps and steps:
a linear slope and a curb edge are invariant under it. A point is ground when
it lies less than ``tolerance`` above that surface at its cell.

Far away the window must grow: a sensor at height h with a vertical step dθ
between its lasers lays its rings on flat ground about r² dθ / h apart at
range r (64 beams, 0.006 rad, 1.8 m: 1.3 m at 20 m, 5.3 m at 40 m). Once
that passes half the window, a car's window can hold no ground return in
front of it and the opening keeps the car's lowest returns as ground (the
car is then cut to its top). Beyond ``far_range`` the surface is the
opening with ``far_window`` (an opening with a larger window is never
higher). Windows are rounded to an odd number of cells: with 0.5 m cells,
4 m is 9 cells (4.5 m) and 8 m is 17 (8.5 m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["GroundModel", "estimate_ground", "ground_mask"]


@dataclass
class GroundModel:
    """A ground height map on a regular grid in the points' frame (z up).

    ``height[i, j]`` is the ground z (m) of cell ``(i, j)`` whose lower corner is
    ``origin + (i, j) * cell``; NaN where nothing is known.
    """

    origin: np.ndarray
    cell: float
    height: np.ndarray

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Ground z under (N, 2) positions; cells without data take the nearest known cell."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        ij = np.floor((xy - self.origin) / self.cell).astype(np.int64)
        ij[:, 0] = np.clip(ij[:, 0], 0, self.height.shape[0] - 1)
        ij[:, 1] = np.clip(ij[:, 1], 0, self.height.shape[1] - 1)
        return self._filled()[ij[:, 0], ij[:, 1]]

    def _filled(self) -> np.ndarray:
        filled = getattr(self, "_filled_cache", None)
        if filled is None:
            known = np.isfinite(self.height)
            if not known.any():
                filled = np.zeros_like(self.height)
            else:
                idx = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
                filled = self.height[idx[0], idx[1]]
            self._filled_cache = filled
        return filled


def estimate_ground(
    points: np.ndarray, cell: float = 0.5, window: float = 4.0, max_range: float = 150.0,
    centre: np.ndarray | None = None, far_window: float | None = None, far_range: float = np.inf,
) -> tuple[GroundModel, np.ndarray]:
    """Ground height map of (N, 3+) points (z up, any frame) and each point's ground z (N,).

    ``centre`` (2,) is the sensor position in the same frame (default: the
    points' median); points farther than ``max_range`` from it in xy get the
    ground height of the nearest cell inside. Cells farther than ``far_range``
    (m) from it are opened with ``far_window`` too (see the module docstring).
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return GroundModel(np.zeros(2), cell, np.full((1, 1), np.nan)), np.zeros(0)
    xy = pts[:, :2]
    c = np.median(xy, axis=0) if centre is None else np.asarray(centre, dtype=float)[:2]
    lo = np.maximum(xy.min(axis=0), c - max_range)
    hi = np.minimum(xy.max(axis=0), c + max_range)
    lo = np.floor(lo / cell) * cell
    shape = np.maximum(np.ceil((hi - lo) / cell).astype(int) + 1, 1)
    ij = np.floor((xy - lo) / cell).astype(np.int64)
    np.clip(ij[:, 0], 0, shape[0] - 1, out=ij[:, 0])
    np.clip(ij[:, 1], 0, shape[1] - 1, out=ij[:, 1])
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    zmin = np.full(shape[0] * shape[1], np.inf)
    np.minimum.at(zmin, flat, pts[:, 2])
    zmin = zmin.reshape(shape)
    surface = _opening(zmin, window, cell)
    if far_window is not None and far_window > window and np.isfinite(far_range):
        ci, cj = (c - lo) / cell - 0.5  # the centre in cell units, so that cell (i, j) lies at (i - ci, j - cj)
        far = np.hypot((np.arange(shape[0]) - ci)[:, None], (np.arange(shape[1]) - cj)[None, :]) * cell > far_range
        if far.any():
            surface = np.where(far, _opening(zmin, far_window, cell), surface)
    # The opening never exceeds the cell's own minimum; cells without points stay unknown.
    surface = np.minimum(surface, zmin)
    surface[~np.isfinite(surface)] = np.nan
    model = GroundModel(lo, cell, surface)
    point_ground = surface.ravel()[flat]
    missing = ~np.isfinite(point_ground)
    if missing.any():
        point_ground[missing] = model.height_at(xy[missing])
    return model, point_ground


def _opening(zmin: np.ndarray, window: float, cell: float) -> np.ndarray:
    """Grey-scale opening of a (H, W) lowest-height grid (inf: empty cell) with a flat ``window`` m square."""
    k = max(3, int(round(window / cell)) | 1)
    eroded = ndimage.minimum_filter(zmin, size=k, mode="nearest")
    eroded[~np.isfinite(eroded)] = -np.inf
    return ndimage.maximum_filter(eroded, size=k, mode="nearest")


def ground_mask(
    points: np.ndarray, tolerance: float = 0.25, cell: float = 0.5, window: float = 4.0,
    centre: np.ndarray | None = None,
) -> np.ndarray:
    """Which of the (N, 3+) points (z up, metres) are ground: (N,) bool.

    A point is ground when it lies less than ``tolerance`` m above the
    opened lowest-point surface (see the module docstring); robust to slopes
    and curbs up to the grid resolution ``cell``.
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    _, gz = estimate_ground(pts, cell=cell, window=window, centre=centre)
    return pts[:, 2] - gz < tolerance
