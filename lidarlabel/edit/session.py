"""The editing session: one scene, one label document, selection, current frame, one undo stack.

Plain Python (no Qt). Views subscribe to :attr:`EditSession.events` and re-read
the model; every edit goes through :meth:`EditSession._apply`, which pushes one
undoable :class:`~lidarlabel.edit.commands.TrackEdit`. A mouse drag, a key press
and a script call the same methods.

Review semantics (docs/editing.md): accepting a pre-label turns its boxes'
``source`` from ``prelabel`` into ``human`` and keeps their score; rejecting
deletes the track's pre-label boxes (the track goes when nothing is left).
Any geometric edit makes that box a ``human`` keyframe with no score.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal, SignalGroup

from lidarlabel.core.boxes import count_points_in_boxes, normalize_yaw
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.edit.assisted import AssistedEdits
from lidarlabel.edit.commands import TrackEdit, UndoStack
from lidarlabel.errors import InputError
from lidarlabel.io.scene import SceneReader

__all__ = ["DocumentChange", "EditSession", "ReadOnlyError", "SessionEvents"]


class ReadOnlyError(InputError):
    """The session was opened read-only (another editor holds the scene's lock)."""


@dataclass(frozen=True)
class DocumentChange:
    """What a document change touched: track ids and the command label ('' for a reload)."""

    track_ids: frozenset[str]
    label: str
    kind: str = "edit"  # edit | undo | redo | reload


class SessionEvents(SignalGroup):
    """Signals of an :class:`EditSession`."""

    frame_changed = Signal(int)
    selection_changed = Signal(object)  # track id or None
    document_changed = Signal(object)  # DocumentChange
    history_changed = Signal()  # undo/redo availability or labels, saved state
    box_preview = Signal(object, int, object)  # track id, frame, (7,) array or None ("changing")


class EditSession(AssistedEdits):
    """The model behind the app and behind scripts; see the module docstring."""

    def __init__(
        self,
        scene: SceneReader | None,
        doc: LabelDocument,
        ontology: Ontology | None = None,
        author: str = "unknown",
        scene_path: Path | None = None,
    ) -> None:
        self.scene = scene
        self.scene_path = Path(scene_path) if scene_path else (scene.path if scene else None)
        self.doc = doc
        self.ontology = ontology or default_ontology()
        self.author = author
        self.events = SessionEvents()
        self.read_only_reason: str | None = None
        self._frame = 0
        self._selection: str | None = None
        self._stack = UndoStack()
        self._batch: TrackEdit | None = None
        self._points_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._lock_handle: Any = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        scene_path: str | Path,
        labels: str | Path | None = None,
        ontology: Ontology | None = None,
        author: str = "unknown",
        lock: bool = False,
    ) -> EditSession:
        """Open a scene with a label file, or with the latest saved version, or empty.

        With ``lock=True`` the scene's label lock is taken; if another editor holds
        it the session opens read-only and :attr:`read_only_reason` says why.
        """
        from lidarlabel.io.labels import load_document

        scene = SceneReader.open(scene_path)
        onto = ontology or default_ontology()
        doc: LabelDocument | None = None
        if labels is not None:
            doc = load_document(labels)
        else:
            from lidarlabel.io.label_store import LabelStore

            doc = LabelStore.for_scene(scene.path).latest()
        if doc is None:
            doc = LabelDocument.new(scene.scene_id, source="human", author=author)
        s = cls(scene, doc, onto, author, Path(scene_path))
        if lock:
            s._take_lock()
        return s

    def _take_lock(self) -> None:
        from lidarlabel.io.label_store import LabelStore, LockError

        try:
            self._lock_handle = LabelStore.for_scene(self.scene_path).acquire_lock(owner=self.author)
        except LockError as exc:
            self.read_only_reason = str(exc)

    def close(self) -> None:
        """Release the scene lock (if held) and close the scene file."""
        if self._lock_handle is not None:
            self._lock_handle.release()
            self._lock_handle = None
        if self.scene is not None:
            self.scene.close()

    @property
    def read_only(self) -> bool:
        """True when edits are refused (see :attr:`read_only_reason`)."""
        return self.read_only_reason is not None

    # ------------------------------------------------------------------ navigation
    @property
    def num_frames(self) -> int:
        """Frames in the scene (or spanned by the labels when there is no scene)."""
        if self.scene is not None:
            return self.scene.num_frames
        frames = self.doc.frames()
        return frames[-1] + 1 if frames else 1

    @property
    def frame(self) -> int:
        """The current frame index."""
        return self._frame

    def set_frame(self, frame: int) -> None:
        """Go to ``frame`` (clamped to the scene); emits ``frame_changed`` when it changes."""
        f = int(min(max(int(frame), 0), self.num_frames - 1))
        if f != self._frame:
            self._frame = f
            self.events.frame_changed.emit(f)

    @property
    def selection(self) -> str | None:
        """The selected track id, or None."""
        return self._selection

    def select(self, track_id: str | None) -> None:
        """Select a track (None clears); emits ``selection_changed`` when it changes."""
        if track_id is not None and track_id not in self.doc.tracks:
            raise KeyError(f"no track {track_id!r}")
        if track_id != self._selection:
            self._selection = track_id
            self.events.selection_changed.emit(track_id)

    def timestamp_us(self, frame: int) -> int | None:
        """Sweep time of ``frame`` from the scene, if there is one."""
        if self.scene is None or not 0 <= frame < self.scene.num_frames:
            return None
        return int(self.scene.timestamps_us[frame])

    def points_world(self, frame: int) -> np.ndarray:
        """(N, 3) world-frame points of ``frame`` (a few recent frames are cached)."""
        if self.scene is None:
            return np.zeros((0, 3))
        with self._cache_lock:
            if frame in self._points_cache:
                self._points_cache.move_to_end(frame)
                return self._points_cache[frame]
        pts = self.scene.points_world(frame)
        with self._cache_lock:
            self._points_cache[frame] = pts
            while len(self._points_cache) > 4:
                self._points_cache.popitem(last=False)
        return pts

    # ------------------------------------------------------------------ history
    def document(self) -> dict[str, Any]:
        """The current label document as a JSON-ready dict (DESIGN.md contract)."""
        return self.doc.to_dict()

    def _apply(self, label: str, after: dict[str, Track | None], merge_key: str | None = None) -> None:
        if self.read_only:
            raise ReadOnlyError(f"read-only session: {self.read_only_reason}")
        before = {tid: self.doc.tracks.get(tid) for tid in after}
        cmd = TrackEdit(label, before, after, merge_key)
        if self._batch is not None:  # one signal for the whole batch, at its end
            cmd.do(self.doc)
            self._batch = self._batch.merged_with(cmd)
            return
        self._stack.push(cmd, self.doc)
        self.events.history_changed.emit()
        if self._selection is not None and self._selection not in self.doc.tracks:
            self._selection = None
            self.events.selection_changed.emit(None)
        self.events.document_changed.emit(DocumentChange(frozenset(after), label))

    @contextlib.contextmanager
    def batch(self, label: str) -> Iterator[None]:
        """Group every edit made inside the block into one undo step called ``label``."""
        if self._batch is not None:  # nested: join the outer batch
            yield
            return
        self._batch = TrackEdit(label, {}, {})
        self._batch.order_before = list(self.doc.tracks)
        try:
            yield
        except BaseException:
            batch, self._batch = self._batch, None
            batch.undo(self.doc)
            self.events.document_changed.emit(DocumentChange(batch.track_ids, label, "undo"))
            raise
        batch, self._batch = self._batch, None
        batch.label = label
        batch.order_after = list(self.doc.tracks)
        if batch.before or batch.after:
            self._stack.push(batch, self.doc)  # re-applying is idempotent
            self._after_history(batch, "edit")

    def undo(self) -> bool:
        """Undo the last edit; returns False if there was nothing to undo."""
        cmd = self._stack.undo(self.doc)
        if cmd is None:
            return False
        self._after_history(cmd, "undo")
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; returns False if there was nothing to redo."""
        cmd = self._stack.redo(self.doc)
        if cmd is None:
            return False
        self._after_history(cmd, "redo")
        return True

    def _after_history(self, cmd: TrackEdit, kind: str) -> None:
        if self._selection is not None and self._selection not in self.doc.tracks:
            self._selection = None
            self.events.selection_changed.emit(None)
        self.events.document_changed.emit(DocumentChange(cmd.track_ids, cmd.label, kind))
        self.events.history_changed.emit()

    @property
    def can_undo(self) -> bool:
        return self._stack.can_undo

    @property
    def can_redo(self) -> bool:
        return self._stack.can_redo

    @property
    def undo_label(self) -> str:
        return self._stack.undo_label

    @property
    def redo_label(self) -> str:
        return self._stack.redo_label

    @property
    def modified(self) -> bool:
        """True when there are edits not saved as a version."""
        return not self._stack.is_clean

    # ------------------------------------------------------------------ helpers
    def track(self, track_id: str) -> Track:
        """The track called ``track_id``; InputError naming it if there is none."""
        try:
            return self.doc.tracks[track_id]
        except KeyError:
            raise InputError(f"no track {track_id!r} in the label document") from None

    def _check_category(self, category: str) -> None:
        if category not in self.ontology:
            raise InputError(
                f"unknown category {category!r}; the {self.ontology.name!r} ontology has "
                f"{', '.join(sorted(self.ontology.categories))}"
            )

    def _count_points(self, frame: int, box: np.ndarray) -> int | None:
        if self.scene is None or not 0 <= frame < self.scene.num_frames:
            return None
        return int(count_points_in_boxes(self.points_world(frame), box[None, :])[0])

    def _human_box(self, frame: int, arr: np.ndarray, template: Box | None) -> Box:
        arr = np.asarray(arr, dtype=float).copy()
        arr[6] = normalize_yaw(arr[6])
        if np.any(arr[3:6] <= 0) or not np.all(np.isfinite(arr)):
            raise InputError(f"box must have finite values and a positive size, got {arr.tolist()}")
        base = template or Box(frame, (0, 0, 0), (1, 1, 1), 0.0)
        return base.with_array(
            arr,
            frame=frame,
            timestamp_us=self.timestamp_us(frame),
            source="human",
            score=None,
            keyframe=True,
            num_lidar_pts=self._count_points(frame, arr),
        )

    # ------------------------------------------------------------------ edits
    def create_box(
        self,
        frame: int,
        center: Sequence[float],
        size: Sequence[float] | None = None,
        yaw: float = 0.0,
        category: str = "vehicle.car",
        attributes: dict[str, Any] | None = None,
        track_id: str | None = None,
    ) -> str:
        """Create a new track with one human keyframe box; returns its id (the new selection)."""
        self._check_category(category)
        size = tuple(size) if size is not None else self.ontology.default_size(category)
        tid = track_id or self.doc.new_track_id()
        if tid in self.doc.tracks:
            raise InputError(f"track id {tid!r} already exists")
        box = self._human_box(frame, np.r_[center, size, yaw], None)
        self._apply(f"Create {category.split('.')[-1]}", {tid: Track(tid, category, dict(attributes or {}), {frame: box})})
        self.select(tid)
        return tid

    def set_box(self, track_id: str, frame: int, box: np.ndarray, label: str = "Edit box", merge_key: str | None = None) -> None:
        """Set the (7,) box of a track in a frame (creating it there); it becomes a human keyframe."""
        t = self.track(track_id)
        template = t.boxes.get(frame)
        new = t.copy()
        new.boxes[frame] = self._human_box(frame, box, template)
        self._apply(label, {track_id: new}, merge_key)

    def move_box(
        self,
        track_id: str,
        frame: int,
        center: Sequence[float] | None = None,
        size: Sequence[float] | None = None,
        yaw: float | None = None,
        merge_key: str | None = None,
    ) -> None:
        """Change any of centre, size and yaw of a track's box in ``frame``.

        Where the track has no box in that frame, one is created from the
        nearest box of the track. Either way the box becomes a human keyframe.
        """
        t = self.track(track_id)
        if frame in t.boxes:
            arr = t.boxes[frame].as_array()
        else:
            nearest = min(t.boxes, key=lambda f: abs(f - frame)) if t.boxes else None
            arr = t.boxes[nearest].as_array() if nearest is not None else np.r_[0, 0, 0, self.ontology.default_size(t.category), 0.0]
        if center is not None:
            arr[:3] = center
        if size is not None:
            arr[3:6] = size
        if yaw is not None:
            arr[6] = yaw
        self.set_box(track_id, frame, arr, "Move box", merge_key)

    def restore_box(
        self,
        track_id: str,
        box: Box,
        label: str = "Restore box",
        category: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Put back an exact :class:`Box` (source, score, keyframe and all), e.g. to revert a QA change.

        A missing track is created with ``category`` (required then) and ``attributes``.
        """
        t = self.doc.tracks.get(track_id)
        if t is None:
            if category is None:
                raise InputError(f"no track {track_id!r}: give a category to recreate it")
            self._check_category(category)
            new = Track(track_id, category, dict(attributes or {}), {})
        else:
            new = t.copy()
        new.boxes[box.frame] = box
        new.boxes = dict(sorted(new.boxes.items()))
        self._apply(label, {track_id: new})

    def preview_box(self, track_id: str | None, frame: int, box: np.ndarray | None) -> None:
        """Show a candidate box while a gesture is in progress (no edit, no undo step)."""
        self.events.box_preview.emit(track_id, frame, box)

    def set_category(self, track_id: str, category: str) -> None:
        """Change a track's category."""
        self._check_category(category)
        new = self.track(track_id).copy()
        new.category = category
        self._apply(f"Set category {category}", {track_id: new})

    def set_attribute(self, track_id: str, name: str, value: Any = True, frame: int | None = None) -> None:
        """Set an attribute of a track (or of its box in ``frame``); exclusive groups keep one value.

        ``value=None`` removes the attribute.
        """
        t = self.track(track_id)
        known = self.ontology.attribute_names()
        if name not in known:
            raise InputError(f"unknown attribute {name!r}; the ontology has {', '.join(known)}")
        new = t.copy()

        def updated(attrs: dict[str, Any]) -> dict[str, Any]:
            out = dict(attrs)
            group = self.ontology.group_of(name)
            if group is not None and group.exclusive and value not in (None, False):
                for other in group.values:
                    out.pop(other, None)
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
            return out

        if frame is None:
            new.attributes = updated(t.attributes)
        else:
            if frame not in t.boxes:
                raise InputError(f"track {track_id!r} has no box in frame {frame}")
            new.boxes[frame] = replace(t.boxes[frame], attributes=updated(t.boxes[frame].attributes))
        self._apply(f"Set {name}", {track_id: new})

    def accept(self, track_id: str) -> None:
        """Accept a track's pre-label boxes as they are (source becomes ``human``)."""
        t = self.track(track_id)
        new = t.copy()
        new.boxes = {f: (replace(b, source="human") if b.source == "prelabel" else b) for f, b in t.boxes.items()}
        self._apply("Accept pre-label", {track_id: new})

    def reject(self, track_id: str) -> None:
        """Reject a track's pre-label boxes (the track goes when nothing else is left)."""
        t = self.track(track_id)
        kept = {f: b for f, b in t.boxes.items() if b.source != "prelabel"}
        if kept:
            new = t.copy()
            new.boxes = kept
            self._apply("Reject pre-label", {track_id: new})
        else:
            self._apply("Reject pre-label", {track_id: None})

    def track_score(self, track_id: str) -> float | None:
        """Mean score of a track's pre-label boxes (None when it has none)."""
        scores = [b.score for b in self.track(track_id).boxes.values() if b.source == "prelabel" and b.score is not None]
        return float(np.mean(scores)) if scores else None

    def accept_all(self, min_score: float = 0.0) -> int:
        """Accept every track whose mean pre-label score is >= ``min_score``, in one undo step.

        Returns the number of tracks accepted.
        """
        chosen = [tid for tid in self.doc.tracks if (s := self.track_score(tid)) is not None and s >= min_score]
        with self.batch(f"Accept {len(chosen)} pre-labels (score >= {min_score:g})"):
            for tid in chosen:
                self.accept(tid)
        return len(chosen)

    def delete(self, track_id: str, frame: int | None = None) -> None:
        """Delete a whole track, or only its box in ``frame``."""
        t = self.track(track_id)
        if frame is None:
            self._apply("Delete track", {track_id: None})
            return
        if frame not in t.boxes:
            raise InputError(f"track {track_id!r} has no box in frame {frame}")
        new = t.copy()
        del new.boxes[frame]
        self._apply("Delete box", {track_id: new if new.boxes else None})

    def split(self, track_id: str, at_frame: int) -> str:
        """Move the boxes at and after ``at_frame`` into a new track; returns the new id."""
        t = self.track(track_id)
        later = {f: b for f, b in t.boxes.items() if f >= at_frame}
        if not later or len(later) == len(t.boxes):
            raise InputError(f"track {track_id!r} has no boxes on both sides of frame {at_frame}")
        head = t.copy()
        head.boxes = {f: b for f, b in t.boxes.items() if f < at_frame}
        new_id = self.doc.new_track_id()
        tail = Track(new_id, t.category, dict(t.attributes), later)
        self._apply("Split track", {track_id: head, new_id: tail})
        return new_id

    def merge(self, track_id: str, other_id: str) -> None:
        """Move every box of ``other_id`` into ``track_id`` (the first wins where both have one)."""
        if track_id == other_id:
            raise InputError("cannot merge a track with itself")
        a, b = self.track(track_id), self.track(other_id)
        new = a.copy()
        for f, box in b.boxes.items():
            new.boxes.setdefault(f, box)
        self._apply("Merge tracks", {track_id: new, other_id: None})

    # ------------------------------------------------------------------ saving
    def save(self, author: str | None = None, source: str = "human") -> Path:
        """Save the document as a new immutable version beside the scene; returns its path.

        ``source`` is the version's source: ``human`` for annotation, ``qa`` for a
        reviewed version saved from the QA mode.
        """
        from lidarlabel.io.label_store import LabelStore

        if self.scene_path is None:
            raise InputError("this session has no scene file, so there is nowhere to keep versions")
        store = LabelStore.for_scene(self.scene_path)
        path = store.save(self.doc, author=author or self.author, source=source)
        from lidarlabel.io.labels import load_document

        self.doc.version = load_document(path).version
        self._stack.mark_clean()
        store.discard_draft()
        self.events.history_changed.emit()
        return path

    def autosave(self) -> Path | None:
        """Write a recoverable draft if there are unsaved edits since the last draft."""
        from lidarlabel.io.label_store import LabelStore

        if self.scene_path is None or not self.modified or self.read_only:
            return None
        return LabelStore.for_scene(self.scene_path).save_draft(self.doc)


    def recover_draft(self) -> bool:
        """Replace the document's tracks with the autosaved draft's, as one undoable edit.

        Returns False when there is no draft. The session is then modified, so the
        recovered work is saved (or discarded) like any other edit.
        """
        from lidarlabel.io.label_store import LabelStore

        if self.scene_path is None:
            return False
        draft = LabelStore.for_scene(self.scene_path).load_draft()
        if draft is None:
            return False
        after: dict[str, Track | None] = {tid: None for tid in self.doc.tracks if tid not in draft.tracks}
        after.update(draft.tracks)
        self._apply("Recover autosaved draft", after)
        return True
