"""QA mode, Qt-free: the session's labels compared with another version, change by change.

:class:`QAReview` diffs the session's current document with another
:class:`LabelDocument` (by default the OLD side: "what changed since version
X") using :func:`lidarlabel.qa.diff.diff_documents`, and keeps the diff up to
date on every ``document_changed`` of the session. Only the frames the edit
touched are re-diffed (a change of one frame depends only on that frame's boxes
and on the categories/attributes of their tracks); ``result`` (the whole
:class:`DiffResult` with summary and review figures) is recomputed lazily when
read after an edit. Views colour boxes with :meth:`QAReview.box_styles` and draw
:meth:`QAReview.ghost_boxes`; they redraw on :attr:`QAReview.changed`.

Reverting goes through the session's public edit methods, one undo step per
change; see docs/qa-mode.md for what each kind's revert does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.edit.session import DocumentChange, EditSession
from lidarlabel.errors import InputError
from lidarlabel.qa.diff import BoxChange, DiffResult, Tolerances, diff_documents

__all__ = ["KIND_COLOURS", "STYLE_PRIORITY", "QAReview", "change_key"]

#: The fixed legend (RGB 0-255). The last two are provenance-only changes.
KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "added": (60, 200, 75),
    "removed": (230, 50, 50),
    "geometry_changed": (255, 150, 30),
    "category_changed": (170, 80, 220),
    "attributes_changed": (60, 120, 255),
    "track_id_changed": (0, 215, 230),
    "keyframe_changed": (220, 210, 90),
    "source_changed": (150, 160, 175),
    "unchanged": (128, 128, 128),
}
#: When one box has several changes, the first of these names its colour.
STYLE_PRIORITY = (
    "added", "removed", "track_id_changed", "category_changed", "geometry_changed",
    "attributes_changed", "keyframe_changed", "source_changed",
)  # fmt: skip
_RANK = {k: r for r, k in enumerate(STYLE_PRIORITY)}
ChangeKey = tuple[str, int, str | None, str | None]


def change_key(change: BoxChange) -> ChangeKey:
    """A key that names a change across recomputations: (kind, frame, old track, new track)."""
    return (change.kind, change.frame, change.old_track, change.new_track)


def _restrict(doc: LabelDocument, frames: set[int]) -> LabelDocument:
    """A view of ``doc`` with only the boxes in ``frames`` (tracks and boxes shared, not copied)."""
    tracks: dict[str, Track] = {}
    for tid, t in doc.tracks.items():
        if len(frames) < len(t.boxes):
            boxes = {f: t.boxes[f] for f in frames if f in t.boxes}
        else:
            boxes = {f: b for f, b in t.boxes.items() if f in frames}
        if boxes:
            tracks[tid] = Track(tid, t.category, t.attributes, boxes)
    return LabelDocument(doc.scene, doc.version, tracks)


class QAReview:
    """The session's document against ``other`` (``other_is`` "old" or "new"), kept current.

    ``changed`` is emitted after every recomputation and after :meth:`accept`.
    """

    changed = Signal()

    def __init__(
        self, session: EditSession, other: LabelDocument, other_is: str = "old",
        iou_threshold: float = 0.5, tolerances: Tolerances | None = None, iou_kind: str = "3d",
    ) -> None:  # fmt: skip
        if other_is not in ("old", "new"):
            raise ValueError(f"other_is must be 'old' or 'new', got {other_is!r}")
        if other.scene and session.doc.scene and other.scene != session.doc.scene:
            raise InputError(
                f"label version {other.version.id}: scene: expected {session.doc.scene!r} "
                f"(the open scene), got {other.scene!r}"
            )
        self.session = session
        self.other = other
        self.other_is = other_is
        self._params = {"iou_threshold": iou_threshold, "tolerances": tolerances or Tolerances(),
                        "iou_kind": iou_kind}  # fmt: skip
        self._accepted: set[ChangeKey] = set()
        self._frames: dict[int, list[BoxChange]] = {}
        self._tracks_seen: dict[str, Track] = {}  # the session's tracks as last diffed
        self._result: DiffResult | None = None
        self._doc_seen: LabelDocument | None = None
        self._recompute_all()
        session.events.document_changed.connect(self._on_document_changed)

    @classmethod
    def for_version(cls, session: EditSession, version_id: str, other_is: str = "old") -> QAReview:
        """Compare with the saved version ``version_id`` of the session's scene."""
        from lidarlabel.io.label_store import LabelStore

        if session.scene_path is None:
            raise InputError("this session has no scene file, so it has no saved versions")
        return cls(session, LabelStore.for_scene(session.scene_path).load(version_id), other_is)

    def close(self) -> None:
        """Stop following the session (call when the QA mode is left)."""
        self.session.events.document_changed.disconnect(self._on_document_changed)

    # ------------------------------------------------------------------ the diff
    def _old_new(self) -> tuple[LabelDocument, LabelDocument]:
        doc = self.session.doc
        return (self.other, doc) if self.other_is == "old" else (doc, self.other)

    def _diff(self, old: LabelDocument, new: LabelDocument) -> DiffResult:
        return diff_documents(old, new, use_ids=True, **self._params)

    def _snapshot_tracks(self) -> None:
        self._doc_seen = self.session.doc
        self._tracks_seen = dict(self.session.doc.tracks)

    def _recompute_all(self) -> None:
        self._result = self._diff(*self._old_new())
        frames: dict[int, list[BoxChange]] = defaultdict(list)
        for c in self._result.changes:
            frames[c.frame].append(c)
        self._frames = dict(frames)
        self._snapshot_tracks()

    def _on_document_changed(self, change: DocumentChange) -> None:
        doc = self.session.doc
        if change.kind == "reload" or doc is not self._doc_seen:
            self._recompute_all()
            self.changed.emit()
            return
        frames: set[int] = set()
        for tid in change.track_ids:
            frames |= self._changed_frames(self._tracks_seen.get(tid), doc.tracks.get(tid))
        if frames:
            if 2 * len(frames) > max(self.session.num_frames, 1):
                self._recompute_all()  # most of the scene: one full diff is as cheap
            else:
                self._refresh_frames(frames)
        for tid in change.track_ids:
            t = doc.tracks.get(tid)
            if t is None:
                self._tracks_seen.pop(tid, None)
            else:
                self._tracks_seen[tid] = t
        self.changed.emit()

    @staticmethod
    def _changed_frames(a: Track | None, b: Track | None) -> set[int]:
        """Frames where track ``a`` (before) and ``b`` (after) differ.

        Edits replace tracks and boxes, never mutate them (lidarlabel.edit.commands),
        so an unchanged box is the same object on both sides.
        """
        if a is b:
            return set()
        if a is None or b is None or a.category != b.category or a.attributes != b.attributes:
            return set(a.boxes if a is not None else ()) | set(b.boxes if b is not None else ())
        return {f for f in a.boxes.keys() | b.boxes.keys() if a.boxes.get(f) is not b.boxes.get(f)}

    def _refresh_frames(self, frames: set[int]) -> None:
        """Re-diff only ``frames`` (all an edit of boxes there can change); ``result`` goes stale."""
        old, new = self._old_new()
        sub = self._diff(_restrict(old, frames), _restrict(new, frames))
        for f in frames:
            self._frames.pop(f, None)
        for c in sub.changes:
            self._frames.setdefault(c.frame, []).append(c)
        self._fix_id_events(old, new)
        self._result = None

    def _fix_id_events(self, old: LabelDocument, new: LabelDocument) -> None:
        """Split / merge / relabel depend on every frame: re-derive them as the full diff does."""
        found = [(f, i, c) for f, cs in self._frames.items() for i, c in enumerate(cs)
                 if c.kind == "track_id_changed"]  # fmt: skip
        if not found:
            return
        new_of: dict[str, set[str]] = defaultdict(set)
        old_of: dict[str, set[str]] = defaultdict(set)
        for _, _, c in found:
            new_of[str(c.old_track)].add(str(c.new_track))
            old_of[str(c.new_track)].add(str(c.old_track))

        def paired_by_id(tid: str) -> bool:  # the full diff also pairs tid with itself somewhere
            a, b = old.tracks.get(tid), new.tracks.get(tid)
            return a is not None and b is not None and not a.boxes.keys().isdisjoint(b.boxes.keys())

        for tid in list(new_of):
            if paired_by_id(tid):
                new_of[tid].add(tid)
        for tid in list(old_of):
            if paired_by_id(tid):
                old_of[tid].add(tid)
        for f, i, c in found:
            o, n = str(c.old_track), str(c.new_track)
            sub = "merge" if len(old_of[n]) > 1 else "split" if len(new_of[o]) > 1 else "relabel"
            if c.details.get("event") != sub:
                self._frames[f][i] = replace(c, details={**c.details, "event": sub})

    @property
    def result(self) -> DiffResult:
        """The whole diff (summary, review figures, per-track counts), recomputed if stale."""
        if self._result is None:
            self._recompute_all()
        assert self._result is not None
        return self._result

    @property
    def changes(self) -> list[BoxChange]:
        """Every change, by frame then kind then track (the order of ``result.changes``)."""
        return [c for f in sorted(self._frames) for c in self._frames[f]]

    def changes_in_frame(self, frame: int) -> list[BoxChange]:
        """The changes in ``frame``."""
        return list(self._frames.get(frame, ()))

    # ------------------------------------------------------------------ styles for the views
    @staticmethod
    def change_colour(kind: str) -> tuple[int, int, int]:
        """RGB (0-255) of a change kind in the fixed legend (``unchanged`` is grey)."""
        try:
            return KIND_COLOURS[kind]
        except KeyError:
            raise ValueError(f"unknown change kind {kind!r}; expected one of {', '.join(KIND_COLOURS)}") from None

    def _session_track(self, change: BoxChange) -> str | None:
        return change.new_track if self.other_is == "old" else change.old_track

    def _other_track(self, change: BoxChange) -> str | None:
        return change.old_track if self.other_is == "old" else change.new_track

    def box_styles(self, frame: int) -> dict[str, tuple[str, tuple[int, int, int]]]:
        """Track id -> (kind, RGB) for every box of the session's document in ``frame``.

        A box with several changes takes the first kind of :data:`STYLE_PRIORITY`.
        """
        best: dict[str, str] = {}
        for c in self._frames.get(frame, ()):
            tid = self._session_track(c)
            if tid is not None and (tid not in best or _RANK[c.kind] < _RANK[best[tid]]):
                best[tid] = c.kind
        out = {}
        for tid, t in self.session.doc.tracks.items():
            if frame in t.boxes:
                kind = best.get(tid, "unchanged")
                out[tid] = (kind, KIND_COLOURS[kind])
        return out

    def ghost_boxes(self, frame: int) -> list[tuple[str, np.ndarray, tuple[int, int, int]]]:
        """(kind, (7,) world box, RGB) of the boxes in ``frame`` that exist only in the other version."""
        kind = "removed" if self.other_is == "old" else "added"
        out = []
        for c in self._frames.get(frame, ()):
            if c.kind == kind:
                box = c.before if self.other_is == "old" else c.after
                out.append((kind, np.array(box, dtype=float), KIND_COLOURS[kind]))
        return out

    # ------------------------------------------------------------------ review actions
    def jump_to(self, change: BoxChange) -> None:
        """Go to the change's frame and select its track in the session (none if it is gone)."""
        self.session.set_frame(change.frame)
        tid = self._session_track(change)
        self.session.select(tid if tid in self.session.doc.tracks else None)

    def accept(self, change: BoxChange, accepted: bool = True) -> None:
        """Mark a change as reviewed and kept (``accepted=False`` un-marks it); no edit."""
        if accepted:
            self._accepted.add(change_key(change))
        else:
            self._accepted.discard(change_key(change))
        self.changed.emit()

    def is_accepted(self, change: BoxChange) -> bool:
        """True when :meth:`accept` marked this change."""
        return change_key(change) in self._accepted

    @property
    def accepted(self) -> frozenset[ChangeKey]:
        """Keys (:func:`change_key`) of the accepted changes."""
        return frozenset(self._accepted)

    def can_revert(self, change: BoxChange) -> tuple[bool, str]:
        """(True, "") if :meth:`revert` can undo ``change``, else (False, why not)."""
        if change.kind == "source_changed":
            return False, ("a box's source (pre-label, interpolated, human) cannot be set back through "
                           "the session's edit methods; edit the box to make it human")  # fmt: skip
        if self.session.read_only:
            return False, f"read-only session: {self.session.read_only_reason}"
        return True, ""

    def revert(self, change: BoxChange) -> None:
        """Give the change's box back its state in the other version: ONE undo step.

        Categories and track attributes belong to the whole track, so reverting
        them reverts every frame of that track.
        """
        ok, why = self.can_revert(change)
        if not ok:
            raise InputError(f"cannot revert {change.kind} of track {change.track} in frame {change.frame}: {why}")
        s, f, kind = self.session, change.frame, change.kind
        sess_tid, other_tid = self._session_track(change), self._other_track(change)
        other_t = self.other.tracks.get(other_tid) if other_tid is not None else None
        other_box = other_t.boxes.get(f) if other_t is not None else None
        with s.batch(f"Revert {kind.replace('_', ' ')} ({change.track}, frame {f})"):
            if sess_tid is not None and other_tid is None:  # only in the session: remove it
                s.delete(sess_tid, f)
            elif sess_tid is None:  # only in the other version: bring it back
                assert other_t is not None and other_box is not None
                self._put_box(other_t, other_box, other_box.as_array(), other_box.keyframe)
            else:
                assert other_t is not None and other_box is not None
                sess_box = s.track(sess_tid).boxes[f]
                if kind == "geometry_changed":  # geometry and provenance back, attributes kept
                    s.restore_box(sess_tid, replace(other_box, attributes=sess_box.attributes),
                                  "Revert geometry")
                elif kind == "category_changed":
                    s.set_category(sess_tid, other_t.category)
                elif kind == "attributes_changed":
                    self._set_attributes(sess_tid, None, other_t.attributes)
                    self._set_attributes(sess_tid, f, other_box.attributes)
                elif kind == "keyframe_changed":
                    s.set_keyframe(sess_tid, f, other_box.keyframe)
                elif kind == "track_id_changed":  # move the session's box back to the other id
                    s.delete(sess_tid, f)
                    self._put_box(other_t, sess_box, sess_box.as_array(), sess_box.keyframe)
                else:
                    raise InputError(f"cannot revert a change of kind {kind!r}")

    def _put_box(self, other_t: Track, box: Box, arr: np.ndarray, keyframe: bool) -> str:
        """Add ``box`` (geometry ``arr``) to the track ``other_t.id`` in the session, or recreate it."""
        s, f = self.session, box.frame
        cur = s.doc.tracks.get(other_t.id)
        exact = replace(box, center=tuple(arr[:3]), size=tuple(arr[3:6]), yaw=float(arr[6]), keyframe=keyframe)
        if cur is not None and f not in cur.boxes:
            tid = cur.id
            s.restore_box(tid, exact, "Restore box")
        else:  # the id is free (or taken in this frame): a new track with the old category and attributes
            tid = other_t.id if cur is None else s.doc.new_track_id()
            s.restore_box(tid, exact, "Restore box", category=other_t.category, attributes=other_t.attributes)
        return tid

    def _set_attributes(self, tid: str, frame: int | None, target: dict[str, Any]) -> None:
        """Make the track's (or its box's) attributes equal ``target`` with ``set_attribute`` calls."""
        t = self.session.track(tid)
        current = t.attributes if frame is None else t.boxes[frame].attributes
        for name in [n for n in current if n not in target]:
            self.session.set_attribute(tid, name, None, frame)
        for name, value in target.items():
            cur = self.session.track(tid)
            now = cur.attributes if frame is None else cur.boxes[frame].attributes
            if now.get(name, object()) != value:
                self.session.set_attribute(tid, name, value, frame)

    def save_reviewed(self, author: str) -> Path:
        """Save the session's document as a new version with source ``qa``; returns its path."""
        return self.session.save(author=author, source="qa")

