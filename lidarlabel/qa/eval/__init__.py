"""Detection and tracking metrics on label documents (pure functions; no I/O, no Qt).

:func:`evaluate_detection` gives AP (3D and bird's-eye IoU), precision and
recall per class and distance band; :func:`evaluate_tracking` gives MOTA,
IDF1 and ID switches per class. ``lidarlabel eval`` prints both.
"""

from lidarlabel.qa.eval.classes import DETECTION_IOU, TRACKING_IOU, eval_class
from lidarlabel.qa.eval.detection import DetectionConfig, average_precision, evaluate_detection
from lidarlabel.qa.eval.tracking import TrackingConfig, evaluate_tracking

__all__ = [
    "DETECTION_IOU",
    "TRACKING_IOU",
    "DetectionConfig",
    "TrackingConfig",
    "average_precision",
    "eval_class",
    "evaluate_detection",
    "evaluate_tracking",
]
