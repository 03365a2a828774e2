"""The detector interface: one frame in, scored boxes with categories out (world frame).

Detectors are chosen by name with :func:`make_detector`; ``geometric`` needs
no training and no download, ``onnx`` runs a user-supplied model
(docs/prelabel-models.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = ["DETECTORS", "Detections", "Detector", "FrameData", "make_detector"]


@dataclass
class FrameData:
    """One LiDAR sweep as a detector sees it.

    ``points_world`` (N, 3) world frame; ``features`` (N, C) the stored point
    columns (LiDAR frame: x, y, z, intensity, ...); poses are 4x4 ``world_from_*``.
    """

    index: int
    timestamp_us: int
    points_world: np.ndarray
    world_from_ego: np.ndarray
    world_from_lidar: np.ndarray
    features: np.ndarray | None = None
    point_fields: tuple[str, ...] = ("x", "y", "z")

    @property
    def sensor_origin(self) -> np.ndarray:
        """(3,) LiDAR position in the world frame."""
        return self.world_from_lidar[:3, 3].copy()


@dataclass
class Detections:
    """Boxes (N, 7) in the world frame, scores (N,) in [0, 1], categories, point counts (N,)."""

    boxes: np.ndarray
    scores: np.ndarray
    categories: list[str]
    num_points: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 7)), np.zeros(0), [], np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.boxes)

    def subset(self, keep: np.ndarray) -> Detections:
        """The detections selected by a boolean mask or index array."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=int)
        return Detections(self.boxes[idx], self.scores[idx], [self.categories[i] for i in idx],
                          self.num_points[idx])


class Detector(Protocol):
    """What every detector offers. ``timings`` accumulates seconds per stage."""

    name: str
    timings: dict[str, float]

    def detect(self, frame: FrameData) -> Detections:
        """Scored, categorised boxes of one frame, in the world frame."""
        ...


def _geometric(**options: Any) -> Detector:
    from lidarlabel.prelabel.geometric import GeometricDetector

    return GeometricDetector(**options)


def _onnx(**options: Any) -> Detector:
    from lidarlabel.prelabel.onnx_detector import OnnxDetector

    return OnnxDetector(**options)


DETECTORS = {"geometric": _geometric, "onnx": _onnx}


def make_detector(name: str, **options: Any) -> Detector:
    """A detector by name (see :data:`DETECTORS`); ValueError naming the known ones."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}") from None
    return factory(**options)
