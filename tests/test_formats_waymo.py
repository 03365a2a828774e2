"""Waymo v1 (TFRecord of Frame protos) and v2 (Parquet): framing, the real frame, round trips."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.core.boxes import box_corners
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.transforms import invert_pose, transform_points, yaw_of
from lidarlabel.errors import InputError
from lidarlabel.io.formats.waymo import common, export_scene, import_scene
from lidarlabel.io.formats.waymo.tfrecord import frame_record, masked_crc32c, read_records
from lidarlabel.io.formats.waymo.v1 import read_frames
from lidarlabel.io.labels import save_document
from lidarlabel.io.scene import SceneReader
from tests.conftest import CHECKER, make_tiny_scene

REAL = "waymo/pvps_data_one_frame.tfrecord"


# ----------------------------------------------------------------------------- a minimal wire parser
def _varint(b: bytes, i: int) -> tuple[int, int]:
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _fields(b: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of one message, hand-decoded."""
    out, i = [], 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i : i + 8], i + 8
        elif wt == 5:
            v, i = b[i : i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i : i + n], i + n
        else:
            raise AssertionError(f"wire type {wt}")
        out.append((f, wt, v))
    return out


def _get(b: bytes, num: int) -> list:
    return [v for f, _, v in _fields(b) if f == num]


def _doubles(b: bytes, num: int) -> list[float]:
    vals = []
    for f, wt, v in _fields(b):
        if f == num:
            vals += [struct.unpack("<d", v)[0]] if wt == 1 else list(struct.unpack(f"<{len(v) // 8}d", v))
    return vals


@pytest.fixture(scope="module")
def real_payload(shared_data: Path) -> bytes:
    raw = (shared_data / REAL).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[12 : 12 + n]


# ----------------------------------------------------------------------------- framing
def test_tfrecord_framing_matches_the_spec_test_vectors():
    assert frame_record(b"").hex() == "0000000000000000" + "29039807" + "d8ea82a2"
    assert frame_record(b"hello").hex() == "0500000000000000eab2043e68656c6c6fbb1f1c19"
    assert masked_crc32c(b"") == 0xA282EAD8


def test_reader_checks_both_crcs_and_truncation(tmp_path, shared_data):
    raw = (shared_data / REAL).read_bytes()
    good = frame_record(b"first") + raw
    p = tmp_path / "x.tfrecord"
    p.write_bytes(good)
    assert len(list(read_records(p))) == 2

    bad = bytearray(good)
    bad[len(frame_record(b"first")) + 5000] ^= 0x01  # a bit flip inside record 1's payload
    p.write_bytes(bytes(bad))
    with pytest.raises(InputError, match=r"x\.tfrecord: record 1: data CRC mismatch"):
        list(read_records(p))

    bad = bytearray(good)
    bad[3] ^= 0xFF  # damaged length of record 0
    p.write_bytes(bytes(bad))
    with pytest.raises(InputError, match=r"x\.tfrecord: record 0: length CRC mismatch"):
        list(read_records(p))

    p.write_bytes(good[:-100])
    with pytest.raises(InputError, match=r"x\.tfrecord: record 1: truncated"):
        list(read_records(p))
    p.write_bytes(good[: len(frame_record(b"first")) + 7])
    with pytest.raises(InputError, match=r"record 1: truncated header"):
        list(read_records(p))


def test_cli_reports_a_damaged_tfrecord_in_one_line(tmp_path, shared_data):
    p = tmp_path / "cut.tfrecord"
    p.write_bytes((shared_data / REAL).read_bytes()[:100_000])
    r = subprocess.run([sys.executable, "-m", "lidarlabel.cli", "import", "waymo", str(p), "--out",
                        str(tmp_path / "s.h5")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "cut.tfrecord: record 0: truncated" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.h5").exists()
    assert not list(tmp_path.glob(".s.h5*"))


# ----------------------------------------------------------------------------- the real frame
def test_real_frame_decodes_exactly(shared_data, real_payload):
    frames = list(read_frames(shared_data / REAL))
    assert len(frames) == 1
    fr = frames[0]
    ctx = _get(real_payload, 1)[0]
    assert fr.context.name == _get(ctx, 1)[0].decode() == "1024360143612057520_3580_000_3600_000"
    assert fr.timestamp_micros == _get(real_payload, 2)[0] == 1553735853462203
    labels = _get(real_payload, 6)
    assert len(fr.laser_labels) == len(labels) == 75
    assert len(fr.context.camera_calibrations) == len(_get(ctx, 2)) == 5
    assert len(fr.context.laser_calibrations) == len(_get(ctx, 3)) == 5
    assert len(fr.images) == len(_get(real_payload, 4)) == 5
    assert [im.name for im in fr.images] == [_get(b, 1)[0] for b in _get(real_payload, 4)]
    pose = np.array(_doubles(_get(real_payload, 3)[0], 1)).reshape(4, 4)
    assert np.array_equal(np.array(fr.pose.transform).reshape(4, 4), pose)
    assert np.allclose(pose[3], [0, 0, 0, 1]) and np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-6)
    for k in (0, 17, 74):
        raw = labels[k]
        box = _get(raw, 1)[0]
        want = [struct.unpack("<d", _get(box, n)[0])[0] for n in (1, 2, 3, 5, 4, 6, 7)]
        lb = fr.laser_labels[k]
        assert lb.id == _get(raw, 4)[0].decode() and len(lb.id) == 22
        assert lb.type == _get(raw, 3)[0]
        got = [lb.box.center_x, lb.box.center_y, lb.box.center_z, lb.box.length, lb.box.width,
               lb.box.height, lb.box.heading]
        assert got == want
    images = _get(real_payload, 4)
    assert fr.images[2].image == _get(images[2], 2)[0]
    assert fr.images[2].image[:2] == b"\xff\xd8"
    assert fr.SerializeToString() == real_payload  # nothing lost, byte for byte


def test_real_frame_imports_labels_cameras_and_pose(tmp_path, shared_data, real_payload):
    out = tmp_path / "w.h5"
    doc = import_scene(str(shared_data / REAL), out, {})
    save_document(doc, tmp_path / "w.json")
    assert subprocess.run([sys.executable, str(CHECKER), str(tmp_path / "w.json")]).returncode == 0
    fr = next(read_frames(shared_data / REAL))
    assert doc.num_boxes() == 75 and len(doc.tracks) == 75
    with SceneReader.open(out) as s:
        assert s.scene_id == doc.scene == "1024360143612057520_3580_000_3600_000"
        assert s.num_frames == 1 and s.timestamps_us[0] == 1553735853462203
        assert np.array_equal(s.ego_poses[0], np.array(fr.pose.transform).reshape(4, 4))
        assert [c.name for c in s.cameras] == ["FRONT", "FRONT_LEFT", "FRONT_RIGHT", "SIDE_LEFT", "SIDE_RIGHT"]
        assert s.image("SIDE_LEFT", 0).shape == (886, 1920, 3)
        pose = s.ego_poses[0]
        # a label's world box, taken back to the vehicle frame, is the label
        lb = fr.laser_labels[5]
        b = doc.tracks[lb.id].boxes[0]
        veh = transform_points(invert_pose(pose), np.array([b.center]))[0]
        assert np.allclose(veh, [lb.box.center_x, lb.box.center_y, lb.box.center_z], atol=1e-6)
        assert b.size == pytest.approx((lb.box.length, lb.box.width, lb.box.height))
        assert np.isclose(np.angle(np.exp(1j * (b.yaw - yaw_of(pose) - lb.box.heading))), 0, atol=1e-9)
        cats = {t.category for t in doc.tracks.values()}
        assert {"vehicle.car", "human.pedestrian.adult", "static_object.sign", "vehicle.bicycle"} == cats

        # Waymo's own projected_lidar_labels: our camera models put the boxes where Waymo did
        agree = total = 0
        for pl in fr.projected_lidar_labels:
            cam = s.camera(common.CAMERA_NAMES[pl.name])
            for lab in pl.labels:
                oid = lab.id[: -len(common.CAMERA_NAMES[pl.name]) - 1]
                # our world box back in the (slightly tilted) vehicle frame, as an upright box there
                wb = doc.tracks[oid].boxes[0].as_array()
                vb = np.r_[transform_points(invert_pose(pose), wb[None, :3])[0], wb[3:6], wb[6] - yaw_of(pose)]
                pc = transform_points(invert_pose(cam.ego_from_camera), box_corners(vb[None])[0])
                if (pc[:, 2] < 0.5).any():
                    continue  # straddles the camera plane: Waymo clips, we do not
                uv, _ = cam.project(pc)
                lo = np.clip(uv.min(0), 0, [cam.width, cam.height])
                hi = np.clip(uv.max(0), 0, [cam.width, cam.height])
                total += 1
                agree += np.abs((lo + hi) / 2 - [lab.box.center_x, lab.box.center_y]).max() < 1.0
        assert total >= 50 and agree >= total - 3, (agree, total)


# ----------------------------------------------------------------------------- round trips
def _labelled_scene(tmp_path: Path, seed: int = 3) -> tuple[Path, LabelDocument]:
    path = make_tiny_scene(tmp_path / "tiny.h5", frames=6, points=4000, seed=seed)
    rng = np.random.default_rng(seed)
    doc = LabelDocument.new("tiny", source="human", author="test")
    with SceneReader.open(path) as s:
        ts = s.timestamps_us
    specs = [("vehicle.car", (4.5, 1.9, 1.6), 3.13, (5.0, 0.5)), ("human.pedestrian.adult", (0.7, 0.6, 1.8), -3.14, (0.0, 1.2)),
             ("vehicle.bicycle", (1.8, 0.6, 1.7), 1.0, (2.0, -1.0)), ("movable_object.trafficcone", (0.4, 0.4, 0.8), 0.0, (0, 0))]
    for k, (cat, size, yaw, vel) in enumerate(specs):
        tid = f"track {k}/{cat}"  # not a Waymo-shaped id: export must derive one
        start = rng.uniform(-10, 10, 2)
        boxes = {}
        for f in range(k % 2, 6):
            t = (ts[f] - ts[0]) * 1e-6
            c = (start[0] + vel[0] * t, start[1] + vel[1] * t, -0.5 + 0.1 * k)
            boxes[f] = Box(f, c, size, yaw + 0.01 * f, int(ts[f]), "human", keyframe=True)
        doc.tracks[tid] = Track(tid, cat, {}, boxes)
    return path, doc


def _compare(doc: LabelDocument, back: LabelDocument) -> None:
    assert back.num_boxes() == doc.num_boxes()
    for tid, t in doc.tracks.items():
        bt = back.tracks[common.object_id(tid)]
        assert bt.frames() == t.frames()
        for f, b in t.boxes.items():
            a, c = b.as_array(), bt.boxes[f].as_array()
            assert np.abs(a[:6] - c[:6]).max() < 1e-4
            assert abs(np.angle(np.exp(1j * (a[6] - c[6])))) < 1e-4


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_round_trip_keeps_boxes_cameras_and_poses(tmp_path, variant):
    path, doc = _labelled_scene(tmp_path)
    with SceneReader.open(path) as s:
        written = export_scene(s, doc, tmp_path / "out", {"format": variant})
        back = import_scene(str(written), tmp_path / "back.h5", {})
        _compare(doc, back)
        save_document(back, tmp_path / "back.json")
        assert subprocess.run([sys.executable, str(CHECKER), str(tmp_path / "back.json")]).returncode == 0
        with SceneReader.open(tmp_path / "back.h5") as b:
            assert np.allclose(b.ego_poses, s.ego_poses) and np.array_equal(b.timestamps_us, s.timestamps_us)
            (cam,), (cam2,) = s.cameras, b.cameras
            assert cam2.name == "FRONT"  # CAM_FRONT maps onto Waymo's FRONT
            assert np.allclose(cam.K, cam2.K) and np.allclose(cam.dist, cam2.dist)
            assert np.allclose(cam.ego_from_camera, cam2.ego_from_camera)
            assert np.allclose(b.lidar_extrinsic, s.lidar_extrinsic)
            if variant == "v1":
                assert b.image_bytes("FRONT", 3) == s.image_bytes("CAM_FRONT", 3)
    cats = {t.category for t in back.tracks.values()}
    assert cats == {"vehicle.car", "human.pedestrian.adult", "vehicle.bicycle", "unknown"}


def test_v1_labels_are_in_the_vehicle_frame_with_speed_and_point_counts(tmp_path):
    path, doc = _labelled_scene(tmp_path, seed=11)
    with SceneReader.open(path) as s:
        written = export_scene(s, doc, tmp_path / "out", {})
        assert written.name == "segment-tiny_with_camera_labels.tfrecord"
        frames = list(read_frames(written))
        assert len(frames) == s.num_frames
        car = doc.tracks["track 0/vehicle.car"]
        oid = common.object_id("track 0/vehicle.car")
        assert len(oid) == 22 and oid == common.object_id("track 0/vehicle.car")
        for f, fr in enumerate(frames):
            pose = np.array(fr.pose.transform).reshape(4, 4)
            assert np.allclose(pose, s.ego_poses[f])
            (lb,) = [lb for lb in fr.laser_labels if lb.id == oid]
            assert lb.type == 1
            wb = car.boxes[f]
            local = transform_points(invert_pose(s.ego_poses[f]), np.array([wb.center]))[0]
            assert np.allclose([lb.box.center_x, lb.box.center_y, lb.box.center_z], local)
            assert -np.pi <= lb.box.heading < np.pi
            assert np.isclose(np.cos(lb.box.heading), np.cos(wb.yaw - 0.05 * f))  # ego yaw is 0.05 rad/frame
            assert (lb.box.length, lb.box.width, lb.box.height) == pytest.approx(wb.size)
            assert (lb.metadata.speed_x, lb.metadata.speed_y) == pytest.approx((5.0, 0.5), abs=1e-6)
            pts = s.points_world(f)
            d = pts - wb.center
            c, sn = np.cos(wb.yaw), np.sin(wb.yaw)
            lx, ly = c * d[:, 0] + sn * d[:, 1], -sn * d[:, 0] + c * d[:, 1]
            inside = (np.abs(lx) <= wb.size[0] / 2) & (np.abs(ly) <= wb.size[1] / 2) & (np.abs(d[:, 2]) <= wb.size[2] / 2)
            assert lb.num_lidar_points_in_box == int(inside.sum())
            types = {lb.id: lb.type for lb in fr.laser_labels}
            assert types.get(common.object_id("track 2/vehicle.bicycle")) in (None, 4)
            assert types.get(common.object_id("track 3/movable_object.trafficcone")) in (None, 0)
            assert [im.name for im in fr.images] == [1] and fr.images[0].image[:2] == b"\xff\xd8"
            assert len(fr.context.laser_calibrations) == 1 and fr.context.laser_calibrations[0].name == 1


def test_v2_components_have_the_official_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, doc = _labelled_scene(tmp_path)
    with SceneReader.open(path) as s:
        out = export_scene(s, doc, tmp_path / "v2", {"format": "v2"})
    lb = pq.read_table(out / "lidar_box" / "tiny.parquet")
    L = "[LiDARBoxComponent]"
    want = {"key.segment_context_name": pa.string(), "key.frame_timestamp_micros": pa.int64(),
            "key.laser_object_id": pa.string(), f"{L}.type": pa.int8(),
            f"{L}.num_lidar_points_in_box": pa.int64(), f"{L}.num_top_lidar_points_in_box": pa.int64(),
            f"{L}.difficulty_level.detection": pa.int8(), f"{L}.difficulty_level.tracking": pa.int8()}
    for part in ("box.center", "box.size", "speed", "acceleration"):
        want.update({f"{L}.{part}.{a}": pa.float64() for a in "xyz"})
    want[f"{L}.box.heading"] = pa.float64()
    assert {f.name: f.type for f in lb.schema} == want
    assert lb.num_rows == doc.num_boxes()
    rows = lb.to_pydict()
    k = rows["key.laser_object_id"].index(common.object_id("track 0/vehicle.car"))
    assert (rows[f"{L}.box.size.x"][k], rows[f"{L}.box.size.y"][k]) == pytest.approx((4.5, 1.9))  # x = length
    vp = pq.read_table(out / "vehicle_pose" / "tiny.parquet")
    col = vp.schema.field("[VehiclePoseComponent].world_from_vehicle.transform")
    assert col.type == pa.list_(pa.float64(), 16)
    assert vp.num_rows == 6
    lc = pq.read_table(out / "lidar_calibration" / "tiny.parquet")
    assert "[LiDARCalibrationComponent].extrinsic.transform" in lc.column_names
    cc = pq.read_table(out / "camera_calibration" / "tiny.parquet")
    assert cc.to_pydict()["[CameraCalibrationComponent].intrinsic.f_u"] == [200.0]


def test_cli_export_and_import_waymo(tmp_path):
    from lidarlabel.cli import main

    path, doc = _labelled_scene(tmp_path)
    save_document(doc, tmp_path / "labels.json")
    assert main(["export", "waymo", str(path), "--labels", str(tmp_path / "labels.json"), "--out",
                 str(tmp_path / "out")]) == 0
    rec = tmp_path / "out" / "segment-tiny_with_camera_labels.tfrecord"
    assert main(["import", "waymo", str(rec), "--out", str(tmp_path / "in.h5")]) == 0
    assert subprocess.run([sys.executable, str(CHECKER), str(tmp_path / "in.labels.json")]).returncode == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_point_count_matches_the_core_count(seed):
    from lidarlabel.core.boxes import count_points_in_boxes
    from lidarlabel.core.transforms import pose_from_quat

    rng = np.random.default_rng(seed)
    pts = np.c_[rng.uniform(-60, 60, (30000, 2)), rng.uniform(-3, 3, 30000)].astype(np.float32)
    pts[:5] = [800.0, 0.0, 0.0]  # beyond the binned range
    q = np.r_[1.0, rng.normal(0, 0.02, 3)]  # a slightly tilted sensor, far from the world origin
    T = pose_from_quat(q / np.linalg.norm(q), [-25211.3, 42391.1, -160.6])
    boxes = np.c_[rng.uniform(-40, 40, (60, 2)) + T[:2, 3], np.full(60, T[2, 3]) + rng.uniform(-1, 1, 60),
                  rng.uniform(0.3, 12, (60, 3)), rng.uniform(-np.pi, np.pi, 60)]
    want = count_points_in_boxes(transform_points(T, pts), boxes)
    assert want.sum() > 100
    assert np.array_equal(common.count_points(pts, T, boxes), want)


def test_sample_scene_round_trip_and_point_counts(tmp_path):
    """The simulator's committed sample: exact ground-truth counts survive the export."""
    from lidarlabel.io.labels import load_document

    root = Path(__file__).resolve().parents[1] / "sample_scenes"
    doc = load_document(root / "sample.gt.json")
    with SceneReader.open(root / "sample.h5") as s:
        out = export_scene(s, doc, tmp_path / "out", {})
    by_oid = {common.object_id(t): t for t in doc.tracks}
    checked = 0
    for f, fr in enumerate(read_frames(out)):
        for lb in fr.laser_labels:
            want = doc.tracks[by_oid[lb.id]].boxes[f].num_lidar_pts
            if want is not None:
                assert lb.num_lidar_points_in_box == want, (lb.id, f)
                checked += 1
    assert checked > 500
    _compare(doc, import_scene(str(out), tmp_path / "back.h5", {}))


def test_import_rejects_empty_garbage_and_unordered_records(tmp_path, real_payload):
    p = tmp_path / "e.tfrecord"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"e\.tfrecord: expected at least one Frame record"):
        import_scene(str(p), tmp_path / "s.h5", {})
    p.write_bytes(frame_record(b"\x0a\xff\xff\xff\xff\x0f"))  # a length far beyond the payload
    with pytest.raises(InputError, match=r"e\.tfrecord: record 0: not a Waymo Frame protobuf"):
        import_scene(str(p), tmp_path / "s.h5", {})
    p.write_bytes(frame_record(real_payload) * 2)  # the same timestamp twice
    with pytest.raises(InputError, match=r"e\.tfrecord: record 1: timestamp_micros: expected increasing"):
        import_scene(str(p), tmp_path / "s.h5", {})
    assert not (tmp_path / "s.h5").exists()


def test_import_rejects_nan_boxes(tmp_path, real_payload):
    from lidarlabel.io.formats.waymo.proto import message_class

    fr = message_class("Frame")()
    fr.ParseFromString(real_payload)
    fr.laser_labels[3].box.center_y = float("nan")
    p = tmp_path / "nan.tfrecord"
    p.write_bytes(frame_record(fr.SerializeToString()))
    with pytest.raises(InputError, match=r"nan\.tfrecord: record 0: laser_labels\[3\]\.box: expected finite"):
        import_scene(str(p), tmp_path / "s.h5", {})
