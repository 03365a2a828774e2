"""Time context for the one-click fit: a static object's points over neighbouring frames.

The ego vehicle moves, so a parked car seen end-on in one sweep shows its
side a second later. :func:`static_object_points` walks outward from the
clicked frame (every ``STEP`` frames, up to ``WINDOW`` frames each way), cuts the
object under the click out of each sweep exactly as in the clicked frame
(:func:`lidarlabel.edit.fit.object_points_at`), and keeps the sweeps where the
object has not moved: its centroid stays within ``STATIC_SHIFT`` of the last kept
sweep's. The walk stops at the first sweep where it moved (a car pulling out),
where nothing is under the click, or at the scene's ends.

Frames are read through the caller's ``points_world_of(frame)``; their
float32 copies are kept per caller (weakly, so a closed session frees them),
so that further clicks in the same frames only crop and cluster.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from lidarlabel.errors import InputError

__all__ = ["STATIC_SHIFT", "STEP", "WINDOW", "static_object_points"]

STEP = 2  # frames between the sweeps used (0.2 s at 10 Hz)
WINDOW = 10  # frames each way
STATIC_SHIFT = 0.25  # m of centroid motion between kept sweeps STEP frames apart
CACHE_FRAMES = 2 * WINDOW // STEP + 4

_frames: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_plain: OrderedDict = OrderedDict()  # callables that cannot be weakly referenced


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
    return pts[d2 < np.float32(radius**2)].astype(float)


def static_object_points(
    points_world_of: Callable[[int], np.ndarray],
    frame: int,
    found_points: np.ndarray,
    click: np.ndarray,
    limit: tuple[float, float, float],
    radius: float,
    in_scene: Callable[[int], bool] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """The (K, 3) world points of the clicked static object over neighbouring frames, and the frames used.

    ``found_points`` (M, 3) is the object cut out of ``frame`` (always part of the
    result); ``click`` (3,) world; ``limit`` the (length, width, height) bound
    of :func:`~lidarlabel.edit.fit.object_points_at`; ``in_scene(f)`` tells
    whether frame ``f`` exists (otherwise a failing read ends the walk).
    A moving object returns ``found_points`` alone (or with the sweeps before it moved).
    """
    from lidarlabel.edit.fit import object_points_at

    parts, used = [found_points], [frame]
    centre0 = found_points[:, :2].mean(axis=0)
    for direction in (-1, 1):
        last = centre0
        for k in range(1, WINDOW // STEP + 1):
            f = frame + direction * k * STEP
            if f < 0 or (in_scene is not None and not in_scene(f)):
                break
            try:
                pts = _cached_frame(points_world_of, f)
            except (IndexError, KeyError, ValueError, InputError):
                break
            near = _crop(pts, click, radius)
            try:
                obj = object_points_at(near, click, limit, radius=radius).points
            except InputError:
                break
            if len(obj) == 0:
                break
            centre = obj[:, :2].mean(axis=0)
            if np.linalg.norm(centre - last) > STATIC_SHIFT:
                break
            parts.append(obj)
            used.append(f)
            last = centre
    return np.concatenate(parts), sorted(used)
