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


@dataclass
class TrackerOptions:
    """Birth, death and gating rules."""

    max_age: int = 3
    min_hits: int = 2
    gate_scale: float = 1.0
    measurement_sigma: float = 0.3


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

    def predict(self, t_us: int) -> np.ndarray:
        dt = (t_us - self.t) / 1e6
        F, Q = cv_matrices(dt, ACCEL.get(self.cls, 3.0))
        return F @ self.x, F @ self.P @ F.T + Q

    def update(self, obs: Observation, sigma: float) -> None:
        x, P = self.predict(obs.timestamp_us)
        R = np.eye(2) * sigma**2
        S = _H @ P @ _H.T + R
        K = P @ _H.T @ np.linalg.inv(S)
        self.x = x + K @ (obs.box[:2] - _H @ x)
        self.P = (np.eye(4) - K @ _H) @ P
        self.t = obs.timestamp_us
        self.obs[obs.frame] = obs
        self.misses = 0
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
        obs = [Observation(frame, timestamp_us, det.boxes[k], observed[k], float(det.scores[k]),
                           classes[k], int(det.num_points[k]), np.asarray(sensor, dtype=float),
                           det.categories[k], float(fills[k]))
               for k in range(len(det))]
        preds = [t.predict(timestamp_us)[0][:2] for t in self._live]
        assigned_t: set[int] = set()
        assigned_d: set[int] = set()
        if preds and obs:
            P = np.array(preds)
            D = np.array([ob.box[:2] for ob in obs])
            cost = np.linalg.norm(P[:, None] - D[None], axis=2)
            for i, t in enumerate(self._live):
                for j, ob in enumerate(obs):
                    gate = max(GATES.get(t.cls, 3.0), GATES.get(ob.detection_class, 3.0)) * o.gate_scale
                    if _GROUP.get(t.cls) != _GROUP.get(ob.detection_class):
                        cost[i, j] += 1.0
                    if cost[i, j] > gate:
                        cost[i, j] = 1e6
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
