"""The camera panel: every camera image of the frame with the cuboids projected onto it.

Projection goes through :func:`lidarlabel.viewer.overlay.project_boxes` (lens
distortion and near-plane clipping from the camera model); the painter draws
in image pixels under a scale transform, so overlays stay exact at any size.
Click a camera to enlarge it; click again to go back to the grid.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QLineF, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from lidarlabel.core.camera import CameraModel, world_to_pixels
from lidarlabel.edit.frame_cache import FrameData
from lidarlabel.edit.session import EditSession
from lidarlabel.viewer.colors import colormap
from lidarlabel.viewer.frames import DisplaySettings, FrameSource
from lidarlabel.viewer.overlay import project_boxes
from lidarlabel.viewer.view3d import SELECTED

__all__ = ["CameraPanel", "CameraView"]


class CameraView(QWidget):
    """One camera: the image, projected cuboids, optional depth-coloured LiDAR points."""

    clicked = pyqtSignal(str)

    def __init__(self, camera: CameraModel, panel: CameraPanel) -> None:
        super().__init__(panel)
        self.camera, self.panel = camera, panel
        self.image: QImage | None = None
        self.preview: QImage | None = None
        self.points = None
        self.segments = np.zeros((0, 2, 2))
        self.segment_track: list[str] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 70)
        self.setToolTip(f"{camera.name}: click to enlarge")

    def set_content(self, image: np.ndarray | None, preview: np.ndarray | None, segments: np.ndarray,
                    seg_tracks: list[str], points: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Image (H, W, 3) uint8 RGB or None, and a half-size preview of it (or None);
        segments (S, 2, 2) full-resolution pixels with their track ids;
        points: ((P, 2) pixels, (P, 3) uint8 colours) or None."""
        self._arrays = [np.ascontiguousarray(a) if a is not None else None for a in (image, preview)]
        self.image, self.preview = (self._qimage(a) for a in self._arrays)  # QImage borrows the buffers
        self.segments, self.segment_track, self.points = segments, seg_tracks, points
        self.update()

    @staticmethod
    def _qimage(a: np.ndarray | None) -> QImage | None:
        if a is None:
            return None
        h, w = a.shape[:2]
        return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888)

    def image_rect(self) -> QRectF:
        """Where the image sits in the widget (aspect kept, centred)."""
        cw, ch = self.camera.width, self.camera.height
        s = min(self.width() / cw, self.height() / ch)
        w, h = cw * s, ch * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, _e) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(20, 20, 24))
        r = self.image_rect()
        s = r.width() / self.camera.width
        p.save()
        p.translate(r.x(), r.y())
        p.scale(s, s)
        clip = QRectF(-0.5, -0.5, self.camera.width, self.camera.height)
        p.setClipRect(clip)
        if self.image is not None:
            # shown at half size or less: the half-size preview scales 4x cheaper and looks the same
            small = self.preview is not None and r.width() <= self.preview.width() * 1.1
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(clip, self.preview if small else self.image)
        else:
            p.fillRect(clip, QColor(45, 45, 50))
        if self.points is not None:
            self._draw_points(p, s)
        self._draw_boxes(p, s)
        p.restore()
        p.setPen(QColor(255, 255, 255))
        p.drawText(QPointF(r.x() + 6, r.y() + 15), self.camera.name)
        p.end()

    def _draw_points(self, p: QPainter, s: float) -> None:
        uv, cols = self.points
        # one pen per colour bin: far cheaper than one draw call per point
        bins = (cols[:, 0].astype(np.int32) // 32) * 64 + (cols[:, 1].astype(np.int32) // 32) * 8 + cols[:, 2] // 32
        pen = QPen()
        pen.setWidthF(2.0 / s)
        for b in np.unique(bins):
            sel = bins == b
            c = cols[sel][0]
            pen.setColor(QColor(int(c[0]), int(c[1]), int(c[2])))
            p.setPen(pen)
            p.drawPoints([QPointF(float(x), float(y)) for x, y in uv[sel]])

    def _draw_boxes(self, p: QPainter, s: float) -> None:
        session = self.panel.session
        onto = session.ontology
        frame = self.panel.shown.index if self.panel.shown is not None else session.frame
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        review = self.panel.qa_source.review if self.panel.qa_source is not None else None
        qa_styles = review.box_styles(frame) if review is not None else {}
        order = sorted(set(self.segment_track), key=lambda t: t == session.selection)  # selection on top
        for tid in order:
            t = session.doc.tracks.get(tid)
            if t is None or frame not in t.boxes:
                continue
            selected = tid == session.selection
            pre = t.boxes[frame].source == "prelabel"
            base = qa_styles[tid][1] if tid in qa_styles else onto.color(t.category)
            color = QColor(*SELECTED) if selected else QColor(*base)
            pen = QPen(color)
            pen.setWidthF((3.0 if selected else 1.6) / s)
            if pre and not selected:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            idx = [k for k, owner in enumerate(self.segment_track) if owner == tid]
            p.drawLines([QLineF(*self.segments[k, 0], *self.segments[k, 1]) for k in idx])

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.camera.name)


class CameraPanel(QWidget):
    """All cameras of the scene in a grid; re-reads the session on every signal."""

    def __init__(self, session: EditSession, frames: FrameSource, settings: DisplaySettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.frames, self.settings = session, frames, settings
        self.enlarged: str | None = None
        self.shown: FrameData | None = None
        self.qa_source = None  # the QA panel: boxes coloured by change kind while it has a review
        self.views: dict[str, CameraView] = {}
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        cams = session.scene.cameras if session.scene is not None else []
        for cam in cams:
            v = CameraView(cam, self)
            v.clicked.connect(self.toggle_enlarged)
            self.views[cam.name] = v
        self._layout_views()
        ev = session.events
        ev.frame_changed.connect(self._on_frame)
        ev.document_changed.connect(self.refresh)
        ev.selection_changed.connect(self._repaint)
        frames.frame_ready.connect(self._on_ready)
        self._on_frame(session.frame)

    def disconnect_session(self) -> None:
        """Stop listening (the window swaps sessions)."""
        ev = self.session.events
        ev.frame_changed.disconnect(self._on_frame)
        ev.document_changed.disconnect(self.refresh)
        ev.selection_changed.disconnect(self._repaint)

    def _layout_views(self) -> None:
        for v in self.views.values():
            self._grid.removeWidget(v)
            v.hide()
        names = [self.enlarged] if self.enlarged else list(self.views)
        cols = self._best_columns(names)
        self._cols = cols
        for k, name in enumerate(names):
            self._grid.addWidget(self.views[name], k // cols, k % cols)
            self.views[name].show()

    def _best_columns(self, names: list[str]) -> int:
        """The column count that shows the images largest in the panel's current shape."""
        if not names:
            return 1
        cw = max(self.views[n].camera.width for n in names)
        ch = max(self.views[n].camera.height for n in names)
        W, H = max(self.width(), 1), max(self.height(), 1)
        best, best_scale = 1, -1.0
        for cols in range(1, len(names) + 1):
            rows = -(-len(names) // cols)
            scale = min(W / cols / cw, H / rows / ch)
            if scale > best_scale + 1e-9:
                best, best_scale = cols, scale
        return best

    def resizeEvent(self, e) -> None:
        super().resizeEvent(e)
        names = [self.enlarged] if self.enlarged else list(self.views)
        if self._best_columns(names) != getattr(self, "_cols", None):
            self._layout_views()

    def toggle_enlarged(self, name: str) -> None:
        """Show camera ``name`` alone (or the grid again if it already is)."""
        self.enlarged = None if self.enlarged == name else name
        self._layout_views()

    def _on_frame(self, i: int) -> None:
        data = self.frames.request(i)
        if data is not None:
            self.shown = data
            self.refresh()

    def _on_ready(self, i: int) -> None:
        if i == self.session.frame and (self.shown is None or self.shown.index != i):
            self._on_frame(i)

    def _repaint(self, *_a) -> None:
        for v in self.views.values():
            v.update()

    def refresh(self, *_a) -> None:
        """Re-project boxes (and points) of the current frame into every camera."""
        data = self.shown
        if data is None:
            return
        ids, boxes = self.session.doc.frame_boxes(data.index)
        for name, v in self.views.items():
            segs, idx = project_boxes(v.camera, data.ego_pose, boxes)
            pts = self._camera_points(v.camera, data) if self.settings.camera_points else None
            v.set_content(data.images.get(name), data.previews.get(name), segs, [ids[k] for k in idx], pts)

    def _camera_points(self, cam: CameraModel, data: FrameData):
        pts = data.points[: min(len(data.points), 40_000)].astype(np.float64)  # a uniform subsample
        uv, depth, valid = world_to_pixels(cam, data.ego_pose, pts)
        ok = valid & cam.in_image(uv) & (depth > 0.5)
        return uv[ok], colormap(depth[ok], 0.0, 50.0)
