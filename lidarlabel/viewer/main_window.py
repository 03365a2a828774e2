"""The annotator's main window: 3D view in the centre, docks around it, all bound to one session.

The window holds no annotation state: it owns an :class:`EditSession` (passed
in, or opened from the File menu) and the views that re-read it. Display
choices, layout and recent files live in a QSettings object passed in (tests
give a temporary one).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRectF, QSettings, QSizeF, Qt
from PyQt6.QtGui import QCloseEvent, QImage, QPainter
from PyQt6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QWidget

from lidarlabel.edit.session import EditSession
from lidarlabel.errors import InputError, LidarLabelError
from lidarlabel.viewer.camera_panel import CameraPanel
from lidarlabel.viewer.frames import DisplaySettings, FrameSource
from lidarlabel.viewer.gl_canvas import GLCanvas
from lidarlabel.viewer.object_list import ObjectList
from lidarlabel.viewer.timeline import Timeline
from lidarlabel.viewer.view3d import Scene3DView

__all__ = ["MainWindow"]

MAX_RECENT = 8


class MainWindow(QMainWindow):
    """The app window over one session (or none until a scene is opened)."""

    def __init__(self, session: EditSession | None = None, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("lidarlabel", "lidarlabel")
        self.display = self._load_display()
        self.session: EditSession | None = None
        self.frames: FrameSource | None = None
        self.view3d: Scene3DView | None = None
        self.camera_panel: CameraPanel | None = None
        self.timeline: Timeline | None = None
        self.object_list: ObjectList | None = None
        self.extra_panels: dict[str, QWidget] = {}
        self.canvas = GLCanvas()
        self.setCentralWidget(self.canvas.make_container(self))
        self.setWindowTitle("lidarlabel")
        self.docks: dict[str, QDockWidget] = {}
        for name, area in (("Cameras", Qt.DockWidgetArea.RightDockWidgetArea),
                           ("Objects", Qt.DockWidgetArea.LeftDockWidgetArea),
                           ("Timeline", Qt.DockWidgetArea.BottomDockWidgetArea)):
            d = QDockWidget(name, self)
            d.setObjectName(f"dock_{name}")
            self.addDockWidget(area, d)
            self.docks[name] = d
        self._status_frame = QLabel()
        self._status_points = QLabel()
        self._status_cursor = QLabel()
        for w in (self._status_frame, self._status_points, self._status_cursor):
            self.statusBar().addPermanentWidget(w)
        self.canvas.cursor_moved.connect(self._on_cursor)
        self.canvas.frame_drawn.connect(self._on_drawn)
        self.first_frame_time: float | None = None
        from lidarlabel.viewer.actions import build_actions

        self.actions = build_actions(self)
        self._restore_layout()
        if session is not None:
            self.set_session(session)

    # ------------------------------------------------------------------ session
    def set_session(self, session: EditSession) -> None:
        """Show ``session`` (closing the previous one and its views)."""
        self._drop_session()
        self.session = session
        self.frames = FrameSource(session.scene, self)
        self.view3d = Scene3DView(session, self.frames, self.canvas, self.display)
        self.camera_panel = CameraPanel(session, self.frames, self.display)
        self.timeline = Timeline(session)
        self.object_list = ObjectList(session)
        self.docks["Cameras"].setWidget(self.camera_panel)
        self.docks["Objects"].setWidget(self.object_list)
        self.docks["Timeline"].setWidget(self.timeline)
        self._install_editing_panels(session)
        ev = session.events
        ev.frame_changed.connect(self._update_status)
        ev.history_changed.connect(self._update_title)
        self.frames.frame_ready.connect(self._update_status)
        self._update_status()
        self._update_title()
        from lidarlabel.viewer.actions import session_installed

        session_installed(self)

    def _install_editing_panels(self, session: EditSession) -> None:
        from lidarlabel.viewer.panels import editing_panels

        # properties under the object list, the top/side/front views under the cameras,
        # the QA review as a tab beside the properties
        below = {"Properties": "Objects", "Top / side / front": "Cameras"}
        for name, widget in editing_panels(session).items():
            d = self.docks.get(name)
            if d is None:
                d = QDockWidget(name, self)
                d.setObjectName(f"dock_{name.replace(' ', '')}")
                self.docks[name] = d
                if not (self._layout_restored and self.restoreDockWidget(d)):
                    if name in below:
                        self.splitDockWidget(self.docks[below[name]], d, Qt.Orientation.Vertical)
                        self.resizeDocks([self.docks[below[name]], d], [3, 2], Qt.Orientation.Vertical)
                    else:
                        self.tabifyDockWidget(self.docks["Properties"], d)
                        self.docks["Properties"].raise_()
            d.setWidget(widget)
            self.extra_panels[name] = widget
        qa = self.extra_panels["QA review"]
        self.view3d.qa_source = self.camera_panel.qa_source = qa
        qa.styles_changed.connect(self.view3d.refresh_overlay)
        qa.styles_changed.connect(self.camera_panel.refresh)

    def _drop_session(self) -> None:
        if self.session is None:
            return
        ev = self.session.events
        ev.frame_changed.disconnect(self._update_status)
        ev.history_changed.disconnect(self._update_title)
        for view in (self.view3d, self.camera_panel, self.timeline, self.object_list):
            view.disconnect_session()
        for name, w in self.extra_panels.items():
            closer = getattr(w, "close_session", None) or getattr(w, "disconnect_session", None)
            if closer is not None:
                closer()
            self.docks[name].setWidget(None)
            w.deleteLater()
        self.extra_panels = {}
        for d in ("Cameras", "Objects", "Timeline"):
            w = self.docks[d].widget()
            self.docks[d].setWidget(None)
            if w is not None:
                w.deleteLater()
        self.view3d.deleteLater()
        self.frames.close()
        self.session.close()
        self.session = None
        self.canvas.controller = None

    # ------------------------------------------------------------------ status
    def _update_status(self, *_a) -> None:
        s = self.session
        if s is None:
            return
        ts = s.timestamp_us(s.frame)
        self._status_frame.setText(f"frame {s.frame + 1}/{s.num_frames}  ts {ts} µs")
        n = s.scene.num_points(s.frame) if s.scene is not None else 0
        self._status_points.setText(f"{n:,} points")

    def _on_cursor(self, p) -> None:
        self._status_cursor.setText("cursor: -" if p is None else
                                    f"cursor x {p[0]:8.2f}  y {p[1]:8.2f}  z {p[2]:6.2f} m (world)")

    def _on_drawn(self, _ms: float) -> None:
        if self.first_frame_time is None and self.canvas.num_points:
            self.first_frame_time = time.perf_counter()

    def _update_title(self, *_a) -> None:
        s = self.session
        if s is None:
            self.setWindowTitle("lidarlabel")
            return
        name = s.scene_path.name if s.scene_path else s.doc.scene
        mark = " *" if s.modified else ""
        ro = " [read-only]" if s.read_only else ""
        self.setWindowTitle(f"{name}{mark}{ro} — lidarlabel")

    def wait_for_frame(self, timeout: float = 15.0) -> bool:
        """Process events until the current frame is shown in the 3D view and the cameras."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            QApplication.processEvents()
            s = self.session
            if s is None:
                return False
            v, c = self.view3d.shown, self.camera_panel.shown
            if v is not None and v.index == s.frame and (c is not None and c.index == s.frame
                                                         or not self.camera_panel.views):
                return True
            time.sleep(0.005)
        return False

    # ------------------------------------------------------------------ settings
    def _load_display(self) -> DisplaySettings:
        d = DisplaySettings()
        st = self.settings
        d.color_mode = str(st.value("display/color_mode", d.color_mode))
        d.point_size = float(st.value("display/point_size", d.point_size))
        d.accumulate = int(st.value("display/accumulate", d.accumulate))
        d.show_grid = str(st.value("display/show_grid", d.show_grid)).lower() == "true"
        d.camera_points = str(st.value("display/camera_points", d.camera_points)).lower() == "true"
        return d

    def save_settings(self) -> None:
        """Remember layout and display choices."""
        st, d = self.settings, self.display
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("window/state", self.saveState())
        for k in ("color_mode", "point_size", "accumulate", "show_grid", "camera_points"):
            st.setValue(f"display/{k}", getattr(d, k))
        st.sync()

    def _restore_layout(self) -> None:
        g, s = self.settings.value("window/geometry"), self.settings.value("window/state")
        if isinstance(g, QByteArray):
            self.restoreGeometry(g)
        else:
            self.resize(1280, 800)
        self._layout_restored = isinstance(s, QByteArray)
        if isinstance(s, QByteArray):
            self.restoreState(s)
        else:
            self.resizeDocks([self.docks["Cameras"]], [460], Qt.Orientation.Horizontal)
            self.resizeDocks([self.docks["Objects"]], [340], Qt.Orientation.Horizontal)

    def recent_files(self) -> list[str]:
        """Recently opened scenes, newest first."""
        v = self.settings.value("recent", [])
        return [str(x) for x in (v if isinstance(v, list) else [v] if v else [])]

    def add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        self.settings.setValue("recent", ([p] + [r for r in self.recent_files() if r != p])[:MAX_RECENT])

    def closeEvent(self, e: QCloseEvent) -> None:
        from lidarlabel.viewer.actions import confirm_discard

        if not confirm_discard(self):
            e.ignore()
            return
        self.save_settings()
        self.shutdown()
        super().closeEvent(e)

    def shutdown(self) -> None:
        """Stop timers and the frame worker; close the session."""
        for t in getattr(self, "timers", []):
            t.stop()
        self._drop_session()

    def grab_png(self, path: Path) -> Path:
        """Save the whole window (GL content included) as a PNG."""
        img = self.grab().toImage()
        # the 3D view is a native GL window: the widget grab cannot see it, so paint it in
        box = self.canvas.container
        gl = self.canvas.grab_image()
        if not gl.isNull():
            p = QPainter(img)
            p.drawImage(QRectF(box.mapTo(self, QPoint(0, 0)).toPointF(), QSizeF(box.size())), gl)
            p.end()
        img = img.convertToFormat(QImage.Format.Format_RGB32)
        arr = np.asarray(img.constBits().asarray(img.sizeInBytes()), dtype=np.uint8)
        if arr.size and int(arr.reshape(-1, 4)[:, :3].std()) == 0:
            raise LidarLabelError(f"{path}: the window rendered blank; is there a display with OpenGL (try xvfb-run -a)?")
        from lidarlabel.io.atomic import write_bytes_atomic

        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        if not img.save(buf, "PNG"):
            raise InputError(f"{path}: the screenshot could not be encoded as PNG")
        write_bytes_atomic(path, bytes(buf.data()))  # InputError naming the file if it cannot be written
        return Path(path)
