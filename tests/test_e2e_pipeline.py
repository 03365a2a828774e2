"""End to end on simulator seeds nobody tuned on: sample -> info -> prelabel -> eval ->
export (nuScenes + devkit, Waymo v1/v2, KITTI) -> import -> compare; EditSession -> history
-> diff -> lint. See docs/verification.md for the figures these runs give.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.io.labels import load_document, save_document
from lidarlabel.io.scene import SceneReader
from tests.test_e2e_support import box_errors, check_document, lidar_frame_errors, one_json

# Held-out seeds (the authors tuned on 0, 3, 7, 21, 2024, 101-104): one 64-beam, one 32-beam.
SEEDS = {"a": (111, 64), "b": (202, 32)}
FRAMES = 6
TOL = 1e-4


def run(capsys, *args) -> tuple[int, str, str]:
    """``lidarlabel ARGS`` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def run_quiet(*args) -> tuple[int, str]:
    """``lidarlabel ARGS`` in-process for session fixtures (no capsys there); (exit code, stdout)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = main([str(a) for a in args])
    return rc, buf.getvalue()


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> dict:
    """Two simulated scenes with ground truth, and their pre-labels (one prelabel run)."""
    d = tmp_path_factory.mktemp("e2e_sim")
    out: dict = {"dir": d}
    for key, (seed, beams) in SEEDS.items():
        scene = d / f"s{seed}.h5"
        rc, stdout = run_quiet("sample", scene, "--frames", FRAMES, "--beams", beams, "--seed", seed,
                               "--width", 320, "--json")
        assert rc == 0
        out[key] = {"scene": scene, "gt": d / f"s{seed}.gt.json", "sample": one_json(stdout),
                    "pred": d / "pre" / f"s{seed}.json"}
    rc, stdout = run_quiet("prelabel", out["a"]["scene"], out["b"]["scene"], "--out", d / "pre",
                           "--workers", 2, "--json")
    assert rc == 0
    out["prelabel"] = one_json(stdout)
    return out


def _import_matches(capsys, fmt: str, src, back: Path, gt) -> dict:
    """Import ``src`` as ``fmt`` into ``back``; its labels must be valid and match ``gt`` box for box.

    Returns the :func:`box_errors` dict (its ``categories`` pairs are left to the caller).
    """
    rc, stdout, _ = run(capsys, "import", fmt, src, "--out", back, "--json")
    assert rc == 0
    labels = Path(one_json(stdout)["labels"])
    check_document(labels)
    err = box_errors(gt, labels)
    assert err["unmatched"] == 0 and err["ref"] == err["new"]
    assert err["center"] < TOL and err["size"] < TOL and err["yaw"] < TOL, err
    return err


def test_sample_info_and_ground_truth_agree(sim, capsys):
    for key in SEEDS:
        s = sim[key]
        assert s["sample"]["frames"] == FRAMES
        check_document(s["gt"])
        rc, stdout, _ = run(capsys, "info", s["scene"], "--json")
        assert rc == 0
        info = one_json(stdout)
        assert info["frames"] == FRAMES and info["has_ground_truth"] is True
        assert len(info["cameras"]) == 3 and info["cameras"][0]["width"] == 320
        gt = load_document(s["gt"])
        assert gt.scene == info["scene_id"]
        assert gt.num_boxes() == s["sample"]["boxes"]


def test_prelabel_outputs_are_valid_and_find_near_cars(sim, capsys):
    summary = sim["prelabel"]
    assert summary["failed"] == 0 and summary["done"] == 2
    for key in SEEDS:
        s = sim[key]
        check_document(s["pred"])
        pred = load_document(s["pred"])
        assert all(b.source == "prelabel" and b.score is not None
                   for t in pred.tracks.values() for b in t.boxes.values())
        rc, stdout, _ = run(capsys, "eval", s["gt"], s["pred"], "--scene", s["scene"], "--json")
        assert rc == 0
        ev = one_json(stdout)
        car = ev["detection"]["classes"]["car"]["bev"]["bands"]["0-30"]
        print(f"\nseed {SEEDS[key][0]}: car BEV AP 0-30 m {car['ap']:.3f} (recall {car['recall']:.2f}, "
              f"{car['num_gt']} GT), mean AP3D {ev['detection']['mean_ap']['3d']:.3f}")
        # 0.80-1.00 measured on seeds 101, 111, 202, 303, 404, 505: a guard, not a target.
        assert car["num_gt"] > 0 and car["ap"] >= 0.6


def test_prelabel_of_unchanged_scene_is_skipped_and_forced_rerun_is_identical(sim, capsys):
    s = sim["a"]
    before = s["pred"].read_text()
    rc, stdout, _ = run(capsys, "prelabel", s["scene"], "--out", s["pred"].parent, "--json")
    assert rc == 0 and one_json(stdout)["skipped"] == 1
    rc, stdout, _ = run(capsys, "prelabel", s["scene"], "--out", s["pred"].parent, "--force", "--json")
    assert rc == 0 and one_json(stdout)["done"] == 1
    a, b = json.loads(before), json.loads(s["pred"].read_text())
    assert a["tracks"] == b["tracks"]  # deterministic: the same boxes, ids and scores


def test_nuscenes_export_devkit_and_import_round_trip(sim, tmp_path, capsys):
    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval

    s = sim["a"]
    out = tmp_path / "nus"
    # The ground truth as the submission, less the boxes no LiDAR point hits: the devkit drops
    # those from its ground truth, so they would count as false positives.
    perfect = load_document(s["gt"])
    for t in perfect.tracks.values():
        t.boxes = {f: b for f, b in t.boxes.items() if b.num_lidar_pts}
    perfect.tracks = {k: t for k, t in perfect.tracks.items() if t.boxes}
    save_document(perfect, tmp_path / "perfect.json")
    rc, stdout, _ = run(capsys, "export", "nuscenes", s["scene"], "--labels", s["gt"], "--out", out,
                        "--results", tmp_path / "perfect.json", "--json")
    assert rc == 0 and one_json(stdout)["boxes"] == s["sample"]["boxes"]
    scene_id = load_document(s["gt"]).scene
    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes("v1.0-lidarlabel", str(out), verbose=False)
        ev = DetectionEval(nusc, config_factory("detection_cvpr_2019"),
                           str(out / "results" / "detection_results.json"), eval_set=scene_id,
                           output_dir=str(tmp_path / "det"), verbose=False)
        metrics, _ = ev.evaluate()
    assert len(nusc.sample) == FRAMES
    present = {b.detection_name for b in ev.gt_boxes.all}
    assert "car" in present
    aps = metrics.serialize()["mean_dist_aps"]
    # The ground truth given as the submission: every class the devkit keeps scores AP 1.
    for cls in present:
        assert aps[cls] == pytest.approx(1.0, abs=1e-6), (cls, aps[cls])

    back = tmp_path / "back.h5"
    err = _import_matches(capsys, "nuscenes", out, back, s["gt"])
    assert all(a == b for a, b in err["categories"])
    with SceneReader.open(s["scene"]) as r0, SceneReader.open(back) as r1:
        assert np.array_equal(r0.timestamps_us, r1.timestamps_us)
        assert np.allclose(r0.ego_poses, r1.ego_poses, atol=1e-9)
        for i in (0, FRAMES - 1):
            assert np.allclose(r0.points_world(i), r1.points_world(i), atol=1e-4)
        assert [c.name for c in r0.cameras] == [c.name for c in r1.cameras]


def test_nuscenes_submission_of_prelabels_scores_with_the_devkit(sim, tmp_path, capsys):
    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval

    s = sim["b"]
    out = tmp_path / "nus"
    rc, _, _ = run(capsys, "export", "nuscenes", s["scene"], "--labels", s["gt"], "--out", out,
                   "--results", s["pred"])
    assert rc == 0
    sub = json.loads((out / "results" / "detection_results.json").read_text())
    assert sub["meta"]["use_lidar"] is True and len(sub["results"]) == FRAMES
    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes("v1.0-lidarlabel", str(out), verbose=False)
        ev = DetectionEval(nusc, config_factory("detection_cvpr_2019"),
                           str(out / "results" / "detection_results.json"),
                           eval_set=load_document(s["gt"]).scene, output_dir=str(tmp_path / "det"),
                           verbose=False)
        metrics, _ = ev.evaluate()
    car_ap = metrics.serialize()["mean_dist_aps"]["car"]
    print(f"\nseed {SEEDS['b'][0]} devkit car AP (centre distance) {car_ap:.3f}")
    assert 0.2 <= car_ap <= 1.0


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_waymo_round_trip(sim, tmp_path, capsys, fmt):
    s = sim["b"]
    out = tmp_path / "w"
    rc, stdout, _ = run(capsys, "export", "waymo", s["scene"], "--labels", s["gt"], "--out", out,
                        "--format", fmt, "--json")
    assert rc == 0
    written = Path(one_json(stdout)["out"])
    src = written if fmt == "v1" else out
    back = tmp_path / "back.h5"
    err = _import_matches(capsys, "waymo", src, back, s["gt"])
    # Waymo has 4 classes (docs/formats/waymo.md): cars, trucks and buses come back as cars.
    expected = {"vehicle.car": "vehicle.car", "vehicle.truck": "vehicle.car",
                "vehicle.bus.rigid": "vehicle.car", "vehicle.motorcycle": "vehicle.car",
                "human.pedestrian.adult": "human.pedestrian.adult", "vehicle.bicycle": "vehicle.bicycle"}
    for a, b in err["categories"]:
        assert expected.get(a) == b, (a, b)
    with SceneReader.open(s["scene"]) as r0, SceneReader.open(back) as r1:
        assert np.array_equal(r0.timestamps_us, r1.timestamps_us)
        assert np.allclose(r0.ego_poses, r1.ego_poses, atol=1e-9)


def test_kitti_export_and_import_of_a_frame_subset(sim, tmp_path, capsys):
    s = sim["a"]
    out = tmp_path / "k"
    rc, _, _ = run(capsys, "export", "kitti", s["scene"], "--labels", s["gt"], "--out", out)
    assert rc == 0
    training = out / "object" / "training"
    assert len(list((training / "velodyne").glob("*.bin"))) == FRAMES
    back = tmp_path / "back.h5"
    rc, stdout, _ = run(capsys, "import", "kitti", training, "--frames", "000001,000004", "--out", back,
                        "--json")
    assert rc == 0
    labels = Path(one_json(stdout)["labels"])
    check_document(labels)
    with SceneReader.open(back) as r:
        assert r.num_frames == 2
    err = lidar_frame_errors(s["gt"], s["scene"], labels, [1, 4])
    assert err["n"] > 0
    assert err["center"] < TOL and err["size"] < TOL and err["yaw"] < TOL, err


def test_edit_session_versions_history_diff_and_lint(sim, tmp_path, capsys):
    import shutil

    from lidarlabel.edit.session import EditSession

    s = sim["a"]
    scene = tmp_path / "edit.h5"
    shutil.copy(s["scene"], scene)
    sess = EditSession.open(scene, labels=s["pred"], author="e2e")
    try:
        v1 = sess.save()
        ids = sorted(sess.doc.tracks)
        moved, relabel, deleted = ids[1], next(t for t in ids if sess.doc.tracks[t].category != "vehicle.car"), ids[3]
        n_relabel = len(sess.doc.tracks[relabel].boxes)
        n_deleted = len(sess.doc.tracks[deleted].boxes)
        f = min(sess.doc.tracks[moved].boxes)
        c = sess.doc.tracks[moved].boxes[f].center
        sess.move_box(moved, f, center=(c[0] + 0.5, c[1], c[2]))
        sess.set_category(relabel, "vehicle.car")
        sess.delete(deleted)
        new = sess.create_box(0, (5.0, 3.0, 1.0), category="human.pedestrian.adult")
        sess.undo()
        assert new not in sess.doc.tracks
        sess.redo()
        v2 = sess.save()
    finally:
        sess.close()
    v1_text = v1.read_text()
    for v in (v1, v2):
        check_document(v)

    rc, stdout, _ = run(capsys, "history", scene, "--json")
    assert rc == 0
    hist = one_json(stdout)["versions"]
    assert [h["id"] for h in hist] == [v1.stem, v2.stem]
    assert hist[1]["parent"] == v1.stem and hist[1]["author"] == "e2e"

    rc, stdout, _ = run(capsys, "diff", v1, v2, "--json")
    assert rc == 0
    summary = one_json(stdout)["summary"]
    assert summary["added"] == 1
    assert summary["removed"] == n_deleted
    assert summary["geometry_changed"] == 1
    assert summary["category_changed"] == n_relabel
    rc, _, _ = run(capsys, "diff", v1, v2, "--fail-on", "removed")
    assert rc == 3

    rc, stdout, _ = run(capsys, "lint", v2, "--scene", scene, "--json", "--fail-on", "error")
    assert rc == 0
    assert not [x for x in one_json(stdout)["findings"] if x["severity"] == "error"]
    assert v1.read_text() == v1_text  # a saved version is never touched again


def test_lint_of_exact_ground_truth_has_no_motion_size_or_overlap_findings(sim, capsys):
    for key in SEEDS:
        s = sim[key]
        rc, stdout, _ = run(capsys, "lint", s["gt"], "--scene", s["scene"], "--json")
        assert rc == 0
        checks = {x["check"] for x in one_json(stdout)["findings"]}
        assert checks <= {"no_lidar_points", "track_gap"}, checks


def test_imported_labels_are_the_scenes_first_version(sim, tmp_path, capsys):
    s = sim["a"]
    rc, _, _ = run(capsys, "export", "kitti", s["scene"], "--labels", s["gt"], "--out", tmp_path / "k")
    assert rc == 0
    scene = tmp_path / "imported.h5"
    rc, _, _ = run(capsys, "import", "kitti", tmp_path / "k", "--out", scene)
    assert rc == 0
    rc, stdout, _ = run(capsys, "history", scene, "--json")
    assert rc == 0
    versions = one_json(stdout)["versions"]
    assert [v["source"] for v in versions] == ["import"]
