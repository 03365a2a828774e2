"""One-click box fitting: the object under a clicked world point, as a (7,) box.

Steps (all on a crop around the click, so the cost does not grow with the sweep):
1. keep the points within ``radius`` (xy) of the click;
2. remove the ground locally (grey-scale opening of the lowest-point grid,
   :mod:`lidarlabel.prelabel.ground`) and anything ``max_height`` above it;
3. region-grow from the click: the bird's-eye connected component
   (:mod:`lidarlabel.prelabel.cluster`) holding the object point nearest the
   click; a component much longer than any object (a row of parked cars, a
   hedge) is cut back to the points near the click;
4. fit an L-shape box (:func:`lidarlabel.prelabel.fitting.fit_box`) with the
   category's default size as prior, grown away from the sensor, bottom on
   the local ground. Without a category, the category comes from the observed
   extents (:func:`lidarlabel.prelabel.classify.classify_extents`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.errors import InputError
from lidarlabel.prelabel.classify import CLASS_RANGES, classify_extents
from lidarlabel.prelabel.fitting import fit_box, l_shape_heading
from lidarlabel.prelabel.ground import estimate_ground

__all__ = ["FitResult", "fit_at_point", "object_points_at"]

RADIUS = 9.0  # m: half the length of the longest rigid bus plus a margin
GROUND_TOLERANCE = 0.25
MAX_HEIGHT = 4.5
CELL = np.array([0.3, 0.3, 0.5])  # m: voxel of the connected components (rings are sparser in z)
SEED_RADIUS = 1.0  # m: the click picks the component most present this close to it
JOIN_GAP = 1.0  # m: pieces closer than this may belong to one object
MAX_JOINS = 4
GROW_SLACK = 1.1


@dataclass(frozen=True)
class FitResult:
    """A fitted box (7,) world frame, its category and the (N, 3) world points it was fitted to."""

    box: np.ndarray
    category: str
    points: np.ndarray


def _components(obj: np.ndarray) -> np.ndarray:
    """3D connected-component label (K,) of (K, 3) points on a (0.3, 0.3, 0.5) m voxel grid."""
    ijk = np.floor((obj - obj.min(axis=0)) / CELL).astype(np.int64)
    occ = np.zeros(tuple(ijk.max(axis=0) + 1), dtype=bool)
    occ[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = True
    grid, _ = ndimage.label(occ, structure=np.ones((3, 3, 3), dtype=bool))
    return grid[ijk[:, 0], ijk[:, 1], ijk[:, 2]].astype(np.int64) - 1


def _extent(xy: np.ndarray) -> tuple[float, float]:
    """(longer, shorter) side of the L-shape rectangle around (K, 2) points."""
    theta = l_shape_heading(xy)
    c, s = np.cos(theta), np.sin(theta)
    e = (float(np.ptp(c * xy[:, 0] + s * xy[:, 1])), float(np.ptp(-s * xy[:, 0] + c * xy[:, 1])))
    return max(e), min(e)


def max_extent(category: str | None, ontology: Ontology) -> tuple[float, float, float]:
    """Largest plausible (length, width, height) in metres of an object of ``category`` (None: any)."""
    ranges = {r.category: r for r in CLASS_RANGES.values()}
    if category is None:
        return (max(r.length[1] for r in ranges.values()), max(r.width[1] for r in ranges.values()), MAX_HEIGHT)
    if category in ranges:
        r = ranges[category]
        return r.length[1] * GROW_SLACK, r.width[1] * GROW_SLACK, r.height[1] * GROW_SLACK
    size = ontology.default_size(category)
    return size[0] * 1.3, size[1] * 1.3, size[2] * 1.3


def object_points_at(
    points_world: np.ndarray, click: np.ndarray, limit: tuple[float, float, float] | None = None,
    radius: float = RADIUS,
) -> tuple[np.ndarray, float]:
    """The (K, 3) world points of the object under ``click`` (3,) and the local ground z.

    ``points_world`` is (N, 3+) in the world frame. The seed is the 3D component
    most present within ``SEED_RADIUS`` (xy) of the click; nearby components
    (closer than ``JOIN_GAP``) join while the union's (length, width) stays within
    ``limit`` (default: a bus); points higher than its height above the ground
    (canopy, signs) are left out. Raises InputError when no object point lies near
    the click (e.g. a click on empty road).
    """
    pts = np.asarray(points_world, dtype=float)[:, :3]
    click = np.asarray(click, dtype=float).reshape(3)
    d2 = ((pts[:, :2] - click[:2]) ** 2).sum(axis=1)
    near = pts[(d2 < radius**2) & np.isfinite(pts).all(axis=1)]
    if len(near) < 3:
        raise InputError(f"no points within {radius:g} m of the clicked point {np.round(click, 2).tolist()}")
    rel = near - np.r_[click[:2], 0.0]  # small numbers keep the ground grid exact
    _, gz = estimate_ground(rel, centre=np.zeros(2), max_range=radius)
    limit = limit or max_extent(None, default_ontology())
    above = rel[:, 2] - gz
    keep = (above > GROUND_TOLERANCE) & (above < limit[2])
    obj, obj_gz = near[keep], gz[keep]
    if len(obj) == 0:
        raise InputError(f"only ground near the clicked point {np.round(click, 2).tolist()}")
    labels = _components(obj)
    dxy = np.linalg.norm(obj[:, :2] - click[:2], axis=1)
    close = labels[dxy < SEED_RADIUS]
    seed = int(np.bincount(close).argmax()) if len(close) else int(labels[np.argmin(dxy)])
    member = labels == seed
    # join nearby pieces (an object split by glass or occlusion), nearest first, while it stays plausible
    ij = np.floor((obj[:, :2] - obj[:, :2].min(axis=0)) / CELL[0]).astype(np.int64)
    grid = np.zeros(tuple(ij.max(axis=0) + 1), dtype=bool)
    reach = int(np.ceil(JOIN_GAP / CELL[0]))
    for _ in range(MAX_JOINS):
        grid[:] = False
        grid[ij[member, 0], ij[member, 1]] = True
        halo = ndimage.binary_dilation(grid, np.ones((3, 3), dtype=bool), iterations=reach)
        cand = np.unique(labels[halo[ij[:, 0], ij[:, 1]] & ~member])
        grown = False
        for lab in cand:
            trial = member | (labels == lab)
            ln, wd = _extent(obj[trial, :2])
            if ln <= limit[0] and wd <= limit[1]:
                member, grown = trial, True
        if not grown:
            break
    return obj[member], float(np.median(obj_gz[member]))


def fit_at_point(
    points_world: np.ndarray,
    click: np.ndarray,
    viewpoint: np.ndarray | None = None,
    category: str | None = None,
    ontology: Ontology | None = None,
) -> FitResult:
    """Fit a box to the object under ``click`` (3,), world frame; see the module docstring.

    ``points_world`` (N, 3+) world frame; ``viewpoint`` (3,) the sensor position,
    so partial views grow away from it. Returns a :class:`FitResult`.
    """
    onto = ontology or default_ontology()
    car = max_extent("vehicle.car", onto)
    limit = max_extent(category, onto) if category is not None else car
    obj, ground_z = object_points_at(points_world, click, limit)
    if category is None:
        if max(_extent(obj[:, :2])[0] - car[0], _extent(obj[:, :2])[1] - car[1]) > 0:
            obj, ground_z = object_points_at(points_world, click, max_extent(None, onto))
        raw = fit_box(obj, ground_z=ground_z)
        cls = classify_extents(float(raw[3]), float(raw[4]), float(raw[5]), max_cost=np.inf)
        category = cls.category if cls is not None and cls.category in onto else "vehicle.car"
    # Sides seen shorter than the category's mean size grow to it, away from the sensor: LiDAR
    # rarely sees a whole side (rounded noses, glass, self-occlusion). Growing only sides seen
    # much shorter (< 80 % or 90 % of the prior) measured worse (docs/editing.md).
    prior = tuple(float(v) for v in onto.default_size(category))
    box = fit_box(obj, size_prior=prior, ground_z=ground_z, viewpoint=viewpoint)
    return FitResult(box, category, obj)
