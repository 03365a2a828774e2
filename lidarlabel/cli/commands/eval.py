"""``lidarlabel eval GT.json PRED.json``: detection AP and tracking figures of a prediction."""

from __future__ import annotations

import argparse
import json
import math

NAME = "eval"
HELP = "score predicted labels against ground truth: AP (3D, BEV), recall, precision, MOTA, IDF1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gt", metavar="GT.json", help="ground-truth label document")
    parser.add_argument("pred", metavar="PRED.json", help="predicted label document (scores used)")
    parser.add_argument("--scene", metavar="SCENE.h5",
                        help="scene file: distances are measured from its ego path (default: world origin)")
    parser.add_argument("--min-points", type=int, default=0,
                        help="ground-truth boxes with fewer LiDAR points are don't-care (default 0)")
    parser.add_argument("--max-range", type=float, default=None,
                        help="ground truth and predictions farther from the ego are don't-care (m)")
    parser.add_argument("--track-min-score", type=float, default=0.0,
                        help="predictions below this score are left out of the tracking figures")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _fmt(x) -> str:
    return "   -  " if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:6.3f}"


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from lidarlabel.errors import InputError
    from lidarlabel.io.labels import load_document
    from lidarlabel.qa.eval import (
        DetectionConfig,
        TrackingConfig,
        evaluate_detection,
        evaluate_tracking,
    )

    gt = load_document(args.gt)
    pred = load_document(args.pred)
    if gt.scene != pred.scene:
        raise InputError(f"{args.pred}: scene: expected {gt.scene!r} (the scene of {args.gt}), got {pred.scene!r}")
    ego_xy = None
    if args.scene:
        from lidarlabel.io.scene import SceneReader

        with SceneReader.open(args.scene) as scene:
            if scene.scene_id != gt.scene:
                raise InputError(f"{args.scene}: scene id: expected {gt.scene!r}, got {scene.scene_id!r}")
            ego_xy = scene.ego_poses[:, :2, 3].copy()
    if args.min_points < 0:
        raise InputError(f"--min-points: expected an integer >= 0, got {args.min_points}")
    max_range = np.inf if args.max_range is None else float(args.max_range)
    det = evaluate_detection(gt, pred, ego_xy, DetectionConfig(min_points=args.min_points, max_range=max_range))
    trk = evaluate_tracking(gt, pred, ego_xy, TrackingConfig(min_points=args.min_points, max_range=max_range,
                                                             min_score=args.track_min_score))
    out = _clean({"gt": str(args.gt), "pred": str(args.pred), "detection": det, "tracking": trk})
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"detection ({det['config']['ap_interpolation']} AP; distances from the {det['config']['ego']})")
    print(f"{'class':12s} {'AP3D':>6s} {'APBEV':>6s} {'prec':>6s} {'recall':>6s} {'GT':>6s} {'pred':>6s}"
          "   AP3D by band " + " ".join(f"{b:>6s}" for b in ("0-30", "30-50", "50+")))
    for cls, v in det["classes"].items():
        d3, bev = v["3d"], v["bev"]
        bands = " ".join(_fmt(d3["bands"][b]["ap"]) for b in ("0-30", "30-50", "50+"))
        print(f"{cls:12s} {_fmt(d3['ap'])} {_fmt(bev['ap'])} {_fmt(d3['precision'])} {_fmt(d3['recall'])} "
              f"{d3['num_gt']:6d} {d3['num_pred']:6d}                 {bands}")
    print(f"mean AP      {_fmt(det['mean_ap']['3d'])} {_fmt(det['mean_ap']['bev'])}")
    print("tracking")
    print(f"{'class':12s} {'MOTA':>6s} {'IDF1':>6s} {'IDSW':>5s} {'per100':>6s} {'FP':>6s} {'FN':>6s} {'GT':>6s}")
    for cls, v in trk["classes"].items():
        print(f"{cls:12s} {_fmt(v['mota'])} {_fmt(v['idf1'])} {v['idsw']:5d} {_fmt(v['idsw_per_100'])} "
              f"{v['fp']:6d} {v['fn']:6d} {v['num_gt']:6d}")
    return 0
