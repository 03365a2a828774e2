"""GUI test support: a ``make_viewer`` fixture that builds the whole window, cleans up, and fails on leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


SAMPLE = ROOT / "sample_scenes" / "sample.h5"


class CannedPrompts:
    """Answers the app's questions without dialogs; records what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.score = 0.5
        self.merge_choice: str | None = None
        self.answer = True
        self.errors: list[str] = []

    def min_score(self):
        self.asked.append("min_score")
        return self.score

    def merge_source(self, choices):
        self.asked.append("merge_source")
        return self.merge_choice if self.merge_choice in choices else None

    def yes_no(self, title, text):
        self.asked.append(title)
        return self.answer

    def error(self, text):
        self.errors.append(text)


@pytest.fixture
def make_viewer(qtbot, tmp_path):
    """Factory: ``make_viewer(scene, labels=None, show=False, size=(1280, 800))`` -> MainWindow.

    The scene is copied into ``tmp_path`` first (saved versions and autosave drafts
    land beside it), the window uses a temporary QSettings file and canned prompts; it waits until
    the current frame is loaded. At teardown every window is closed and deleted and
    the test fails if a top-level widget it created is still alive.
    """
    from PyQt6.QtCore import QCoreApplication, QEvent, QSettings
    from PyQt6.QtWidgets import QApplication

    from lidarlabel.edit.session import EditSession
    from lidarlabel.viewer.main_window import MainWindow

    app = QApplication.instance()
    before = {id(w) for w in app.topLevelWidgets()}
    windows = []

    def factory(scene, labels=None, show=False, size=(1280, 800), author="test", lock=False):
        scene = Path(scene)
        if not scene.is_relative_to(tmp_path):
            # saves and the 30 s autosave write beside the scene: never into the repository
            copy = tmp_path / "scenes" / scene.name
            copy.parent.mkdir(exist_ok=True)
            if not copy.exists():
                copy.write_bytes(scene.read_bytes())
            scene = copy
        session = EditSession.open(scene, labels=labels, author=author, lock=lock)
        settings = QSettings(str(tmp_path / "lidarlabel.ini"), QSettings.Format.IniFormat)
        w = MainWindow(session, settings)
        w.prompts = CannedPrompts()
        windows.append(w)
        w.resize(*size)
        if show:
            w.show()
            qtbot.waitExposed(w)
        assert w.wait_for_frame(), "the first frame did not load"
        return w

    yield factory
    for w in windows:
        w.prompts.answer = True
        w.close()
        w.deleteLater()
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        QCoreApplication.processEvents()
    leaked = [w for w in app.topLevelWidgets() if id(w) not in before]
    assert not leaked, f"leaked top-level widgets: {[type(w).__name__ for w in leaked]}"
