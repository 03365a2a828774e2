"""Quality guard on a simulated street (``lidarlabel sample``, a seed not used for tuning).

Floors sit well under the figures of docs/prelabel.md so simulator changes do
not make them flaky; they catch a pre-labeler that stops working.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lidarlabel.cli import main
from lidarlabel.io.labels import load_document
from lidarlabel.io.scene import SceneReader
from lidarlabel.qa.eval import (
    DetectionConfig,
    TrackingConfig,
    evaluate_detection,
    evaluate_tracking,
)
from tests.conftest import CHECKER


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample")
    scene = tmp / "street.h5"
    assert main(["sample", str(scene), "--frames", "15", "--beams", "64", "--seed", "2024", "--no-cameras"]) == 0
    assert main(["prelabel", str(scene), "--out", str(tmp / "pred")]) == 0
    return scene, tmp / "pred" / "street.json"


def test_sample_scene_prelabels_pass_the_contract_and_a_quality_floor(sample_run):
    scene, pred_path = sample_run
    check = subprocess.run([sys.executable, str(CHECKER), str(pred_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    gt = load_document(scene.with_suffix(".gt.json"))
    pred = load_document(pred_path)
    with SceneReader.open(scene) as r:
        ego = r.ego_poses[:, :2, 3]
    det = evaluate_detection(gt, pred, ego, DetectionConfig(min_points=20, max_range=50.0))["classes"]
    trk = evaluate_tracking(gt, pred, ego, TrackingConfig(min_points=20, max_range=50.0))["classes"]
    car = det["car"]["3d"]
    print(f"\ncar AP3D {car['ap']:.3f} APBEV {det['car']['bev']['ap']:.3f} recall {car['recall']:.2f} "
          f"GT {car['num_gt']}; MOTA {trk['car']['mota']:.3f} IDSW {trk['car']['idsw']}")
    assert car["num_gt"] > 50
    assert car["ap"] >= 0.3
    assert det["car"]["bev"]["recall"] >= 0.5
    assert trk["car"]["idsw_per_100"] <= 3.0
