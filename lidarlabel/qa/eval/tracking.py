"""Tracking metrics on label documents: CLEAR MOT (MOTA, ID switches) and IDF1, per class.

- A predicted box can match a ground-truth box of the same class in the same
  frame when their 3D IoU reaches :data:`~lidarlabel.qa.eval.classes.TRACKING_IOU`.
- Per frame, a ground-truth track keeps its previous partner when they still
  match (CLEAR MOT); the rest is assigned by the Hungarian method on 1 - IoU.
- An ID switch is a ground-truth track matched to a different predicted id than
  at its previous match. MOTA = 1 - (FN + FP + IDSW) / GT boxes.
- IDF1 = 2 IDTP / (GT boxes + predicted boxes), IDTP from the best one-to-one
  assignment of whole tracks (Ristani et al. 2016).
- Don't-care ground truth (too few points, too far) is neither a miss nor, when
  matched, makes a false positive; predictions with ``score < min_score`` are dropped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from lidarlabel.core.boxes import iou3d_matrix
from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.ontology import Ontology
from lidarlabel.qa.eval.boxes import flatten
from lidarlabel.qa.eval.classes import TRACKING_IOU

__all__ = ["TrackingConfig", "evaluate_tracking"]


@dataclass
class TrackingConfig:
    """IoU thresholds per class, don't-care rules and the score cut of predictions."""

    iou: dict[str, float] = field(default_factory=lambda: dict(TRACKING_IOU))
    min_points: int = 0
    max_range: float = np.inf
    min_score: float = 0.0


def _clear_mot(frames, g_ids, g_boxes, g_valid, p_ids, p_boxes, thr):
    """CLEAR MOT counts plus per (gt id, pred id) co-occurrence counts for IDF1."""
    last: dict = {}
    fn = fp = idsw = tp = n_gt = n_pred = 0
    pair: dict = defaultdict(int)
    for f in frames:
        gs, ps = np.flatnonzero(g_ids[0] == f), np.flatnonzero(p_ids[0] == f)
        if len(gs) and len(ps):
            iou = iou3d_matrix(g_boxes[gs], p_boxes[ps])
        else:
            iou = np.zeros((len(gs), len(ps)))
        valid = g_valid[gs]
        hit = (iou >= thr) & valid[:, None]
        for a, b in zip(*np.nonzero(hit)):
            pair[(g_ids[1][gs[a]], p_ids[1][ps[b]])] += 1
        matches: list[tuple[int, int]] = []
        used_p: set[int] = set()
        for a in np.flatnonzero(valid):  # CLEAR MOT: keep the previous partner while it matches
            prev = last.get(g_ids[1][gs[a]])
            for b in np.flatnonzero(hit[a]):
                if p_ids[1][ps[b]] == prev and b not in used_p:
                    matches.append((a, b))
                    used_p.add(b)
                    break
        done_g = {a for a, _ in matches}
        ra = [a for a in np.flatnonzero(valid) if a not in done_g]
        rb = [b for b in range(len(ps)) if b not in used_p]
        if ra and rb:
            sub = iou[np.ix_(ra, rb)]
            cost = np.where(sub >= thr, 1.0 - sub, 1e6)
            for i, j in zip(*linear_sum_assignment(cost)):
                if cost[i, j] < 1e6:
                    a, b = ra[i], rb[j]
                    gid = g_ids[1][gs[a]]
                    if gid in last and last[gid] != p_ids[1][ps[b]]:
                        idsw += 1
                    matches.append((a, b))
                    used_p.add(b)
        for a, b in matches:
            last[g_ids[1][gs[a]]] = p_ids[1][ps[b]]
        tp += len(matches)
        n_valid = int(valid.sum())
        fn += n_valid - len(matches)
        n_gt += n_valid
        for b in range(len(ps)):
            if b in used_p:
                n_pred += 1
            elif not np.any(~valid & (iou[:, b] >= thr)):  # overlapping a don't-care box is no FP
                fp += 1
                n_pred += 1
    return {"tp": tp, "fn": fn, "fp": fp, "idsw": idsw, "num_gt": n_gt, "num_pred": n_pred}, pair


def evaluate_tracking(
    gt: LabelDocument, pred: LabelDocument, ego_xy: np.ndarray | None = None,
    config: TrackingConfig | None = None, ontology: Ontology | None = None,
) -> dict:
    """MOTA, IDF1, ID switches (and per 100 track-frames), FP, FN per class (JSON-ready dict)."""
    cfg = config or TrackingConfig()
    g, p = flatten(gt, ontology), flatten(pred, ontology)
    p = p.select(p.score >= cfg.min_score)

    def dist(fl):
        if ego_xy is None or len(fl.frame) == 0:
            return np.hypot(fl.boxes[:, 0], fl.boxes[:, 1])
        return np.hypot(*(fl.boxes[:, :2] - ego_xy[np.clip(fl.frame, 0, len(ego_xy) - 1)]).T)

    gd = dist(g)
    g_valid_all = (gd <= cfg.max_range) & ((g.num_points < 0) | (g.num_points >= cfg.min_points))
    out: dict = {"classes": {}}
    for cls in sorted(set(g.cls.tolist())):
        thr = cfg.iou.get(cls, 0.25)
        gm, pm = g.cls == cls, p.cls == cls
        gsel, psel = g.select(gm), p.select(pm)
        pk = dist(psel) <= cfg.max_range
        psel = psel.select(pk)
        frames = np.unique(np.concatenate([gsel.frame, psel.frame]))
        counts, pair = _clear_mot(frames, (gsel.frame, gsel.track), gsel.boxes, g_valid_all[gm],
                                  (psel.frame, psel.track), psel.boxes, thr)
        idtp = 0
        if pair:
            gids = sorted({k[0] for k in pair})
            pids = sorted({k[1] for k in pair})
            m = np.zeros((len(gids), len(pids)))
            gix = {k: i for i, k in enumerate(gids)}
            pix = {k: i for i, k in enumerate(pids)}
            for (a, b), n in pair.items():
                m[gix[a], pix[b]] = n
            r, c = linear_sum_assignment(-m)
            idtp = int(m[r, c].sum())
        n_gt, n_pred = counts["num_gt"], counts["num_pred"]
        counts.update(
            mota=1.0 - (counts["fn"] + counts["fp"] + counts["idsw"]) / n_gt if n_gt else float("nan"),
            idf1=2.0 * idtp / (n_gt + n_pred) if n_gt + n_pred else float("nan"),
            idsw_per_100=100.0 * counts["idsw"] / n_gt if n_gt else float("nan"),
            num_gt_tracks=int(len(set(gsel.track[g_valid_all[gm]].tolist()))),
            num_pred_tracks=int(len(set(psel.track.tolist()))),
        )
        out["classes"][cls] = counts
    out["config"] = {"iou": cfg.iou, "min_points": cfg.min_points, "min_score": cfg.min_score,
                     "max_range": None if np.isinf(cfg.max_range) else cfg.max_range}
    return out
