"""Top, side and front views of the selected box (QPainter, no GL), with drag handles.

Each view shows the points around the box in the box's own frame (the
current frame's, plus, when "whole object" is on, the track's stacked points
of every frame). Dragging a handle previews the candidate box
(``session.preview_box``, no undo step); the release makes ONE
``session.set_box``; Escape cancels and pushes nothing. The gesture maths is
:mod:`lidarlabel.edit.gestures`; this module only turns pixels into view-plane
metres and back.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from lidarlabel.edit.gestures import drag, handle_at, handle_positions, view_axes
from lidarlabel.edit.object_points import StackCache, points_in_box_frame, stacked_object_points
from lidarlabel.edit.session import EditSession

__all__ = ["BoxView", "ThreeViewPanel"]

HANDLE_PX = 8  # pick tolerance and handle size, pixels
MARGIN_M = 1.5  # metres of surroundings shown around the box
LABELS = {"centre": "Move box", "heading": "Rotate box"}


class BoxView(QWidget):
    """One of the three views; see the module docstring."""

    def __init__(self, panel: ThreeViewPanel, view: str) -> None:
        super().__init__(panel)
        self.panel, self.view = panel, view
        self.setMinimumSize(160, 140)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self._gesture: tuple[str, np.ndarray, np.ndarray] | None = None  # handle, start box, start (a, b)
        self._candidate: np.ndarray | None = None

    # ---------------------------------------------------------------- mapping
    def _scale(self, box: np.ndarray) -> float:
        ia, ib = view_axes(self.view)
        span_a, span_b = box[3 + ia] + 2 * MARGIN_M, box[3 + ib] + 2 * MARGIN_M
        return max(min(self.width() / span_a, self.height() / span_b), 1e-6)

    def to_pixel(self, ab: np.ndarray, box: np.ndarray | None = None) -> QPointF:
        """Widget pixel of view-plane (a, b) metres (b up on screen)."""
        s = self._scale(self._frame_box() if box is None else box)
        return QPointF(self.width() / 2 + ab[0] * s, self.height() / 2 - ab[1] * s)

    def to_view(self, px: QPointF) -> np.ndarray:
        """View-plane (a, b) metres of a widget pixel."""
        s = self._scale(self._frame_box())
        return np.array([(px.x() - self.width() / 2) / s, (self.height() / 2 - px.y()) / s])

    def _frame_box(self) -> np.ndarray:
        # during a gesture the view keeps the frame of the box at its start
        return self._gesture[1] if self._gesture is not None else self.panel.current_box()

    # ---------------------------------------------------------------- drawing
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(20, 20, 24))
        p.setPen(QColor(180, 180, 180))
        p.drawText(6, 14, self.view)
        box = self.panel.current_box()
        if box is None:
            p.end()
            return
        frame_box = self._frame_box()
        ia, ib = view_axes(self.view)
        image = self._points_image(frame_box, ia, ib)
        if image is not None:
            p.drawImage(0, 0, image)
        shown = self._candidate if self._candidate is not None else box
        rel = shown.copy()
        rel[:3] = _to_local(frame_box, shown[:3])
        rel[6] = shown[6] - frame_box[6]
        p.setPen(QPen(QColor(255, 200, 0), 2))
        p.drawPolygon([self.to_pixel(q) for q in _outline(self.view, rel)])
        p.setPen(QPen(QColor(255, 80, 80), 1))
        for ab in handle_positions(self.view, shown).values():
            c = self.to_pixel(_place(self.view, rel, ab))
            p.drawRect(QRectF(c.x() - HANDLE_PX / 2, c.y() - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX))
        p.end()

    def _points_image(self, frame_box: np.ndarray, ia: int, ib: int) -> QImage | None:
        """The stacked (blue) and current-frame (white) points rasterised with numpy.

        A stacked track can hold ~10^6 points; one Python call per point froze the
        app for seconds, so points become 2x2-pixel dots in one RGBA array instead.
        """
        w, h = self.width(), self.height()
        if w <= 0 or h <= 0:
            return None
        rgba = np.zeros((h, w, 4), dtype=np.uint8)
        s = self._scale(frame_box)
        drawn = False
        for pts, color in ((self.panel.stacked_points(), (90, 160, 255)),
                           (self.panel.frame_points(), (230, 230, 230))):
            if pts is None or len(pts) == 0:
                continue
            u = np.floor(w / 2 + pts[:, ia] * s).astype(np.int64)
            v = np.floor(h / 2 - pts[:, ib] * s).astype(np.int64)
            keep = (u >= 0) & (u < w - 1) & (v >= 0) & (v < h - 1)
            u, v = u[keep], v[keep]
            for du in (0, 1):
                for dv in (0, 1):
                    rgba[v + dv, u + du] = (*color, 255)
            drawn = True
        if not drawn:
            return None
        self._rgba = rgba  # QImage does not own the buffer: keep it alive while painting
        return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)

    # ---------------------------------------------------------------- gestures
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        box = self.panel.current_box()
        if box is None or event.button() != Qt.MouseButton.LeftButton or self.panel.session.read_only:
            return
        ab = self.to_view(event.position())
        handle = handle_at(self.view, box, ab, HANDLE_PX / self._scale(box))
        if handle is not None:
            self._gesture = (handle, box.copy(), ab)
            self.setFocus()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._gesture is None:
            return
        handle, box0, start = self._gesture
        self._candidate = drag(self.view, handle, box0, start, self.to_view(event.position()))
        s = self.panel.session
        s.preview_box(s.selection, s.frame, self._candidate)
        self.panel.refresh()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._gesture is None:
            return
        handle, box0, start = self._gesture
        cand = drag(self.view, handle, box0, start, self.to_view(event.position()))
        self._gesture, self._candidate = None, None
        s = self.panel.session
        s.preview_box(s.selection, s.frame, None)
        if not np.allclose(cand, box0):
            s.set_box(s.selection, s.frame, cand, LABELS.get(handle, "Resize box"))
        self.panel.refresh()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self._gesture is not None:
            self.cancel()
            return
        super().keyPressEvent(event)

    def cancel(self) -> None:
        """Abandon the gesture in progress: the preview goes, nothing is pushed."""
        self._gesture, self._candidate = None, None
        s = self.panel.session
        s.preview_box(s.selection, s.frame, None)
        self.panel.refresh()


class ThreeViewPanel(QWidget):
    """Top, side and front views of the selected track's box in the current frame."""

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.views = {v: BoxView(self, v) for v in ("top", "side", "front")}
        self.whole_object = QCheckBox("whole object (all frames)")
        self.whole_object.setChecked(True)
        self.whole_object.toggled.connect(lambda _on: self.reload())
        row = QHBoxLayout()
        for v in self.views.values():
            row.addWidget(v, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(row, 1)
        lay.addWidget(self.whole_object)
        self._frame_pts: np.ndarray | None = None
        self._stacked: np.ndarray | None = None
        self._cache = StackCache()
        ev = session.events
        for sig in (ev.frame_changed, ev.selection_changed, ev.document_changed):
            sig.connect(self.reload)
        self.destroyed.connect(lambda *_: _disconnect(session, self.reload))
        self.reload()

    def current_box(self) -> np.ndarray | None:
        """(7,) world box of the selection in the current frame, or None."""
        s = self.session
        t = s.doc.tracks.get(s.selection) if s.selection else None
        b = t.boxes.get(s.frame) if t is not None else None
        return b.as_array() if b is not None else None

    def frame_points(self) -> np.ndarray | None:
        """(N, 3) current-frame points around the box, in the box frame."""
        return self._frame_pts

    def stacked_points(self) -> np.ndarray | None:
        """(N, 3) whole-object points of the track in its box frame (None when off)."""
        return self._stacked if self.whole_object.isChecked() else None

    def reload(self, *_args: object) -> None:
        """Re-read the box and its points from the session, then redraw."""
        box = self.current_box()
        self._frame_pts = self._stacked = None
        if box is not None:
            self._frame_pts = points_in_box_frame(self.session.points_world(self.session.frame), box, MARGIN_M)
            if self.whole_object.isChecked():
                self._stacked = stacked_object_points(self.session, self.session.selection, cache=self._cache)
        self.refresh()

    def refresh(self) -> None:
        """Repaint the three views."""
        for v in self.views.values():
            v.update()


def _disconnect(session: EditSession, slot) -> None:
    ev = session.events
    for sig in (ev.frame_changed, ev.selection_changed, ev.document_changed):
        sig.disconnect(slot)


def _to_local(frame_box: np.ndarray, p: np.ndarray) -> np.ndarray:
    rel = np.asarray(p, dtype=float) - frame_box[:3]
    c, s = np.cos(frame_box[6]), np.sin(frame_box[6])
    return np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1], rel[2]])


def _place(view: str, rel_box: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """View-plane position of a point given in the (possibly moved) box's own view plane."""
    ia, ib = view_axes(view)
    local = np.zeros(3)
    local[ia], local[ib] = ab
    if view == "top":
        c, s = np.cos(rel_box[6]), np.sin(rel_box[6])
        local[:2] = [c * local[0] - s * local[1], s * local[0] + c * local[1]]
    return (rel_box[:3] + local)[[ia, ib]]


def _outline(view: str, rel_box: np.ndarray) -> list[np.ndarray]:
    ia, ib = view_axes(view)
    ha, hb = rel_box[3 + ia] / 2, rel_box[3 + ib] / 2
    return [_place(view, rel_box, np.array(c)) for c in ((ha, hb), (-ha, hb), (-ha, -hb), (ha, -hb))]
