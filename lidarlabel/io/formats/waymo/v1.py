"""Waymo Open Dataset v1: a TFRecord of ``Frame`` protos, written and read.

Export: one Frame per scene frame with the context (camera and laser
calibrations), the pose (world_from_vehicle), the laser labels in that vehicle
frame and the camera images. Import: the same back into a scene and a label
document, plus points from the range images when the frames carry them.
Field by field in docs/formats/waymo.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lidarlabel.core.boxes import normalize_yaw
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.transforms import invert_pose, transform_points
from lidarlabel.errors import InputError
from lidarlabel.io.formats.waymo import common
from lidarlabel.io.formats.waymo.proto import message_class
from lidarlabel.io.formats.waymo.rangeimage import (
    decode_matrix,
    range_image_to_points,
    uniform_inclinations,
)
from lidarlabel.io.formats.waymo.tfrecord import read_records, write_records
from lidarlabel.io.scene import SceneReader, SceneWriter

__all__ = ["POINT_FIELDS", "export_v1", "import_v1", "read_frames"]

POINT_FIELDS = ("x", "y", "z", "intensity", "elongation", "ring", "laser", "return")


def _set_transform(msg: Any, T: np.ndarray) -> None:
    del msg.transform[:]
    msg.transform.extend(float(v) for v in np.asarray(T, dtype=float).reshape(16))


def _to_jpeg(data: bytes) -> bytes:
    if not data or data[:2] == b"\xff\xd8":
        return data
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95]) if img is not None else (False, None)
    return jpg.tobytes() if ok else b""


def _context(scene: SceneReader, name: str, cam_ids: dict[str, int]) -> Any:
    ctx = message_class("Context")(name=name)
    for cam in scene.cameras:
        intr, ext = common.model_to_waymo_camera(cam)
        cc = ctx.camera_calibrations.add(name=cam_ids[cam.name], width=cam.width, height=cam.height)
        cc.intrinsic.extend(intr)
        _set_transform(cc.extrinsic, ext)
        cc.rolling_shutter_direction = 0
    lo, hi = common.beam_limits(scene)
    lc = ctx.laser_calibrations.add(name=1, beam_inclination_min=lo, beam_inclination_max=hi)
    _set_transform(lc.extrinsic, scene.lidar_extrinsic)
    return ctx


def _ego_velocity(scene: SceneReader) -> np.ndarray:
    """(F, 3) ego linear velocity in the world frame from the poses, m/s."""
    t = (scene.timestamps_us - scene.timestamps_us[0]).astype(float) * 1e-6 if scene.num_frames else np.zeros(0)
    xyz = scene.ego_poses[:, :3, 3]
    if len(t) < 2 or np.any(np.diff(t) <= 0):
        return np.zeros_like(xyz)
    return np.gradient(xyz, t, axis=0)


def frames_of(scene: SceneReader, doc: LabelDocument) -> Iterator[bytes]:
    """Serialised Frame protos of every scene frame, in order."""
    Frame = message_class("Frame")
    name = common.context_name(scene.scene_id)
    cam_ids = common.camera_enum_names(scene.cameras, str(scene.path))
    ctx = _context(scene, name, cam_ids)
    kin = common.track_kinematics(doc, scene.timestamps_us)
    ego_v = _ego_velocity(scene)
    seen: dict[str, str] = {}
    for tid in doc.tracks:
        oid = common.object_id(tid)
        if oid in seen:
            raise InputError(f"{scene.path}: tracks {seen[oid]!r} and {tid!r} map to the same Waymo id {oid}")
        seen[oid] = tid
    for i in range(scene.num_frames):
        fr = Frame(timestamp_micros=int(scene.timestamps_us[i]))
        fr.context.CopyFrom(ctx)
        _set_transform(fr.pose, scene.ego_poses[i])
        for cam in scene.cameras:
            data = _to_jpeg(scene.image_bytes(cam.name, i))
            if not data:
                continue
            im = fr.images.add(name=cam_ids[cam.name], image=data)
            _set_transform(im.pose, scene.ego_poses[i])
            im.pose_timestamp = float(scene.camera_timestamps_us[cam.name][i]) * 1e-6
            im.velocity.v_x, im.velocity.v_y, im.velocity.v_z = (float(v) for v in ego_v[i])
        lab = common.frame_labels(scene, doc, i, kin)
        for k in range(len(lab.ids)):
            b = lab.boxes[k]
            label = fr.laser_labels.add(type=int(lab.types[k]), id=lab.ids[k],
                                        num_lidar_points_in_box=int(lab.num_points[k]),
                                        num_top_lidar_points_in_box=int(lab.num_points[k]))
            bx = label.box
            bx.center_x, bx.center_y, bx.center_z = (float(v) for v in b[:3])
            bx.length, bx.width, bx.height, bx.heading = (float(v) for v in b[3:7])
            md = label.metadata
            md.speed_x, md.speed_y, md.speed_z = (float(v) for v in lab.speed[k])
            md.accel_x, md.accel_y, md.accel_z = (float(v) for v in lab.accel[k])
        yield fr.SerializeToString()


def export_v1(scene: SceneReader, doc: LabelDocument, out_dir: Path) -> Path:
    """Write ``<out_dir>/segment-<context>_with_camera_labels.tfrecord``; returns its path."""
    path = Path(out_dir) / f"segment-{common.context_name(scene.scene_id)}_with_camera_labels.tfrecord"
    write_records(path, frames_of(scene, doc))
    return path


def read_frames(path: str | Path) -> Iterator[Any]:
    """Parsed ``Frame`` messages of a v1 TFRecord (CRCs checked; InputError on damage)."""
    from google.protobuf.message import DecodeError

    Frame = message_class("Frame")
    for i, data in enumerate(read_records(path)):
        fr = Frame()
        try:
            fr.ParseFromString(data)
        except DecodeError as exc:
            raise InputError(f"{path}: record {i}: not a Waymo Frame protobuf ({exc})") from None
        yield fr


def _matrix(t: Any, where: str) -> np.ndarray:
    vals = list(t.transform)
    if len(vals) != 16:
        raise InputError(f"{where}: expected 16 values (4x4 row-major transform), got {len(vals)}")
    return np.array(vals, dtype=float).reshape(4, 4)


def frame_points(fr: Any, lidar_from_vehicle: np.ndarray, where: str) -> np.ndarray:
    """(N, 8) float32 points of all lasers and returns of a Frame, in our LiDAR frame.

    Columns: POINT_FIELDS (x, y, z, intensity, elongation, ring = row, laser = LaserName, return 1|2).
    """
    calib = {lc.name: lc for lc in fr.context.laser_calibrations}
    pose = _matrix(fr.pose, f"{where}: pose") if fr.HasField("pose") else np.eye(4)
    parts = []
    for laser in fr.lasers:
        if not (laser.ri_return1.range_image_compressed or laser.ri_return2.range_image_compressed):
            continue
        lc = calib.get(laser.name)
        if lc is None:
            raise InputError(f"{where}: laser {laser.name}: no laser_calibrations entry in the context")
        ext = _matrix(lc.extrinsic, f"{where}: laser {laser.name} extrinsic")
        for ret, ri in ((1, laser.ri_return1), (2, laser.ri_return2)):
            if not ri.range_image_compressed:
                continue
            w = f"{where}: laser {laser.name} return {ret}"
            try:
                img = decode_matrix(ri.range_image_compressed)
                H = img.shape[0]
                if len(lc.beam_inclinations):
                    incl = np.asarray(lc.beam_inclinations, dtype=float)
                else:
                    incl = uniform_inclinations(lc.beam_inclination_min, lc.beam_inclination_max, H)
                pix = None
                if ri.range_image_pose_compressed:
                    pix = decode_matrix(ri.range_image_pose_compressed)
                elif laser.name == 1 and ret == 2:
                    r1 = laser.ri_return1.range_image_pose_compressed
                    pix = decode_matrix(r1) if r1 else None
                pts, mask = range_image_to_points(img, ext, incl, pix, pose if pix is not None else None)
            except ValueError as exc:
                raise InputError(f"{w}: {exc}") from None
            feat = np.zeros((len(pts), 8), dtype=np.float64)
            feat[:, :3] = transform_points(lidar_from_vehicle, pts)
            rows = np.nonzero(mask)[0]
            if img.shape[2] > 1:
                feat[:, 3] = img[..., 1][mask]
            if img.shape[2] > 2:
                feat[:, 4] = img[..., 2][mask]
            feat[:, 5], feat[:, 6], feat[:, 7] = rows, laser.name, ret
            parts.append(feat)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 8), np.float32)


def import_v1(src: str | Path, out_scene: Path, options: dict) -> LabelDocument | None:
    """Read a v1 TFRecord into ``out_scene`` (points, poses, cameras, images); returns its labels."""
    src = Path(src)
    frames = read_frames(src)
    first = next(frames, None)
    if first is None:
        raise InputError(f"{src}: expected at least one Frame record, the file holds none")
    ctx = first.context
    name = ctx.name or src.stem
    lasers = {lc.name: lc for lc in ctx.laser_calibrations}
    top = lasers.get(1) or (next(iter(lasers.values())) if lasers else None)
    lidar_ext = _matrix(top.extrinsic, f"{src}: laser calibration") if top is not None else np.eye(4)
    cams, cam_names = [], {}
    for cc in ctx.camera_calibrations:
        cname = common.CAMERA_NAMES.get(cc.name, f"CAMERA_{cc.name}")
        cam_names[cc.name] = cname
        ext = _matrix(cc.extrinsic, f"{src}: camera {cname} extrinsic")
        cams.append(common.waymo_camera_to_model(cname, cc.intrinsic, ext, cc.width, cc.height))
    doc = LabelDocument.new(name, source="import", author=str(options.get("author", "waymo-import")))
    lidar_from_vehicle = invert_pose(lidar_ext)
    last_ts = None
    with SceneWriter(out_scene, name, lidar_ext, cams, point_fields=POINT_FIELDS, source="waymo",
                     lidar_name=common.LASER_NAMES.get(top.name, "TOP") if top is not None else "TOP") as w:
        fi = 0
        for fr in _chain(first, frames):
            where = f"{src}: record {fi}"
            ts = int(fr.timestamp_micros)
            if last_ts is not None and ts <= last_ts:
                raise InputError(f"{where}: timestamp_micros: expected increasing times, got {ts} after {last_ts}")
            last_ts = ts
            pose = _matrix(fr.pose, f"{where}: pose")
            images, img_ts = {}, {}
            for im in fr.images:
                cname = cam_names.get(im.name)
                if cname is not None:
                    images[cname] = bytes(im.image)
                    if im.pose_timestamp:
                        img_ts[cname] = int(round(im.pose_timestamp * 1e6))
            pts = frame_points(fr, lidar_from_vehicle, where)
            w.add_frame(ts, pose, pts, images, img_ts)
            _add_labels(doc, fr, fi, ts, pose, where)
            fi += 1
    return doc if doc.tracks else None


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _add_labels(doc: LabelDocument, fr: Any, frame: int, ts: int, pose: np.ndarray, where: str) -> None:
    if not len(fr.laser_labels):
        return
    veh = np.array([[lb.box.center_x, lb.box.center_y, lb.box.center_z, lb.box.length, lb.box.width,
                     lb.box.height, lb.box.heading] for lb in fr.laser_labels], dtype=float)
    bad = np.nonzero(~np.isfinite(veh).all(axis=1))[0]
    if len(bad):
        raise InputError(f"{where}: laser_labels[{bad[0]}].box: expected finite numbers, got {veh[bad[0]].tolist()}")
    world = common.world_boxes_from_vehicle(pose, veh)
    world[:, 6] = normalize_yaw(world[:, 6])
    for k, lb in enumerate(fr.laser_labels):
        tid = lb.id or f"waymo-{frame}-{k}"
        track = doc.tracks.get(tid)
        if track is None:
            attrs = {"cycle.with_rider": True} if lb.type == 4 else {}
            track = doc.tracks[tid] = Track(tid, common.type_to_category(lb.type), attrs,
                                            extra={"waymo_type": common.TYPE_NAMES.get(lb.type, str(lb.type))})
        if frame in track.boxes:
            raise InputError(f"{where}: laser_labels[{k}].id: expected unique ids, {tid!r} appears twice")
        size = np.maximum(world[k, 3:6], 1e-3)  # our schema needs positive sizes
        track.boxes[frame] = Box(frame, tuple(float(v) for v in world[k, :3]), tuple(float(v) for v in size),
                                 float(world[k, 6]), ts,
                                 source="import", keyframe=True,
                                 num_lidar_pts=int(lb.num_lidar_points_in_box) if lb.HasField("num_lidar_points_in_box") else None)
