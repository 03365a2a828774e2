"""Opening scenes (dialog, recent files, draft recovery), saving versions and autosaving drafts."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from lidarlabel.edit.session import EditSession
from lidarlabel.errors import LidarLabelError

__all__ = ["autosave", "fill_recent", "open_dialog", "open_scene", "save"]


def open_scene(w, path: str | Path, labels: str | Path | None = None, author: str | None = None,
               offer_draft: bool = True) -> EditSession | None:
    """Open ``path`` in window ``w`` (offering a newer autosave draft); None if it failed or was declined."""
    from lidarlabel.viewer.actions import confirm_discard

    if not confirm_discard(w):
        return None
    path = Path(path)
    author = author or (w.session.author if w.session is not None else "unknown")
    try:
        session = EditSession.open(path, labels=labels, author=author, lock=True)
    except (LidarLabelError, OSError) as exc:
        w.prompts.error(str(exc))
        return None
    w.set_session(session)
    w.add_recent(path)
    if session.read_only:
        w.statusBar().showMessage(f"read-only: {session.read_only_reason}", 15000)
    elif labels is None and offer_draft and _has_newer_draft(path):
        if w.prompts.yes_no("Recover draft", f"{path.name}: an autosaved draft is newer than the last "
                            "saved version. Recover it?"):
            # one undoable edit on top of the last version: Ctrl+Z shows what the draft changed
            session.recover_draft()
            w.statusBar().showMessage("recovered the autosave draft: save (Ctrl+S) to keep it", 10000)
    return session


def _has_newer_draft(path: Path) -> bool:
    from lidarlabel.io.label_store import LabelStore

    try:
        return LabelStore.for_scene(path).has_newer_draft()
    except (LidarLabelError, OSError, ValueError):
        return False


def open_dialog(w) -> None:
    """Ask for a scene file and open it."""
    fn, _ = QFileDialog.getOpenFileName(w, "Open scene", "", "lidarlabel scenes (*.h5);;All files (*)")
    if fn:
        open_scene(w, fn)


def fill_recent(w) -> None:
    """Rebuild the File > Open recent menu."""
    m = w.recent_menu
    m.clear()
    for p in w.recent_files():
        a = m.addAction(p)
        a.triggered.connect(lambda _=False, path=p: open_scene(w, path))
    if not w.recent_files():
        m.addAction("(none)").setEnabled(False)


def save(w) -> Path | None:
    """Save a new immutable label version; the path goes to the status bar."""
    s = w.session
    if s is None:
        return None
    try:
        out = s.save()
    except LidarLabelError as exc:
        w.prompts.error(str(exc))
        return None
    w.statusBar().showMessage(f"saved {out}", 8000)
    return out


def autosave(w) -> Path | None:
    """Write a recoverable draft when there are unsaved edits (called by a 30 s timer)."""
    s = w.session
    if s is None:
        return None
    try:
        out = s.autosave()
    except (LidarLabelError, OSError) as exc:
        w.statusBar().showMessage(f"autosave failed: {exc}", 8000)
        return None
    if out is not None:
        w.statusBar().showMessage(f"draft autosaved to {out}", 4000)
    return out
