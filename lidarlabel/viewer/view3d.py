"""The 3D view: re-reads the session (frame, labels, selection, previews) and feeds the GL canvas."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject

from lidarlabel.edit.frame_cache import FrameData
from lidarlabel.edit.session import EditSession
from lidarlabel.viewer.colors import camera_colors, point_colors
from lidarlabel.viewer.frames import DisplaySettings, FrameSource
from lidarlabel.viewer.gestures import GestureController
from lidarlabel.viewer.gl_canvas import GLCanvas, LineBatch, TextLabel
from lidarlabel.viewer.overlay import box_segments, dashed, ego_segments, grid_segments

__all__ = ["Scene3DView"]

SELECTED = (255, 255, 80)
PREVIEW = (80, 255, 255)


class Scene3DView(QObject):
    """Subscribes to ``session`` and ``frames``; owns no annotation state."""

    def __init__(self, session: EditSession, frames: FrameSource, canvas: GLCanvas,
                 settings: DisplaySettings) -> None:
        super().__init__(canvas)
        self.session, self.frames, self.canvas, self.settings = session, frames, canvas, settings
        self.shown: FrameData | None = None
        self._preview: tuple[str | None, int, np.ndarray] | None = None
        self._camera_placed = self._camera_placed_now = False
        self.qa_source = None  # the QA panel: boxes coloured by change kind while it has a review
        canvas.controller = GestureController(session, lambda: canvas.ground_z, self._screen_up)
        ev = session.events
        ev.frame_changed.connect(self._on_frame)
        ev.document_changed.connect(self.refresh_overlay)
        ev.selection_changed.connect(self.refresh_overlay)
        ev.box_preview.connect(self._on_preview)
        frames.frame_ready.connect(self._on_ready)
        self._on_frame(session.frame)

    def disconnect_session(self) -> None:
        """Stop listening (the window swaps sessions)."""
        ev = self.session.events
        for sig, slot in ((ev.frame_changed, self._on_frame), (ev.document_changed, self.refresh_overlay),
                          (ev.selection_changed, self.refresh_overlay), (ev.box_preview, self._on_preview)):
            sig.disconnect(slot)

    def _screen_up(self) -> np.ndarray:
        v = self.canvas.camera.view_matrix()
        up = v[1, :2]  # the screen's up axis, projected on the ground
        if np.linalg.norm(up) < 1e-6:
            up = -v[2, :2]
        return up / np.linalg.norm(up)

    # ------------------------------------------------------------------ frames
    def _on_frame(self, i: int) -> None:
        data = self.frames.request(i)
        if data is not None:
            self.show_frame(data)

    def _on_ready(self, i: int) -> None:
        if i == self.session.frame and (self.shown is None or self.shown.index != i):
            data = self.frames.request(i)
            if data is not None:
                self.show_frame(data)

    def show_frame(self, data: FrameData) -> None:
        """Upload the points of ``data`` (plus accumulated sweeps) and redraw the overlay."""
        self.shown = data
        c = self.canvas
        c.ground_z = data.ground_z
        if not self._camera_placed:
            c.camera.reset(data.ego_pose)
            self._camera_placed = self._camera_placed_now = True
        pts, cols = self._cloud(data)
        c.point_size = self.settings.point_size
        c.lod_budget = self.settings.lod_budget
        c.set_points(pts, cols)
        if self._camera_placed_now:
            self._camera_placed_now = False
        else:
            c.content_changed()  # a subsample at once, the whole cloud when stepping pauses
        self.refresh_overlay()

    def recolor(self) -> None:
        """Re-colour (and re-accumulate) the shown frame after a settings change."""
        if self.shown is not None:
            self._camera_placed_now = True  # not a step: draw in full at once
            self.show_frame(self.shown)

    def colors_for(self, data: FrameData) -> np.ndarray:
        """(N, 3) uint8 colours of ``data.points`` in the current colour mode."""
        mode = self.settings.color_mode
        key = f"colors:{mode}"
        if key not in data.extra:
            gz = data.ground_z
            if mode == "camera":
                base = point_colors("height", data.points, data.intensity, data.distance, gz)
                scene = self.session.scene
                data.extra[key] = camera_colors(data.points, data.ego_pose, scene.cameras, data.images, base)
            else:
                data.extra[key] = point_colors(mode, data.points, data.intensity, data.distance, gz)
        return data.extra[key]

    def _cloud(self, data: FrameData) -> tuple[np.ndarray, np.ndarray]:
        n_acc = self.settings.accumulate
        if n_acc <= 0:
            return data.points, self.colors_for(data)
        parts, cols = [data.points], [self.colors_for(data)]
        for k in range(1, n_acc + 1):
            j = data.index - k
            if j < 0:
                break
            past = self.frames.get(j)
            parts.append(past.points)
            cols.append((self.colors_for(past).astype(np.uint16) * 3 // 5).astype(np.uint8))  # older: dimmer
        pts, col = np.concatenate(parts), np.concatenate(cols)
        order = np.random.default_rng(data.index).permutation(len(pts))  # keep any prefix uniform for LOD
        return pts[order], col[order]

    # ------------------------------------------------------------------ overlay
    def _on_preview(self, tid, frame: int, box) -> None:
        self._preview = None if box is None else (tid, frame, np.asarray(box, float))
        self.refresh_overlay()

    def refresh_overlay(self, *_args) -> None:
        """Rebuild boxes, labels, grid and ego marker from the session."""
        s, onto = self.session, self.session.ontology
        frame = s.frame
        lines: list[LineBatch] = []
        labels: list[TextLabel] = []
        if self.shown is not None:
            pose = self.shown.ego_pose
            if self.settings.show_grid:
                g = grid_segments(pose[:3, 3], 100.0, 10.0, self.shown.ground_z)
                lines.append(LineBatch(g, np.full((len(g), 3), 55, np.uint8), 1.0))
            on_ground = pose.copy()
            on_ground[2, 3] = self.shown.ground_z  # some datasets put the ego origin at the LiDAR
            e = ego_segments(on_ground)
            lines.append(LineBatch(e, np.full((len(e), 3), 235, np.uint8), 2.0))
        ids, boxes = s.doc.frame_boxes(frame)
        review = self.qa_source.review if self.qa_source is not None else None
        qa_styles = review.box_styles(frame) if review is not None else {}
        prev_tid = self._preview[0] if self._preview and self._preview[1] == frame else None
        solid, solid_c, dash, dash_c, sel = [], [], [], [], []
        for tid, seg in zip(ids, box_segments(boxes)):
            if tid == prev_tid:
                continue  # the preview replaces it while dragging
            t = s.doc.tracks[tid]
            b = t.boxes[frame]
            rgb = np.array(qa_styles[tid][1] if tid in qa_styles else onto.color(t.category), np.uint8)
            text = tid
            if tid == s.selection:
                sel.append(seg)
                rgb = np.array(SELECTED, np.uint8)
            elif b.source == "prelabel":
                d = dashed(seg)
                dash.append(d)
                dash_c.append(np.repeat((rgb * 0.75).astype(np.uint8)[None], len(d), axis=0))
            else:
                solid.append(seg)
                solid_c.append(np.repeat(rgb[None], len(seg), axis=0))
            if b.source == "prelabel":
                text = f"{tid} {b.score:.2f}" if b.score is not None else f"{tid} ?"
            top = b.as_array()[:3] + [0, 0, b.size[2] / 2]
            labels.append(TextLabel(top, text, tuple(int(v) // 2 + 128 for v in rgb)))  # lighter: legible on black
        for _kind, ghost, colour in review.ghost_boxes(frame) if review is not None else ():
            d = dashed(box_segments(ghost[None])[0])  # only in the other version: a dashed ghost
            dash.append(d)
            dash_c.append(np.repeat(np.array([colour], np.uint8), len(d), axis=0))
        if solid:
            lines.append(LineBatch(np.concatenate(solid), np.concatenate(solid_c), 2.0))
        if dash:
            lines.append(LineBatch(np.concatenate(dash), np.concatenate(dash_c), 2.0))
        if sel:
            segs = np.concatenate(sel)
            lines.append(LineBatch(segs, np.repeat(np.array([SELECTED], np.uint8), len(segs), axis=0), 4.0))
        if self._preview is not None and self._preview[1] == frame:
            segs = box_segments(self._preview[2][None])[0]
            lines.append(LineBatch(segs, np.repeat(np.array([PREVIEW], np.uint8), len(segs), axis=0), 3.0))
        self.canvas.set_overlay(lines, labels)
