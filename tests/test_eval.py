"""Detection and tracking metrics on hand-made label documents, and the eval command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.io.labels import save_document
from lidarlabel.qa.eval import (
    DetectionConfig,
    average_precision,
    eval_class,
    evaluate_detection,
    evaluate_tracking,
)


def doc_of(tracks: dict[str, tuple[str, dict[int, tuple]]], source: str = "sim", scene: str = "s") -> LabelDocument:
    """tracks: id -> (category, {frame: (x, y, yaw[, score[, points]])}) with car-like sizes."""
    doc = LabelDocument.new(scene, source=source, author="test")
    for tid, (cat, boxes) in tracks.items():
        size = (4.5, 1.9, 1.6) if cat.startswith("vehicle") else (0.7, 0.7, 1.75)
        bx = {}
        for f, v in boxes.items():
            score = v[3] if len(v) > 3 else None
            pts = v[4] if len(v) > 4 else 100
            bx[f] = Box(f, (v[0], v[1], 0.8), size, v[2], source="prelabel" if score is not None else "sim",
                        score=score, num_lidar_pts=pts)
        doc.tracks[tid] = Track(tid, cat, {}, bx)
    return doc


def test_eval_classes_follow_the_ontology():
    assert eval_class("vehicle.car") == "car"
    assert eval_class("vehicle.bicycle") == "cyclist"
    assert eval_class("human.pedestrian.adult") == "pedestrian"
    assert eval_class("vehicle.bus.rigid") == "bus"
    assert eval_class("animal") is None and eval_class("no.such") is None


def test_average_precision_101_point():
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    # one TP then one FP, 2 GT: recall 0.5 at precision 1, never more
    assert average_precision(np.array([0.9, 0.8]), np.array([True, False]), 2) == pytest.approx(51 / 101)
    # the FP ranked first halves the precision everywhere
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 1) == pytest.approx(0.5)
    assert average_precision(np.zeros(0), np.zeros(0, bool), 3) == 0.0
    assert np.isnan(average_precision(np.zeros(0), np.zeros(0, bool), 0))


def test_detection_perfect_shifted_and_scored():
    gt = doc_of({"a": ("vehicle.car", {0: (10, 0, 0.0), 1: (11, 0, 0.0)}),
                 "b": ("human.pedestrian.adult", {0: (5, 5, 0.0)})})
    perfect = doc_of({"x": ("vehicle.car", {0: (10, 0, 0.0, 0.9), 1: (11, 0, 0.0, 0.9)}),
                      "y": ("human.pedestrian.adult", {0: (5, 5, 0.0, 0.8)})}, source="prelabel")
    res = evaluate_detection(gt, perfect)
    for kind in ("3d", "bev"):
        assert res["classes"]["car"][kind]["ap"] == pytest.approx(1.0)
        assert res["classes"]["pedestrian"][kind]["ap"] == pytest.approx(1.0)
    # a car box 0.6 m off: BEV IoU (4.5-0.6)/(4.5+0.6) = 0.76 passes 0.7; 1.2 m off does not
    near = doc_of({"x": ("vehicle.car", {0: (10.6, 0, 0.0, 0.9), 1: (12.2, 0, 0.0, 0.9)})}, source="prelabel")
    car = evaluate_detection(gt, near)["classes"]["car"]["bev"]
    assert car["tp"] == 1 and car["recall"] == pytest.approx(0.5) and car["precision"] == pytest.approx(0.5)
    # a heading off by 90 degrees is a miss at 0.7
    turned = doc_of({"x": ("vehicle.car", {0: (10, 0, np.pi / 2, 0.9)})}, source="prelabel")
    assert evaluate_detection(gt, turned)["classes"]["car"]["3d"]["tp"] == 0
    # a wrong class is a miss for the true class and an FP for the predicted one
    wrong = doc_of({"x": ("vehicle.truck", {0: (10, 0, 0.0, 0.9)})}, source="prelabel")
    res = evaluate_detection(gt, wrong)
    assert res["classes"]["car"]["3d"]["tp"] == 0 and res["classes"]["truck"]["3d"]["num_pred"] == 1


def test_higher_scored_false_positive_lowers_ap():
    gt = doc_of({"a": ("vehicle.car", {0: (10, 0, 0.0)})})
    good_first = doc_of({"x": ("vehicle.car", {0: (10, 0, 0.0, 0.9)}),
                         "fp": ("vehicle.car", {0: (30, 0, 0.0, 0.2)})}, source="prelabel")
    bad_first = doc_of({"x": ("vehicle.car", {0: (10, 0, 0.0, 0.2)}),
                        "fp": ("vehicle.car", {0: (30, 0, 0.0, 0.9)})}, source="prelabel")
    a = evaluate_detection(gt, good_first)["classes"]["car"]["3d"]["ap"]
    b = evaluate_detection(gt, bad_first)["classes"]["car"]["3d"]["ap"]
    assert a == pytest.approx(1.0) and b == pytest.approx(0.5)


def test_dont_care_ground_truth_and_distance_bands():
    gt = doc_of({"near": ("vehicle.car", {0: (10, 0, 0.0, None, 100)}),
                 "mid": ("vehicle.car", {0: (40, 0, 0.0, None, 100)}),
                 "far": ("vehicle.car", {0: (70, 0, 0.0, None, 100)}),
                 "sparse": ("vehicle.car", {0: (20, 20, 0.0, None, 3)})})
    pred = doc_of({k: ("vehicle.car", {0: (x, y, 0.0, 0.9)})
                   for k, x, y in (("p1", 10, 0), ("p2", 40, 0), ("p4", 20, 20), ("fp", 45, 10))},
                  source="prelabel")
    res = evaluate_detection(gt, pred, config=DetectionConfig(min_points=10))["classes"]["car"]["3d"]
    assert res["num_gt"] == 3  # the 3-point car is don't-care, and the box on it no FP
    assert res["tp"] == 2 and res["num_pred"] == 3
    bands = res["bands"]
    assert bands["0-30"]["recall"] == 1.0 and bands["0-30"]["precision"] == 1.0
    assert bands["30-50"]["num_gt"] == 1 and bands["30-50"]["precision"] == 0.5
    assert bands["50+"]["recall"] == 0.0
    # distances from an ego path: with the ego at x=40 the "mid" car is near
    ego = np.array([[40.0, 0.0]])
    res = evaluate_detection(gt, pred, ego, DetectionConfig(min_points=10))["classes"]["car"]["3d"]["bands"]
    assert res["0-30"]["num_gt"] == 1 and res["30-50"]["num_gt"] == 2  # 30.0 m is in 30-50
    capped = evaluate_detection(gt, pred, config=DetectionConfig(max_range=50))["classes"]["car"]["3d"]
    assert capped["num_gt"] == 3 and capped["num_pred"] == 4  # the 70 m car is ignored, "sparse" counts


def _random_tracks(rng, n_frames=20, n_obj=4):
    gt, pred = {}, {}
    for k in range(n_obj):
        x0, y0 = rng.uniform(-30, 30, 2)
        gt[f"g{k}"] = ("vehicle.car", {f: (x0 + f, y0 + 3 * k, 0.0) for f in range(n_frames)})
    # prediction: noisy copies, with an identity swap of g0 half way and a missing stretch
    for k in range(n_obj):
        boxes = {}
        for f in range(n_frames):
            if k == 1 and 5 <= f < 9:
                continue
            x0, y0 = gt[f"g{k}"][1][f][:2]
            boxes[f] = (x0 + rng.normal(0, 0.1), y0 + rng.normal(0, 0.1), 0.0, 0.9)
        gt_k = boxes
        if k == 0:
            pred["p0a"] = ("vehicle.car", {f: b for f, b in gt_k.items() if f < 10})
            pred["p0b"] = ("vehicle.car", {f: b for f, b in gt_k.items() if f >= 10})
        else:
            pred[f"p{k}"] = ("vehicle.car", gt_k)
    pred["ghost"] = ("vehicle.car", {f: (100.0, 100.0, 0.0, 0.5) for f in range(3)})
    return doc_of(gt), doc_of(pred, source="prelabel")


def test_tracking_counts_and_motmetrics_agree():
    mm = pytest.importorskip("motmetrics")
    from lidarlabel.core.boxes import iou3d_matrix
    from lidarlabel.qa.eval.tracking import TRACKING_IOU

    gt, pred = _random_tracks(np.random.default_rng(0))
    res = evaluate_tracking(gt, pred)["classes"]["car"]
    assert res["idsw"] == 1 and res["fn"] == 4 and res["fp"] == 3
    acc = mm.MOTAccumulator(auto_id=True)
    thr = TRACKING_IOU["car"]
    gnum = {k: i for i, k in enumerate(gt.tracks)}
    pnum = {k: i for i, k in enumerate(pred.tracks)}
    for f in range(20):
        gi, gb = gt.frame_boxes(f)
        pi, pb = pred.frame_boxes(f)
        gi, pi = [gnum[k] for k in gi], [pnum[k] for k in pi]
        iou = iou3d_matrix(gb, pb) if len(gb) and len(pb) else np.zeros((len(gb), len(pb)))
        dist = np.where(iou >= thr, 1 - iou, np.nan)
        acc.update(gi, pi, dist)
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"], name="x")
    assert res["mota"] == pytest.approx(float(summary["mota"].iloc[0]), abs=1e-9)
    assert res["idf1"] == pytest.approx(float(summary["idf1"].iloc[0]), abs=1e-9)
    assert res["idsw"] == int(summary["num_switches"].iloc[0])


def _write(tmp_path, name, doc):
    path = tmp_path / name
    save_document(doc, path)
    return path


def test_eval_command_json_and_table(tmp_path, capsys):
    gt, pred = _random_tracks(np.random.default_rng(1))
    g, p = _write(tmp_path, "gt.json", gt), _write(tmp_path, "pred.json", pred)
    assert main(["eval", str(g), str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    car = out["detection"]["classes"]["car"]["3d"]
    assert 0.0 < car["ap"] <= 1.0 and car["num_gt"] == 80
    assert out["tracking"]["classes"]["car"]["idsw"] == 1
    assert main(["eval", str(g), str(p)]) == 0
    text = capsys.readouterr().out
    assert "MOTA" in text and "car" in text


def test_eval_command_bad_input_is_one_line_and_exit_1(tmp_path):
    gt, _ = _random_tracks(np.random.default_rng(2))
    g = _write(tmp_path, "gt.json", gt)
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "lidarlabel/labels@1", "scene"')
    out = subprocess.run([sys.executable, "-m", "lidarlabel.cli", "eval", str(g), str(broken)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert str(broken) in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    other = gt.copy()
    other.scene = "another"
    o = _write(tmp_path, "other.json", other)
    assert main(["eval", str(g), str(o)]) == 1
