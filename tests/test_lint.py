"""``lidarlabel lint``: planted problems are found (and nothing else), on synthetic and real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.ontology import default_ontology
from lidarlabel.core.transforms import pose_from_yaw
from lidarlabel.io.labels import load_document, save_document
from lidarlabel.io.scene import SceneReader, SceneWriter
from lidarlabel.qa.lint import lint_document
from lidarlabel.qa.lint_limits import limits_for

from .conftest import ROOT, make_tiny_scene

T0 = 1_700_000_000_000_000
DT_US = 100_000  # 10 Hz


def moving(doc, tid, cat, start, speed, yaw=0.0, frames=range(40), size=None, rng=None,
           noise=(0.0, 0.0, 0.0), attrs=None, timestamps=True):  # fmt: skip
    """A track at constant speed along ``yaw``; ``noise`` = (position m, yaw deg, size m) sigmas."""
    size = size or default_ontology().default_size(cat)
    rng = rng or np.random.default_rng(0)
    boxes = {}
    for f in frames:
        t = f * DT_US / 1e6
        c = np.r_[start[0] + speed * t * np.cos(yaw), start[1] + speed * t * np.sin(yaw), size[2] / 2]
        c = c + rng.normal(0, noise[0], 3)
        s = np.asarray(size) + rng.normal(0, noise[2], 3)
        boxes[f] = Box(f, tuple(c), tuple(s), yaw + np.radians(rng.normal(0, noise[1])),
                       T0 + f * DT_US if timestamps else None, "human", None, False, dict(attrs or {}))
    doc.tracks[tid] = Track(tid, cat, {}, boxes)
    return doc.tracks[tid]


def test_planted_problems_are_found_and_nothing_else():
    doc = LabelDocument.new("lint-scene", "human", "ann1")
    moving(doc, "ok-car", "vehicle.car", (0, 0), 12.0)
    moving(doc, "ok-ped", "human.pedestrian.adult", (0, 20), 1.4, attrs={"pedestrian.moving": True})
    moving(doc, "fast-ped", "human.pedestrian.adult", (0, 30), 15.0)
    tele = moving(doc, "teleport", "vehicle.car", (0, 40), 10.0)
    b = tele.boxes[20]
    tele.boxes[20] = b.with_array(b.as_array() + np.r_[6.0, 0, 0, 0, 0, 0, 0])
    flip = moving(doc, "flip", "vehicle.car", (0, 50), 8.0)
    for f in range(12, 40):
        flip.boxes[f] = flip.boxes[f].with_array(flip.boxes[f].as_array() + np.r_[0, 0, 0, 0, 0, 0, np.pi])
    drift = moving(doc, "drift", "vehicle.truck", (0, 60), 5.0)
    for f in range(20, 26):
        drift.boxes[f] = drift.boxes[f].with_array(drift.boxes[f].as_array() + np.r_[0, 0, 0, 1.5, 0, 0, 0])
    moving(doc, "huge", "vehicle.car", (0, 70), 5.0, size=(20.0, 2.0, 1.6))
    moving(doc, "a", "vehicle.car", (0, 80), 5.0, frames=range(5, 8))
    moving(doc, "b", "vehicle.car", (1.0, 80.5), 5.0, frames=range(5, 8))
    gap = moving(doc, "gap", "vehicle.car", (0, 90), 5.0)
    for f in range(10, 15):
        del gap.boxes[f]
    moving(doc, "alien", "vehicle.spaceship", (0, 100), 5.0)
    moving(doc, "weird-attr", "vehicle.car", (0, 110), 5.0, attrs={"vehicle.flying": True})
    moving(doc, "wrong-attr", "human.pedestrian.adult", (0, 120), 1.0, attrs={"vehicle.parked": True})
    moving(doc, "both", "vehicle.car", (0, 130), 0.0, attrs={"vehicle.moving": True, "vehicle.parked": True})
    moving(doc, "bike-rider", "human.pedestrian.adult", (0, 140), 3.0)  # walks inside its bike's box
    moving(doc, "bike", "vehicle.bicycle", (0, 140), 3.0)

    res = lint_document(doc)
    found = {(f.check, f.track) for f in res.findings}
    assert found == {
        ("speed", "fast-ped"), ("acceleration", "teleport"), ("yaw_rate", "flip"),
        ("size_drift", "drift"), ("size_implausible", "huge"), ("overlap", "a"), ("track_gap", "gap"),
        ("unknown_category", "alien"), ("unknown_attribute", "weird-attr"),
        ("attribute_not_for_category", "wrong-attr"), ("conflicting_attributes", "both"),
    }  # fmt: skip
    by = {f.check: f for f in res.findings}
    assert 19 <= by["acceleration"].frame <= 26  # around the bad box (frame 20)
    assert by["yaw_rate"].frame in (12, 13, 14) and by["yaw_rate"].details["value"] > 300
    assert by["size_drift"].frame in range(20, 26) and by["size_drift"].details["frames"] == list(range(20, 26))
    assert by["track_gap"].frame == 15 and by["track_gap"].details["missing_frames"] == 5
    assert by["overlap"].details["other_track"] == "b" and by["overlap"].details["frames"] == [5, 6, 7]
    assert by["speed"].details["value"] == pytest.approx(15.0, rel=0.01)
    assert by["speed"].details["limit"] == limits_for("human.pedestrian.adult")["max_speed_mps"]
    assert {f.severity for f in res.findings if f.check.startswith("unknown")} == {"error"}
    assert res.counts() == {"error": 3, "warning": 8, "info": 0}
    assert res.for_track("gap")[0].check == "track_gap"


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_realistic_label_noise_raises_no_motion_or_size_findings(seed):
    rng = np.random.default_rng(seed)
    doc = LabelDocument.new("noisy", "human", "a")
    cats = [("vehicle.car", 30.0), ("vehicle.truck", 25.0), ("vehicle.bus.rigid", 15.0),
            ("human.pedestrian.adult", 2.5), ("vehicle.bicycle", 8.0), ("vehicle.motorcycle", 30.0),
            ("movable_object.barrier", 0.0)]  # fmt: skip
    for k in range(30):
        cat, vmax = cats[k % len(cats)]
        moving(doc, f"t{k}", cat, (0, 15.0 * k), float(rng.uniform(0, vmax)), float(rng.uniform(-3, 3)),
               frames=range(int(rng.integers(0, 10)), int(rng.integers(20, 80))), rng=rng,
               noise=(0.05, 1.0, 0.01))  # 5 cm, 1 degree, 1 cm: sloppy but sane labels
    res = lint_document(doc)
    # (random headings make some tracks cross: overlaps and gaps are not what this tests)
    assert [f for f in res.findings if f.check not in ("track_gap", "overlap")] == []


def test_without_timestamps_motion_is_skipped_and_the_scene_supplies_them(tmp_path):
    scene_path = make_tiny_scene(tmp_path / "ten.h5", frames=10, points=200)
    doc = LabelDocument.new("tiny", "human", "a")
    moving(doc, "fast-ped", "human.pedestrian.adult", (0, 0), 20.0, frames=range(10), timestamps=False)
    res = lint_document(doc)
    assert [(f.check, f.severity) for f in res.findings] == [("kinematics_skipped", "info")]
    with SceneReader.open(scene_path) as scene:
        res = lint_document(doc, scene=scene)
    assert ("speed", "fast-ped") in {(f.check, f.track) for f in res.findings}


def test_scene_checks_find_empty_boxes_and_frames_beyond_the_scene(tiny_scene):
    doc = LabelDocument.new("tiny", "human", "a")
    with SceneReader.open(tiny_scene) as scene:
        pts0 = scene.points_world(0)
        dense = pts0[np.argmin(np.linalg.norm(pts0[:, :2] - pts0[:, :2].mean(0), axis=1))]
        times = scene.timestamps_us
    # a big box around a real point in every frame, and one 400 m away
    doc.tracks["full"] = Track("full", "vehicle.bus.rigid", {}, {
        f: Box(f, (float(dense[0]), float(dense[1]), float(dense[2])), (11.0, 2.9, 3.5), 0.0,
               int(times[f])) for f in range(1)})  # fmt: skip
    doc.tracks["empty"] = Track("empty", "vehicle.car", {}, {
        f: Box(f, (400.0, 0.0, 0.0), (4.5, 1.9, 1.6), 0.0, int(times[f])) for f in range(2, 5)})  # fmt: skip
    doc.tracks["late"] = Track("late", "vehicle.car", {}, {7: Box(7, (400.0, 9.0, 0.0), (4.5, 1.9, 1.6), 0.0)})
    with SceneReader.open(tiny_scene) as scene:
        res = lint_document(doc, scene=scene)
    found = {(f.check, f.track): f for f in res.findings}
    assert set(found) == {("no_lidar_points", "empty"), ("frame_out_of_range", "late")}
    assert found[("no_lidar_points", "empty")].details["frames"] == [2, 3, 4]
    assert found[("no_lidar_points", "empty")].frame == 2
    assert found[("frame_out_of_range", "late")].severity == "error"


def _nuscenes_frame_scene(shared_data: Path, tmp_path: Path) -> tuple[Path, LabelDocument, np.ndarray]:
    folder = shared_data / "nuscenes_frame"
    frame = json.loads((folder / "frame.json").read_text())
    pts = np.fromfile(next(folder.glob("*LIDAR_TOP*.pcd.bin")), dtype=np.float32).reshape(-1, 5)
    path = tmp_path / "nus.h5"
    with SceneWriter(path, "nus-frame", np.eye(4), [], source="import") as w:  # world = LiDAR frame
        w.add_frame(int(frame["timestamp_us"]), np.eye(4), pts, {})
    onto = default_ontology()
    cls2cat: dict[str, str] = {}
    for c in onto.categories.values():
        if c.detection_class:
            cls2cat.setdefault(c.detection_class, c.name)
    doc = LabelDocument.new("nus-frame", "import", "nuscenes")
    ref = []
    for i, b in enumerate(frame["boxes"]):
        if b["detection_class"] not in cls2cat:
            continue
        a = b["box_lidar"]
        doc.tracks[f"b{i}"] = Track(f"b{i}", cls2cat[b["detection_class"]], {}, {
            0: Box(0, tuple(a[:3]), tuple(a[3:6]), a[6], int(frame["timestamp_us"]), "import")})
        ref.append(b["num_lidar_pts"])
    return path, doc, np.array(ref)


def test_real_nuscenes_frame(shared_data, tmp_path):
    path, doc, ref = _nuscenes_frame_scene(shared_data, tmp_path)
    with SceneReader.open(path) as scene:
        res = lint_document(doc, scene=scene)
    empty = {f.track for f in res.findings if f.check == "no_lidar_points"}
    ids = list(doc.tracks)
    assert empty == {ids[i] for i in np.nonzero(ref == 0)[0]} and len(empty) >= 1
    # real sizes are plausible; the one overlap left is a pedestrian inside a truck's box
    others = [(f.check, f.track, f.details.get("other_track")) for f in res.findings
              if f.check != "no_lidar_points"]
    assert others == [("overlap", "b18", "b30")]
    assert doc.tracks["b18"].category == "vehicle.truck"


def test_exact_ground_truth_of_the_sample_scene_is_plausible():
    gt = load_document(ROOT / "sample_scenes" / "sample.gt.json")
    assert gt.num_boxes() > 100
    res = lint_document(gt)
    assert {f.check for f in res.findings} <= {"track_gap"}  # occlusion gaps are real, nothing else


# ----------------------------------------------------------------------------- CLI


def test_cli_json_fail_on_and_limits(tmp_path, capsys):
    doc = LabelDocument.new("lint-scene", "human", "a")
    moving(doc, "ped", "human.pedestrian.adult", (0, 0), 9.0)
    moving(doc, "alien", "vehicle.spaceship", (0, 20), 5.0)
    p = save_document(doc, tmp_path / "l.json")
    assert main(["lint", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"error": 1, "warning": 0, "info": 0} and out["checked_points"] is False
    assert out["findings"][0]["track"] == "alien" and out["findings"][0]["frame"] == 0
    assert main(["lint", str(p), "--fail-on", "error"]) == 3
    assert "alien" in capsys.readouterr().out
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"human.pedestrian": {"max_speed_mps": 6.0}}))
    assert main(["lint", str(p), "--limits", str(limits), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(f["check"], f["track"]) for f in out["findings"]] == [("unknown_category", "alien"),
                                                                   ("speed", "ped")]
    limits.write_text(json.dumps({"human.pedestrian": {"max_speed": 6.0}}))
    assert main(["lint", str(p), "--limits", str(limits)]) == 1
    assert "max_speed" in capsys.readouterr().err


def test_cli_scene_mismatch_and_bad_files(tiny_scene, tmp_path, capsys):
    doc = LabelDocument.new("not-tiny", "human", "a")
    p = save_document(doc, tmp_path / "l.json")
    assert main(["lint", str(p), "--scene", str(tiny_scene)]) == 1
    assert "not-tiny" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "lidarlabel/labels@2"}')
    assert main(["lint", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "Traceback" not in err
    assert main(["lint", str(p), "--scene", str(tmp_path / "none.h5")]) == 1


def test_pose_helper_is_used_consistently():
    # the tiny scene's ego turns 0.05 rad per frame; world boxes do not depend on it
    assert np.allclose(pose_from_yaw(0.0, [0, 0, 0]), np.eye(4))
