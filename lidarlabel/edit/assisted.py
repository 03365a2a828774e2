"""Assisted edits of the editing session: one-click fit, propagate, interpolate, keyframes.

A mixin of :class:`~lidarlabel.edit.session.EditSession`, kept apart so the
session module stays about undo, selection and saving. Every method ends in
one ``self._apply`` (one undo step), like any other edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

# imported with the session, not on the first click: an edit never pays an import
from lidarlabel.edit.fit import fit_at_point
from lidarlabel.edit.interpolate import interpolate_boxes
from lidarlabel.edit.propagate import MotionState, propagate_boxes
from lidarlabel.errors import InputError

__all__ = ["AssistedEdits"]


class AssistedEdits:
    """Fit, propagate, interpolate and keyframe methods (mixed into ``EditSession``)."""

    _one_world: bool | None = None  # see _frames_in_one_world (the scene never changes in a session)

    def viewpoint(self, frame: int) -> np.ndarray | None:
        """(3,) world position of the LiDAR in ``frame`` (None without a scene)."""
        if self.scene is None or not 0 <= frame < self.scene.num_frames:
            return None
        return self.scene.world_from_lidar(frame)[:3, 3]

    def time_s(self, frame: int) -> float:
        """Time of ``frame`` in seconds (scene sweep time; 10 Hz by frame index without a scene)."""
        ts = self.timestamp_us(frame)
        return ts * 1e-6 if ts is not None else frame * 0.1

    def fit_box_at(self, frame: int, point: Sequence[float], category: str | None = None) -> str:
        """One-click fit: a new track whose box hugs the object under the world ``point`` (3,).

        The fit also looks at the object in the neighbouring frames (a parked car's
        other sides, a moving car's direction of motion; :mod:`lidarlabel.edit.fit_context`).
        The category comes from the object's size when not given (see
        :mod:`lidarlabel.edit.fit`). Returns the new track id (the new selection).
        """
        if category is not None:
            self._check_category(category)
        context = {}
        if self._frames_in_one_world():
            context = {"frame": frame, "points_world_of": self._context_points, "viewpoint_of": self.viewpoint}
        res = fit_at_point(self.points_world(frame), np.asarray(point, dtype=float), self.viewpoint(frame),
                           category, self.ontology, **context)
        box = res.box
        return self.create_box(frame, box[:3], box[3:6], float(box[6]), res.category)

    def _frames_in_one_world(self) -> bool:
        """Whether the scene's frames are a sequence placed in one world frame (so neighbours can be compared).

        Every ego pose exactly the identity means the scene carries no ego motion:
        KITTI object frames (unrelated snapshots) or point clouds imported without
        poses; their neighbouring frames are not the same place seen a moment later.
        """
        if self.scene is None or self.scene.num_frames < 2:
            return False
        if self._one_world is None:
            self._one_world = not bool(np.all(self.scene.ego_poses == np.eye(4)))
        return self._one_world

    def _context_points(self, frame: int) -> np.ndarray:
        """(N, 3) world points of a neighbouring frame for the fit, leaving the session's recent frames in place.

        The fit keeps its own float32 copies (:mod:`lidarlabel.edit.fit_context`); reading the
        neighbours through :meth:`points_world` would push the frame being edited out of its cache.
        """
        with self._cache_lock:
            cached = self._points_cache.get(frame)
        if cached is not None:
            return cached
        if self.scene is None or not 0 <= frame < self.scene.num_frames:
            raise InputError(f"frame {frame} is outside the scene")
        return self.scene.points_world(frame)

    def set_keyframe(self, track_id: str, frame: int, keyframe: bool = True) -> None:
        """Mark (or unmark) the track's box in ``frame`` as a keyframe, geometry unchanged."""
        t = self.track(track_id)
        if frame not in t.boxes:
            raise InputError(f"track {track_id!r} has no box in frame {frame}")
        new = t.copy()
        new.boxes[frame] = replace(t.boxes[frame], keyframe=bool(keyframe))
        self._apply("Set keyframe" if keyframe else "Clear keyframe", {track_id: new})

    def propagate(self, track_id: str, from_frame: int, to_frame: int) -> list[int]:
        """Carry the track's box from ``from_frame`` to ``to_frame`` (either direction), refitted per frame.

        Keyframes on the way are kept and restart the prediction; other boxes there
        are replaced by non-keyframe ``human`` boxes (see :mod:`lidarlabel.edit.propagate`).
        One undo step. Returns the frames written.
        """
        t = self.track(track_id)
        if from_frame not in t.boxes:
            raise InputError(f"track {track_id!r} has no box in frame {from_frame} to propagate from")
        last = self.num_frames - 1
        to_frame = int(min(max(to_frame, 0), last))
        step = 1 if to_frame >= from_frame else -1
        frames = list(range(from_frame + step, to_frame + step, step))
        if not frames:
            return []
        start = t.boxes[from_frame].as_array()
        behind = [f for f in t.boxes if (f - from_frame) * step < 0]
        motion = MotionState(np.zeros(3))
        if behind:
            f0 = max(behind, key=lambda f: f * step)
            motion = MotionState.from_boxes(t.boxes[f0].as_array(), self.time_s(f0), start, self.time_s(from_frame))
        anchors = {f: t.boxes[f].as_array() for f in frames if f in t.boxes and t.boxes[f].keyframe}
        result = propagate_boxes(start, self.time_s(from_frame), frames, {f: self.time_s(f) for f in frames},
                                 self.points_world, self.viewpoint, motion, anchors)
        new = t.copy()
        template = t.boxes[from_frame]
        for f, ft in result.items():
            new.boxes[f] = template.with_array(
                ft.box, frame=f, timestamp_us=self.timestamp_us(f), source="human", score=None,
                keyframe=False, num_lidar_pts=ft.box_points)
        new.boxes = dict(sorted(new.boxes.items()))
        self._apply("Propagate", {track_id: new})
        return sorted(result)

    def interpolate(self, track_id: str, method: str | None = None) -> list[int]:
        """Fill every frame between the track's keyframes, replacing boxes there that are not keyframes.

        ``method``: ``"linear"`` or ``"cubic"`` (default: cubic with >= 3 keyframes);
        see :mod:`lidarlabel.edit.interpolate`. New boxes have source
        ``interpolated`` and ``keyframe: false``. One undo step; returns the frames filled.
        """
        t = self.track(track_id)
        keys = sorted(f for f, b in t.boxes.items() if b.keyframe)
        if len(keys) < 2:
            raise InputError(f"track {track_id!r} needs at least 2 keyframes to interpolate, has {len(keys)}")
        fill = [f for f in range(keys[0] + 1, keys[-1]) if f not in keys]
        if not fill:
            return []
        try:
            arr = interpolate_boxes([self.time_s(f) for f in keys],
                                    np.array([t.boxes[f].as_array() for f in keys]),
                                    [self.time_s(f) for f in fill], method)
        except ValueError as exc:
            raise InputError(f"track {track_id!r}: {exc}") from None
        new = t.copy()
        for f, box in zip(fill, arr, strict=True):
            prev = t.boxes[max(k for k in keys if k < f)]
            new.boxes[f] = prev.with_array(box, frame=f, timestamp_us=self.timestamp_us(f), source="interpolated",
                                           score=None, keyframe=False, num_lidar_pts=None)
        new.boxes = dict(sorted(new.boxes.items()))
        self._apply("Interpolate", {track_id: new})
        return fill
