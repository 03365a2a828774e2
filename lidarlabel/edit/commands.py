"""Undoable commands and the undo stack.

Every edit of a label document is a :class:`TrackEdit`: the tracks it touches,
before and after (``None`` = absent). Tracks are replaced, never mutated in
place, so a command holds references, not deep copies, and undo restores the
exact previous document, track order included. Consecutive commands with the
same ``merge_key`` (key nudges) merge into one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lidarlabel.core.labels import LabelDocument, Track

__all__ = ["TrackEdit", "UndoStack"]


@dataclass
class TrackEdit:
    """Replace some tracks of a document; ``undo`` puts the previous ones back."""

    label: str
    before: dict[str, Track | None]
    after: dict[str, Track | None]
    merge_key: str | None = None
    order_before: list[str] = field(default_factory=list)
    order_after: list[str] = field(default_factory=list)

    def _apply(self, doc: LabelDocument, state: dict[str, Track | None], order: list[str]) -> None:
        tracks = dict(doc.tracks)
        for tid, t in state.items():
            if t is None:
                tracks.pop(tid, None)
            else:
                tracks[tid] = t
        if order:
            ordered = {k: tracks[k] for k in order if k in tracks}
            ordered.update({k: v for k, v in tracks.items() if k not in ordered})
            tracks = ordered
        doc.tracks = tracks

    def do(self, doc: LabelDocument) -> None:
        """Apply the edit to ``doc``."""
        if not self.order_before:
            self.order_before = list(doc.tracks)
        self._apply(doc, self.after, self.order_after)
        if not self.order_after:
            self.order_after = list(doc.tracks)

    def undo(self, doc: LabelDocument) -> None:
        """Revert the edit on ``doc``."""
        self._apply(doc, self.before, self.order_before)

    @property
    def track_ids(self) -> frozenset[str]:
        """Ids of every track the command touches."""
        return frozenset(self.before) | frozenset(self.after)

    def merged_with(self, later: TrackEdit) -> TrackEdit:
        """One command equivalent to ``self`` followed by ``later``."""
        before = dict(later.before)
        before.update(self.before)
        after = dict(self.after)
        after.update(later.after)
        return TrackEdit(self.label, before, after, self.merge_key, self.order_before, later.order_after)


class UndoStack:
    """A linear history of :class:`TrackEdit` commands with an undo position."""

    def __init__(self) -> None:
        self._done: list[TrackEdit] = []
        self._undone: list[TrackEdit] = []
        self._clean_depth: int | None = 0
        self._merge_open = True

    def push(self, cmd: TrackEdit, doc: LabelDocument) -> None:
        """Execute ``cmd`` on ``doc`` and record it (merging with the top when keys match)."""
        cmd.do(doc)
        top = self._done[-1] if self._done else None
        if (
            top is not None
            and cmd.merge_key is not None
            and top.merge_key == cmd.merge_key
            and self._merge_open
            and self._clean_depth != len(self._done)
        ):
            self._done[-1] = top.merged_with(cmd)
        else:
            self._done.append(cmd)
        self._merge_open = True
        self._undone.clear()
        if self._clean_depth is not None and self._clean_depth >= len(self._done):
            self._clean_depth = None

    def close_merge(self) -> None:
        """Stop the next command from merging into the current top (e.g. after a pause)."""
        self._merge_open = False

    def undo(self, doc: LabelDocument) -> TrackEdit | None:
        """Undo the latest command; returns it (None if there was nothing to undo)."""
        if not self._done:
            return None
        cmd = self._done.pop()
        cmd.undo(doc)
        self._undone.append(cmd)
        self._merge_open = False
        return cmd

    def redo(self, doc: LabelDocument) -> TrackEdit | None:
        """Redo the latest undone command; returns it (None if there was nothing to redo)."""
        if not self._undone:
            return None
        cmd = self._undone.pop()
        cmd.do(doc)
        self._done.append(cmd)
        self._merge_open = False
        return cmd

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_label(self) -> str:
        """Label of the command that undo would revert ('' if none)."""
        return self._done[-1].label if self._done else ""

    @property
    def redo_label(self) -> str:
        """Label of the command that redo would re-apply ('' if none)."""
        return self._undone[-1].label if self._undone else ""

    def mark_clean(self) -> None:
        """Remember the current position as saved."""
        self._clean_depth = len(self._done)
        self._merge_open = False

    @property
    def is_clean(self) -> bool:
        """True when the document equals the last saved one."""
        return self._clean_depth == len(self._done)
