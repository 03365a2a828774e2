"""The 3D canvas: a QOpenGLWindow drawing points and line batches with one tiny shader.

A QOpenGLWindow (placed in the main window with ``createWindowContainer``)
renders straight to its own surface; a QOpenGLWidget would make Qt compose the
whole main window through GL on every frame, which on software GL costs more
than drawing 100k points (measured: ~30-60 ms vs ~6 ms per frame).

Points are uploaded once per change into a VBO (positions float32, colours
uint8) and drawn with ``glDrawArrays``; the cloud arrives in random order, so
while the camera moves (or frames step) the canvas draws only a prefix of it (a
uniform subsample) and the whole cloud ~150 ms after motion stops. The prefix
adapts to the machine: the canvas measures what a point costs (paint to swap)
and draws as many as fit in ``lod_target_ms``, at most ``lod_budget``. Nothing
redraws on a timer: only camera motion and :meth:`update` calls from views.

Qt mouse events become :class:`~lidarlabel.viewer.gestures.PointerEvent` s
here, once; a :class:`~lidarlabel.viewer.gestures.GestureController` gets them
first, and what it does not consume orbits (left), pans (right/middle) or
zooms (wheel) the camera.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from OpenGL import GL
from PyQt6.QtCore import QPointF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PyQt6.QtOpenGL import QOpenGLWindow
from PyQt6.QtWidgets import QWidget

from lidarlabel.viewer.gestures import GestureController, PointerEvent, ray_ground
from lidarlabel.viewer.orbit import OrbitCamera

__all__ = ["GLCanvas", "LineBatch", "TextLabel"]

_VERT = """
#version 120
attribute vec3 a_pos;
attribute vec3 a_col;
uniform mat4 u_mvp;
uniform float u_dim;
varying vec3 v_col;
void main() { gl_Position = u_mvp * vec4(a_pos, 1.0); v_col = a_col * u_dim; }
"""
_FRAG = """
#version 120
varying vec3 v_col;
void main() { gl_FragColor = vec4(v_col, 1.0); }
"""


@dataclass
class LineBatch:
    """Line segments (M, 2, 3) float32 world, colours (M, 3) uint8, drawn ``width`` px wide."""

    segments: np.ndarray
    colors: np.ndarray
    width: float = 1.0


@dataclass
class TextLabel:
    """Text drawn at a world point (3,) in an RGB colour."""

    position: np.ndarray
    text: str
    color: tuple[int, int, int] = (255, 255, 255)


class GLCanvas(QOpenGLWindow):
    """Points + lines + text in the world frame, seen through an :class:`OrbitCamera`."""

    cursor_moved = pyqtSignal(object)  # (3,) world point under the cursor on the ground, or None
    camera_moved = pyqtSignal()
    frame_drawn = pyqtSignal(float)  # milliseconds spent in paintGL (GL finished)
    key_pressed = pyqtSignal(str, object)  # neutral key name, modifiers (unhandled keys)

    def __init__(self) -> None:
        super().__init__()
        self.camera = OrbitCamera()
        self.controller: GestureController | None = None
        self.ground_z = 0.0
        self.point_size = 2.0
        self.lod_budget = 150_000  # most points drawn while moving
        self.lod_min = 20_000
        self.lod_target_ms = 30.0
        self.ms_per_point: float | None = None  # measured, moving average
        self._paint_t0: float | None = None
        self.lod_enabled = True
        self.finish_each_frame = False  # glFinish in paintGL (benchmarks time real GL work)
        self.moving = False
        self.last_drawn_points = 0
        self.background = (0.07, 0.07, 0.09)
        self._points: np.ndarray | None = None
        self._colors: np.ndarray | None = None
        self._dirty_points = False
        self._n_points = 0
        self._lines: list[LineBatch] = []
        self._dirty_lines = False
        self._line_vbos: list[tuple[int, int, int, float]] = []
        self._labels: list[TextLabel] = []
        self._prog = None
        self._vbo_pos = self._vbo_col = None
        self._drag: tuple[str, float, float] | None = None
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(150)
        self._settle.timeout.connect(self._motion_stopped)
        self.frameSwapped.connect(self._on_swapped)
        self.container: QWidget | None = None

    def make_container(self, parent: QWidget | None = None) -> QWidget:
        """The QWidget that holds this window inside a widget layout (keeps keyboard focus)."""
        self.container = QWidget.createWindowContainer(self, parent)
        self.container.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.container.setMinimumSize(200, 150)
        return self.container

    # ------------------------------------------------------------------ data in
    def set_points(self, points: np.ndarray, colors: np.ndarray) -> None:
        """Points (N, 3) float32 world (random order, for LOD) and colours (N, 3) uint8."""
        self._points = np.ascontiguousarray(points, dtype=np.float32)
        self._colors = np.ascontiguousarray(colors, dtype=np.uint8)
        self._dirty_points = True
        self.update()

    def set_colors(self, colors: np.ndarray) -> None:
        """Replace the point colours (N, 3) uint8 of the current cloud."""
        self._colors = np.ascontiguousarray(colors, dtype=np.uint8)
        self._dirty_points = True
        self.update()

    def set_overlay(self, lines: list[LineBatch], labels: list[TextLabel]) -> None:
        """Line batches and text labels drawn over the points (boxes, grid, ego marker)."""
        self._lines = lines
        self._labels = labels
        self._dirty_lines = True
        self.update()

    @property
    def num_points(self) -> int:
        return 0 if self._points is None else len(self._points)

    # ------------------------------------------------------------------ GL
    def initializeGL(self) -> None:
        from OpenGL.GL import shaders

        self._prog = shaders.compileProgram(
            shaders.compileShader(_VERT, GL.GL_VERTEX_SHADER), shaders.compileShader(_FRAG, GL.GL_FRAGMENT_SHADER)
        )
        self._a_pos = GL.glGetAttribLocation(self._prog, "a_pos")
        self._a_col = GL.glGetAttribLocation(self._prog, "a_col")
        self._u_mvp = GL.glGetUniformLocation(self._prog, "u_mvp")
        self._u_dim = GL.glGetUniformLocation(self._prog, "u_dim")
        self._vbo_pos, self._vbo_col = GL.glGenBuffers(2)
        self._dirty_points = self._dirty_lines = True

    def resizeGL(self, w: int, h: int) -> None:
        self.camera.width, self.camera.height = max(w, 1), max(h, 1)

    def _upload(self, vbo: int, data: np.ndarray) -> None:
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data if data.size else None, GL.GL_STATIC_DRAW)

    def _upload_lines(self) -> None:
        for pos, col, _, _ in self._line_vbos:
            GL.glDeleteBuffers(2, [pos, col])
        self._line_vbos = []
        for b in self._lines:
            if len(b.segments) == 0:
                continue
            pos, col = GL.glGenBuffers(2)
            self._upload(pos, np.ascontiguousarray(b.segments, np.float32).reshape(-1, 3))
            self._upload(col, np.ascontiguousarray(np.repeat(b.colors, 2, axis=0), np.uint8))
            self._line_vbos.append((pos, col, 2 * len(b.segments), b.width))
        self._dirty_lines = False

    def _bind(self, pos: int, col: int) -> None:
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, pos)
        GL.glEnableVertexAttribArray(self._a_pos)
        GL.glVertexAttribPointer(self._a_pos, 3, GL.GL_FLOAT, False, 0, None)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, col)
        GL.glEnableVertexAttribArray(self._a_col)
        GL.glVertexAttribPointer(self._a_col, 3, GL.GL_UNSIGNED_BYTE, True, 0, None)

    def paintGL(self) -> None:
        t0 = self._paint_t0 = time.perf_counter()
        r = self.devicePixelRatio()
        GL.glViewport(0, 0, int(self.width() * r), int(self.height() * r))
        GL.glClearColor(*self.background, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        GL.glUseProgram(self._prog)
        GL.glUniformMatrix4fv(self._u_mvp, 1, GL.GL_TRUE, self.camera.mvp().astype(np.float32))
        GL.glUniform1f(self._u_dim, 1.0)
        if self._dirty_points and self._points is not None:
            self._upload(self._vbo_pos, self._points)
            self._upload(self._vbo_col, self._colors)
            self._n_points = len(self._points)
            self._dirty_points = False
        if self._dirty_lines:
            self._upload_lines()
        n = self._n_points
        if self.moving and self.lod_enabled:
            n = min(n, self.lod_points())
        if n:
            GL.glPointSize(float(self.point_size))
            self._bind(self._vbo_pos, self._vbo_col)
            GL.glDrawArrays(GL.GL_POINTS, 0, n)
        self.last_drawn_points = n
        for pos, col, count, width in self._line_vbos:
            GL.glLineWidth(float(width))
            self._bind(pos, col)
            GL.glDrawArrays(GL.GL_LINES, 0, count)
        GL.glDisableVertexAttribArray(self._a_pos)
        GL.glDisableVertexAttribArray(self._a_col)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        GL.glUseProgram(0)
        GL.glDisable(GL.GL_DEPTH_TEST)
        if self._labels:
            self._draw_labels()
        if self.finish_each_frame:
            GL.glFinish()
        self.frame_drawn.emit((time.perf_counter() - t0) * 1000.0)

    def _draw_labels(self) -> None:
        pos = np.array([lab.position for lab in self._labels], float).reshape(-1, 3)
        px, ok = self.camera.project(pos)
        p = QPainter(self)
        font = QFont()
        font.setPointSize(8)
        font.setBold(True)
        p.setFont(font)
        w, h = self.width(), self.height()
        for lab, (x, y), good in zip(self._labels, px, ok):
            if not good or not (0 <= x < w and 0 <= y < h):
                continue
            p.setPen(QColor(0, 0, 0))
            p.drawText(QPointF(x + 4, y - 3), lab.text)
            p.setPen(QColor(*lab.color))
            p.drawText(QPointF(x + 3, y - 4), lab.text)
        p.end()

    def grab_image(self) -> QImage:
        """The current 3D view as an image (re-rendered into the framebuffer and read back)."""
        return self.grabFramebuffer()

    # ------------------------------------------------------------------ motion
    def lod_points(self) -> int:
        """How many points to draw while moving: what fits in ``lod_target_ms`` at the measured cost."""
        if self.ms_per_point is None or self.ms_per_point <= 0:
            return self.lod_budget
        fit = int(self.lod_target_ms / self.ms_per_point)
        return int(min(max(fit, self.lod_min), self.lod_budget))

    def _on_swapped(self) -> None:
        # a swap waits for the rasteriser, so paint start -> swap is what the frame cost
        if self._paint_t0 is None or self.last_drawn_points < 10_000:
            return
        cost = (time.perf_counter() - self._paint_t0) * 1000.0 / self.last_drawn_points
        self.ms_per_point = cost if self.ms_per_point is None else 0.7 * self.ms_per_point + 0.3 * cost

    def content_changed(self) -> None:
        """New points of a stepped frame: drawn like motion (subsample first, all when it settles)."""
        self.moving = True
        self._settle.start()
        self.update()

    def camera_changed(self) -> None:
        """Redraw after a camera change, with LOD until motion settles."""
        self.moving = True
        self._settle.start()
        self.camera_moved.emit()
        self.update()

    def _motion_stopped(self) -> None:
        self.moving = False
        self.update()

    # ------------------------------------------------------------------ input
    def _event(self, kind: str, e: QMouseEvent) -> PointerEvent:
        x, y = e.position().x(), e.position().y()
        origin, d = self.camera.ray(x, y)
        button = {Qt.MouseButton.LeftButton: "left", Qt.MouseButton.RightButton: "right",
                  Qt.MouseButton.MiddleButton: "middle"}.get(e.button(), "none")
        mods = e.modifiers()
        m = frozenset(n for n, f in (("shift", Qt.KeyboardModifier.ShiftModifier),
                                     ("ctrl", Qt.KeyboardModifier.ControlModifier),
                                     ("alt", Qt.KeyboardModifier.AltModifier)) if mods & f)
        return PointerEvent(kind, origin, d, ray_ground(origin, d, self.ground_z), button, m, (x, y))

    def mousePressEvent(self, e: QMouseEvent) -> None:
        ev = self._event("press", e)
        if self.controller is not None and self.controller.handle(ev):
            self._drag = ("gesture", *ev.pos)
            return
        mode = "orbit" if ev.button == "left" else "pan"
        self._drag = (mode, *ev.pos)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        ev = self._event("move", e)
        self.cursor_moved.emit(ev.ground)
        if self._drag is None:
            return
        mode, x0, y0 = self._drag
        x, y = ev.pos
        if mode == "gesture":
            if self.controller is not None and self.controller.busy:
                self.controller.handle(ev)
            return
        if mode == "orbit":
            self.camera.orbit(-(x - x0) * 0.008, (y - y0) * 0.008)
        else:
            self.camera.pan(x - x0, y - y0)
        self._drag = (mode, x, y)
        self.camera_changed()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        ev = self._event("release", e)
        if self._drag is not None and self._drag[0] == "gesture" and self.controller is not None:
            self.controller.handle(ev)
        self._drag = None

    def wheelEvent(self, e: QWheelEvent) -> None:
        steps = e.angleDelta().y() / 120.0
        self.camera.zoom(0.88**steps)
        self.camera_changed()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        k, mods = e.key(), e.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        K = Qt.Key
        if k == K.Key_Escape and self.controller is not None:
            self.controller.cancel()
            return
        moves = {K.Key_Left: (0.05, 0, 40, 0), K.Key_Right: (-0.05, 0, -40, 0),
                 K.Key_Up: (0, 0.04, 0, 40), K.Key_Down: (0, -0.04, 0, -40)}
        if k in moves:
            da, de, px, py = moves[k]
            if ctrl:
                self.camera.pan(px, py)
            else:
                self.camera.orbit(da, de)
            self.camera_changed()
            return
        if k in (K.Key_Plus, K.Key_Equal, K.Key_Minus):
            self.camera.zoom(0.85 if k != K.Key_Minus else 1 / 0.85)
            self.camera_changed()
            return
        text = e.text().upper()
        if len(text) == 1 and text.isalpha() and not ctrl:
            self.key_pressed.emit(text, "shift" if mods & Qt.KeyboardModifier.ShiftModifier else "")
            return
        super().keyPressEvent(e)

