"""The ``onnx`` detector: runs a user-supplied ONNX model with onnxruntime (CPU).

The model contract is in docs/prelabel-models.md: input ``points`` float32
(N, 4) ``x, y, z, intensity`` in the **ego** frame; outputs ``boxes`` (M, 7)
in the ego frame, ``scores`` (M,) and ``labels`` (M,) int indices into the
model's class names (metadata ``class_names``, a JSON list, or the
``class_names`` option). Nothing is downloaded: the user gives the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lidarlabel.core.boxes import count_points_in_boxes, normalize_yaw
from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.core.transforms import invert_pose, transform_points, yaw_of
from lidarlabel.errors import InputError
from lidarlabel.prelabel.detector import Detections, FrameData

__all__ = ["OnnxDetector", "category_of"]

_RENAME = {"bicycle": "cyclist"}


def _detection_class(category: str, ontology: Ontology) -> str | None:
    dc = ontology.category(category).detection_class if category in ontology else None
    return _RENAME.get(dc, dc) if dc else None


def category_of(name: str, ontology: Ontology) -> str | None:
    """Ontology category for a model class name: a category name itself or a detection class."""
    if name in ontology:
        return name
    for cat in ontology.categories:
        if _detection_class(cat, ontology) == name or ontology.category(cat).detection_class == name:
            return cat
    return None


class OnnxDetector:
    """Detector backed by an ONNX model file (see the module docstring for the contract)."""

    name = "onnx"

    def __init__(self, model: str | Path, class_names: list[str] | None = None, min_score: float = 0.1,
                 ontology: Ontology | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(model)
        if not path.is_file():
            raise InputError(f"{path}: no such ONNX model file")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if "points" not in inputs:
            raise InputError(f"{path}: inputs: expected one named 'points', got {sorted(inputs)}")
        missing = {"boxes", "scores", "labels"} - outputs
        if missing:
            raise InputError(f"{path}: outputs: expected 'boxes', 'scores', 'labels', missing {sorted(missing)}")
        if class_names is None:
            meta = self.session.get_modelmeta().custom_metadata_map.get("class_names")
            if meta is None:
                raise InputError(f"{path}: metadata class_names: expected a JSON list of class names, got none")
            try:
                class_names = json.loads(meta)
            except ValueError:
                raise InputError(f"{path}: metadata class_names: expected a JSON list, got {meta[:40]!r}") from None
        self.ontology = ontology or default_ontology()
        self.categories = [category_of(str(n), self.ontology) for n in class_names]
        unknown = [n for n, c in zip(class_names, self.categories) if c is None]
        if unknown:
            raise InputError(f"{path}: class_names: unknown classes {unknown} (not in the ontology)")
        self.path = path
        self.min_score = float(min_score)
        self.timings: dict[str, float] = {"inference": 0.0, "decode": 0.0}

    def detect(self, frame: FrameData) -> Detections:
        """Run the model on one frame; boxes come back in the world frame."""
        t0 = time.perf_counter()
        ego_from_world = invert_pose(frame.world_from_ego)
        pts_ego = transform_points(ego_from_world, np.asarray(frame.points_world, dtype=float)[:, :3])
        inten = np.zeros(len(pts_ego), dtype=np.float32)
        if frame.features is not None and "intensity" in frame.point_fields:
            inten = frame.features[:, frame.point_fields.index("intensity")].astype(np.float32)
        feed = np.c_[pts_ego, inten].astype(np.float32)
        boxes, scores, labels = self.session.run(["boxes", "scores", "labels"], {"points": feed})
        t1 = time.perf_counter()
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 7)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        labels = np.asarray(labels).reshape(-1).astype(np.int64)
        if not (len(boxes) == len(scores) == len(labels)):
            raise InputError(f"{self.path}: outputs: boxes, scores and labels must have the same length, "
                             f"got {len(boxes)}, {len(scores)}, {len(labels)}")
        ok = (scores >= self.min_score) & np.isfinite(boxes).all(axis=1) & (boxes[:, 3:6] > 0).all(axis=1)
        ok &= (labels >= 0) & (labels < len(self.categories))
        boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
        world = boxes.copy()
        if len(world):
            world[:, :3] = transform_points(frame.world_from_ego, boxes[:, :3])
            world[:, 6] = normalize_yaw(boxes[:, 6] + yaw_of(frame.world_from_ego))
        cats = [self.categories[i] for i in labels]
        det = Detections(world, scores, cats, count_points_in_boxes(frame.points_world, world))
        classes = [_detection_class(c, self.ontology) or c for c in cats]
        det.extra["detection_class"] = classes
        self.timings["inference"] += t1 - t0
        self.timings["decode"] += time.perf_counter() - t1
        return det
