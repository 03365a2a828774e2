"""Time context for the one-click fit: the clicked object over neighbouring frames.

The ego vehicle moves, so a parked car seen end-on in one sweep shows its side
a second later, and a moving car overtaken or turning shows more sides.
:func:`object_context` walks outward from the clicked frame (frames at
``OFFSETS`` each way), cuts the object out of each sweep as in the clicked frame
(:func:`lidarlabel.edit.fit.object_points_at`, clicked where the object is
predicted to be from its motion so far; the first sweep also looks
``FIRST_REACH`` along the object) and registers it on the points gathered so
far: a translation in xy found by trimmed nearest-neighbour alignment (ICP)
from no motion and from the prediction (first sweep: the centroid shift), then,
once the object is known to move, a search along its motion (a side parallel to
the motion matches itself anywhere along it). The object is static in that
sweep when no motion fits (nearly) as well as the best motion, whatever its
visible centroid does as the ego passes. The walk that way ends at a sweep where
the object is not found, overlaps less than ``MIN_INLIERS`` with what was
gathered, is farther from its predicted position than ``MAX_SURPRISE_M`` (+ a
share of the motion), or would grow beyond the category's size (a neighbour joined).

A static object's sweeps are stacked (points, and each sweep's
:class:`~lidarlabel.edit.fit_grow.Sight`: viewpoint and blockers, so an end is
free when any sweep saw it free). When the object moved by more than
``MIN_MOTION`` across the walk, the direction of motion is its heading (mod pi:
no 90 deg flip, and it tells which side is the length); its sweeps do not stack
exactly, so only the clicked sweep's points are fitted, and each other sweep
alone tells its length or width where it saw that side whole
(:func:`lidarlabel.edit.fit_grow.seen_extents`).

Frames are read through the caller's ``points_world_of(frame)``; their float32
copies are kept per caller (weakly, so a closed session frees them), so that
further clicks in the same frames only crop and cluster.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from lidarlabel.edit.fit_grow import Sight, line_of_sight
from lidarlabel.errors import InputError

__all__ = ["MIN_MOTION", "OFFSETS", "ObjectContext", "object_context"]

OFFSETS = (1, 3, 6, 10)  # frames each way; the first step is short so a moving object is still under the click
MATCH_DIST = 0.5  # m: nearest-neighbour pairs farther apart are not the same surface (trimmed ICP)
INLIER_DIST = 0.25  # m: a point on the gathered surface
MIN_INLIERS = 0.5  # share of a sweep's object points on the object (or of the object on them)
STATIC_SLACK = 0.02  # m of mean residual: "no motion" wins when this close to the best motion
MIN_MOTION = 1.0  # m of displacement across the walk that gives the heading
ICP_ITERATIONS = 12
MAX_SURPRISE_M = 0.6  # m a sweep's position may differ from the prediction...
MAX_SURPRISE_SHARE = 0.25  # ...plus this share of the predicted displacement
SLIDE_RANGE = 1.2  # m searched along the motion each way from the ICP result
SLIDE_STEP = 0.2  # the ICP refinement after it does the rest
FIRST_SLIDE_RANGE = 2.5  # m per frame (25 m/s at 10 Hz)
FIRST_REACH = 1.5  # m: where else along its length the first neighbouring sweep looks for the object
SLIDE_MIN_SPEED = 0.1  # m per frame (1 m/s at 10 Hz): slower objects are not searched along their motion
MAX_MATCH_POINTS = 300  # per sweep, for the alignment only
DENSE_CROP = 15000  # points in a neighbouring sweep's crop beyond which it is thinned
CACHE_FRAMES = 2 * len(OFFSETS) + 4
# s of walking (per fit, half each way): the fit is an interactive edit (issue: < 100 ms); a dense
# street can make every sweep slow, and the nearest sweeps, walked first, carry most of what the far ones add
WALK_BUDGET_S = 0.045

_frames: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_plain: OrderedDict = OrderedDict()  # callables that cannot be weakly referenced


@dataclass(frozen=True)
class ObjectContext:
    """The object over time, in clicked-frame coordinates.

    ``points`` (K, 3) every used sweep's object points moved onto the clicked
    frame's object; ``sights`` the other sweeps' views; ``frames`` the frames
    used (sorted, with the clicked one); ``shifts`` {frame: (2,) xy translation
    applied}; ``heading`` the direction of motion (radians) or None when it did not move;
    ``views`` each other sweep's own object points (K, 3) and sight, not moved.
    """

    points: np.ndarray
    sights: list[Sight]
    frames: list[int]
    shifts: dict[int, np.ndarray]
    heading: float | None
    views: list[tuple[np.ndarray, Sight]]


@dataclass(frozen=True)
class _Cut:
    points: np.ndarray
    ground_z: float
    surroundings: np.ndarray
    crop_centre: np.ndarray


def _long_axis(pts: np.ndarray) -> np.ndarray:
    """Unit (2,) direction of the longer side of the L-shape rectangle around (K, 3) points."""
    from lidarlabel.prelabel.fitting import l_shape_heading

    theta = l_shape_heading(pts[:, :2]) if len(pts) >= 3 else 0.0
    axis = np.array([np.cos(theta), np.sin(theta)])
    across = np.array([-axis[1], axis[0]])
    along = pts[:, 0] * axis[0] + pts[:, 1] * axis[1]  # not BLAS (see fit_grow._grow_box)
    side = pts[:, 0] * across[0] + pts[:, 1] * across[1]
    return axis if np.ptp(along) >= np.ptp(side) else across


def _owner(fn: Callable) -> object:
    return getattr(fn, "__self__", fn)


def _cached_frame(points_world_of: Callable[[int], np.ndarray], frame: int) -> np.ndarray:
    """(N, 3) float32 world points of ``frame``, memoised per caller (bounded to CACHE_FRAMES)."""
    owner = _owner(points_world_of)
    try:
        store = _frames.setdefault(owner, OrderedDict())
    except TypeError:
        store = _plain.setdefault(id(owner), OrderedDict())
        while len(_plain) > 4:
            _plain.popitem(last=False)
    if frame in store:
        store.move_to_end(frame)
        return store[frame]
    pts = np.asarray(points_world_of(frame))
    pts = np.ascontiguousarray(pts[:, :3], dtype=np.float32)
    store[frame] = pts
    while len(store) > CACHE_FRAMES:
        store.popitem(last=False)
    return pts


def _crop(pts: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    d2 = (pts[:, 0] - np.float32(centre[0])) ** 2 + (pts[:, 1] - np.float32(centre[1])) ** 2
    return pts[d2 < np.float32(radius**2)].astype(float)  # NaN x or y fails the circle


def _thin(pts: np.ndarray, n: int) -> np.ndarray:
    return pts if len(pts) <= n else pts[np.linspace(0, len(pts) - 1, n).astype(int)]


def _register(src: np.ndarray, tree: cKDTree, init: np.ndarray) -> tuple[np.ndarray, float]:
    """xy translation (2,) moving (K, 3) ``src`` onto the tree's points, from ``init``; and its mean residual."""
    shift = np.asarray(init, dtype=float).copy()
    moved = src.copy()
    for _ in range(ICP_ITERATIONS):
        moved[:, :2] = src[:, :2] + shift
        d, j = tree.query(moved, distance_upper_bound=MATCH_DIST)
        ok = np.isfinite(d)
        if ok.sum() < 3:
            break
        step = (tree.data[j[ok], :2] - (src[ok, :2] + shift)).mean(axis=0)
        shift += step
        if np.hypot(*step) < 0.01:
            break
    return shift, _residual(src, tree, shift)


def _slide(src: np.ndarray, tree: cKDTree, shift: np.ndarray, res: float, axis: np.ndarray,
           reach: float) -> tuple[np.ndarray, float]:
    """Best shift within ``reach`` m along the unit ``axis`` (2,) from ``shift``, then refined.

    A face parallel to the motion matches itself anywhere along it; only the
    object's ends fix the slide, too weakly for ICP's mean step to get there.
    """
    probe = _thin(src, 100)
    steps = np.arange(-reach, reach + 1e-9, SLIDE_STEP)
    offsets = np.c_[shift + steps[:, None] * axis, np.zeros(len(steps))]  # every trial shift in one query
    d, _ = tree.query((probe[None, :, :] + offsets[:, None, :]).reshape(-1, 3), distance_upper_bound=MATCH_DIST)
    scores = np.minimum(d, MATCH_DIST).reshape(len(steps), -1).mean(axis=1)
    best = shift + steps[int(np.argmin(scores))] * axis
    best, best_res = _register(src, tree, best)
    return (best, best_res) if best_res < res else (shift, res)


def _overlap(moved: np.ndarray, tree: cKDTree) -> float:
    """Share of a sweep's (K, 3) points on the gathered surface, or of the gathered points on the sweep's.

    Either way round: a sweep that shows a new side has most of its points off
    the surface gathered so far, yet still covers what was seen.
    """
    d, _ = tree.query(moved, distance_upper_bound=INLIER_DIST)
    back, _ = cKDTree(moved).query(tree.data, distance_upper_bound=INLIER_DIST)
    return max(float(np.isfinite(d).mean()), float(np.isfinite(back).mean()))


def _residual(src: np.ndarray, tree: cKDTree, shift: np.ndarray) -> float:
    moved = src.copy()
    moved[:, :2] += shift
    d, _ = tree.query(moved, distance_upper_bound=MATCH_DIST)
    return float(np.minimum(d, MATCH_DIST).mean())


def _sight(pts: np.ndarray, obj, vp: np.ndarray, radius: float, shift: np.ndarray) -> Sight:
    """The sweep's :class:`Sight`, moved by ``shift`` (3,); its line of sight is scanned on demand."""
    return Sight(vp + shift, obj.surroundings + shift,
                 lambda: line_of_sight(pts, obj.points, vp, obj.crop_centre, radius) + shift)


def _match(pts: np.ndarray, at: np.ndarray, limit: tuple[float, float, float], radius: float, gathered: np.ndarray,
           clicked: np.ndarray, pred: np.ndarray, velocity: np.ndarray, first: bool, long_axis: np.ndarray):
    """The object cut out of a sweep's (N, 3) ``pts`` at ``at`` (3,) and the xy shift (2,) onto ``gathered``.

    None when nothing is there or it does not overlap what was gathered so far.
    The returned object carries ``crop_centre`` (its line of sight starts outside that crop).
    """
    from lidarlabel.edit.fit import cut_object

    try:
        crop = _crop(pts, at, radius)
        if len(crop) > DENSE_CROP:  # a near, dense crop: every other return is plenty to find and align the object
            crop = crop[::2]
        obj = cut_object(crop[np.isfinite(crop[:, 2])], at, limit, radius)  # the crop needs no second cut
    except InputError:
        return None
    if len(obj.points) < 3:
        return None
    tree = cKDTree(gathered)
    src = _thin(obj.points, MAX_MATCH_POINTS)
    centroid = clicked[:, :2].mean(axis=0) - src[:, :2].mean(axis=0)
    inits = [np.zeros(2), centroid] if first else [np.zeros(2), -pred]
    if np.hypot(*(inits[1] - inits[0])) < 0.01:  # a static object's prediction is "no motion": one ICP is enough
        inits = inits[:1]
    shift, res = min((_register(src, tree, init) for init in inits), key=lambda t: t[1])
    speed = float(np.hypot(*velocity))
    if speed >= SLIDE_MIN_SPEED:
        shift, res = _slide(src, tree, shift, res, velocity / speed, SLIDE_RANGE)
    elif first:  # no motion known yet: a car moves along its length, up to FIRST_SLIDE_RANGE per frame
        slid, slid_res = _slide(src, tree, np.zeros(2), np.inf, long_axis, FIRST_SLIDE_RANGE)
        if slid_res < res:
            shift, res = slid, slid_res
    if _residual(src, tree, np.zeros(2)) <= res + STATIC_SLACK:
        shift = np.zeros(2)
    if _overlap(src + np.r_[shift, 0.0], tree) < MIN_INLIERS:
        return None
    return _Cut(obj.points, obj.ground_z, obj.surroundings, at), shift


def object_context(
    points_world_of: Callable[[int], np.ndarray],
    frame: int,
    found,
    click: np.ndarray,
    limit: tuple[float, float, float],
    radius: float,
    viewpoint_of: Callable[[int], np.ndarray | None] | None = None,
    budget_s: float | None = None,
) -> ObjectContext:
    """The clicked object over the frames around ``frame``; see the module docstring.

    ``found`` is the :class:`~lidarlabel.edit.fit.ObjectPoints` cut out of
    ``frame`` at ``click`` (3,) world; ``limit`` the (length, width, height) bound
    of :func:`~lidarlabel.edit.fit.object_points_at`; ``viewpoint_of(f)`` the
    (3,) sensor position of frame ``f``, None outside the scene (without it, a
    failing read ends the walk and sweeps give points but no sight). The walk
    stops taking further sweeps in a direction once ``budget_s`` seconds (default
    ``WALK_BUDGET_S``; half of it for the backward direction) have passed; the
    first sweep each way is always taken.
    """
    from lidarlabel.edit.fit import _extent

    click = np.asarray(click, dtype=float).reshape(3)
    parts, sights, shifts, views = [found.points], [], {frame: np.zeros(2)}, []
    gathered = _thin(found.points, 4 * MAX_MATCH_POINTS)
    long_axis = _long_axis(found.points)
    budget_s = WALK_BUDGET_S if budget_s is None else budget_s
    start = time.perf_counter()
    for direction in (-1, 1):
        velocity = np.zeros(2)  # object motion, m per frame
        tracked = False
        deadline = start + budget_s * (0.5 if direction < 0 else 1.0)
        for k in OFFSETS:
            if tracked and time.perf_counter() > deadline:
                break
            f = frame + direction * k
            vp = viewpoint_of(f) if viewpoint_of is not None else None
            if f < 0 or (viewpoint_of is not None and vp is None):
                break
            try:
                pts = _cached_frame(points_world_of, f)
            except (IndexError, KeyError, ValueError, InputError):
                break
            pred = velocity * direction * k
            # the first step has no motion yet: if the object is not under the click, look along its length
            ats = [click + np.r_[pred, 0.0]]
            if not tracked:
                ats += [click + np.r_[s * FIRST_REACH * long_axis, 0.0] for s in (-1.0, 1.0)]
            match = None
            for at in ats:
                match = _match(pts, at, limit, radius, gathered, found.points, pred, velocity, not tracked, long_axis)
                if match is not None:
                    break
            if match is None:
                break
            obj, shift = match
            if tracked and np.hypot(*(shift + pred)) > MAX_SURPRISE_M + MAX_SURPRISE_SHARE * np.hypot(*pred):
                break  # not where its motion so far puts it: another object
            moved = obj.points + np.r_[shift, 0.0]
            union = _thin(np.r_[gathered, moved], 200)[:, :2]
            if max(_extent(union)) > limit[0] or min(_extent(union)) > limit[1]:
                break  # a neighbour joined the object in this sweep
            parts.append(moved)
            shifts[f] = shift
            if vp is not None:
                sights.append(_sight(pts, obj, np.asarray(vp, dtype=float), radius, np.r_[shift, 0.0]))
                views.append((obj.points, _sight(pts, obj, np.asarray(vp, dtype=float), radius, np.zeros(3))))
            gathered = _thin(np.r_[gathered, _thin(moved, MAX_MATCH_POINTS)], 4 * MAX_MATCH_POINTS)
            velocity = -shift / (direction * k)
            tracked = True
    heading = None
    order = sorted(shifts)
    if order[-1] > order[0]:
        t = np.array(order, dtype=float)
        pos = -np.array([shifts[f] for f in order])  # the object's position relative to the clicked frame
        slope = ((t - t.mean())[:, None] * pos).sum(axis=0) / ((t - t.mean()) ** 2).sum()
        if np.hypot(*slope) * (t[-1] - t[0]) >= MIN_MOTION:
            heading = float(np.arctan2(slope[1], slope[0]))
    if heading is not None:  # its sweeps do not stack exactly: sizes come from each sweep alone (views)
        return ObjectContext(found.points, [], sorted(shifts), shifts, heading, views)
    return ObjectContext(np.concatenate(parts), sights, sorted(shifts), shifts, heading, views)
