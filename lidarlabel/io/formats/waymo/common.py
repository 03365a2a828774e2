"""Conversions shared by the Waymo v1 and v2 writers and readers.

World boxes (our label frame) <-> Waymo laser labels in the vehicle frame of
``Frame.pose``; category <-> ``Label.Type``; track id <-> 22-character object id;
OpenCV camera extrinsics <-> Waymo's camera frame (x forward, y left, z up).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

import numpy as np

from lidarlabel.core.boxes import normalize_yaw, points_in_boxes
from lidarlabel.core.camera import CameraModel
from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.transforms import invert_pose, transform_points, yaw_of
from lidarlabel.errors import InputError
from lidarlabel.io.scene import SceneReader

__all__ = [
    "CAMERA_NAMES", "LASER_NAMES", "beam_limits", "count_points", "TYPE_NAMES", "FrameLabels", "camera_enum_names",
    "category_to_type", "context_name", "frame_labels", "object_id", "track_kinematics",
    "type_to_category", "waymo_camera_to_model", "model_to_waymo_camera", "world_boxes_from_vehicle",
]  # fmt: skip

TYPE_NAMES = {0: "TYPE_UNKNOWN", 1: "TYPE_VEHICLE", 2: "TYPE_PEDESTRIAN", 3: "TYPE_SIGN", 4: "TYPE_CYCLIST"}
CAMERA_NAMES = {1: "FRONT", 2: "FRONT_LEFT", 3: "FRONT_RIGHT", 4: "SIDE_LEFT", 5: "SIDE_RIGHT",
                6: "REAR_LEFT", 7: "REAR", 8: "REAR_RIGHT"}  # fmt: skip
LASER_NAMES = {1: "TOP", 2: "FRONT", 3: "SIDE_LEFT", 4: "SIDE_RIGHT", 5: "REAR"}
# nuScenes-style channel names that have an obvious Waymo camera
_CAMERA_ALIASES = {"CAM_FRONT": 1, "CAM_FRONT_LEFT": 2, "CAM_FRONT_RIGHT": 3, "CAM_BACK_LEFT": 6,
                   "CAM_BACK": 7, "CAM_BACK_RIGHT": 8}  # fmt: skip
# Waymo type -> our category on import (Waymo has no finer class)
TYPE_TO_CATEGORY = {1: "vehicle.car", 2: "human.pedestrian.adult", 3: "static_object.sign",
                    4: "vehicle.bicycle", 0: "unknown"}  # fmt: skip
# OpenCV camera axes (x right, y down, z forward) expressed in Waymo camera axes
# (x forward, y left, z up): p_waymo = _CV_TO_WAYMO @ p_cv
_CV_TO_WAYMO = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
_ID_OK = re.compile(r"^[A-Za-z0-9_-]{22}$")


def category_to_type(category: str) -> int:
    """Waymo ``Label.Type`` of one of our categories (mapping in docs/formats/waymo.md)."""
    c = category.lower()
    if c == "vehicle.bicycle" or "cyclist" in c:
        return 4
    if c.startswith("human.pedestrian") or "pedestrian" in c:
        return 2
    if c.startswith("vehicle."):
        return 1
    if "sign" in c:
        return 3
    return 0


def type_to_category(waymo_type: int) -> str:
    """Our category for a Waymo ``Label.Type`` (vehicle.car, human.pedestrian.adult, ...)."""
    return TYPE_TO_CATEGORY.get(int(waymo_type), "unknown")


def object_id(track_id: str) -> str:
    """A stable 22-character ``[A-Za-z0-9_-]`` Waymo object id for a track id.

    Ids that already have that form (e.g. imported Waymo ids) are kept; others
    become the first 22 characters of the URL-safe base64 SHA-256 of the id.
    """
    if _ID_OK.match(track_id):
        return track_id
    digest = hashlib.sha256(track_id.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:22]


def context_name(scene_id: str) -> str:
    """Context (segment) name for a scene id, safe as a file name."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", scene_id).strip(".")
    return name or "scene"


def camera_enum_names(cameras: list[CameraModel], source: str) -> dict[str, int]:
    """Waymo CameraName value for each of our cameras (known names first, then free values)."""
    by_name = {v: k for k, v in CAMERA_NAMES.items()}
    out: dict[str, int] = {}
    for cam in cameras:
        n = by_name.get(cam.name.upper(), _CAMERA_ALIASES.get(cam.name.upper()))
        if n is not None and n not in out.values():
            out[cam.name] = n
    free = [n for n in CAMERA_NAMES if n not in out.values()]
    for cam in cameras:
        if cam.name not in out:
            if not free:
                raise InputError(f"{source}: cameras: expected at most 8 cameras (Waymo CameraName), got {len(cameras)}")
            out[cam.name] = free.pop(0)
    return out


def model_to_waymo_camera(cam: CameraModel) -> tuple[list[float], np.ndarray]:
    """Waymo ``intrinsic`` (9,) [f_u, f_v, c_u, c_v, k1, k2, p1, p2, k3] and (4, 4) extrinsic.

    The extrinsic maps Waymo camera axes (x forward, y left, z up) to the vehicle frame.
    """
    K = cam.K
    intr = [K[0, 0], K[1, 1], K[0, 2], K[1, 2], *cam.dist[:5]]
    ext = cam.ego_from_camera.copy()
    ext[:3, :3] = cam.ego_from_camera[:3, :3] @ _CV_TO_WAYMO.T
    return [float(v) for v in intr], ext


def waymo_camera_to_model(name: str, intrinsic, extrinsic: np.ndarray, width: int, height: int) -> CameraModel:
    """Our OpenCV :class:`CameraModel` from a Waymo camera calibration (inverse of the above)."""
    i = list(intrinsic) + [0.0] * (9 - len(intrinsic))
    K = np.array([[i[0], 0.0, i[2]], [0.0, i[1], i[3]], [0.0, 0.0, 1.0]])
    ext = np.asarray(extrinsic, dtype=float).reshape(4, 4).copy()
    ext[:3, :3] = ext[:3, :3] @ _CV_TO_WAYMO
    return CameraModel(name, int(width), int(height), K, np.array(i[4:9]), ext)


def track_kinematics(doc: LabelDocument, timestamps_us: np.ndarray) -> dict[str, tuple[dict[int, int], np.ndarray, np.ndarray]]:
    """Per track: (frame -> row, speed (K, 3), accel (K, 3)) in the world frame, m/s and m/s^2.

    Finite differences of the box centres over the frames' timestamps
    (second-order central inside, one-sided at the ends); zero for a single box.
    """
    out = {}
    for tid, track in doc.tracks.items():
        frames = track.frames()
        rows = {f: k for k, f in enumerate(frames)}
        centres = np.array([track.boxes[f].center for f in frames], dtype=float).reshape(-1, 3)
        us = np.asarray(timestamps_us, dtype=np.int64)[frames]
        t = (us - (us[0] if len(us) else 0)).astype(float) * 1e-6  # relative: Unix us lose precision as f64 s
        if len(frames) < 2 or np.any(np.diff(t) <= 0):
            speed = np.zeros_like(centres)
        else:
            speed = np.gradient(centres, t, axis=0)
        accel = np.gradient(speed, t, axis=0) if len(frames) >= 2 and np.all(np.diff(t) > 0) else np.zeros_like(speed)
        out[tid] = (rows, speed, accel)
    return out


def beam_limits(scene: SceneReader) -> tuple[float, float]:
    """Min and max elevation (rad) of the first non-empty sweep, in the LiDAR frame."""
    for i in range(scene.num_frames):
        if scene.num_points(i):
            p = scene.points(i)[:, :3].astype(float)
            el = np.arctan2(p[:, 2], np.hypot(p[:, 0], p[:, 1]))
            return float(el.min()), float(el.max())
    return -0.3, 0.05


@dataclass
class FrameLabels:
    """The laser labels of one frame in Waymo's terms (vehicle frame of the frame pose)."""

    ids: list[str]
    types: np.ndarray  # (N,) int
    boxes: np.ndarray  # (N, 7) [x, y, z, length, width, height, heading], vehicle frame
    speed: np.ndarray  # (N, 3) world frame m/s
    accel: np.ndarray  # (N, 3) world frame m/s^2
    num_points: np.ndarray  # (N,) int


def frame_labels(scene: SceneReader, doc: LabelDocument, frame: int, kin: dict) -> FrameLabels:
    """Labels of ``frame`` moved from the world into the vehicle frame of ``scene.ego_poses[frame]``.

    ``num_points`` counts the scene's points (all returns) inside each world box;
    a frame without points keeps the boxes' stored ``num_lidar_pts`` (or 0).
    """
    tids, world = doc.frame_boxes(frame)
    pose = scene.ego_poses[frame]
    n = len(tids)
    veh = np.zeros((n, 7))
    if n:
        veh[:, :3] = transform_points(invert_pose(pose), world[:, :3])
        veh[:, 3:6] = world[:, 3:6]
        veh[:, 6] = normalize_yaw(world[:, 6] - yaw_of(pose))
    speed, accel = np.zeros((n, 3)), np.zeros((n, 3))
    for k, tid in enumerate(tids):
        rows, sp, ac = kin[tid]
        speed[k], accel[k] = sp[rows[frame]], ac[rows[frame]]
    if n and scene.num_points(frame) > 0:
        counts = count_points(scene.points(frame)[:, :3], scene.world_from_lidar(frame), world)
    else:
        counts = np.array([doc.tracks[t].boxes[frame].num_lidar_pts or 0 for t in tids], dtype=np.int64)
    types = np.array([category_to_type(doc.tracks[t].category) for t in tids], dtype=np.int64)
    return FrameLabels([object_id(t) for t in tids], types, veh, speed, accel, counts)


def count_points(points: np.ndarray, world_from_sensor: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Points of a sweep inside each world box: (N, 3) sensor-frame points, (M, 7) boxes -> (M,).

    Same rule and arithmetic as :func:`lidarlabel.core.boxes.count_points_in_boxes`
    on ``transform_points(world_from_sensor, points)`` (boundary included; simulated
    returns often lie exactly on a box face), faster for one sweep against a few
    dozen boxes: candidates come from points sorted once by binned x (rotated in
    float32 about the sensor origin), and only each box's candidates are moved to
    the world in float64 and tested.
    """
    b = np.asarray(boxes, dtype=float).reshape(-1, 7)
    if len(b) == 0 or len(points) == 0:
        return np.zeros(len(b), dtype=np.int64)
    T = np.asarray(world_from_sensor, dtype=float)
    pts = np.asarray(points)[:, :3]
    xs32 = pts.astype(np.float32) @ T[0, :3].astype(np.float32)  # world x minus the sensor's x
    # x in 2 cm bins as int16 (+-655 m; farther points clip to the ends and are
    # still tested exactly) so that the sort is numpy's linear-time radix sort
    res = 0.02
    key = np.clip(np.floor(xs32 / res), -32768, 32767).astype(np.int16)
    order = np.argsort(key, kind="stable")
    keys = key[order]
    cx = b[:, 0] - T[0, 3]
    radius = 0.5 * np.hypot(b[:, 3], b[:, 4])
    lo = np.searchsorted(keys, np.clip(np.floor((cx - radius) / res) - 2, -32768, 32767), side="left")
    hi = np.searchsorted(keys, np.clip(np.floor((cx + radius) / res) + 2, -32768, 32767), side="right")
    counts = np.zeros(len(b), dtype=np.int64)
    for k in range(len(b)):
        if hi[k] > lo[k]:
            cand = transform_points(T, pts[order[lo[k] : hi[k]]])
            counts[k] = int(points_in_boxes(cand, b[k : k + 1]).sum())
    return counts


def world_boxes_from_vehicle(pose: np.ndarray, boxes_vehicle: np.ndarray) -> np.ndarray:
    """(N, 7) vehicle-frame boxes of a frame with world_from_vehicle ``pose`` -> world boxes."""
    b = np.asarray(boxes_vehicle, dtype=float).reshape(-1, 7)
    out = b.copy()
    out[:, :3] = transform_points(pose, b[:, :3])
    out[:, 6] = normalize_yaw(b[:, 6] + yaw_of(pose))
    return out
