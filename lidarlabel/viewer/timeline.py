"""The timeline: slider, play/pause at the scene's rate, steps of 1 and 10, the selected track's frames."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, Qt, QTimer
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from lidarlabel.edit.session import EditSession

__all__ = ["Timeline", "TrackStrip"]


class TrackStrip(QWidget):
    """Marks under the slider where the selected track has a box (tall: keyframe, short: other)."""

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setFixedHeight(12)

    def marks(self) -> tuple[list[int], list[int]]:
        """(keyframes, other frames) of the selected track."""
        tid = self.session.selection
        t = self.session.doc.tracks.get(tid) if tid is not None else None
        if t is None:
            return [], []
        keys = [f for f, b in t.boxes.items() if b.keyframe]
        return sorted(keys), sorted(f for f in t.boxes if f not in set(keys))

    def paintEvent(self, _e) -> None:
        p = QPainter(self)
        n = max(self.session.num_frames - 1, 1)
        w = self.width() - 16  # the slider's handle margins
        keys, others = self.marks()
        for frames, color, top in ((others, QColor(120, 160, 220), 6), (keys, QColor(255, 220, 80), 0)):
            for f in frames:
                x = 8 + w * f / n
                p.fillRect(QRectF(x - 1.5, top, 3, self.height() - top), color)
        cx = 8 + w * self.session.frame / n
        p.fillRect(QRectF(cx - 0.5, 0, 1, self.height()), QColor(255, 255, 255))
        p.end()


class Timeline(QWidget):
    """Frame navigation bound to the session: every control calls ``session.set_frame``."""

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        n = session.num_frames
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(session.frame)
        self.slider.valueChanged.connect(session.set_frame)
        self.strip = TrackStrip(session)
        self.label = QLabel()
        self.label.setMinimumWidth(230)
        self.play_button = QToolButton()
        self.play_button.setText("▶")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        buttons = []
        for text, step in (("«", -10), ("‹", -1), (None, 0), ("›", 1), ("»", 10)):
            if text is None:
                buttons.append(self.play_button)
                continue
            b = QToolButton()
            b.setText(text)
            b.setToolTip(f"{step:+d} frame{'s' if abs(step) > 1 else ''}")
            b.clicked.connect(lambda _=False, s=step: self.step(s))
            buttons.append(b)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for b in buttons:
            row.addWidget(b)
        col = QVBoxLayout()
        col.setSpacing(0)
        col.addWidget(self.slider)
        col.addWidget(self.strip)
        row.addLayout(col, 1)
        row.addWidget(self.label)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 2, 6, 2)
        outer.addLayout(row)
        ts = session.scene.timestamps_us if session.scene is not None else np.zeros(0)
        dt_ms = float(np.median(np.diff(ts))) / 1000.0 if len(ts) > 1 else 100.0
        self._timer = QTimer(self)
        self._timer.setInterval(int(max(dt_ms, 10)))
        self._timer.timeout.connect(self._tick)
        ev = session.events
        ev.frame_changed.connect(self._on_frame)
        ev.selection_changed.connect(self._repaint_strip)
        ev.document_changed.connect(self._repaint_strip)
        self._on_frame(session.frame)

    def disconnect_session(self) -> None:
        """Stop listening (the window swaps sessions)."""
        self._timer.stop()
        ev = self.session.events
        ev.frame_changed.disconnect(self._on_frame)
        ev.selection_changed.disconnect(self._repaint_strip)
        ev.document_changed.disconnect(self._repaint_strip)

    def _repaint_strip(self, *_a) -> None:
        self.strip.update()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def step(self, k: int) -> None:
        """Move ``k`` frames (clamped)."""
        self.session.set_frame(self.session.frame + k)

    def toggle_play(self) -> None:
        """Play at the scene's sweep rate from the current frame (from the start at the end)."""
        if self._timer.isActive():
            self._timer.stop()
        else:
            if self.session.frame >= self.session.num_frames - 1:
                self.session.set_frame(0)
            self._timer.start()
        self.play_button.setText("⏸" if self._timer.isActive() else "▶")

    def _tick(self) -> None:
        if self.session.frame >= self.session.num_frames - 1:
            self.toggle_play()
            return
        self.step(1)

    def _on_frame(self, f: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(f)
        self.slider.blockSignals(False)
        ts = self.session.timestamp_us(f)
        t0 = self.session.timestamp_us(0)
        rel = f"  t={(ts - t0) / 1e6:7.3f} s" if ts is not None and t0 is not None else ""
        self.label.setText(f"frame {f + 1}/{self.session.num_frames}{rel}  ({ts if ts is not None else '-'} µs)")
        self.strip.update()
