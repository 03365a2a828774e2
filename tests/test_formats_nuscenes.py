"""nuScenes export: the official devkit loads it, counts the same points and evaluates it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.io.labels import save_document
from lidarlabel.io.scene import SceneReader
from tests.conftest import CHECKER, make_tiny_scene

VERSION = "v1.0-lidarlabel"
CATEGORIES = ("vehicle.car", "vehicle.car", "human.pedestrian.adult", "vehicle.truck", "vehicle.bicycle",
              "movable_object.barrier")


def labelled_scene(folder: Path, seed: int = 0, frames: int = 6) -> tuple[Path, Path, LabelDocument]:
    """A tiny scene (dense random points) plus a document of moving, turning tracks."""
    folder.mkdir(parents=True, exist_ok=True)
    scene = make_tiny_scene(folder / "tiny.h5", frames=frames, points=20000, seed=seed)
    rng = np.random.default_rng(seed + 100)
    doc = LabelDocument.new("tiny", source="human", author="test")
    with SceneReader.open(scene) as sc:
        for k, cat in enumerate(CATEGORIES):
            c0 = rng.uniform(-14, 14, 2)
            size = {"vehicle.car": (4.6, 1.9, 1.7), "vehicle.truck": (8.0, 2.6, 1.9),
                    "human.pedestrian.adult": (0.8, 0.7, 1.8), "vehicle.bicycle": (1.8, 0.6, 1.5),
                    "movable_object.barrier": (2.0, 0.5, 1.0)}[cat]
            attrs = {"vehicle.car": {"vehicle.moving": True}, "vehicle.bicycle": {"cycle.with_rider": True}}
            t = Track(f"trk{k}", cat, attrs.get(cat, {}))
            yaw0 = rng.uniform(-np.pi, np.pi)
            for f in range(frames):
                if k == 1 and f == 2:
                    continue  # a gap inside a track
                yaw = float(np.mod(yaw0 + 0.2 * f + np.pi, 2 * np.pi) - np.pi)
                t.boxes[f] = Box(f, (c0[0] + 0.7 * f * np.cos(yaw0), c0[1] + 0.7 * f * np.sin(yaw0),
                                     -0.4 + 0.01 * f), size, yaw, int(sc.timestamps_us[f]), "human", 0.9, f == 0)
            doc.tracks[t.id] = t
    labels = save_document(doc, folder / "labels.json")
    return scene, labels, doc


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path, LabelDocument]:
    folder = tmp_path_factory.mktemp("nu")
    scene, labels, doc = labelled_scene(folder)
    out = folder / "dataset"
    assert main(["export", "nuscenes", str(scene), "--labels", str(labels), "--out", str(out),
                 "--results", str(labels)]) == 0
    return scene, out, doc


def test_devkit_loads_export_and_counts_the_same_points(exported):
    from nuscenes import NuScenes
    from nuscenes.utils.data_classes import LidarPointCloud
    from nuscenes.utils.geometry_utils import points_in_box

    scene, out, doc = exported
    nusc = NuScenes(VERSION, str(out), verbose=False)
    assert len(nusc.sample) == 6 and len(nusc.scene) == 1 and len(nusc.sample_annotation) == doc.num_boxes()
    with SceneReader.open(scene) as sc:
        counted = 0
        for i, sample in enumerate(nusc.sample):
            path, boxes, _ = nusc.get_sample_data(sample["data"]["LIDAR_TOP"])
            pc = LidarPointCloud.from_file(path)
            assert pc.points.shape[1] == sc.num_points(i)  # 5 floats per point, nothing mis-parsed
            for b in boxes:
                ann = nusc.get("sample_annotation", b.token)
                assert ann["num_lidar_pts"] == int(points_in_box(b, pc.points[:3]).sum())
                counted += ann["num_lidar_pts"]
        assert counted > 100
        # LIDAR_TOP like nuScenes: x right (ego -y), y forward
        calib = nusc.get("calibrated_sensor", nusc.get("sample_data", nusc.sample[0]["data"]["LIDAR_TOP"])
                         ["calibrated_sensor_token"])
        from pyquaternion import Quaternion

        R = Quaternion(calib["rotation"]).rotation_matrix
        np.testing.assert_allclose(R[:, 0], [0, -1, 0], atol=1e-9)
        np.testing.assert_allclose(R[:, 1], [1, 0, 0], atol=1e-9)


def test_export_geometry_sizes_and_chains(exported):
    from nuscenes import NuScenes

    _, out, doc = exported
    nusc = NuScenes(VERSION, str(out), verbose=False)
    for inst in nusc.instance:
        chain, tok = [], inst["first_annotation_token"]
        while tok:
            chain.append(nusc.get("sample_annotation", tok))
            tok = chain[-1]["next"]
        assert chain[-1]["token"] == inst["last_annotation_token"] and len(chain) == inst["nbr_annotations"]
        track = next(t for t in doc.tracks.values()
                     if len(t.boxes) == len(chain) and np.allclose(t.boxes[t.frames()[0]].center,
                                                                    chain[0]["translation"]))
        assert nusc.get("category", inst["category_token"])["name"] == track.category
        for ann, f in zip(chain, track.frames()):
            b = track.boxes[f]
            np.testing.assert_allclose(ann["size"], [b.size[1], b.size[0], b.size[2]])  # w, l, h
            w, x, y, z = ann["rotation"]
            assert np.isclose(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)), b.yaw, atol=1e-9)
    car = [a for a in nusc.sample_annotation if a["category_name"] == "vehicle.car"]
    assert {nusc.get("attribute", t)["name"] for a in car for t in a["attribute_tokens"]} == {"vehicle.moving"}
    splits = json.loads((out / VERSION / "splits.json").read_text())
    assert splits == {"tiny": ["tiny"]}


def test_devkit_detection_and_tracking_eval_score_perfect_predictions(exported, tmp_path):
    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval
    from nuscenes.eval.tracking.evaluate import TrackingEval

    _, out, _ = exported
    nusc = NuScenes(VERSION, str(out), verbose=False)
    det = DetectionEval(nusc, config_factory("detection_cvpr_2019"), str(out / "results/detection_results.json"),
                        "tiny", str(tmp_path / "det"), verbose=False)
    metrics, _ = det.evaluate()
    aps = metrics.serialize()["mean_dist_aps"]
    # (small classes may hold zero-point boxes that the devkit drops from the ground truth)
    assert aps["car"] == pytest.approx(1.0)
    trk = TrackingEval(config_factory("tracking_nips_2019"), str(out / "results/tracking_results.json"), "tiny",
                       str(tmp_path / "trk"), VERSION, str(out), verbose=False)
    res = trk.main(render_curves=False)
    assert res["label_metrics"]["amota"]["car"] == pytest.approx(1.0)
    assert res["label_metrics"]["motp"]["car"] == pytest.approx(0.0, abs=1e-6)


def test_export_is_reproducible_and_replaces_tables(tmp_path):
    scene, labels, _ = labelled_scene(tmp_path, seed=3, frames=3)
    for _ in range(2):
        assert main(["export", "nuscenes", str(scene), "--labels", str(labels), "--out", str(tmp_path / "o")]) == 0
    tables = sorted(p.name for p in (tmp_path / "o" / VERSION).iterdir())
    assert len(tables) == 14 and "splits.json" in tables
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.startswith(".")]


def test_export_refuses_labels_of_another_scene(tmp_path, capsys):
    scene, labels, doc = labelled_scene(tmp_path, frames=2)
    doc.scene = "other"
    save_document(doc, tmp_path / "other.json")
    assert main(["export", "nuscenes", str(scene), "--labels", str(tmp_path / "other.json"),
                 "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "other.json" in err and "'tiny'" in err and "Traceback" not in err


def test_labelled_scene_document_is_valid(tmp_path):
    _, labels, _ = labelled_scene(tmp_path, frames=2)
    assert subprocess.run([sys.executable, str(CHECKER), str(labels)]).returncode == 0


def test_round_trip_export_import_keeps_boxes_points_and_cameras(exported, tmp_path):
    scene, out, doc = exported
    back = tmp_path / "back.h5"
    assert main(["import", "nuscenes", str(out), "--scene", "tiny", "--out", str(back)]) == 0
    labels = tmp_path / "back.labels.json"
    assert subprocess.run([sys.executable, str(CHECKER), str(labels)]).returncode == 0
    from lidarlabel.io.labels import load_document

    got = load_document(labels)
    assert len(got.tracks) == len(doc.tracks) and got.num_boxes() == doc.num_boxes()
    by_first = {tuple(np.round(t.boxes[t.frames()[0]].center, 3)): t for t in got.tracks.values()}
    for t in doc.tracks.values():
        g = by_first[tuple(np.round(t.boxes[t.frames()[0]].center, 3))]
        assert g.category == t.category and g.frames() == t.frames()
        for f in t.frames():
            a, b = t.boxes[f].as_array(), g.boxes[f].as_array()
            np.testing.assert_allclose(b[:6], a[:6], atol=1e-4)
            assert abs(np.mod(b[6] - a[6] + np.pi, 2 * np.pi) - np.pi) < 1e-4
            assert {k for k, v in g.boxes[f].attributes.items() if v} == {k for k, v in t.attributes.items() if v}
            assert g.boxes[f].num_lidar_pts is not None
    with SceneReader.open(scene) as a, SceneReader.open(back) as b:
        assert b.scene_id == "tiny" and b.num_frames == a.num_frames
        np.testing.assert_array_equal(b.timestamps_us, a.timestamps_us)
        np.testing.assert_allclose(b.ego_poses, a.ego_poses, atol=1e-9)
        for i in (0, a.num_frames - 1):
            np.testing.assert_allclose(b.points_world(i), a.points_world(i), atol=1e-4)
        assert [c.name for c in b.cameras] == ["CAM_FRONT"]
        np.testing.assert_allclose(b.camera("CAM_FRONT").K, a.camera("CAM_FRONT").K)
        np.testing.assert_allclose(b.camera("CAM_FRONT").ego_from_camera, a.camera("CAM_FRONT").ego_from_camera,
                                   atol=1e-9)
        assert b.image("CAM_FRONT", 1).shape == (240, 320, 3)


def test_missing_table_is_one_clear_error(exported, tmp_path, capsys):
    import shutil

    _, out, _ = exported
    broken = tmp_path / "broken"
    shutil.copytree(out / VERSION, broken / VERSION)
    (broken / VERSION / "sample_annotation.json").unlink()
    assert main(["import", "nuscenes", str(broken), "--out", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert "sample_annotation.json: missing table" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()


def test_truncated_lidar_file_and_unknown_scene_are_clear_errors(exported, tmp_path, capsys):
    import shutil

    _, out, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert main(["import", "nuscenes", str(copy), "--scene", "nope", "--out", str(tmp_path / "x.h5")]) == 1
    assert "no scene named 'nope'" in capsys.readouterr().err
    lidar = sorted((copy / "samples" / "LIDAR_TOP").iterdir())[2]
    lidar.write_bytes(lidar.read_bytes()[:-7])
    assert main(["import", "nuscenes", str(copy), "--out", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err
    assert lidar.name in err and "20 bytes per point" in err
    assert not (tmp_path / "x.h5").exists()
