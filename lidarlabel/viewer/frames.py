"""Qt glue around the Qt-free frame cache, and the view settings shared by the panels."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import QObject, pyqtSignal

from lidarlabel.edit.frame_cache import FrameCache, FrameData, load_frame
from lidarlabel.io.scene import SceneReader

__all__ = ["DisplaySettings", "FrameSource"]


class FrameSource(QObject):
    """Loads frames on a worker thread; ``frame_ready(i)`` arrives on the GUI thread."""

    frame_ready = pyqtSignal(int)

    def __init__(self, scene: SceneReader | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scene = scene
        n = scene.num_frames if scene is not None else 0
        # the worker emits; Qt queues the signal to this object's (GUI) thread
        self.cache = FrameCache(self._load, n, capacity=12, ahead=3, behind=1, on_ready=self.frame_ready.emit)

    def _load(self, i: int) -> FrameData:
        return load_frame(self.scene, i)

    def request(self, i: int) -> FrameData | None:
        """Frame ``i`` if loaded (neighbours are prefetched); else None and ``frame_ready`` follows."""
        if self.scene is None:
            return None
        return self.cache.request(i)

    def get(self, i: int) -> FrameData:
        """Frame ``i``, waiting for it (tests, screenshots, accumulation of past sweeps)."""
        return self.cache.get(i)

    def close(self) -> None:
        """Stop the worker."""
        self.cache.close()


@dataclass
class DisplaySettings:
    """How the scene is shown (not annotation state): persisted in QSettings by the window."""

    color_mode: str = "height"
    point_size: float = 2.0
    accumulate: int = 0  # previous sweeps drawn with the current one
    show_grid: bool = True
    camera_points: bool = False  # LiDAR points projected into the camera images
    lod_budget: int = 150_000
