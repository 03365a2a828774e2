"""The ``geometric`` detector: ground removal, grid clustering, L-shape fitting, size classes.

No training, no download. Stages (each timed in ``timings``): ``ground``
(:mod:`.ground`), ``cluster`` (:mod:`.cluster`), ``fit`` (:mod:`.fitting`),
``classify`` (:mod:`.classify`). Works around the sensor: coordinates are
taken relative to the LiDAR position so grids stay small in any world frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from lidarlabel.core.boxes import normalize_yaw
from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.prelabel.classify import (
    CLASS_RANGES,
    VEHICLES,
    Classification,
    classify_extents,
    size_prior,
)
from lidarlabel.prelabel.cluster import cluster_bev, split_clusters
from lidarlabel.prelabel.detector import Detections, FrameData
from lidarlabel.prelabel.fitting import fit_box
from lidarlabel.prelabel.ground import GroundModel, estimate_ground
from lidarlabel.prelabel.plausibility import head_ratio, small_plausibility, vehicle_plausibility

__all__ = ["GeometricDetector", "GeometricOptions"]

STRUCTURE = "structure"  # _classified's verdict on a cluster that is part of a wall or a pole
_NOT_VEHICLES = {k: v for k, v in CLASS_RANGES.items() if k not in VEHICLES}


@dataclass
class GeometricOptions:
    """Tunable parameters of the geometric detector (metres unless stated)."""

    max_range: float = 80.0
    min_range: float = 2.5  # the ego vehicle's own returns
    ground_cell: float = 0.5
    ground_window: float = 4.0
    ground_far_window: float = 8.0  # m: the ground opening's window also beyond ground_far_range, where
    ground_far_range: float = 25.0  # a 64-beam sensor's ground rings lie over 2 m apart (ground.py)
    ground_tolerance: float = 0.25
    max_height: float = 5.0  # above ground: higher points are canopy, signs, bridges
    cluster_cell: float = 0.3
    split_cell: float = 0.15  # finer grid tried on clusters that are no single object
    split_min_extent: float = 1.5  # ... when they are larger than this (m): two objects at least
    split_max_parts: int = 4
    min_points: int = 5
    max_extent: float = 16.0
    min_top: float = 0.7  # clusters whose highest point is lower (above ground) are no object
    max_top: float = 4.6  # ... or higher (the tallest class, buses and trucks, stay below)
    angular_spacing: float = 0.006  # rad between neighbouring returns (vertical, 64-beam class sensor)
    band_top: float = 2.0  # clusters are connected below this height; higher points join by column
    max_vertical_gap: float = 0.75  # a larger empty gap in a column separates objects stacked in it
    low_band: float = 1.3  # objects have points in this band above ground over their whole footprint
    ground_margin: float = 0.0  # m around a cluster whose ground it stands on (0: only under it; see docs)
    min_face: float = 0.5  # m: a vehicle shows at least this much of a face (narrower: poles, trunks)
    plane_thickness: float = 0.3  # m: thinner clusters are one vertical plane (a wall or one vehicle face)
    oblique_angle: float = 35.0  # deg: a plane seen past its end this much would show a vehicle's other face
    abeam_factor: float = 0.3  # confidence factor of doubtful shapes: a long plane abeam, a headless "person"
    head_width_ratio: float = 0.8  # a pedestrian's top 0.25 m this wide relative to its body: a pole or a trunk?
    head_min_points: int = 30  # ... judged only on clusters with this many points
    small_thickness: float = 0.15  # m: a person or a rider is deeper; a thinner plane seen past its end is a wall
    small_min_length: float = 0.4  # m: ... when it is longer than this (shorter clusters have no measurable plane)
    small_oblique_angle: float = 50.0  # deg: ... and seen past its end this much (a sparse arc on a body is less)


class GeometricDetector:
    """Training-free detector; see the module docstring."""

    name = "geometric"

    def __init__(self, ontology: Ontology | None = None, **options: float) -> None:
        self.options = GeometricOptions(**options)
        self.ontology = ontology or default_ontology()
        self.priors = {k: size_prior(k, self.ontology) for k in CLASS_RANGES}
        self.timings: dict[str, float] = {"ground": 0.0, "cluster": 0.0, "fit": 0.0, "classify": 0.0}
        self._ground: GroundModel | None = None

    def _classified(self, p: np.ndarray, pgz: np.ndarray) -> _Candidate | str | None:
        """The candidate object of (N, 3) sensor-relative points, None, or ``STRUCTURE`` (a wall, a pole)."""
        t0 = time.perf_counter()
        k = len(pgz) // 10
        ground_z = float(np.partition(pgz, k)[k])  # boxes rest on the lowest ground under them (slopes)
        if self.options.ground_margin > 0 and self._ground is not None:
            ground_z = _ground_around(self._ground, p, self.options.ground_margin, ground_z)
        observed = fit_box(p, ground_z=ground_z)
        t1 = time.perf_counter()
        fill = face_fill(p, observed, float(np.hypot(*observed[:2])) * self.options.angular_spacing)
        sight = float(np.arctan2(observed[1], observed[0]))  # coordinates are sensor-relative here
        to_sight = abs(float(normalize_yaw(2 * (observed[6] - sight)))) / 2
        cls = classify_extents(observed[3], observed[4], float(p[:, 2].max()) - ground_z, fill,
                               face_to_sight=to_sight)
        self.timings["fit"] += t1 - t0
        self.timings["classify"] += time.perf_counter() - t1
        if cls is None:
            return None
        if cls.detection_class in VEHICLES:
            plane = vehicle_plausibility(p[:, :2], self.options.min_face, self.options.plane_thickness,
                                         np.deg2rad(self.options.oblique_angle))
            if plane == "reject":
                return STRUCTURE
            if plane == "narrow":  # no vehicle face: a person, or a pole
                cls = classify_extents(observed[3], observed[4], float(p[:, 2].max()) - ground_z, fill,
                                       ranges=_NOT_VEHICLES, face_to_sight=to_sight)
                if cls is None:
                    return STRUCTURE
            if plane == "doubtful":
                cls = replace(cls, confidence=cls.confidence * self.options.abeam_factor)
        if cls.detection_class == "pedestrian" and len(p) >= self.options.head_min_points and (
                (ratio := head_ratio(p)) is not None and ratio > self.options.head_width_ratio):
            cls = replace(cls, confidence=cls.confidence * self.options.abeam_factor)  # a pole or a trunk?
        o = self.options
        if cls.detection_class not in VEHICLES and small_plausibility(
                p[:, :2], o.small_thickness, o.small_min_length, np.deg2rad(o.small_oblique_angle)) == "reject":
            return STRUCTURE
        if cls.across:  # seen end-on: the visible face is the width, the heading crosses it
            observed = observed.copy()
            observed[3], observed[4] = observed[4], observed[3]
            observed[6] = float(normalize_yaw(observed[6] + np.pi / 2))
        return _Candidate(p, ground_z, observed, cls, fill)

    def _objects(self, p: np.ndarray, pgz: np.ndarray) -> list[_Candidate]:
        """The objects in one cluster: itself, or its parts on a finer grid when that explains it better.

        Objects closer than a cell or two (cars side by side in a queue, a
        pedestrian beside a car) share a cluster; a cluster that is no object,
        or only a large-vehicle one, is re-clustered at ``split_cell``.
        """
        o = self.options
        whole = self._classified(p, pgz)
        if whole is STRUCTURE:  # a wall's pieces are no pedestrians either
            return []
        if whole is not None and whole.cls.detection_class not in ("truck", "bus") and whole.cls.cost < 0.5:
            return [whole]
        if np.ptp(p[:, :2], axis=0).max() < o.split_min_extent:
            return [whole] if whole is not None else []
        t0 = time.perf_counter()
        parts = [c for c in split_clusters(cluster_bev(p[:, :2], o.split_cell)) if len(c) >= o.min_points]
        self.timings["cluster"] += time.perf_counter() - t0
        if not 2 <= len(parts) <= o.split_max_parts:  # many parts: fragmented clutter, not objects
            return [whole] if whole is not None else []
        found = [c for c in (self._classified(p[i], pgz[i]) for i in parts) if isinstance(c, _Candidate)]
        covered = sum(len(c.points) for c in found)
        better = sum(c.cls.confidence * len(c.points) for c in found)
        if found and (whole is None or (covered >= 0.8 * len(p) and better > whole.cls.confidence * len(p))):
            return found
        return [whole] if whole is not None else []

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
        self._ground, gz = estimate_ground(rel, cell=o.ground_cell, window=o.ground_window,
                                           max_range=o.max_range, centre=np.zeros(2),
                                           far_window=o.ground_far_window, far_range=o.ground_far_range)
        above = rel[:, 2] - gz
        obj = (above > o.ground_tolerance) & (above < o.max_height)
        obj[obj] = column_continuous(rel[obj, :2], above[obj], o.cluster_cell, o.max_vertical_gap)
        pts, pgz = rel[obj], gz[obj]
        t1 = time.perf_counter()
        self.timings["ground"] += t1 - t0
        labels = band_clusters(pts[:, :2], above_of(pts, pgz), o.cluster_cell, o.band_top)
        clusters = [c for c in split_clusters(labels) if len(c) >= o.min_points]
        t2 = time.perf_counter()
        self.timings["cluster"] += t2 - t1
        found: list[_Candidate] = []
        above = pts[:, 2] - pgz
        for idx in clusters:
            top = above[idx].max()
            if top < o.min_top or top > o.max_top or np.ptp(pts[idx, :2], axis=0).max() > o.max_extent:
                continue  # curbs and low bushes, walls and trees: no detection class is so low or high
            found.extend(self._objects(pts[idx], pgz[idx]))
        boxes, scores, cats, counts, obs_boxes, fills, clouds = [], [], [], [], [], [], []
        top_laser = highest_elevation(rel)
        t_fit = time.perf_counter()
        for c in found:
            box = fit_box(c.points, size_prior=self.priors[c.cls.detection_class], yaw_hint=c.observed[6],
                          ground_z=c.ground_z, viewpoint=np.zeros(3), axis=c.observed[6])
            box[:3] += origin
            boxes.append(box)
            cats.append(c.cls.category)
            counts.append(len(c.points))
            scores.append(c.cls.confidence * (1.0 - np.exp(-len(c.points) / 15.0)))
            obs_boxes.append(c.observed)
            fills.append(c.fill)
            clouds.append(c.points + origin)
        # an object whose highest return came from the highest laser may reach above it: its top is unseen
        det_top_cut = [top_laser is not None and (el := highest_elevation(c.points, min_range=0.0)) is not None
                       and el >= top_laser - o.angular_spacing / 2 for c in found]
        self.timings["fit"] += time.perf_counter() - t_fit
        if not boxes:
            return Detections.empty()
        det = Detections(np.array(boxes), np.array(scores), cats, np.array(counts, dtype=np.int64))
        det.extra["detection_class"] = [
            next(k for k, r in CLASS_RANGES.items() if r.category == c) for c in cats
        ]
        observed_world = np.array(obs_boxes)
        observed_world[:, :3] += origin
        det.extra["observed"] = observed_world
        det.extra["fill"] = np.array(fills)
        det.extra["top_cut"] = np.array(det_top_cut, dtype=bool)
        det.extra["points"] = clouds  # (N_k, 3) world: the offline refinement accumulates them per track
        # (M, 3) float32 world: every non-ground point, so refinement can crop a track's box in any frame
        det.extra["nonground"] = (pts + origin).astype(np.float32)
        return det


@dataclass
class _Candidate:
    points: np.ndarray
    ground_z: float
    observed: np.ndarray
    cls: Classification
    fill: float = 1.0


def _ground_around(model: GroundModel, p: np.ndarray, margin: float, under: float) -> float:
    """Ground z (m) an object with (N, 3) points (the model's frame) stands on.

    Far away the sensor sees little ground in a car's shadow and its lowest
    returns start above the wheels, so the opened surface *under* it can be
    the car's own underside; the ground *around* it (``margin`` m beyond its
    outline) is seen. The lower quartile of the known surface there, capped by
    ``under`` (the surface under it): a box never floats above that.
    """
    lo = np.floor((p[:, :2].min(axis=0) - margin - model.origin) / model.cell).astype(int)
    hi = np.floor((p[:, :2].max(axis=0) + margin - model.origin) / model.cell).astype(int) + 1
    lo = np.clip(lo, 0, model.height.shape)
    hi = np.clip(hi, 0, model.height.shape)
    patch = model.height[lo[0]:hi[0], lo[1]:hi[1]]
    known = patch[np.isfinite(patch)]
    if len(known) < 4:
        return under
    return min(under, float(np.percentile(known, 25)))


def face_fill(points: np.ndarray, box: np.ndarray, spacing: float) -> float:
    """Fraction of the box's side view (length x height) covered by points, in [0, 1].

    points (N, 3) and box (7,) in one frame; ``spacing`` (m) is the expected
    distance between neighbouring returns at the object's range, so the
    figure does not depend on range: a car's flank or rear is ~1, a bicycle's
    frame and a person's legs are much less.
    """
    c, s = np.cos(box[6]), np.sin(box[6])
    u = c * (points[:, 0] - box[0]) + s * (points[:, 1] - box[1])
    z = points[:, 2]
    cell = max(0.12, 2.0 * spacing)
    iu = np.floor((u - u.min()) / cell).astype(np.int64)
    iz = np.floor((z - z.min()) / cell).astype(np.int64)
    total = (iu.max() + 1) * (iz.max() + 1)
    return float(len(np.unique(iu * (iz.max() + 1) + iz)) / max(total, 1))


def highest_elevation(points: np.ndarray, min_range: float = 3.0) -> float | None:
    """Largest elevation angle (rad) of (N, 3) sensor-relative points at least ``min_range`` m away (xy), or None.

    Over a whole sweep it is the sensor's highest laser: an object whose own
    highest return lies there may reach above it, where no laser looks.
    """
    r2 = points[:, 0] ** 2 + points[:, 1] ** 2
    far = r2 >= max(min_range, 1e-6) ** 2
    if not far.any():
        return None
    k = int(np.argmax(points[far, 2] / np.sqrt(r2[far])))  # tan is monotonic: one arctan, not one per point
    return float(np.arctan2(points[far, 2][k], np.sqrt(r2[far][k])))


def above_of(pts: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """Height above ground (N,) of (N, 3) points with ground heights (N,)."""
    return pts[:, 2] - ground


def band_clusters(xy: np.ndarray, above: np.ndarray, cell: float, band_top: float) -> np.ndarray:
    """Cluster labels (N,) from the points below ``band_top`` m; higher points join by column.

    Objects touch at their bodies far more rarely than through what hangs
    over them (canopies, mirrors, signs): connectivity is decided in the body
    band, and a higher point joins the cluster whose body occupies its grid
    column (or none: -1).
    """
    low = above < band_top
    labels = np.full(len(xy), -1, dtype=np.int64)
    if not low.any():
        return labels
    labels[low] = cluster_bev(xy[low], cell)
    if (~low).any():
        keys_low = _cell_keys(xy[low], cell)
        order = np.argsort(keys_low, kind="stable")
        sorted_keys, sorted_lab = keys_low[order], labels[low][order]
        keys_high = _cell_keys(xy[~low], cell)
        pos = np.clip(np.searchsorted(sorted_keys, keys_high), 0, len(sorted_keys) - 1)
        hit = sorted_keys[pos] == keys_high
        labels[np.flatnonzero(~low)[hit]] = sorted_lab[pos[hit]]
    return labels


def column_continuous(xy: np.ndarray, above: np.ndarray, cell: float, max_gap: float,
                      bin_size: float = 0.25) -> np.ndarray:
    """Which points (N,) belong to the part of their grid column that rises from the ground.

    xy (N, 2), above (N,) height above ground (m). In each ``cell`` column,
    height bins are followed upwards from the lowest occupied one while gaps
    stay below ``max_gap``; points above the first larger gap (a tree canopy
    over a parked car, a sign over a pedestrian) are dropped.
    """
    if len(xy) == 0:
        return np.zeros(0, dtype=bool)
    keys = _cell_keys(xy, cell)
    uniq, inv = np.unique(keys, return_inverse=True)
    nb = int(np.ceil(above.max() / bin_size)) + 1
    b = np.clip((above / bin_size).astype(np.int64), 0, nb - 1)
    occ = np.zeros((len(uniq), nb), dtype=bool)
    occ[inv, b] = True
    reach = np.zeros_like(occ)
    gap_bins = max(1, int(round(max_gap / bin_size)))
    started = np.zeros(len(uniq), dtype=bool)
    last = np.full(len(uniq), -10**6)
    for k in range(nb):
        ok = occ[:, k] & (~started | (k - last <= gap_bins))
        reach[:, k] = ok
        started |= occ[:, k]
        last = np.where(ok, k, last)
    return reach[inv, b]


def _cell_keys(xy: np.ndarray, cell: float) -> np.ndarray:
    """One int64 key per (N, 2) position's grid column (the sensor-centred grid)."""
    ij = np.floor(xy / cell).astype(np.int64) + (1 << 20)
    return ij[:, 0] * (1 << 21) + ij[:, 1]
