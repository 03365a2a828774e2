"""The ``geometric`` detector: ground removal, grid clustering, L-shape fitting, size classes.

No training, no download. Stages (each timed in ``timings``): ``ground``
(:mod:`.ground`), ``cluster`` (:mod:`.cluster`), ``fit`` (:mod:`.fitting`),
``classify`` (:mod:`.classify`). Works around the sensor: coordinates are
taken relative to the LiDAR position so grids stay small in any world frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.prelabel.classify import CLASS_RANGES, classify_extents, size_prior
from lidarlabel.prelabel.cluster import cluster_bev, split_clusters
from lidarlabel.prelabel.detector import Detections, FrameData
from lidarlabel.prelabel.fitting import fit_box
from lidarlabel.prelabel.ground import estimate_ground

__all__ = ["GeometricDetector", "GeometricOptions"]


@dataclass
class GeometricOptions:
    """Tunable parameters of the geometric detector (metres unless stated)."""

    max_range: float = 80.0
    min_range: float = 2.5  # the ego vehicle's own returns
    ground_cell: float = 0.5
    ground_window: float = 4.0
    ground_tolerance: float = 0.25
    max_height: float = 5.0  # above ground: higher points are canopy, signs, bridges
    cluster_cell: float = 0.3
    min_points: int = 5
    max_extent: float = 16.0
    low_band: float = 1.3  # objects have points in this band above ground over their whole footprint


class GeometricDetector:
    """Training-free detector; see the module docstring."""

    name = "geometric"

    def __init__(self, ontology: Ontology | None = None, **options: float) -> None:
        self.options = GeometricOptions(**options)
        self.ontology = ontology or default_ontology()
        self.priors = {k: size_prior(k, self.ontology) for k in CLASS_RANGES}
        self.timings: dict[str, float] = {"ground": 0.0, "cluster": 0.0, "fit": 0.0, "classify": 0.0}

    def detect(self, frame: FrameData) -> Detections:
        """Boxes (world frame) of one frame; see :class:`~lidarlabel.prelabel.detector.Detector`."""
        o = self.options
        t0 = time.perf_counter()
        origin = frame.sensor_origin
        rel = np.asarray(frame.points_world, dtype=float)[:, :3] - origin
        finite = np.isfinite(rel).all(axis=1)
        r2 = rel[:, 0] ** 2 + rel[:, 1] ** 2
        keep = finite & (r2 < o.max_range**2) & (r2 > o.min_range**2)
        rel = rel[keep]
        if len(rel) < o.min_points:
            return Detections.empty()
        _, gz = estimate_ground(rel, cell=o.ground_cell, window=o.ground_window,
                                max_range=o.max_range, centre=np.zeros(2))
        above = rel[:, 2] - gz
        obj = (above > o.ground_tolerance) & (above < o.max_height)
        pts, pgz = rel[obj], gz[obj]
        high_cells = np.unique(_cell_keys(rel[above >= o.max_height, :2], o.cluster_cell))
        t1 = time.perf_counter()
        self.timings["ground"] += t1 - t0
        clusters = [c for c in split_clusters(cluster_bev(pts[:, :2], o.cluster_cell))
                    if len(c) >= o.min_points]
        t2 = time.perf_counter()
        self.timings["cluster"] += t2 - t1
        boxes, scores, cats, counts, feats, obs_boxes = [], [], [], [], [], []
        t_fit = t_cls = 0.0
        for idx in clusters:
            p = pts[idx]
            ext = np.ptp(p[:, :2], axis=0)
            if ext.max() > o.max_extent:
                continue
            ta = time.perf_counter()
            ground_z = float(np.median(pgz[idx]))
            observed = fit_box(p, ground_z=ground_z)
            tb = time.perf_counter()
            top = float(p[:, 2].max()) - ground_z
            keys = np.unique(_cell_keys(p[:, :2], o.cluster_cell))
            covered = float(np.isin(keys, high_cells).mean())
            low = p[:, 2] - pgz[idx] < o.low_band
            low_ratio = len(np.unique(_cell_keys(p[low, :2], o.cluster_cell))) / len(keys)
            feats.append((covered, low_ratio, top, len(idx)))
            obs_boxes.append(observed)
            cls = classify_extents(observed[3], observed[4], top)
            tc = time.perf_counter()
            t_fit += tb - ta
            t_cls += tc - tb
            if cls is None:
                feats.pop()
                obs_boxes.pop()
                continue
            box = fit_box(p, size_prior=self.priors[cls.detection_class], yaw_hint=observed[6],
                          ground_z=ground_z, viewpoint=np.zeros(3))
            t_fit += time.perf_counter() - tc
            box[:3] += origin
            boxes.append(box)
            cats.append(cls.category)
            counts.append(len(idx))
            scores.append(cls.confidence * (1.0 - np.exp(-len(idx) / 15.0)))
        self.timings["fit"] += t_fit
        self.timings["classify"] += t_cls
        if not boxes:
            return Detections.empty()
        det = Detections(np.array(boxes), np.array(scores), cats, np.array(counts, dtype=np.int64))
        det.extra["detection_class"] = [
            next(k for k, r in CLASS_RANGES.items() if r.category == c) for c in cats
        ]
        det.extra["features"] = np.array(feats)
        observed_world = np.array(obs_boxes)
        observed_world[:, :3] += origin
        det.extra["observed"] = observed_world
        return det


def _cell_keys(xy: np.ndarray, cell: float) -> np.ndarray:
    """One int64 key per (N, 2) position's grid column (the sensor-centred grid)."""
    ij = np.floor(xy / cell).astype(np.int64) + (1 << 20)
    return ij[:, 0] * (1 << 21) + ij[:, 1]
