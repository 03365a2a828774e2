"""A prefetching frame cache: frames load on one worker thread so stepping never blocks a UI.

Plain ``threading`` (no Qt). :func:`load_frame` reads one sweep of a scene
(world-frame points in a random order, so that any prefix is a uniform
subsample for level of detail; per-point colour inputs; decoded camera images).
:class:`FrameCache` keeps the last few frames and loads the neighbours of the
current one in the background; a UI asks with :meth:`FrameCache.request`
and is told on its own thread (the callback runs on the worker, so a Qt caller
turns it into a queued signal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lidarlabel.io.scene import SceneReader

__all__ = ["FrameCache", "FrameData", "ground_height", "load_frame"]


@dataclass
class FrameData:
    """One loaded sweep.

    points: (N, 3) float32 world-frame points, randomly permuted (a prefix is a
    uniform subsample); intensity: (N,) float32 in [0, 1] or None; distance:
    (N,) float32 metres from the LiDAR; ego_pose: (4, 4) world_from_ego;
    ground_z: world height of the ground around the ego vehicle (see :func:`ground_height`);
    images: camera name -> RGB (H, W, 3) uint8 (missing cameras are absent);
    previews: the same at half size (H/2, W/2, 3), for panels that show them small.
    """

    index: int
    timestamp_us: int
    points: np.ndarray
    intensity: np.ndarray | None
    distance: np.ndarray
    ego_pose: np.ndarray
    ground_z: float
    images: dict[str, np.ndarray] = field(default_factory=dict)
    previews: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # per-frame memo (e.g. camera colours)


def load_frame(scene: SceneReader, i: int, images: bool = True, seed: int = 0) -> FrameData:
    """Read frame ``i`` of ``scene`` into a :class:`FrameData` (see there for shapes and frames)."""
    raw = scene.points(i)
    rng = np.random.default_rng(seed + i)
    raw = raw[rng.permutation(len(raw))]
    xyz = np.ascontiguousarray(raw[:, :3], dtype=np.float32)
    T = scene.world_from_lidar(i)
    # float32 is exact enough for drawing (< 1 mm at 10 km) and twice as fast as float64
    pts = xyz @ T[:3, :3].T.astype(np.float32) + T[:3, 3].astype(np.float32)
    inten = None
    if "intensity" in scene.point_fields:
        col = raw[:, scene.field("intensity")].astype(np.float32)
        hi = float(np.partition(col, int(0.99 * (len(col) - 1)))[int(0.99 * (len(col) - 1))]) if len(col) else 1.0
        inten = np.clip(col / (hi if hi > 0 else 1.0), 0.0, 1.0)
    dist = np.sqrt(np.einsum("ij,ij->i", xyz, xyz))
    imgs: dict[str, np.ndarray] = {}
    small: dict[str, np.ndarray] = {}
    if images:
        import cv2

        for cam in scene.cameras:
            img = _decode(scene.image_bytes(cam.name, i))
            if img is not None:
                imgs[cam.name] = img
                h, w = img.shape[:2]
                small[cam.name] = cv2.resize(img, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA)
    pose = scene.ego_poses[i].copy()
    return FrameData(i, int(scene.timestamps_us[i]), pts, inten, dist, pose, ground_height(pts, pose), imgs, small)


def ground_height(points: np.ndarray, world_from_ego: np.ndarray, radius: float = 25.0) -> float:
    """World z of the ground near the ego vehicle, from (N, 3) world points.

    The most populated 0.1 m height bin among points within ``radius`` m, searched
    from the bottom up to 0.5 m above the ego origin (the road is the largest
    horizontal surface). Datasets put the ego origin on the ground (nuScenes,
    the simulator) or at the LiDAR (KITTI-style imports, ~1.7 m up), so the pose
    alone cannot say. Falls back to the ego origin's height with too few points.
    """
    ez = float(world_from_ego[2, 3])
    if len(points) == 0:
        return ez
    d = points[:, :2] - world_from_ego[:2, 3].astype(np.float32)
    near = points[(np.einsum("ij,ij->i", d, d) < radius * radius) & (points[:, 2] < ez + 0.5), 2]
    if len(near) < 200:
        return ez
    lo = float(np.percentile(near, 0.5))
    hist, edges = np.histogram(near, bins=np.arange(lo, ez + 0.6, 0.1))
    if len(hist) == 0:
        return ez
    k = int(np.argmax(hist))
    return float((edges[k] + edges[k + 1]) / 2)


def _decode(data: bytes) -> np.ndarray | None:
    """JPEG/PNG bytes -> RGB (H, W, 3) uint8, or None for an absent (empty) or undecodable image."""
    import cv2

    if not data:
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class FrameCache:
    """LRU cache of loaded frames with a background prefetching worker.

    ``loader(i)`` builds a frame (called on the worker, or on the caller's
    thread by :meth:`get` when the frame is neither cached nor queued).
    ``on_ready(i)`` (optional) runs on the worker after each background load.
    """

    def __init__(
        self,
        loader: Callable[[int], Any],
        num_frames: int,
        capacity: int = 8,
        ahead: int = 2,
        behind: int = 1,
        on_ready: Callable[[int], None] | None = None,
    ) -> None:
        self._loader = loader
        self.num_frames = int(num_frames)
        self.capacity = max(int(capacity), ahead + behind + 1)
        self.ahead, self.behind = ahead, behind
        self.on_ready = on_ready
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._errors: dict[int, BaseException] = {}
        self._queue: list[int] = []
        self._loading: int | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="frame-cache", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    def peek(self, i: int) -> Any | None:
        """The cached frame ``i`` or None (never blocks, never loads)."""
        with self._cond:
            item = self._items.get(i)
            if item is not None:
                self._items.move_to_end(i)
            return item

    def request(self, i: int) -> Any | None:
        """Ask for frame ``i`` and its neighbours; returns it if cached, else None (loads in background)."""
        item = self.peek(i)
        self._schedule(i, urgent=item is None)
        return item

    def get(self, i: int, timeout: float | None = 30.0) -> Any:
        """Frame ``i``, waiting for the worker if it is queued or loading; neighbours are prefetched."""
        item = self.request(i)
        if item is not None:
            return item
        with self._cond:
            ok = self._cond.wait_for(lambda: i in self._items or i in self._errors or self._closed, timeout)
            if i in self._errors:
                raise self._errors.pop(i)
            if not ok or i not in self._items:
                raise TimeoutError(f"frame {i} did not load within {timeout} s")
            return self._items[i]

    def cached(self) -> list[int]:
        """Indices currently held, least recently used first."""
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        """Drop every cached frame (e.g. after the scene was reloaded)."""
        with self._cond:
            self._items.clear()
            self._queue.clear()

    def close(self) -> None:
        """Stop the worker (pending loads are dropped)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ internals
    def _schedule(self, i: int, urgent: bool) -> None:
        wanted = [i] + [i + k for k in range(1, self.ahead + 1)] + [i - k for k in range(1, self.behind + 1)]
        wanted = [f for f in wanted if 0 <= f < self.num_frames]
        with self._cond:
            todo = [f for f in wanted if f not in self._items and f != self._loading]
            # the newest request wins: older queued prefetches go after it
            self._queue = todo + [f for f in self._queue if f not in todo]
            del self._queue[self.capacity :]
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                i = self._queue.pop(0)
                if i in self._items:
                    continue
                self._loading = i
            try:
                item = self._loader(i)
                err = None
            except BaseException as exc:  # reported to whoever waits for this frame
                item, err = None, exc
            with self._cond:
                self._loading = None
                if err is not None:
                    self._errors[i] = err
                else:
                    self._items[i] = item
                    self._items.move_to_end(i)
                    while len(self._items) > self.capacity:
                        self._items.popitem(last=False)
                self._cond.notify_all()
            if err is None and self.on_ready is not None and not self._closed:
                self.on_ready(i)
