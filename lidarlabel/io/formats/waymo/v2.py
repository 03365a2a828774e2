"""Waymo Open Dataset v2: Parquet components with the official column names.

Export writes ``<out>/<component>/<context_name>.parquet`` for ``lidar_box``,
``vehicle_pose``, ``lidar_calibration`` and ``camera_calibration`` (FORMATS.md §3);
import reads them back (a folder holding those component folders).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.errors import InputError
from lidarlabel.io.atomic import write_bytes_atomic
from lidarlabel.io.formats.waymo import common
from lidarlabel.io.scene import SceneReader, SceneWriter

__all__ = ["COMPONENTS", "export_v2", "import_v2"]

COMPONENTS = ("lidar_box", "vehicle_pose", "lidar_calibration", "camera_calibration")
_LB = "[LiDARBoxComponent]"
_VP = "[VehiclePoseComponent]"
_LC = "[LiDARCalibrationComponent]"
_CC = "[CameraCalibrationComponent]"
_CTX, _TS = "key.segment_context_name", "key.frame_timestamp_micros"


def _write(table, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write_bytes_atomic(path, buf.getvalue())


def _transform_type():
    import pyarrow as pa

    return pa.list_(pa.float64(), 16)


def export_v2(scene: SceneReader, doc: LabelDocument, out_dir: Path) -> Path:
    """Write the four components for ``scene`` under ``out_dir``; returns ``out_dir``."""
    import pyarrow as pa

    name = common.context_name(scene.scene_id)
    kin = common.track_kinematics(doc, scene.timestamps_us)
    cols: dict[str, list] = {k: [] for k in ("ts", "id", "box", "type", "speed", "accel", "npts")}
    for i in range(scene.num_frames):
        lab = common.frame_labels(scene, doc, i, kin)
        n = len(lab.ids)
        cols["ts"].append(np.full(n, scene.timestamps_us[i], np.int64))
        cols["id"].extend(lab.ids)
        cols["box"].append(lab.boxes)
        cols["type"].append(lab.types)
        cols["speed"].append(lab.speed)
        cols["accel"].append(lab.accel)
        cols["npts"].append(lab.num_points)
    cat = {k: np.concatenate(v) if k != "id" and v else v for k, v in cols.items()}
    box = cat["box"].reshape(-1, 7) if len(cat["ts"]) else np.zeros((0, 7))
    n = len(cat["id"])
    f64 = pa.float64()
    data = {
        _CTX: pa.array([name] * n, pa.string()),
        _TS: pa.array(cat["ts"] if n else [], pa.int64()),
        "key.laser_object_id": pa.array(cat["id"], pa.string()),
    }
    for j, axis in enumerate("xyz"):
        data[f"{_LB}.box.center.{axis}"] = pa.array(box[:, j], f64)
    for j, axis in enumerate("xyz"):  # size.x = length, size.y = width, size.z = height
        data[f"{_LB}.box.size.{axis}"] = pa.array(box[:, 3 + j], f64)
    data[f"{_LB}.box.heading"] = pa.array(box[:, 6], f64)
    data[f"{_LB}.type"] = pa.array(np.asarray(cat["type"] if n else [], np.int8), pa.int8())
    for key, arr in (("speed", cat["speed"]), ("acceleration", cat["accel"])):
        a = np.asarray(arr).reshape(-1, 3) if n else np.zeros((0, 3))
        for j, axis in enumerate("xyz"):
            data[f"{_LB}.{key}.{axis}"] = pa.array(a[:, j], f64)
    npts = np.asarray(cat["npts"] if n else [], np.int64)
    data[f"{_LB}.num_lidar_points_in_box"] = pa.array(npts, pa.int64())
    data[f"{_LB}.num_top_lidar_points_in_box"] = pa.array(npts, pa.int64())
    data[f"{_LB}.difficulty_level.detection"] = pa.array(np.zeros(n, np.int8), pa.int8())
    data[f"{_LB}.difficulty_level.tracking"] = pa.array(np.zeros(n, np.int8), pa.int8())
    out = Path(out_dir)
    _write(pa.table(data), out / "lidar_box" / f"{name}.parquet")

    F = scene.num_frames
    _write(pa.table({
        _CTX: pa.array([name] * F, pa.string()),
        _TS: pa.array(scene.timestamps_us, pa.int64()),
        f"{_VP}.world_from_vehicle.transform": pa.array(
            [p.reshape(16).tolist() for p in scene.ego_poses], _transform_type()),
    }), out / "vehicle_pose" / f"{name}.parquet")

    lo_hi = common.beam_limits(scene)
    _write(pa.table({
        _CTX: pa.array([name], pa.string()),
        "key.laser_name": pa.array([1], pa.int8()),
        f"{_LC}.extrinsic.transform": pa.array([scene.lidar_extrinsic.reshape(16).tolist()], _transform_type()),
        f"{_LC}.beam_inclination.min": pa.array([lo_hi[0]], f64),
        f"{_LC}.beam_inclination.max": pa.array([lo_hi[1]], f64),
        f"{_LC}.beam_inclination.values": pa.array([None], pa.list_(f64)),
    }), out / "lidar_calibration" / f"{name}.parquet")

    cam_ids = common.camera_enum_names(scene.cameras, str(scene.path))
    cc: dict[str, list] = {_CTX: [], "key.camera_name": []}
    intr_names = ("f_u", "f_v", "c_u", "c_v", "k1", "k2", "p1", "p2", "k3")
    for k in intr_names:
        cc[f"{_CC}.intrinsic.{k}"] = []
    cc.update({f"{_CC}.extrinsic.transform": [], f"{_CC}.width": [], f"{_CC}.height": [],
               f"{_CC}.rolling_shutter_direction": []})
    for cam in scene.cameras:
        intr, ext = common.model_to_waymo_camera(cam)
        cc[_CTX].append(name)
        cc["key.camera_name"].append(cam_ids[cam.name])
        for k, v in zip(intr_names, intr):
            cc[f"{_CC}.intrinsic.{k}"].append(v)
        cc[f"{_CC}.extrinsic.transform"].append(ext.reshape(16).tolist())
        cc[f"{_CC}.width"].append(cam.width)
        cc[f"{_CC}.height"].append(cam.height)
        cc[f"{_CC}.rolling_shutter_direction"].append(0)
    types = {_CTX: pa.string(), "key.camera_name": pa.int8(), f"{_CC}.extrinsic.transform": _transform_type(),
             f"{_CC}.width": pa.int32(), f"{_CC}.height": pa.int32(), f"{_CC}.rolling_shutter_direction": pa.int8()}
    _write(pa.table({k: pa.array(v, types.get(k, f64)) for k, v in cc.items()}),
           out / "camera_calibration" / f"{name}.parquet")
    return out


def _read(root: Path, component: str, required: bool = True):
    import pyarrow.parquet as pq

    folder = root / component
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        if required:
            raise InputError(f"{root}: {component}/: expected a folder with a <context_name>.parquet file, found none")
        return None, None
    if len(files) > 1:
        raise InputError(f"{folder}: expected one segment, found {len(files)} parquet files")
    try:
        return pq.read_table(files[0]).to_pydict(), files[0]
    except Exception as exc:  # pyarrow raises several unrelated types on damaged files
        raise InputError(f"{files[0]}: not a readable Parquet file ({exc})") from None


def _col(table: dict, name: str, path: Path) -> list:
    if name not in table:
        raise InputError(f"{path}: column {name!r} missing; expected a Waymo v2 component")
    return table[name]


def import_v2(src: str | Path, out_scene: Path, options: dict) -> LabelDocument | None:
    """Read a v2 folder (``vehicle_pose`` required; boxes, calibrations if present) into a scene."""
    root = Path(src)
    vp, vp_path = _read(root, "vehicle_pose")
    ts = np.asarray(_col(vp, _TS, vp_path), dtype=np.int64)
    poses = np.array(_col(vp, f"{_VP}.world_from_vehicle.transform", vp_path), dtype=float).reshape(-1, 4, 4)
    order = np.argsort(ts, kind="stable")
    ts, poses = ts[order], poses[order]
    name = vp[_CTX][0] if vp.get(_CTX) else root.name
    lc, lc_path = _read(root, "lidar_calibration", required=False)
    lidar_ext = np.eye(4)
    if lc is not None:
        lidar_ext = np.array(_col(lc, f"{_LC}.extrinsic.transform", lc_path)[0], dtype=float).reshape(4, 4)
    cams = []
    cc, cc_path = _read(root, "camera_calibration", required=False)
    if cc is not None:
        for k, cid in enumerate(_col(cc, "key.camera_name", cc_path)):
            intr = [cc[f"{_CC}.intrinsic.{n}"][k] for n in ("f_u", "f_v", "c_u", "c_v", "k1", "k2", "p1", "p2", "k3")]
            ext = np.array(cc[f"{_CC}.extrinsic.transform"][k], dtype=float).reshape(4, 4)
            cams.append(common.waymo_camera_to_model(common.CAMERA_NAMES.get(cid, f"CAMERA_{cid}"), intr, ext,
                                                     cc[f"{_CC}.width"][k], cc[f"{_CC}.height"][k]))
    with SceneWriter(out_scene, name, lidar_ext, cams, point_fields=("x", "y", "z", "intensity"),
                     source="waymo") as w:
        for t, p in zip(ts, poses):
            w.add_frame(int(t), p, np.zeros((0, 4), np.float32))
    lb, lb_path = _read(root, "lidar_box", required=False)
    doc = LabelDocument.new(name, source="import", author=str(options.get("author", "waymo-import")))
    if lb is None:
        return None
    frame_of = {int(t): i for i, t in enumerate(ts)}
    cols = [f"{_LB}.box.center.{a}" for a in "xyz"] + [f"{_LB}.box.size.{a}" for a in "xyz"] + [f"{_LB}.box.heading"]
    veh = np.array([_col(lb, c, lb_path) for c in cols], dtype=float).T.reshape(-1, 7)
    box_ts = _col(lb, _TS, lb_path)
    ids, types = _col(lb, "key.laser_object_id", lb_path), _col(lb, f"{_LB}.type", lb_path)
    npts = lb.get(f"{_LB}.num_lidar_points_in_box", [None] * len(ids))
    for k in range(len(ids)):
        f = frame_of.get(int(box_ts[k]))
        if f is None:
            raise InputError(f"{lb_path}: row {k}: {_TS} {box_ts[k]} has no vehicle_pose row")
        world = common.world_boxes_from_vehicle(poses[f], veh[k])[0]
        tid = ids[k]
        track = doc.tracks.get(tid)
        if track is None:
            attrs = {"cycle.with_rider": True} if types[k] == 4 else {}
            track = doc.tracks[tid] = Track(tid, common.type_to_category(types[k]), attrs,
                                            extra={"waymo_type": common.TYPE_NAMES.get(types[k], str(types[k]))})
        track.boxes[f] = Box(f, tuple(float(v) for v in world[:3]),
                             tuple(float(v) for v in np.maximum(world[3:6], 1e-3)), float(world[6]),
                             int(ts[f]), source="import", keyframe=True,
                             num_lidar_pts=None if npts[k] is None else int(npts[k]))
    return doc if doc.tracks else None
