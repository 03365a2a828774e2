"""Detection metrics on label documents: AP (3D and bird's-eye IoU), precision, recall, distance bands.

- Matching: per frame and class, predictions in decreasing score order each take
  the unmatched ground-truth box of highest IoU if it reaches the class
  threshold (:data:`~lidarlabel.qa.eval.classes.DETECTION_IOU`).
- Ignored ground truth: boxes with fewer than ``min_points`` LiDAR points or
  farther than ``max_range`` from the ego are *don't care*: they count neither
  as misses nor, when matched, as false positives. Unmatched predictions beyond
  ``max_range`` are ignored too.
- AP: 101-point interpolation (COCO / KITTI-R40 style): the mean over recall
  levels 0, 0.01, ..., 1 of the best precision at that recall or above.
- Precision and recall are those of all predictions (the end of the curve).
- Distance bands 0-30, 30-50, 50+ m: a ground-truth box and its match fall in
  the band of the ground truth's xy distance to the ego position of its frame;
  a false positive falls in the band of its own distance. The ego path comes
  from the scene when given, otherwise the world origin stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidarlabel.core.boxes import bev_iou_matrix, iou3d_matrix
from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.ontology import Ontology
from lidarlabel.qa.eval.boxes import FlatBoxes, flatten
from lidarlabel.qa.eval.classes import DETECTION_IOU

__all__ = ["BANDS", "DetectionConfig", "average_precision", "evaluate_detection", "match_greedy"]

BANDS: dict[str, tuple[float, float]] = {"0-30": (0.0, 30.0), "30-50": (30.0, 50.0), "50+": (50.0, np.inf)}
_IOU = {"3d": iou3d_matrix, "bev": bev_iou_matrix}

TP, FP, IGNORED = 1, 0, -1


@dataclass
class DetectionConfig:
    """What counts: IoU thresholds per class, ignored ground truth, AP interpolation points."""

    iou: dict[str, float] = field(default_factory=lambda: dict(DETECTION_IOU))
    min_points: int = 0
    max_range: float = np.inf
    ap_points: int = 101


def match_greedy(iou: np.ndarray, scores: np.ndarray, gt_valid: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by score of P predictions to G ground-truth boxes.

    iou (P, G); scores (P,); gt_valid (G,) bool (False: don't care). Returns
    status (P,) in {1 TP, 0 FP, -1 ignored} and the matched gt index (P,) (-1: none).
    """
    P, G = iou.shape
    status = np.full(P, FP, dtype=np.int64)
    match = np.full(P, -1, dtype=np.int64)
    taken = np.zeros(G, dtype=bool)
    for p in np.argsort(-scores, kind="stable"):
        if G == 0:
            break
        row = np.where(taken | ~gt_valid, -1.0, iou[p])
        g = int(np.argmax(row))
        if row[g] >= thr:
            status[p], match[p], taken[g] = TP, g, True
            continue
        row = np.where(gt_valid, -1.0, iou[p])
        g = int(np.argmax(row))
        if row[g] >= thr:
            status[p], match[p] = IGNORED, g
    return status, match


def average_precision(scores: np.ndarray, is_tp: np.ndarray, num_gt: int, points: int = 101) -> float:
    """Interpolated AP of counted predictions (scores (P,), is_tp (P,) bool) against num_gt boxes."""
    if num_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(is_tp, dtype=float)[order]
    ctp = np.cumsum(tp)
    precision = ctp / np.arange(1, len(tp) + 1)
    recall = ctp / num_gt
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    levels = np.linspace(0.0, 1.0, points)
    idx = np.searchsorted(recall, levels, side="left")
    vals = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(vals.mean())


def _distances(flat: FlatBoxes, ego_xy: np.ndarray | None) -> np.ndarray:
    if ego_xy is None or len(flat.frame) == 0:
        return np.hypot(flat.boxes[:, 0], flat.boxes[:, 1])
    f = np.clip(flat.frame, 0, len(ego_xy) - 1)
    return np.hypot(*(flat.boxes[:, :2] - ego_xy[f]).T)


def _summary(scores: np.ndarray, is_tp: np.ndarray, num_gt: int, points: int) -> dict:
    ntp = int(np.sum(is_tp))
    return {
        "ap": average_precision(scores, is_tp, num_gt, points),
        "precision": ntp / len(scores) if len(scores) else float("nan"),
        "recall": ntp / num_gt if num_gt else float("nan"),
        "num_gt": int(num_gt),
        "num_pred": int(len(scores)),
        "tp": ntp,
    }


def evaluate_detection(
    gt: LabelDocument, pred: LabelDocument, ego_xy: np.ndarray | None = None,
    config: DetectionConfig | None = None, ontology: Ontology | None = None,
) -> dict:
    """Detection figures per class, IoU kind ("3d", "bev") and distance band.

    ``ego_xy`` (F, 2): the ego position of each frame in the world frame (None:
    the origin). Returns a JSON-ready dict ``{"classes": {cls: {"3d": {...,
    "bands": {...}}, "bev": {...}}}, "mean_ap": {"3d": .., "bev": ..}, "config": {...}}``.
    """
    cfg = config or DetectionConfig()
    g, p = flatten(gt, ontology), flatten(pred, ontology)
    gd, pd = _distances(g, ego_xy), _distances(p, ego_xy)
    g_valid = (gd <= cfg.max_range) & ((g.num_points < 0) | (g.num_points >= cfg.min_points))
    out: dict = {"classes": {}}
    classes = sorted(set(g.cls.tolist()) | set(p.cls.tolist()))
    for cls in classes:
        thr = cfg.iou.get(cls, 0.5)
        gi, pi = np.flatnonzero(g.cls == cls), np.flatnonzero(p.cls == cls)
        res = {}
        for kind, fn in _IOU.items():
            status = np.full(len(pi), FP, dtype=np.int64)
            mdist = np.full(len(pi), np.nan)
            for f in np.unique(np.concatenate([g.frame[gi], p.frame[pi]])):
                gs, ps = gi[g.frame[gi] == f], np.flatnonzero(p.frame[pi] == f)
                if len(ps) == 0:
                    continue
                pb = p.boxes[pi[ps]]
                iou = fn(pb, g.boxes[gs]) if len(gs) else np.zeros((len(ps), 0))
                st, m = match_greedy(iou, p.score[pi[ps]], g_valid[gs], thr)
                status[ps] = st
                mdist[ps[m >= 0]] = gd[gs[m[m >= 0]]]
            fp_counted = (status == FP) & (pd[pi] <= cfg.max_range)
            counted = (status == TP) | fp_counted
            entry = _summary(p.score[pi][counted], status[counted] == TP,
                             int(g_valid[gi].sum()), cfg.ap_points)
            bands = {}
            for name, (lo, hi) in BANDS.items():
                in_gt = g_valid[gi] & (gd[gi] >= lo) & (gd[gi] < hi)
                tp_b = (status == TP) & (mdist >= lo) & (mdist < hi)
                fp_b = fp_counted & (pd[pi] >= lo) & (pd[pi] < hi)
                sel = tp_b | fp_b
                bands[name] = _summary(p.score[pi][sel], tp_b[sel], int(in_gt.sum()), cfg.ap_points)
            entry["bands"] = bands
            res[kind] = entry
        out["classes"][cls] = res
    out["mean_ap"] = {
        kind: _nanmean([c[kind]["ap"] for c in out["classes"].values()]) for kind in _IOU
    }
    out["config"] = {"iou": cfg.iou, "min_points": cfg.min_points,
                     "max_range": None if np.isinf(cfg.max_range) else cfg.max_range,
                     "ap_interpolation": f"{cfg.ap_points}-point",
                     "ego": "scene" if ego_xy is not None else "world origin"}
    return out


def _nanmean(vals: list[float]) -> float:
    v = [x for x in vals if x == x]
    return float(np.mean(v)) if v else float("nan")
