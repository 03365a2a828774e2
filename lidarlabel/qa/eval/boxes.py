"""Flatten label documents into per-frame arrays for evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.ontology import Ontology
from lidarlabel.qa.eval.classes import eval_class

__all__ = ["FlatBoxes", "flatten"]


@dataclass
class FlatBoxes:
    """All evaluated boxes of a document: frame (K,), boxes (K, 7), scores (K,), classes, track ids, points."""

    frame: np.ndarray
    boxes: np.ndarray
    score: np.ndarray
    cls: np.ndarray
    track: np.ndarray
    num_points: np.ndarray

    def select(self, mask: np.ndarray) -> FlatBoxes:
        """The boxes where ``mask`` (K,) is true."""
        return FlatBoxes(self.frame[mask], self.boxes[mask], self.score[mask], self.cls[mask],
                         self.track[mask], self.num_points[mask])


def flatten(doc: LabelDocument, ontology: Ontology | None = None) -> FlatBoxes:
    """Every box of ``doc`` whose category maps to an evaluation class.

    Missing scores count as 1.0 (human labels); missing point counts as -1 (unknown).
    """
    frame, rows, score, cls, track, npts = [], [], [], [], [], []
    for tid, t in doc.tracks.items():
        c = eval_class(t.category, ontology)
        if c is None:
            continue
        for f, b in t.boxes.items():
            frame.append(f)
            rows.append(b.as_array())
            score.append(1.0 if b.score is None else b.score)
            cls.append(c)
            track.append(tid)
            npts.append(-1 if b.num_lidar_pts is None else b.num_lidar_pts)
    return FlatBoxes(
        np.asarray(frame, dtype=np.int64),
        np.asarray(rows, dtype=float).reshape(-1, 7),
        np.asarray(score, dtype=float),
        np.asarray(cls, dtype=object),
        np.asarray(track, dtype=object),
        np.asarray(npts, dtype=np.int64),
    )
