"""Start the app: a QApplication, a session, the main window; or render one screenshot and exit."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

__all__ = ["run_viewer", "screenshot"]

SCREENSHOT_SIZE = (1600, 1000)


def _app():
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("lidarlabel")
        app.setApplicationName("lidarlabel")
    return app


def screenshot(window, path: Path, frame: int | None = None, size: tuple[int, int] = SCREENSHOT_SIZE) -> Path:
    """Show ``window`` at ``size``, wait for ``frame`` (default: current) to be drawn, save a PNG."""
    from PyQt6.QtWidgets import QApplication

    window.resize(*size)
    window.show()
    if window.session is not None and frame is not None:
        window.session.set_frame(frame)
    if window.session is not None and not window.wait_for_frame():
        raise TimeoutError("the frame did not load in time")
    window.canvas.moving = False
    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.02)
    return window.grab_png(path)


def run_viewer(scene: str | None, labels: str | None = None, screenshot_path: str | None = None,
               frame: int | None = None, author: str | None = None) -> int:
    """The ``lidarlabel view`` command: returns the exit code."""
    from PyQt6.QtCore import QSettings

    from lidarlabel.viewer import app_files
    from lidarlabel.viewer.main_window import MainWindow

    t0 = time.perf_counter()
    app = _app()
    settings = QSettings("lidarlabel", "lidarlabel")
    w = MainWindow(None, settings)
    author = author or os.environ.get("USER", "unknown")
    if scene is not None:
        from lidarlabel.edit.session import EditSession

        if screenshot_path is not None:  # no lock, no draft question: render and leave
            w.set_session(EditSession.open(scene, labels=labels, author=author))
        elif app_files.open_scene(w, scene, labels=labels, author=author) is None:
            return 1
    if screenshot_path is not None:
        try:
            screenshot(w, Path(screenshot_path), frame)
        finally:
            w.shutdown()
            w.deleteLater()
        print(f"wrote {screenshot_path}")
        return 0
    if frame is not None and w.session is not None:
        w.session.set_frame(frame)
    w.show()
    w.startup_s = time.perf_counter() - t0
    return int(app.exec())
