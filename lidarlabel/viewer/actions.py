"""Every command of the window as a QAction (menus, shortcuts, help dialog), calling the session.

Undo/redo/save and the review and track operations are thin: each action
calls one :class:`EditSession` method and the views redraw from its signals.
Questions to the user go through ``window.prompts`` (tests replace it).
"""

from __future__ import annotations

from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import (
    QDialog,
    QInputDialog,
    QLabel,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from lidarlabel.errors import LidarLabelError
from lidarlabel.viewer.colors import COLOR_MODES
from lidarlabel.viewer.gestures import NUDGE_KEYS

__all__ = ["Prompts", "build_actions", "confirm_discard", "session_installed", "shortcut_table"]

AUTOSAVE_MS = 30_000


class Prompts:
    """The questions the app asks (dialogs); tests swap in an object with canned answers."""

    def __init__(self, window) -> None:
        self.w = window

    def min_score(self) -> float | None:
        v, ok = QInputDialog.getDouble(self.w, "Accept all", "Accept pre-labels with mean score >=", 0.5, 0.0, 1.0, 2)
        return v if ok else None

    def merge_source(self, choices: list[str]) -> str | None:
        v, ok = QInputDialog.getItem(self.w, "Merge", "Merge this track into the selection:", choices, 0, False)
        return v if ok else None

    def yes_no(self, title: str, text: str) -> bool:
        return QMessageBox.question(self.w, title, text) == QMessageBox.StandardButton.Yes

    def error(self, text: str) -> None:
        QMessageBox.warning(self.w, "lidarlabel", text)


def _act(w, acts, menu, name, text, shortcut, slot, checkable=False):
    a = QAction(text, w)
    if shortcut:
        a.setShortcut(QKeySequence(shortcut))
    a.setCheckable(checkable)
    a.triggered.connect(slot)
    menu.addAction(a)
    w.addAction(a)  # shortcuts work wherever focus is in the window
    acts[name] = a
    return a


def _guard(w, fn):
    """Run an edit; bad input (no selection, no box here, read-only) goes to the status bar."""

    def run(*_a):
        s = w.session
        if s is None:
            return
        try:
            fn(s)
        except (LidarLabelError, KeyError, ValueError) as exc:
            w.statusBar().showMessage(str(exc), 6000)

    return run


def _need_selection(s) -> str:
    if s.selection is None:
        raise ValueError("select a track first")
    return s.selection


def build_actions(w) -> dict[str, QAction]:
    """Create menus, toolbar and every action of window ``w``; returns them by name."""
    from lidarlabel.viewer import app_files

    w.prompts = Prompts(w)
    acts: dict[str, QAction] = {}
    mb = w.menuBar()
    m = mb.addMenu("&File")
    _act(w, acts, m, "open", "&Open scene…", "Ctrl+O", lambda: app_files.open_dialog(w))
    w.recent_menu = m.addMenu("Open &recent")
    w.recent_menu.aboutToShow.connect(lambda: app_files.fill_recent(w))
    _act(w, acts, m, "save", "&Save new version", "Ctrl+S", lambda: app_files.save(w))
    m.addSeparator()
    _act(w, acts, m, "quit", "&Quit", "Ctrl+Q", w.close)

    m = mb.addMenu("&Edit")
    _act(w, acts, m, "undo", "&Undo", "Ctrl+Z", _guard(w, lambda s: s.undo()))
    _act(w, acts, m, "redo", "&Redo", "Ctrl+Shift+Z", _guard(w, lambda s: s.redo()))
    m.addSeparator()
    _act(w, acts, m, "delete_box", "Delete box in this frame", "Delete",
         _guard(w, lambda s: s.delete(_need_selection(s), s.frame)))
    _act(w, acts, m, "delete_track", "Delete whole track", "Shift+Delete",
         _guard(w, lambda s: s.delete(_need_selection(s))))
    _act(w, acts, m, "accept", "&Accept pre-label", "Ctrl+Return", _guard(w, lambda s: s.accept(_need_selection(s))))
    _act(w, acts, m, "reject", "Re&ject pre-label", "Ctrl+Backspace",
         _guard(w, lambda s: s.reject(_need_selection(s))))
    _act(w, acts, m, "accept_all", "Accept all with score >=…", "Ctrl+Shift+Return", _guard(w, lambda s: _accept_all(w, s)))
    m.addSeparator()
    _act(w, acts, m, "propagate", "&Propagate box to next frame", "Ctrl+P", _guard(w, lambda s: _propagate(w, s)))
    _act(w, acts, m, "interpolate", "&Interpolate track", "Ctrl+I",
         _guard(w, lambda s: _interpolate(w, s)))
    _act(w, acts, m, "split", "Split track &here", "Ctrl+K", _guard(w, lambda s: s.split(_need_selection(s), s.frame)))
    _act(w, acts, m, "merge", "&Merge another track into the selection…", "Ctrl+M", _guard(w, lambda s: _merge(w, s)))

    m = mb.addMenu("&View")
    cam = w.canvas.camera

    def preset(fn):
        def run():
            if w.view3d is not None and w.view3d.shown is not None:
                fn(w.view3d.shown.ego_pose)
                w.canvas.camera_changed()
        return run

    _act(w, acts, m, "birds_eye", "&Bird's-eye view", "B", preset(cam.birds_eye))
    _act(w, acts, m, "chase", "&Chase view", "C", preset(cam.chase))
    _act(w, acts, m, "reset_view", "&Reset view", "Home", preset(cam.reset))
    m.addSeparator()
    group = QActionGroup(w)
    for k, mode in enumerate(COLOR_MODES):
        a = _act(w, acts, m, f"color_{mode}", f"Colour by {mode}", f"Ctrl+{k + 1}",
                 lambda _=False, md=mode: _set_display(w, color_mode=md), checkable=True)
        a.setChecked(w.display.color_mode == mode)
        group.addAction(a)
    _act(w, acts, m, "bigger_points", "Bigger points", "]",
         lambda: _set_display(w, point_size=min(w.display.point_size + 1, 8)))
    _act(w, acts, m, "smaller_points", "Smaller points", "[",
         lambda: _set_display(w, point_size=max(w.display.point_size - 1, 1)))
    a = _act(w, acts, m, "grid", "Ground &grid", "G", lambda on: _set_display(w, show_grid=on), checkable=True)
    a.setChecked(w.display.show_grid)
    a = _act(w, acts, m, "camera_points", "LiDAR points in cameras", "P",
             lambda on: _set_display(w, camera_points=on), checkable=True)
    a.setChecked(w.display.camera_points)

    m = mb.addMenu("&Go")
    step = lambda k: (lambda: w.timeline.step(k) if w.timeline else None)  # noqa: E731
    _act(w, acts, m, "next", "Next frame", ".", step(1))
    _act(w, acts, m, "prev", "Previous frame", ",", step(-1))
    _act(w, acts, m, "next10", "10 frames forward", "PgDown", step(10))
    _act(w, acts, m, "prev10", "10 frames back", "PgUp", step(-10))
    _act(w, acts, m, "play", "Play / pause", "Space", lambda: w.timeline.toggle_play() if w.timeline else None)

    m = mb.addMenu("&Help")
    _act(w, acts, m, "help", "&Shortcuts…", "F1", lambda: show_help(w))

    tb = w.addToolBar("Display")
    tb.setObjectName("toolbar_display")
    for name in ("birds_eye", "chase", "reset_view"):
        tb.addAction(acts[name])
    tb.addSeparator()
    tb.addWidget(QLabel(" accumulate "))
    w.accumulate_box = QSpinBox()
    w.accumulate_box.setRange(0, 10)
    w.accumulate_box.setValue(w.display.accumulate)
    w.accumulate_box.setToolTip("Also draw the previous N sweeps")
    w.accumulate_box.valueChanged.connect(lambda v: _set_display(w, accumulate=v))
    tb.addWidget(w.accumulate_box)
    w.canvas.key_pressed.connect(lambda key, mods: _nudge(w, key, mods))
    w.timers = []
    _update_enabled(w, acts)
    return acts


def _set_display(w, **changes) -> None:
    for k, v in changes.items():
        setattr(w.display, k, v)
    if w.view3d is not None:
        w.view3d.recolor()
    if w.camera_panel is not None and "camera_points" in changes:
        w.camera_panel.refresh()
    w.canvas.update()


def _nudge(w, key: str, mods: str) -> None:
    from lidarlabel.viewer.gestures import nudge

    if w.session is not None:
        _guard(w, lambda s: nudge(s, key, fine=mods == "shift"))()


def _interpolate(w, s) -> None:
    filled = s.interpolate(_need_selection(s))
    w.statusBar().showMessage(f"interpolated {len(filled)} frames", 5000)


def _propagate(w, s) -> None:
    tid = _need_selection(s)
    if s.frame + 1 >= s.num_frames:
        raise ValueError("already at the last frame")
    s.propagate(tid, s.frame, s.frame + 1)
    s.set_frame(s.frame + 1)


def _accept_all(w, s) -> None:
    v = w.prompts.min_score()
    if v is not None:
        n = s.accept_all(v)
        w.statusBar().showMessage(f"accepted {n} pre-labelled tracks with score >= {v:g}", 6000)


def _merge(w, s) -> None:
    tid = _need_selection(s)
    choices = [t for t in s.doc.tracks if t != tid]
    other = w.prompts.merge_source(choices) if choices else None
    if other:
        s.merge(tid, other)


def _update_enabled(w, acts) -> None:
    s = w.session
    has = s is not None
    editable = has and not s.read_only
    acts["undo"].setEnabled(editable and s.can_undo)
    acts["redo"].setEnabled(editable and s.can_redo)
    acts["undo"].setText(f"&Undo {s.undo_label}" if has and s.can_undo else "&Undo")
    acts["redo"].setText(f"&Redo {s.redo_label}" if has and s.can_redo else "&Redo")
    acts["save"].setEnabled(editable)
    for name in ("delete_box", "delete_track", "accept", "reject", "accept_all", "propagate",
                 "interpolate", "split", "merge"):
        acts[name].setEnabled(editable)


def session_installed(w) -> None:
    """Hook a new session to the actions: enabled states, autosave timer, draft recovery."""
    s = w.session
    s.events.history_changed.connect(lambda: _update_enabled(w, w.actions))
    _update_enabled(w, w.actions)
    if not w.timers:
        t = QTimer(w)
        t.setInterval(AUTOSAVE_MS)
        t.timeout.connect(lambda: app_files_autosave(w))
        t.start()
        w.timers.append(t)


def app_files_autosave(w) -> None:
    from lidarlabel.viewer import app_files

    app_files.autosave(w)


def confirm_discard(w) -> bool:
    """True when it is fine to drop the session (saved, or the user agrees to lose the edits)."""
    s = w.session
    if s is None or not s.modified or s.read_only:
        return True
    return w.prompts.yes_no("Unsaved edits", "Discard the edits made since the last saved version?\n"
                            "(A draft was autosaved and can be recovered next time.)")


def shortcut_table(w) -> list[tuple[str, str]]:
    """(keys, what) for every shortcut: the actions plus the canvas's own mouse and keys."""
    rows = [(a.shortcut().toString(), a.text().replace("&", "")) for a in w.actions.values() if not a.shortcut().isEmpty()]
    rows += [("Left drag", "orbit"), ("Right / middle drag", "pan"), ("Wheel, + / -", "zoom"),
             ("Arrows / Ctrl+arrows", "orbit / pan"), ("Click", "select a cuboid"),
             ("Ctrl+click", "fit a new cuboid to the object under the cursor"),
             ("Shift+drag", "draw a new cuboid on the ground"), ("Esc", "cancel the gesture")]
    names = {"move": ("forward", "back", "left", "right", "up", "down"), "rotate": ("counter-clockwise", "clockwise"),
             "resize": ("longer", "shorter", "wider", "narrower", "taller", "lower")}
    seen: dict[str, int] = {}
    for key, (what, _axis, _sign) in NUDGE_KEYS.items():
        k = seen.get(what, 0)
        seen[what] = k + 1
        rows.append((key, f"nudge: {what} {names[what][k]} (Shift: fine)"))
    return rows


def show_help(w) -> QDialog:
    """A dialog listing every shortcut."""
    d = QDialog(w)
    d.setWindowTitle("lidarlabel shortcuts")
    rows = shortcut_table(w)
    t = QTableWidget(len(rows), 2, d)
    t.setHorizontalHeaderLabels(["Keys", "Does"])
    for r, (k, v) in enumerate(rows):
        t.setItem(r, 0, QTableWidgetItem(k))
        t.setItem(r, 1, QTableWidgetItem(v))
    t.resizeColumnsToContents()
    lay = QVBoxLayout(d)
    lay.addWidget(t)
    d.resize(560, 640)
    d.show()
    w.help_dialog = d
    return d
