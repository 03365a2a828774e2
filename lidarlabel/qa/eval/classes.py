"""Evaluation classes: ontology categories mapped to detection classes, and their IoU thresholds."""

from __future__ import annotations

from lidarlabel.core.ontology import Ontology, default_ontology

__all__ = ["DETECTION_IOU", "TRACKING_IOU", "eval_class"]

#: IoU threshold of a true positive per class (3D and bird's-eye): 0.7 for large
#: vehicles, 0.5 for the small and vulnerable classes (KITTI / Waymo convention).
DETECTION_IOU: dict[str, float] = {
    "car": 0.7, "truck": 0.7, "bus": 0.7, "trailer": 0.7, "construction_vehicle": 0.7,
    "pedestrian": 0.5, "cyclist": 0.5, "motorcycle": 0.5, "barrier": 0.5, "traffic_cone": 0.5,
}

#: 3D IoU that links a predicted box to a ground-truth box for the tracking
#: figures (AB3DMOT's KITTI setting: 0.5 for vehicles, 0.25 for the rest).
TRACKING_IOU: dict[str, float] = {k: (0.5 if v >= 0.7 else 0.25) for k, v in DETECTION_IOU.items()}

_RENAME = {"bicycle": "cyclist"}


def eval_class(category: str, ontology: Ontology | None = None) -> str | None:
    """Evaluation class of an ontology category (``vehicle.bicycle`` -> ``cyclist``), or None.

    Uses the category's ``detection_class``; categories without one are not evaluated.
    """
    onto = ontology or default_ontology()
    if category not in onto:
        return None
    dc = onto.category(category).detection_class
    if dc is None:
        return None
    return _RENAME.get(dc, dc)
