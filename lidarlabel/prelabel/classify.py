"""Category of a cluster from its size, height and shape statistics.

Each detection class has a typical range of (length, width, height) in metres
(from the published nuScenes box statistics, not from any synthetic scene) and
is mapped to one ontology category. A cluster's observed extents are compared
with each range: a side seen *shorter* than the range is cheap (occlusion and
partial views hide parts of objects), a side seen *longer* is expensive (an
object cannot be bigger than what it is). The cheapest class wins if its cost
is low enough; otherwise the cluster is background (walls, trees, poles, bushes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.core.ontology import Ontology, default_ontology

__all__ = ["CLASS_RANGES", "ClassRange", "Classification", "classify_extents", "long_vehicle_category",
           "nearest_by_length", "size_prior", "two_wheeler_category"]


@dataclass(frozen=True)
class ClassRange:
    """Typical sorted extents of one class: (min, max) of length, width, height (m)."""

    category: str
    length: tuple[float, float]
    width: tuple[float, float]
    height: tuple[float, float]


#: Class ranges (nuScenes train statistics, roughly the 2nd-98th percentiles).
CLASS_RANGES: dict[str, ClassRange] = {
    "car": ClassRange("vehicle.car", (3.3, 5.6), (1.5, 2.2), (1.25, 2.2)),
    "truck": ClassRange("vehicle.truck", (5.3, 12.5), (2.0, 2.9), (2.2, 4.2)),
    "bus": ClassRange("vehicle.bus.rigid", (9.0, 14.0), (2.4, 3.2), (2.7, 4.2)),
    "pedestrian": ClassRange("human.pedestrian.adult", (0.3, 1.1), (0.3, 0.95), (1.0, 2.1)),
    "cyclist": ClassRange("vehicle.bicycle", (1.2, 2.3), (0.35, 1.0), (1.0, 2.1)),
}

_OVER = 0.12  # relative excess over the max that costs 1
_UNDER_SIDE = 0.9  # relative shortfall of a horizontal side that costs 1 (partial views)
_UNDER_HEIGHT = 0.35  # relative shortfall in height that costs 1 (tops missed far away)
_UNDER_SMALL = 0.5  # people and bicycles are rarely cut by occlusion as much as vehicles
_FACE = 0.8  # m: a cluster thinner than this shows one face only
_FACE_COST = 0.3  # cost of assuming the unseen length of a vehicle seen end-on
_SQUARE_TO_SIGHT = np.deg2rad(50.0)
_SOLID = 0.75  # side-view fill above which a cluster is no bicycle frame
VEHICLES = ("car", "truck", "bus")
SMALL = ("pedestrian", "cyclist")
MAX_COST = 2.0


@dataclass(frozen=True)
class Classification:
    """Result for one cluster: detection class, ontology category, cost and confidence in [0, 1].

    ``across`` is True when the longer observed side is the object's *width*
    (a vehicle seen only from its front or rear): its heading is then
    perpendicular to that side.
    """

    detection_class: str
    category: str
    cost: float
    confidence: float
    across: bool = False


def _range_cost(obs: float, lo: float, hi: float, under: float) -> float:
    if obs > hi:
        return ((obs - hi) / (hi * _OVER)) ** 2
    if obs < lo:
        return ((lo - obs) / (lo * under)) ** 2
    return 0.0


def class_costs(length: float, width: float, height: float, fill: float = 0.5,
                ranges: dict[str, ClassRange] = CLASS_RANGES, face_to_sight: float = np.pi / 2,
                ) -> dict[str, tuple[float, bool]]:
    """Cost (and the ``across`` reading) of each class for sorted observed extents, metres.

    ``fill``: the side-view coverage of the cluster (see ``face_fill``).
    A vehicle that shows a single face no longer than its width is also read
    end-on (the face is its front or rear) when that face is roughly square to
    the line of sight (``face_to_sight``, radians in [0, pi/2], > 50 degrees):
    the rear of a car ahead is; the occluded flank of a parked car seen along
    the road is not. The cheaper reading wins.
    """
    out = {}
    for name, r in ranges.items():
        under = _UNDER_SMALL if name in SMALL else _UNDER_SIDE
        h = _range_cost(height, *r.height, _UNDER_HEIGHT)
        along = _range_cost(length, *r.length, under) + _range_cost(width, *r.width, under) + h
        best = (along, False)
        if name in VEHICLES and width < _FACE and face_to_sight > _SQUARE_TO_SIGHT:
            end_on = _range_cost(length, *r.width, under) + h + _FACE_COST
            if end_on < along:
                best = (end_on, True)
        if name == "cyclist" and fill > _SOLID:
            best = (best[0] + 10.0 * (fill - _SOLID), best[1])
        out[name] = best
    return out


def classify_extents(
    length: float, width: float, height: float, fill: float = 0.5,
    ranges: dict[str, ClassRange] = CLASS_RANGES, max_cost: float = MAX_COST,
    face_to_sight: float = np.pi / 2,
) -> Classification | None:
    """Best class for observed extents (m; length is the longer horizontal side), or None.

    ``confidence`` combines how well the best class fits (exp(-cost)) with its
    margin over the runner-up, so ambiguous shapes score lower.
    """
    length, width = max(length, width), min(length, width)
    costs = class_costs(length, width, height, fill, ranges, face_to_sight)
    names = sorted(costs, key=lambda k: costs[k][0])
    best = names[0]
    cost, across = costs[best]
    if cost > max_cost:
        return None
    second = costs[names[1]][0] if len(names) > 1 else np.inf
    margin = 1.0 - np.exp(-(second - cost))
    conf = float(np.exp(-cost) * (0.5 + 0.5 * margin))
    return Classification(best, ranges[best].category, float(cost), conf, across)


def size_prior(detection_class: str, ontology: Ontology | None = None,
               ranges: dict[str, ClassRange] = CLASS_RANGES) -> tuple[float, float, float]:
    """Default (length, width, height) of a class: the ontology's default size of its category."""
    onto = ontology or default_ontology()
    cat = ranges[detection_class].category
    if cat in onto:
        return tuple(float(v) for v in onto.category(cat).default_size)  # type: ignore[return-value]
    r = ranges[detection_class]
    return (sum(r.length) / 2, sum(r.width) / 2, sum(r.height) / 2)


def nearest_by_length(length: float, categories: tuple[str, ...], ontology: Ontology | None = None) -> str:
    """The one of ``categories`` whose ontology default length (m) is nearest ``length`` (m)."""
    onto = ontology or default_ontology()
    return min(categories, key=lambda c: abs(length - onto.default_size(c)[0]))


def two_wheeler_category(length: float, ontology: Ontology | None = None) -> str:
    """``vehicle.bicycle`` or ``vehicle.motorcycle``: the one whose default length is nearer ``length`` (m).

    Both share the detector's two-wheeler class (a frame and a rider, 1.2-2.3 m
    long), but a motorcycle is longer (nuScenes means 2.11 m against 1.70 m);
    a track's length (the 90th percentile of its best frames' outline spans,
    padded by the sampling gap of one sweep) tells them apart where one
    frame's partial outline could not. The width does not: a rider's knees and
    elbows widen a bicycle's outline to a motorcycle's. A two-wheeler seen only
    end-on measures short and stays a bicycle.
    """
    return nearest_by_length(length, ("vehicle.bicycle", "vehicle.motorcycle"), ontology)


def long_vehicle_category(length: float, ontology: Ontology | None = None) -> str:
    """``vehicle.truck`` or ``vehicle.bus.rigid`` for a track of the truck class, by its length (m).

    The truck and bus classes overlap in size (a 10-12 m box fits both), so
    the class cost cannot choose; their default lengths can (nuScenes means
    6.93 m and 11.0 m: a truck track measured longer than ~9 m is a bus).
    A bus seen only in part measures short and stays a truck.
    """
    return nearest_by_length(length, ("vehicle.truck", "vehicle.bus.rigid"), ontology)
