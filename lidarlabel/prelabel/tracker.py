"""3D multi-object tracking in the world frame.

Each track carries a constant-velocity Kalman filter on its ground-plane centre
(x, y, vx, vy). Per frame, detections are assigned to predicted tracks with the
Hungarian method (``scipy.optimize.linear_sum_assignment``) on centre distance,
gated per class; unassigned detections start tentative tracks, a track is
confirmed after ``min_hits`` hits and dies after ``max_age`` missed frames.
Ids are assigned at the end in order of first appearance, so the same input
always gives the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from lidarlabel.prelabel.detector import Detections

__all__ = ["Observation", "TrackRecord", "Tracker", "TrackerOptions", "cv_matrices"]

#: Gate on centre distance (m) and process noise (m/s^2) per detection class.
GATES = {"car": 3.0, "truck": 4.0, "bus": 4.5, "pedestrian": 1.5, "cyclist": 2.5}
ACCEL = {"car": 4.0, "truck": 3.0, "bus": 3.0, "pedestrian": 2.0, "cyclist": 3.0}
_GROUP = {"car": "vehicle", "truck": "vehicle", "bus": "vehicle", "pedestrian": "vru", "cyclist": "vru"}
_CODE = {name: i + 1 for i, name in enumerate(GATES)}  # 0: any other class
_GATE_BY_CODE = np.array([3.0, *GATES.values()])
_GROUP_BY_CODE = np.array([0] + [1 if _GROUP[k] == "vehicle" else 2 for k in GATES])


@dataclass
class TrackerOptions:
    """Birth, death and gating rules."""

    max_age: int = 3
    min_hits: int = 2
    gate_scale: float = 1.0
    measurement_sigma: float = 0.3
    size_weight: float = 1.5  # metres of cost per unit |log(area ratio)| of footprints


@dataclass
class Observation:
    """One detection assigned to a track: the fitted box (7,), observed extents, score, class."""

    frame: int
    timestamp_us: int
    box: np.ndarray
    observed: np.ndarray  # (7,) the box as seen, before size priors
    score: float
    detection_class: str
    num_points: int
    sensor: np.ndarray  # (3,) sensor position, world frame
    category: str = ""
    fill: float = 0.5  # side-view coverage of the cluster (geometric detector)
    points: np.ndarray | None = None  # (N, 3) the cluster's points, world frame (geometric detector)
    top_cut: bool = False  # its highest return came from the sensor's highest laser: the top may be unseen


@dataclass
class TrackRecord:
    """A finished track: its id and observations by frame."""

    id: str
    observations: dict[int, Observation] = field(default_factory=dict)

    def frames(self) -> list[int]:
        """Sorted observed frames."""
        return sorted(self.observations)


def cv_matrices(dt: float, accel: float) -> tuple[np.ndarray, np.ndarray]:
    """Transition F (4, 4) and process noise Q (4, 4) of a constant-velocity model on (x, y, vx, vy)."""
    F = np.eye(4)
    F[0, 2] = F[1, 3] = dt
    g = np.array([[0.5 * dt * dt, 0], [0, 0.5 * dt * dt], [dt, 0], [0, dt]])
    return F, g @ g.T * accel**2


_H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])


class _Live:
    def __init__(self, key: int, obs: Observation, sigma: float) -> None:
        self.key = key
        self.x = np.array([obs.box[0], obs.box[1], 0.0, 0.0])
        self.P = np.diag([sigma**2, sigma**2, 10.0**2, 10.0**2])
        self.t = obs.timestamp_us
        self.cls = obs.detection_class
        self.obs = {obs.frame: obs}
        self.misses = 0
        self.areas = [obs.box[3] * obs.box[4]]
        self.area = self.areas[0]  # median footprint (m^2) of the last 10 boxes

    def predict(self, t_us: int) -> np.ndarray:
        dt = (t_us - self.t) / 1e6
        F, Q = cv_matrices(dt, ACCEL.get(self.cls, 3.0))
        return F @ self.x, F @ self.P @ F.T + Q

    def update(self, obs: Observation, sigma: float) -> None:
        x, P = self.predict(obs.timestamp_us)
        R = np.eye(2) * sigma**2
        S = P[:2, :2] + R
        det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
        S_inv = np.array([[S[1, 1], -S[0, 1]], [-S[1, 0], S[0, 0]]]) / det  # 2x2: no LAPACK call
        K = P[:, :2] @ S_inv
        self.x = x + K @ (obs.box[:2] - _H @ x)
        self.P = (np.eye(4) - K @ _H) @ P
        self.t = obs.timestamp_us
        self.obs[obs.frame] = obs
        self.misses = 0
        self.areas = (self.areas + [obs.box[3] * obs.box[4]])[-10:]
        self.area = float(np.median(self.areas))
        if obs.score >= 0.3:
            self.cls = obs.detection_class


class Tracker:
    """Online tracker; feed frames in order with :meth:`step`, then call :meth:`finish`."""

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._live: list[_Live] = []
        self._done: list[_Live] = []
        self._next = 0

    def step(self, frame: int, timestamp_us: int, det: Detections, sensor: np.ndarray) -> None:
        """Associate the detections of one frame (world frame) with the live tracks."""
        o = self.options
        classes = det.extra.get("detection_class") or ["car"] * len(det)
        observed = det.extra.get("observed", det.boxes)
        fills = det.extra.get("fill", np.full(len(det), 0.5))
        clouds = det.extra.get("points") or [None] * len(det)
        cut = det.extra.get("top_cut", np.zeros(len(det), dtype=bool))
        obs = [Observation(frame, timestamp_us, det.boxes[k], observed[k], float(det.scores[k]),
                           classes[k], int(det.num_points[k]), np.asarray(sensor, dtype=float),
                           det.categories[k], float(fills[k]), clouds[k], bool(cut[k]))
               for k in range(len(det))]
        if self._live:  # constant-velocity positions at this frame's time, all tracks at once
            X = np.array([t.x for t in self._live])
            dt = (timestamp_us - np.array([t.t for t in self._live], dtype=float)) / 1e6
            preds = X[:, :2] + X[:, 2:] * dt[:, None]
        else:
            preds = np.zeros((0, 2))
        assigned_t: set[int] = set()
        assigned_d: set[int] = set()
        if len(preds) and obs:
            P = preds
            D = np.array([ob.box[:2] for ob in obs])
            cost = np.linalg.norm(P[:, None] - D[None], axis=2)
            t_code = np.array([_CODE.get(t.cls, 0) for t in self._live])
            d_code = np.array([_CODE.get(ob.detection_class, 0) for ob in obs])
            gate = np.maximum(_GATE_BY_CODE[t_code][:, None], _GATE_BY_CODE[d_code][None, :]) * o.gate_scale
            same_group = _GROUP_BY_CODE[t_code][:, None] == _GROUP_BY_CODE[d_code][None, :]
            same_cls = t_code[:, None] == d_code[None, :]
            cost = cost + np.where(same_group, np.where(same_cls, 0.0, 0.5), 1.0)
            # a car-sized box should not continue a truck-sized track (occlusion swaps)
            areas = np.array([t.area for t in self._live])
            det_area = np.array([ob.box[3] * ob.box[4] for ob in obs])
            cost = cost + o.size_weight * np.abs(np.log(det_area[None, :] / areas[:, None]))
            cost[np.linalg.norm(P[:, None] - D[None], axis=2) > gate] = 1e6
            for i, j in zip(*linear_sum_assignment(cost)):
                if cost[i, j] < 1e6:
                    self._live[i].update(obs[j], o.measurement_sigma)
                    assigned_t.add(i)
                    assigned_d.add(j)
        keep = []
        for i, t in enumerate(self._live):
            if i not in assigned_t:
                t.misses += 1
            if t.misses > o.max_age:
                self._done.append(t)
            else:
                keep.append(t)
        self._live = keep
        for j, ob in enumerate(obs):
            if j not in assigned_d:
                self._live.append(_Live(self._next, ob, o.measurement_sigma))
                self._next += 1

    def finish(self, prefix: str = "p") -> list[TrackRecord]:
        """All confirmed tracks (>= ``min_hits`` observations), ids ``<prefix>0000...`` by first frame."""
        every = self._done + self._live
        self._done, self._live = [], []
        confirmed = [t for t in every if len(t.obs) >= self.options.min_hits]
        confirmed.sort(key=lambda t: (min(t.obs), t.key))
        return [TrackRecord(f"{prefix}{n:05d}", dict(sorted(t.obs.items()))) for n, t in enumerate(confirmed)]
