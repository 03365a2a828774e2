""""See the whole object": a track's points of every frame, stacked in the object's own frame.

For each frame where the track has a box, the points inside the box grown by
``margin`` are moved into that box's frame (centre at the origin, x along
the heading, z up). Stacked, they show the full shape of a moving object even
where one frame sees only one side, so one size per track can be set right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lidarlabel.edit.session import EditSession

__all__ = ["points_in_box_frame", "stacked_object_points"]


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


def stacked_object_points(session: EditSession, tid: str, max_frames: int = 20, margin: float = 0.3) -> np.ndarray:
    """(N, 3) points of up to ``max_frames`` frames of track ``tid``, each in its box's own frame.

    Frames are chosen evenly over the track (keyframes first when there are
    more than ``max_frames``), so the cost is bounded whatever the track length.
    """
    track = session.track(tid)
    frames = sorted(track.boxes)
    if len(frames) > max_frames:
        keys = [f for f in frames if track.boxes[f].keyframe][:max_frames]
        rest = [f for f in frames if f not in keys]
        take = max_frames - len(keys)
        pick = [rest[i] for i in np.linspace(0, len(rest) - 1, take).astype(int)] if take > 0 else []
        frames = sorted(set(keys) | set(pick))
    parts = [points_in_box_frame(session.points_world(f), track.boxes[f].as_array(), margin) for f in frames]
    return np.concatenate(parts) if parts else np.zeros((0, 3))
