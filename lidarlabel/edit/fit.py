"""One-click box fitting: the object under a clicked world point, as a (7,) box.

Steps (all on a crop around the click, so the cost does not grow with the sweep):
1. keep the points within ``RADIUS`` (xy) of the click;
2. remove the ground locally (grey-scale opening of the lowest-point grid,
   :mod:`lidarlabel.prelabel.ground`) and anything above the category's height;
3. the 3D voxel component most present near the click; nearby pieces join while
   the object stays within the category's largest plausible size; thin posts go
   (:func:`object_points_at`);
4. with neighbouring frames (:mod:`lidarlabel.edit.fit_context`): a static
   object's points over time, or a moving object's heading and seen sizes;
5. an object still longer or wider than its category allows is cut at wide
   empty stretches (:func:`split_at_gaps`);
6. fit an L-shape box (:func:`lidarlabel.prelabel.fitting.fit_box`), bottom
   on the local ground, and grow sides seen shorter than the category's
   default size only past ends whose continuation is hidden from the sensor
   (:func:`lidarlabel.edit.fit_grow.fit_with_occlusion`). Without a category,
   the category comes from the observed extents
   (:func:`lidarlabel.prelabel.classify.classify_extents`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.edit.fit_context import object_context
from lidarlabel.edit.fit_grow import (
    AZIMUTH_STEP_RAD,
    azimuth_step,
    fit_with_occlusion,
    line_of_sight,
    seen_extents,
)
from lidarlabel.errors import InputError
from lidarlabel.prelabel.classify import CLASS_RANGES, classify_extents
from lidarlabel.prelabel.fitting import fit_box, l_shape_heading
from lidarlabel.prelabel.ground import estimate_ground

__all__ = ["FitResult", "ObjectPoints", "cut_object", "drop_posts", "fit_at_point", "fit_with_occlusion", "object_points_at", "voxel_components"]

RADIUS = 9.0  # m: half the length of the longest rigid bus plus a margin
GROUND_TOLERANCE = 0.25
MAX_HEIGHT = 4.5
CELL = np.array([0.3, 0.3, 0.5])  # m: voxel of the connected components (rings are sparser in z)
SEED_RADIUS = 1.0  # m: the click picks the component most present this close to it
JOIN_GAP = 1.0  # m: pieces closer than this may belong to one object
MAX_JOINS = 4
POLE_EXCESS = 0.5  # m above the object's median column top
POLE_MAX_WIDTH = 0.6  # m: wider tall parts are the object's own (a truck's cab)
JOIN_MIN_SHARE = 0.15  # a piece joins only with at least this share of the object's points
GROW_SLACK = 1.1
SPLIT_GAP = 0.5  # m: an empty stretch this wide across an implausibly large object separates two


@dataclass(frozen=True)
class ObjectPoints:
    """(K, 3) world points of one object, the ground z under it, (M, 3) non-ground points around it."""

    points: np.ndarray
    ground_z: float
    surroundings: np.ndarray


@dataclass(frozen=True)
class FitResult:
    """A fitted box (7,) world frame, its category and the (N, 3) world points it was fitted to."""

    box: np.ndarray
    category: str
    points: np.ndarray


def voxel_components(obj: np.ndarray) -> np.ndarray:
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
) -> ObjectPoints:
    """The world points of the object under ``click`` (3,), its ground z and the other objects around.

    ``points_world`` is (N, 3+) in the world frame. The seed is the 3D component
    most present within ``SEED_RADIUS`` (xy) of the click; nearby components
    (closer than ``JOIN_GAP``) join while the union's (length, width) stays within
    ``limit`` (default: a bus); points higher than its height above the ground
    (canopy, signs) are left out. Raises InputError when no object point lies near
    the click (e.g. a click on empty road).
    """
    raw = np.asarray(points_world)
    click = np.asarray(click, dtype=float).reshape(3)
    # a square first (NaN fails it), then the circle, converting only what is near to float64
    sq = (np.abs(raw[:, 0] - click[0]) < radius) & (np.abs(raw[:, 1] - click[1]) < radius)
    pts = raw[sq, :3].astype(float)
    d2 = ((pts[:, :2] - click[:2]) ** 2).sum(axis=1)
    near = pts[(d2 < radius**2) & np.isfinite(pts).all(axis=1)]
    return cut_object(near, click, limit, radius)


def cut_object(near: np.ndarray, click: np.ndarray, limit: tuple[float, float, float] | None = None,
               radius: float = RADIUS) -> ObjectPoints:
    """:func:`object_points_at` on (N, 3) finite float64 world points already cropped to ``radius`` of ``click`` (3,).

    The neighbouring sweeps of :mod:`lidarlabel.edit.fit_context` come cropped
    (and thinned when dense); this skips cropping them again.
    """
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
    labels = voxel_components(obj)
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
            piece = labels == lab
            # a small piece beside the object (cone, bollard, pole) is something else
            if piece.sum() < JOIN_MIN_SHARE * member.sum():
                continue
            trial = member | piece
            ln, wd = _extent(obj[trial, :2])
            if ln <= limit[0] and wd <= limit[1]:
                member, grown = trial, True
        if not grown:
            break
    keep = drop_posts(obj[member], obj_gz[member])
    return ObjectPoints(obj[member][keep], float(np.median(obj_gz[member])), obj)


def split_at_gaps(pts: np.ndarray, click: np.ndarray, heading: float | None,
                  limit: tuple[float, float, float]) -> np.ndarray:
    """The (K', 3) part of the object's (K, 3) world points on the click's side of any wide gap.

    Along the heading (radians; the L-shape's longer side without it) and across
    it, an object longer or wider than ``limit`` (length, width) is two objects
    that touched in the grid or were joined (a car beside the end of a bus):
    it is cut at empty stretches of at least ``SPLIT_GAP``, keeping the run that
    holds the click's (3,) position (or is nearest to it).
    """
    if len(pts) < 10:
        return pts
    yaw = float(fit_box(pts, yaw_hint=heading)[6]) if heading is None else heading
    c, s = np.cos(yaw), np.sin(yaw)
    keep = np.ones(len(pts), dtype=bool)
    for axis, most in ((np.array([c, s]), limit[0]), (np.array([-s, c]), limit[1])):
        t = pts[:, 0] * axis[0] + pts[:, 1] * axis[1]  # not BLAS: its threads spin beside the fit
        if np.ptp(t[keep]) <= most:
            continue
        order = np.sort(t[keep])
        cuts = np.flatnonzero(np.diff(order) >= SPLIT_GAP)
        if len(cuts) == 0:
            continue
        starts = np.r_[order[0], order[cuts + 1]]
        ends = np.r_[order[cuts], order[-1]]
        at = float(click[:2] @ axis)
        dist = np.maximum(starts - at, 0) + np.maximum(at - ends, 0)
        j = int(np.argmin(dist))
        keep &= (t >= starts[j]) & (t <= ends[j])
    return pts[keep]


def drop_posts(pts: np.ndarray, gz: np.ndarray) -> np.ndarray:
    """Mask (K,) of the (K, 3) points that are not a thin post standing out above the object.

    A sign post or lamp pole touching a car joins its component; in a bird's-eye
    grid it is a small patch of columns much taller than the object's typical column.
    """
    if len(pts) < 10:
        return np.ones(len(pts), dtype=bool)
    ij = np.floor((pts[:, :2] - pts[:, :2].min(axis=0)) / CELL[0]).astype(np.int64)
    shape = tuple(ij.max(axis=0) + 1)
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    top = np.full(shape[0] * shape[1], -np.inf)
    np.maximum.at(top, flat, pts[:, 2] - gz)
    occupied = np.isfinite(top)
    body = float(np.median(top[occupied]))
    tall = (top > body + POLE_EXCESS).reshape(shape)
    regions, n = ndimage.label(tall, structure=np.ones((3, 3), dtype=bool))
    drop = np.zeros(shape, dtype=bool)
    for sl, k in zip(ndimage.find_objects(regions), range(1, n + 1), strict=True):
        size = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        if max(size) * CELL[0] <= POLE_MAX_WIDTH and (regions == k).sum() < 0.2 * occupied.sum():
            drop |= regions == k
    return ~drop.ravel()[flat]


def _sensor_step(found: ObjectPoints, click: np.ndarray, viewpoint: np.ndarray | None) -> float:
    """The azimuth step (radians) of the clicked sweep: from the object's points, else the points near the click."""
    if viewpoint is None:
        return AZIMUTH_STEP_RAD
    vp = np.asarray(viewpoint, dtype=float)
    pts = found.points
    if len(pts) > 2000:  # a near object: its returns around the click suffice
        pts = pts[((pts[:, :2] - click[:2]) ** 2).sum(axis=1) < 4.0]
    step = azimuth_step(pts, vp)
    if step is None:  # a few returns: the surroundings close by (a compact patch keeps ring neighbours)
        near = found.surroundings[((found.surroundings[:, :2] - click[:2]) ** 2).sum(axis=1) < 9.0]
        step = azimuth_step(near, vp)
    return AZIMUTH_STEP_RAD if step is None else step


def fit_at_point(
    points_world: np.ndarray,
    click: np.ndarray,
    viewpoint: np.ndarray | None = None,
    category: str | None = None,
    ontology: Ontology | None = None,
    *,
    frame: int | None = None,
    points_world_of: Callable[[int], np.ndarray] | None = None,
    viewpoint_of: Callable[[int], np.ndarray | None] | None = None,
) -> FitResult:
    """Fit a box to the object under ``click`` (3,), world frame; see the module docstring.

    ``points_world`` (N, 3+) world frame; ``viewpoint`` (3,) the sensor position,
    so partial views grow away from it. With ``frame`` (the index of
    ``points_world``) and ``points_world_of(f) -> (N, 3+)`` world points of any
    frame, the object is followed over neighbouring frames
    (:mod:`lidarlabel.edit.fit_context`); ``viewpoint_of(f)`` (None outside the
    scene) bounds that walk and gives each frame's sensor position. Returns a :class:`FitResult`.
    """
    onto = ontology or default_ontology()
    car = max_extent("vehicle.car", onto)
    limit = max_extent(category, onto) if category is not None else car
    click = np.asarray(click, dtype=float).reshape(3)
    found = object_points_at(points_world, click, limit)
    if category is None:
        ext = _extent(found.points[:, :2])
        if ext[0] > car[0] or ext[1] > car[1]:
            limit = max_extent(None, onto)
            found = object_points_at(points_world, click, limit)
    step = _sensor_step(found, click, viewpoint)
    sights, heading, views = (), None, []
    if frame is not None and points_world_of is not None:
        ctx = object_context(points_world_of, frame, found, click, limit, RADIUS, viewpoint_of)
        found = ObjectPoints(ctx.points, found.ground_z, found.surroundings)
        sights, heading, views = ctx.sights, ctx.heading, ctx.views
    found = ObjectPoints(split_at_gaps(found.points, click, heading, limit), found.ground_z, found.surroundings)
    if category is None:
        raw = fit_box(found.points, ground_z=found.ground_z)
        cls = classify_extents(float(raw[3]), float(raw[4]), float(raw[5]), max_cost=np.inf)
        category = cls.category if cls is not None and cls.category in onto else "vehicle.car"
    prior = tuple(float(v) for v in onto.default_size(category))
    measured = (False, False)
    if heading is not None and views:
        seen = seen_extents(views, heading, prior, found.ground_z, step)
        prior = tuple(p if s is None else s for p, s in zip(prior, (*seen, None), strict=True))
        measured = (seen[0] is not None, seen[1] is not None)
    if viewpoint is None:
        box = fit_box(found.points, size_prior=prior, ground_z=found.ground_z, yaw_hint=heading)
    else:
        vp = np.asarray(viewpoint, dtype=float)
        def far() -> np.ndarray:
            return line_of_sight(points_world, found.points, vp, click, RADIUS)

        box = fit_with_occlusion(found, vp, prior, far, sights, heading, measured, step)
    return FitResult(box, category, found.points)
