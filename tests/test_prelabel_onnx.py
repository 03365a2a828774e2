"""The onnx detector runs a model built here with onnx.helper (nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lidarlabel.cli import main
from lidarlabel.core.transforms import pose_from_yaw
from lidarlabel.errors import InputError
from lidarlabel.io.labels import load_document
from lidarlabel.io.scene import SceneWriter
from lidarlabel.prelabel.detector import FrameData, make_detector

SIZE = [4.5, 1.9, 1.6]


def centroid_model(path: Path, class_names=("car",), outputs=("boxes", "scores", "labels")) -> Path:
    """A model that puts one car box (ego frame, yaw 0.25) on the centroid of all input points."""
    pts = helper.make_tensor_value_info("points", TensorProto.FLOAT, ["N", 4])
    out_boxes = helper.make_tensor_value_info(outputs[0], TensorProto.FLOAT, [1, 7])
    out_scores = helper.make_tensor_value_info(outputs[1], TensorProto.FLOAT, [1])
    out_labels = helper.make_tensor_value_info(outputs[2], TensorProto.INT64, [1])
    consts = [
        helper.make_node("Constant", [], ["starts"], value=helper.make_tensor("s", TensorProto.INT64, [1], [0])),
        helper.make_node("Constant", [], ["ends"], value=helper.make_tensor("e", TensorProto.INT64, [1], [3])),
        helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [1])),
        helper.make_node("Constant", [], ["lwhyaw"],
                         value=helper.make_tensor("c", TensorProto.FLOAT, [1, 4], [*SIZE, 0.25])),
        helper.make_node("Constant", [], [outputs[1]], value=helper.make_tensor("sc", TensorProto.FLOAT, [1], [0.8])),
        helper.make_node("Constant", [], [outputs[2]], value=helper.make_tensor("lb", TensorProto.INT64, [1], [0])),
    ]
    nodes = consts + [
        helper.make_node("Slice", ["points", "starts", "ends", "axes"], ["xyz"]),
        helper.make_node("ReduceMean", ["xyz"], ["centre"], axes=[0], keepdims=1),
        helper.make_node("Concat", ["centre", "lwhyaw"], [outputs[0]], axis=1),
    ]
    graph = helper.make_graph(nodes, "centroid", [pts], [out_boxes, out_scores, out_labels])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if class_names is not None:
        helper.set_model_props(model, {"class_names": json.dumps(list(class_names))})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_onnx_detector_returns_world_boxes(tmp_path):
    model = centroid_model(tmp_path / "m.onnx")
    det = make_detector("onnx", model=str(model))
    world_from_ego = pose_from_yaw(0.5, [100.0, 50.0, 2.0])
    ego_pts = np.random.default_rng(0).normal([10.0, 2.0, 0.8], 0.3, (500, 3))
    world = ego_pts @ world_from_ego[:3, :3].T + world_from_ego[:3, 3]
    frame = FrameData(0, 0, world, world_from_ego, world_from_ego)
    d = det.detect(frame)
    assert len(d) == 1 and d.categories == ["vehicle.car"]
    np.testing.assert_allclose(d.boxes[0, :3], world.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(d.boxes[0, 3:6], SIZE, atol=1e-6)
    assert d.boxes[0, 6] == pytest.approx(0.75, abs=1e-6)  # model yaw (ego) + ego yaw
    assert d.scores[0] == pytest.approx(0.8) and d.num_points[0] > 400


def test_onnx_contract_violations_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="class_names"):
        make_detector("onnx", model=str(centroid_model(tmp_path / "a.onnx", class_names=None)))
    with pytest.raises(InputError, match="unknown classes"):
        make_detector("onnx", model=str(centroid_model(tmp_path / "b.onnx", class_names=("spaceship",))))
    with pytest.raises(InputError, match="outputs"):
        make_detector("onnx", model=str(centroid_model(tmp_path / "c.onnx", outputs=("bx", "scores", "labels"))))
    garbage = tmp_path / "d.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(InputError, match=str(garbage)):
        make_detector("onnx", model=str(garbage))


def test_prelabel_command_with_an_onnx_model(tmp_path):
    model = centroid_model(tmp_path / "m.onnx")
    scene = tmp_path / "drive.h5"
    rng = np.random.default_rng(1)
    with SceneWriter(scene, "drive", pose_from_yaw(0.0, [0, 0, 1.8]), [], source="sim") as w:
        for i in range(6):  # a car-sized blob that stays put in the world while the ego drives by
            ego = pose_from_yaw(0.0, [1.0 * i, 0.0, 0.0])
            pts = rng.normal([20.0 - i, 3.0, -1.0], 0.3, (300, 3))
            w.add_frame(1_000_000 * i, ego, np.c_[pts, np.zeros((300, 2))].astype(np.float32), {})
    out = tmp_path / "out"
    assert main(["prelabel", str(scene), "--out", str(out), "--detector", "onnx", "--model", str(model)]) == 0
    doc = load_document(out / "drive.json")
    assert doc.version.author == "lidarlabel-prelabel/onnx"
    (track,) = doc.tracks.values()
    assert track.category == "vehicle.car" and len(track.boxes) == 6
    centres = np.array([b.center for b in track.boxes.values()])
    np.testing.assert_allclose(centres[:, :2], [[20.0, 3.0]] * 6, atol=0.2)
