"""Is a cluster read as a vehicle plausibly one? Rejects poles, trunks and walls by their shape.

Size classes alone read a lamp post (0.2 m wide, 3 m tall) as a truck seen
end-on, and a stretch of building facade (a flat face 3-10 m long whose top
the sensor's highest beam cuts) as a truck or bus seen side-on. Two physical
facts of a box-shaped vehicle separate most of them:

* it shows at least ``min_face`` metres of some face: a narrower cluster is
  a pole or a trunk (or a sliver of an occluded vehicle, which no box fits);
* a box seen from beyond the end of one of its faces shows its other face
  too. A cluster that is a single vertical plane (thinner than
  ``thickness``) is a vehicle only when the sensor sees it roughly square on
  (a rear seen from behind, a flank seen from abeam). Seen past its end by
  more than ``oblique`` radians it is a wall or a fence. A single plane
  longer than the widest vehicle (a flank, not a rear) seen abeam is
  ambiguous (a bus beside the sensor, or a facade): kept, but ``doubtful``.
* a person, or a rider on a bicycle, is a body 0.3-0.6 m deep from any side:
  a cluster longer than ``small_min_length`` that is a plane thinner than
  ``small_thickness`` seen well past its end is a piece of wall, not a person.

Coordinates are sensor-relative (the sensor at the origin), metres.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_VEHICLE_WIDTH", "plane_view", "small_plausibility", "vehicle_plausibility"]

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
    """``"ok"``, ``"doubtful"`` or ``"reject"`` for a cluster (N, 2) read as a vehicle (see module)."""
    length, thick, past = plane_view(xy)
    if length < min_face:
        return "reject"
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
