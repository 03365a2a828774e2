"""Assisted edits on a simulated scene, measured against its exact ground truth.

One-click fit, interpolation between keyframes and propagation, scripted
through the session exactly as the app calls them; undo/redo must give back
the exact previous documents.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.boxes import bev_iou_pairs, iou3d_pairs, points_in_boxes
from lidarlabel.edit import EditSession
from lidarlabel.edit.interpolate import interpolate_boxes, unwrap_yaws
from lidarlabel.errors import InputError
from lidarlabel.io.labels import save_document
from tests.conftest import CHECKER

SEED = 11  # not one of the seeds the fit was developed on (0-2)


@pytest.fixture(scope="session")
def sim_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "scene.h5"
    assert main(["sample", str(out), "--frames", "11", "--beams", "64", "--seed", str(SEED), "--no-cameras"]) == 0
    gt = json.loads(out.with_suffix(".gt.json").read_text())
    return out, gt


def gt_boxes(track: dict) -> dict[int, np.ndarray]:
    return {b["frame"]: np.r_[b["center"], b["size"], b["yaw"]] for b in track["boxes"]}


def test_one_click_fit_on_cars_matches_ground_truth(sim_scene):
    path, gt = sim_scene
    s = EditSession.open(path)
    ious = []
    for frame in (0, 10):
        pts = s.points_world(frame)
        for t in gt["tracks"]:
            if t["category"] != "vehicle.car" or frame not in (g := gt_boxes(t)):
                continue
            inside = pts[points_in_boxes(pts, g[frame][None])[0]]
            if len(inside) < 50:
                continue
            click = inside[np.argmin(((inside - g[frame][:3]) ** 2).sum(axis=1))]
            tid = s.fit_box_at(frame, click, category="vehicle.car")
            assert s.selection == tid and s.doc.tracks[tid].boxes[frame].keyframe
            ious.append(bev_iou_pairs(s.doc.tracks[tid].boxes[frame].as_array()[None], g[frame][None])[0])
    ious = np.array(ious)
    assert len(ious) >= 10
    # Issue target: >= 90 % at BEV IoU 0.8. With the neighbouring frames (the session passes them):
    # 90.3 % over the held-out seeds at frames 0/10/20, 89.4 % at frames 3/7/13/17 (docs/editing.md);
    # 92 % (23 of 25) on this one, 84 % from the clicked frame alone. This guards the level reached.
    assert (ious >= 0.8).mean() >= 0.88, ious.round(2)
    assert np.median(ious) >= 0.83


def test_fit_without_category_names_a_car_and_refuses_empty_road(sim_scene):
    path, gt = sim_scene
    s = EditSession.open(path)
    pts = s.points_world(0)
    cars = [gt_boxes(t)[0] for t in gt["tracks"] if t["category"] == "vehicle.car" and 0 in gt_boxes(t)]
    counts = points_in_boxes(pts, np.array(cars)).sum(axis=1)
    car = cars[int(np.argmax(counts))]
    tid = s.fit_box_at(0, car[:3])
    assert s.doc.tracks[tid].category == "vehicle.car"
    before = s.document()
    with pytest.raises(InputError, match="no points within"):
        s.fit_box_at(0, (1e4, 1e4, 0.0))
    assert s.document() == before


def test_keyframes_every_fifth_frame_and_interpolation_follow_moving_cars(sim_scene):
    path, gt = sim_scene
    s = EditSession.open(path)
    ious = []
    for t in gt["tracks"]:
        if t["category"] != "vehicle.car" or not any(b["attributes"].get("vehicle.moving") for b in t["boxes"]):
            continue
        g = gt_boxes(t)
        frames = sorted(g)
        keys = sorted({f for f in frames if (f - frames[0]) % 5 == 0} | {frames[-1]})
        if len(keys) < 2:
            continue
        tid = s.create_box(keys[0], g[keys[0]][:3], g[keys[0]][3:6], g[keys[0]][6])
        for k in keys[1:]:  # the annotator's adjusted keyframes
            s.move_box(tid, k, center=g[k][:3], size=g[k][3:6], yaw=g[k][6])
        filled = s.interpolate(tid)
        assert filled == [f for f in range(keys[0], keys[-1]) if f not in keys]
        track = s.doc.tracks[tid]
        for f in filled:
            assert (track.boxes[f].source, track.boxes[f].keyframe) == ("interpolated", False)
            ious.append(iou3d_pairs(track.boxes[f].as_array()[None], g[f][None])[0])
    assert len(ious) >= 10
    assert np.mean(ious) >= 0.8


def test_interpolation_takes_the_short_way_round_and_keeps_size():
    keys = np.array([[0, 0, 0, 4, 2, 1.5, np.pi - 0.1], [10, 0, 0, 4, 2, 1.5, -np.pi + 0.1]])
    mid = interpolate_boxes([0.0, 1.0], keys, [0.5])[0]
    assert abs(abs(mid[6]) - np.pi) < 1e-9 and mid[0] == pytest.approx(5.0)
    np.testing.assert_allclose(mid[3:6], [4, 2, 1.5])
    np.testing.assert_allclose(unwrap_yaws([3.0, -3.0]), [3.0, 2 * np.pi - 3.0])
    # constant velocity is reproduced exactly by the cubic as well
    k3 = np.array([[0, 0, 0, 4, 2, 1.5, 0], [5, 1, 0, 4, 2, 1.5, 0], [10, 2, 0, 4, 2, 1.5, 0]])
    np.testing.assert_allclose(interpolate_boxes([0, 1, 2], k3, [0.5, 1.5], "cubic")[:, :2], [[2.5, 0.5], [7.5, 1.5]])


def test_propagate_with_known_motion_stays_on_moving_cars(sim_scene):
    path, gt = sim_scene
    s = EditSession.open(path)
    ious = []
    for t in gt["tracks"]:
        g = gt_boxes(t)
        if t["category"] != "vehicle.car" or not {0, 1, 5} <= set(g):
            continue
        if np.linalg.norm(g[5][:2] - g[0][:2]) < 2.0:
            continue  # moving cars only
        tid = s.create_box(0, g[0][:3], g[0][3:6], g[0][6])
        s.move_box(tid, 1, center=g[1][:3], yaw=g[1][6])
        steps = s.undo_label, len(s.doc.tracks[tid].boxes)
        assert s.propagate(tid, 1, 5) == [2, 3, 4, 5]
        assert s.undo_label == "Propagate" and steps[1] == 2
        track = s.doc.tracks[tid]
        assert not track.boxes[3].keyframe and track.boxes[3].size == track.boxes[0].size
        ious += [bev_iou_pairs(track.boxes[f].as_array()[None], g[f][None])[0] for f in (2, 3, 4, 5)]
    assert len(ious) >= 8
    assert np.median(ious) >= 0.85 and np.mean(ious) >= 0.75, np.round(ious, 2)


def test_assisted_edits_undo_and_redo_exactly(sim_scene):
    path, gt = sim_scene
    s = EditSession.open(path)
    car = next(gt_boxes(t) for t in gt["tracks"] if t["category"] == "vehicle.car" and {0, 4} <= set(gt_boxes(t)))
    snapshots = [s.document()]
    tid = s.create_box(0, car[0][:3], car[0][3:6], car[0][6])
    snapshots.append(s.document())
    s.propagate(tid, 0, 4)
    snapshots.append(s.document())
    s.set_keyframe(tid, 4)
    snapshots.append(s.document())
    s.interpolate(tid, method="linear")
    snapshots.append(s.document())
    for expected in reversed(snapshots[:-1]):
        assert s.undo()
        assert s.document() == expected
    for expected in snapshots[1:]:
        assert s.redo()
        assert s.document() == expected
    with pytest.raises(InputError, match="at least 2 keyframes"):
        s.interpolate(s.create_box(0, (0, 0, 0)))


def test_documents_with_assisted_boxes_pass_the_contract_checker(sim_scene, tmp_path):
    path, gt = sim_scene
    s = EditSession.open(path)
    car = next(gt_boxes(t) for t in gt["tracks"] if t["category"] == "vehicle.car" and {0, 6} <= set(gt_boxes(t)))
    tid = s.fit_box_at(0, car[0][:3])
    s.propagate(tid, 0, 3)
    s.move_box(tid, 6, center=car[6][:3])
    s.interpolate(tid)
    sources = {b.source for b in s.doc.tracks[tid].boxes.values()}
    assert sources == {"human", "interpolated"}
    out = tmp_path / "labels.json"
    save_document(s.doc, out)
    run = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
