"""Is a cluster read as a vehicle plausibly one? Rejects poles, trunks and walls by their shape.

Size classes alone read a lamp post (0.2 m wide, 3 m tall) as a truck seen
end-on, and a stretch of building facade (a flat face 3-10 m long whose top
the sensor's highest beam cuts) as a truck or bus seen side-on. Two physical
facts of a box-shaped vehicle separate most of them:

* it shows at least ``min_face`` metres of some face: a narrower cluster is
  a pole, a trunk or a person (or a sliver of an occluded vehicle, which no
  box fits), and is read again among the other classes;
* a box seen from beyond the end of one of its faces shows its other face
  too. A cluster that is a single vertical plane (thinner than
  ``thickness``) is a vehicle only when the sensor sees it roughly square on
  (a rear seen from behind, a flank seen from abeam). Seen past its end by
  more than ``oblique`` radians it is a wall or a fence. A single plane
  longer than the widest vehicle (a flank, not a rear) seen abeam is
  ambiguous (a bus beside the sensor, or a facade): kept, but ``doubtful``.
* a person's head is narrower than the shoulders; a pole or a tree trunk is
  as wide at its top as lower down. A well-seen "pedestrian" (>= 30 points)
  whose top 0.25 m is at least 0.8 times as wide (across the line of sight)
  as its body 0.5-1.1 m below the top is ``doubtful`` (``head_ratio``);
* a person, or a rider on a bicycle, is a body 0.3-0.6 m deep from any side:
  a cluster longer than ``small_min_length`` that is a plane thinner than
  ``small_thickness`` seen well past its end is a piece of wall, not a person.

Coordinates are sensor-relative (the sensor at the origin), metres.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_VEHICLE_WIDTH", "head_ratio", "plane_view", "small_plausibility", "vehicle_plausibility"]

MAX_VEHICLE_WIDTH = 2.9  # m: the widest vehicle class (trucks); a longer single face is a flank or a wall


def plane_view(xy: np.ndarray) -> tuple[float, float, float]:
    """(length, thickness, angle past the end) of a cluster's (N, 2) ground-plane points.

    Length and thickness are the extents along and across the principal axis
    (m); the angle (radians, in [0, pi/2]) is how far past the nearer end of
    that extent the sensor (the origin) looks at it: 0 when the sensor is
    abeam of the face, near pi/2 when it looks along the face.
    """
    if len(xy) < 3:
        return 0.0, 0.0, 0.0
    mu = xy.mean(axis=0)
    d = xy - mu
    cov = d.T @ d / len(xy)
    _, vecs = np.linalg.eigh(cov)
    axis, normal = vecs[:, 1], vecs[:, 0]
    along = xy @ axis
    across = xy @ normal
    past = max(float(along.min()), -float(along.max()), 0.0)
    return float(np.ptp(along)), float(np.ptp(across)), float(np.arctan2(past, abs(float(mu @ normal))))


def vehicle_plausibility(xy: np.ndarray, min_face: float = 0.5, thickness: float = 0.3,
                         oblique: float = np.deg2rad(35.0)) -> str:
    """``"ok"``, ``"doubtful"``, ``"narrow"`` (no vehicle, maybe a person) or ``"reject"`` (a wall).

    xy (N, 2): the ground-plane points of a cluster read as a vehicle (see module).
    """
    length, thick, past = plane_view(xy)
    if length < min_face:
        return "narrow"
    if thick >= thickness:
        return "ok"
    if past > oblique:
        return "reject"
    return "doubtful" if length > MAX_VEHICLE_WIDTH else "ok"


def small_plausibility(xy: np.ndarray, thickness: float = 0.15, min_length: float = 0.4,
                       oblique: float = np.deg2rad(50.0)) -> str:
    """``"ok"`` or ``"reject"`` for a cluster (N, 2) read as a pedestrian or a cyclist (see module).

    ``oblique`` is wider than a vehicle's: a sparse sensor (32 beams) samples
    a person's front as a short, nearly flat arc of 2-3 points per beam.
    """
    length, thick, past = plane_view(xy)
    if length > min_length and thick < thickness and past > oblique:
        return "reject"
    return "ok"


def head_ratio(points: np.ndarray) -> float | None:
    """Width of the top 0.25 m over the width 0.5-1.1 m below the top, across the line of sight.

    points (N, 3) sensor-relative, metres; None when either band has fewer than 3 points.
    """
    xy = points[:, :2]
    mu = xy.mean(axis=0)
    sight = mu / max(float(np.linalg.norm(mu)), 1e-6)
    w = xy @ np.array([-sight[1], sight[0]])
    top = float(points[:, 2].max())
    head = points[:, 2] > top - 0.25
    body = (points[:, 2] > top - 1.1) & (points[:, 2] < top - 0.5)
    if head.sum() < 3 or body.sum() < 3:
        return None
    return float(np.ptp(w[head]) / max(float(np.ptp(w[body])), 1e-3))
