"""Export a scene and its labels as a nuScenes dataset the official devkit loads.

Every scene frame becomes a key-frame ``sample`` (nuScenes samples at 2 Hz; ours
keep the scene's own rate). Layout and every field: docs/formats/nuscenes.md.
Tokens are deterministic (md5 of names), so exporting twice gives the same files.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lidarlabel.core.boxes import count_points_in_boxes
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.core.transforms import compose, pose_matrix, pose_to_quat, transform_points
from lidarlabel.errors import InputError
from lidarlabel.io.atomic import write_bytes_atomic, write_json_atomic
from lidarlabel.io.formats.nuscenes_common import (
    ATTRIBUTES,
    LIDAR_CHANNEL,
    NUSCENES_LIDAR_YAW,
    TABLES,
    TRACKING_CLASSES,
    VISIBILITY,
    quarter_turn,
    token,
    write_unsynced,
    yaw_to_quat,
)  # fmt: skip
from lidarlabel.io.scene import SceneReader

__all__ = ["export_nuscenes", "submission_boxes"]

_PREDEFINED_SPLITS = {"train", "val", "test", "mini_train", "mini_val", "train_detect", "train_track"}


def _pose_fields(T: np.ndarray) -> dict[str, list[float]]:
    q, t = pose_to_quat(T)
    return {"translation": [float(v) for v in t], "rotation": [float(v) for v in q]}


def _jpeg(data: bytes, cam, path_for_errors: str) -> bytes:
    """Encoded image -> JPEG bytes, undistorted when the camera has distortion (nuScenes has none)."""
    if data[:3] == b"\xff\xd8\xff" and not np.any(cam.dist):
        return data
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path_for_errors}: expected a decodable JPEG/PNG image")
    if np.any(cam.dist):
        img = cv2.undistort(img, cam.K, cam.dist, None, cam.K)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return enc.tobytes()


def _attribute_name(track: Track, box: Box, ontology: Ontology) -> str | None:
    """The one nuScenes attribute of a box (box attributes override the track's), or None."""
    merged = {**track.attributes, **box.attributes}
    groups = ontology.category(track.category).attribute_groups if track.category in ontology else ()
    allowed = [a for g in groups for a in ontology.attribute_groups[g].values if a in ATTRIBUTES]
    for name in allowed:
        if merged.get(name):
            return name
    return None


def _timestamp(box: Box, scene: SceneReader) -> int:
    return int(box.timestamp_us) if box.timestamp_us is not None else int(scene.timestamps_us[box.frame])


def submission_boxes(scene: SceneReader, doc: LabelDocument, sample_tokens: list[str],
                     ontology: Ontology | None = None) -> tuple[dict, dict]:
    """Detection and tracking submissions (nuScenes ``results`` dicts) from a label document.

    Velocities are central differences of a track's world centres over box timestamps (m/s).
    Categories without a nuScenes detection class are left out.
    """
    onto = ontology or default_ontology()
    det: dict[str, list] = {t: [] for t in sample_tokens}
    trk: dict[str, list] = {t: [] for t in sample_tokens}
    for track in doc.tracks.values():
        cls = onto.category(track.category).detection_class if track.category in onto else None
        if cls is None:
            continue
        frames = track.frames()
        for k, f in enumerate(frames):
            box = track.boxes[f]
            a, b = track.boxes[frames[max(k - 1, 0)]], track.boxes[frames[min(k + 1, len(frames) - 1)]]
            dt = (_timestamp(b, scene) - _timestamp(a, scene)) * 1e-6
            vel = [(b.center[i] - a.center[i]) / dt if dt > 0 else 0.0 for i in (0, 1)]
            score = 1.0 if box.score is None else float(min(max(box.score, 0.0), 1.0))
            common = {
                "sample_token": sample_tokens[f],
                "translation": [float(v) for v in box.center],
                "size": [float(box.size[1]), float(box.size[0]), float(box.size[2])],
                "rotation": yaw_to_quat(box.yaw),
                "velocity": vel,
            }
            attr = _attribute_name(track, box, onto)
            det[sample_tokens[f]].append({**common, "detection_name": cls, "detection_score": score,
                                          "attribute_name": attr or ""})
            if cls in TRACKING_CLASSES:
                trk[sample_tokens[f]].append({**common, "tracking_name": cls, "tracking_score": score,
                                              "tracking_id": track.id})
    return det, trk


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final``, replacing an older one only at the end."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def export_nuscenes(scene: SceneReader, doc: LabelDocument, out_dir: Path, options: dict[str, Any]) -> Path:
    """Write ``out_dir`` as a nuScenes dataroot (tables in ``out_dir/<version>/``); returns ``out_dir``.

    Boxes (world frame, [x, y, z, l, w, h, yaw]) become global-frame annotations with
    size [w, l, h]; LIDAR_TOP points are written in a LiDAR frame turned by a quarter
    turn so that, like nuScenes, x points right (see ``quarter_turn``).
    """
    version = str(options.get("version") or "v1.0-lidarlabel")
    if not version or "/" in version or version.startswith("."):
        raise InputError(f"--version: expected a folder name such as v1.0-lidarlabel, got {version!r}")
    out_dir = Path(out_dir)
    onto = default_ontology()
    name = scene.scene_id
    F = scene.num_frames
    if F == 0:
        raise InputError(f"{scene.path}: the scene has no frames; nothing to export")
    stem = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)

    R = quarter_turn(scene.lidar_extrinsic, NUSCENES_LIDAR_YAW)
    ego_from_out = compose(scene.lidar_extrinsic, pose_matrix(R, np.zeros(3)))
    sensors, calibs = [], []
    lidar_sensor = token("sensor", LIDAR_CHANNEL)
    lidar_calib = token(name, "calibrated_sensor", LIDAR_CHANNEL)
    sensors.append({"token": lidar_sensor, "channel": LIDAR_CHANNEL, "modality": "lidar"})
    calibs.append({"token": lidar_calib, "sensor_token": lidar_sensor, **_pose_fields(ego_from_out),
                   "camera_intrinsic": []})
    for cam in scene.cameras:
        st = token("sensor", cam.name)
        sensors.append({"token": st, "channel": cam.name, "modality": "camera"})
        calibs.append({"token": token(name, "calibrated_sensor", cam.name), "sensor_token": st,
                       **_pose_fields(cam.ego_from_camera),
                       "camera_intrinsic": [[float(v) for v in row] for row in cam.K]})

    scene_token = token(name, "scene")
    log_token = token(name, "log")
    sample_tokens = [token(name, "sample", i) for i in range(F)]
    samples, sample_data, ego_poses, annotations = [], [], [], []
    prev_sd: dict[str, dict] = {}
    ids_by_frame = {i: doc.frame_boxes(i) for i in range(F)}
    ann_token = {(tid, f): token(name, "ann", tid, f) for tid, t in doc.tracks.items() for f in t.boxes}
    for d in ("samples/" + LIDAR_CHANNEL, *(f"samples/{c.name}" for c in scene.cameras), "maps"):
        (out_dir / d).mkdir(parents=True, exist_ok=True)

    for i in tqdm(range(F), desc="nuScenes export", unit="frame", disable=None, leave=False):
        ts = int(scene.timestamps_us[i])
        samples.append({"token": sample_tokens[i], "timestamp": ts, "scene_token": scene_token,
                        "prev": sample_tokens[i - 1] if i else "",
                        "next": sample_tokens[i + 1] if i + 1 < F else ""})
        pts = scene.points(i)
        out = np.zeros((len(pts), 5), dtype=np.float32)
        out[:, :3] = pts[:, :3] @ R  # p_out = R.T p, row-wise
        for col, field in ((3, "intensity"), (4, "ring")):
            if field in scene.point_fields:
                out[:, col] = pts[:, scene.field(field)]
        channels = [(LIDAR_CHANNEL, lidar_calib, ts, f"{stem}__{LIDAR_CHANNEL}__{ts}.pcd.bin", out.tobytes(),
                     "pcd", 0, 0)]
        for cam in scene.cameras:
            data = scene.image_bytes(cam.name, i)
            if not data:
                continue
            cts = int(scene.camera_timestamps_us[cam.name][i])
            jpg = _jpeg(data, cam, f"{scene.path}: /cameras/{cam.name}/images[{i}]")
            channels.append((cam.name, token(name, "calibrated_sensor", cam.name), cts,
                             f"{stem}__{cam.name}__{cts}.jpg", jpg, "jpg", cam.width, cam.height))
        for channel, calib, cts, fname, payload, fmt, w, h in channels:
            sd = token(name, "sample_data", channel, i)
            rel = f"samples/{channel}/{fname}"
            write_unsynced(out_dir / rel, payload)
            # one ego pose per sample_data, as in nuScenes; the frame's pose for every sensor
            ego_poses.append({"token": sd, **_pose_fields(scene.ego_poses[i]), "timestamp": cts})
            rec = {"token": sd, "sample_token": sample_tokens[i], "ego_pose_token": sd,
                   "calibrated_sensor_token": calib, "filename": rel, "fileformat": fmt, "width": w,
                   "height": h, "timestamp": cts, "is_key_frame": True, "prev": "", "next": ""}
            if channel in prev_sd:
                rec["prev"] = prev_sd[channel]["token"]
                prev_sd[channel]["next"] = sd
            prev_sd[channel] = rec
            sample_data.append(rec)

        ids, boxes = ids_by_frame[i]
        counts = count_points_in_boxes(transform_points(scene.world_from_lidar(i), pts[:, :3]), boxes)
        for tid, n in zip(ids, counts):
            track = doc.tracks[tid]
            box = track.boxes[i]
            frames = track.frames()
            k = frames.index(i)
            attr = _attribute_name(track, box, onto)
            vis = str(box.extra.get("visibility", ""))
            annotations.append({
                "token": ann_token[(tid, i)], "sample_token": sample_tokens[i],
                "instance_token": token(name, "instance", tid),
                "attribute_tokens": [token("attribute", attr)] if attr else [],
                "visibility_token": vis if vis in {v[0] for v in VISIBILITY} else "",
                "translation": [float(v) for v in box.center],
                "size": [float(box.size[1]), float(box.size[0]), float(box.size[2])],
                "rotation": yaw_to_quat(box.yaw),
                "num_lidar_pts": int(n), "num_radar_pts": 0,
                "prev": ann_token[(tid, frames[k - 1])] if k else "",
                "next": ann_token[(tid, frames[k + 1])] if k + 1 < len(frames) else "",
            })  # fmt: skip

    cats = dict.fromkeys([*onto.categories, *(t.category for t in doc.tracks.values())])
    instances = [
        {"token": token(name, "instance", tid), "category_token": token("category", t.category),
         "nbr_annotations": len(t.boxes), "first_annotation_token": ann_token[(tid, t.frames()[0])],
         "last_annotation_token": ann_token[(tid, t.frames()[-1])]}
        for tid, t in doc.tracks.items() if t.boxes
    ]  # fmt: skip
    import cv2

    map_file = f"maps/{token(name, 'map')}.png"
    write_bytes_atomic(out_dir / map_file, cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes())
    captured = datetime.fromtimestamp(int(scene.timestamps_us[0]) * 1e-6, tz=timezone.utc)
    tables: dict[str, list] = {
        "attribute": [{"token": token("attribute", a), "name": a, "description": ""} for a in ATTRIBUTES],
        "calibrated_sensor": calibs,
        "category": [{"token": token("category", c), "name": c, "description": ""} for c in cats],
        "ego_pose": ego_poses,
        "instance": instances,
        "log": [{"token": log_token, "logfile": stem, "vehicle": "lidarlabel",
                 "date_captured": captured.strftime("%Y-%m-%d"), "location": "lidarlabel"}],
        "map": [{"token": token(name, "map"), "log_tokens": [log_token], "category": "semantic_prior",
                 "filename": map_file}],
        "sample": samples,
        "sample_annotation": annotations,
        "sample_data": sample_data,
        "scene": [{"token": scene_token, "name": name, "description": f"exported by lidarlabel from {scene.path.name}",
                   "log_token": log_token, "nbr_samples": F, "first_sample_token": sample_tokens[0],
                   "last_sample_token": sample_tokens[-1]}],
        "sensor": sensors,
        "visibility": [{"token": t, "level": lv, "description": d} for t, lv, d in VISIBILITY],
    }
    assert set(tables) == set(TABLES)
    split = name if name not in _PREDEFINED_SPLITS else f"lidarlabel-{name}"
    os.sync()  # the sensor files reach the disk before the tables that reference them
    tmp = out_dir / f".{version}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        for table, records in tables.items():
            write_json_atomic(tmp / f"{table}.json", records, indent=None)
        write_json_atomic(tmp / "splits.json", {split: [name]})
        _replace_dir(tmp, out_dir / version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results = options.get("results_document")
    if results is None and options.get("results"):
        from lidarlabel.io.labels import load_document

        results = load_document(options["results"])
    if results is not None:
        _write_submission(scene, results, sample_tokens, out_dir, onto)
    return out_dir


def _write_submission(scene: SceneReader, results: LabelDocument, sample_tokens: list[str],
                      out_dir: Path, onto: Ontology) -> None:
    if results.scene != scene.scene_id:
        raise InputError(f"--results: expected a document of scene {scene.scene_id!r}, got {results.scene!r}")
    bad = [f for t in results.tracks.values() for f in t.boxes if f >= len(sample_tokens)]
    if bad:
        raise InputError(f"--results: frame {bad[0]}: expected a frame index below {len(sample_tokens)}")
    det, trk = submission_boxes(scene, results, sample_tokens, onto)
    meta = {"use_camera": False, "use_lidar": True, "use_radar": False, "use_map": False, "use_external": False}
    (out_dir / "results").mkdir(exist_ok=True)
    write_json_atomic(out_dir / "results" / "detection_results.json", {"meta": meta, "results": det}, indent=None)
    write_json_atomic(out_dir / "results" / "tracking_results.json", {"meta": meta, "results": trk}, indent=None)
