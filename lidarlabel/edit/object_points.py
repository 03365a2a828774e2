""""See the whole object": a track's points of every frame, stacked in the object's own frame.

For each frame where the track has a box, the points inside the box grown by
``margin`` are moved into that box's frame (centre at the origin, x along
the heading, z up). Stacked, they show the full shape of a moving object even
where one frame sees only one side, so one size per track can be set right.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lidarlabel.edit.session import EditSession

__all__ = ["StackCache", "points_in_box_frame", "stacked_object_points"]


def points_in_box_frame(points_world: np.ndarray, box: np.ndarray, margin: float = 0.3) -> np.ndarray:
    """(K, 3) points of (N, 3+) world points inside the (7,) box grown by ``margin`` m, in the box frame."""
    pts = np.asarray(points_world, dtype=float)[:, :3]
    b = np.asarray(box, dtype=float)
    half = b[3:6] / 2 + margin
    rel = pts - b[:3]
    reach = float(np.hypot(half[0], half[1]))
    near = (np.abs(rel[:, 0]) < reach) & (np.abs(rel[:, 1]) < reach) & (np.abs(rel[:, 2]) < half[2])
    rel = rel[near]
    c, s = np.cos(b[6]), np.sin(b[6])
    local = np.c_[c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]]
    return local[(np.abs(local) < half).all(axis=1)]


class StackCache:
    """Per-(frame, box) memory of :func:`points_in_box_frame` results, so that after an edit
    only the frames whose box changed are read again (bounded to ``size`` entries)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._data: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def get(self, session: EditSession, frame: int, box: np.ndarray, margin: float) -> np.ndarray:
        """Box-frame points of ``frame`` inside the (7,) ``box`` grown by ``margin``."""
        key = (id(session.scene), frame, tuple(np.round(box, 9)), margin)
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        out = points_in_box_frame(session.points_world(frame), box, margin)
        self._data[key] = out
        while len(self._data) > self.size:
            self._data.popitem(last=False)
        return out


def stacked_object_points(session: EditSession, tid: str, max_frames: int = 20, margin: float = 0.3,
                          cache: StackCache | None = None) -> np.ndarray:
    """(N, 3) points of up to ``max_frames`` frames of track ``tid``, each in its box's own frame.

    Frames are chosen evenly over the track (keyframes first when there are
    more than ``max_frames``), so the cost is bounded whatever the track length.
    With a ``cache``, frames whose box is unchanged since the last call are not read again.
    """
    track = session.track(tid)
    frames = sorted(track.boxes)
    if len(frames) > max_frames:
        keys = [f for f in frames if track.boxes[f].keyframe][:max_frames]
        rest = [f for f in frames if f not in keys]
        take = max_frames - len(keys)
        pick = [rest[i] for i in np.linspace(0, len(rest) - 1, take).astype(int)] if take > 0 else []
        frames = sorted(set(keys) | set(pick))
    if cache is None:
        parts = [points_in_box_frame(session.points_world(f), track.boxes[f].as_array(), margin) for f in frames]
    else:
        parts = [cache.get(session, f, track.boxes[f].as_array(), margin) for f in frames]
    return np.concatenate(parts) if parts else np.zeros((0, 3))
