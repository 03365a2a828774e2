"""Export a scene and its labels in the KITTI object and tracking layouts.

The reference camera becomes camera 2 and the rectified camera 0 at once
(``R0_rect = I``, ``P2 = [K | 0]``; P0, P1 and P3 repeat P2: there is no stereo
pair). Points are written in the scene's LiDAR frame turned by a quarter turn so
that x points forward, as KITTI's velodyne. Only boxes that show in the
reference image are labelled, as in KITTI. Field by field: docs/formats/kitti.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lidarlabel.core.boxes import box_corners
from lidarlabel.core.camera import CameraModel
from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.transforms import compose, invert_pose, pose_matrix, transform_points
from lidarlabel.errors import InputError
from lidarlabel.io.atomic import write_bytes_atomic
from lidarlabel.io.formats.kitti_common import box_to_kitti, category_to_type
from lidarlabel.io.formats.nuscenes_common import quarter_turn, write_unsynced
from lidarlabel.io.scene import SceneReader

__all__ = ["export_kitti", "reference_camera"]

_VIRTUAL_K = np.array([[721.5377, 0.0, 621.0], [0.0, 721.5377, 187.5], [0.0, 0.0, 1.0]])


def reference_camera(scene: SceneReader, name: str | None = None) -> tuple[CameraModel, bool]:
    """The camera the labels are written for, without distortion; (camera, has_images).

    Default: the camera whose optical axis points most along ego +x. Without cameras,
    a virtual 1242x375 camera at the LiDAR looking forward (no images are written).
    """
    if name:
        try:
            cam = scene.camera(name)
        except KeyError:
            raise InputError(f"{scene.path}: no camera {name!r} (have {[c.name for c in scene.cameras]})") from None
    elif scene.cameras:
        cam = max(scene.cameras, key=lambda c: c.ego_from_camera[0, 2])
    else:
        ego_from_cam = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=float)
        ego_from_cam[:3, 3] = scene.lidar_extrinsic[:3, 3]
        return CameraModel("virtual", 1242, 375, _VIRTUAL_K, np.zeros(5), ego_from_cam), False
    return CameraModel(cam.name, cam.width, cam.height, cam.K, np.zeros(5), cam.ego_from_camera), True


def _fmt(values) -> str:
    return " ".join(f"{float(v):.12e}" for v in np.asarray(values).ravel())


def _calib_text(P2: np.ndarray, cam_from_velo: np.ndarray, velo_from_imu: np.ndarray, tracking: bool) -> str:
    r, tv, ti = ("R_rect", "Tr_velo_cam", "Tr_imu_velo") if tracking else ("R0_rect:", "Tr_velo_to_cam:",
                                                                        "Tr_imu_to_velo:")
    lines = [f"P{k}: {_fmt(P2)}" for k in range(4)]
    lines += [f"{r} {_fmt(np.eye(3))}", f"{tv} {_fmt(cam_from_velo[:3])}", f"{ti} {_fmt(velo_from_imu[:3])}"]
    return "\n".join(lines) + "\n"


def _image_bbox(cam: CameraModel, corners_cam: np.ndarray) -> tuple[list[float], float] | None:
    """Clipped 2D box [left, top, right, bottom] and truncation of one box, or None if not in view."""
    seg, _ = cam.project_box_edges(corners_cam[None], near=0.1, samples=4)
    if len(seg) == 0:
        return None
    uv = seg.reshape(-1, 2)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    clo, chi = np.clip(lo, 0, [cam.width - 1, cam.height - 1]), np.clip(hi, 0, [cam.width - 1, cam.height - 1])
    area, clipped = np.prod(hi - lo), np.prod(np.maximum(chi - clo, 0))
    if clipped <= 0:
        return None
    return [*clo, *chi], float(np.clip(1.0 - clipped / max(area, 1e-9), 0.0, 1.0))


def _png(data: bytes, cam: CameraModel, where: str) -> bytes:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{where}: expected a decodable JPEG/PNG image")
    if np.any(cam.dist):
        img = cv2.undistort(img, cam.K, cam.dist, None, cam.K)
    return cv2.imencode(".png", img)[1].tobytes()


def _link_or_write(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        write_bytes_atomic(dst, src.read_bytes())


def export_kitti(scene: SceneReader, doc: LabelDocument, out_dir: Path, options: dict[str, Any]) -> Path:
    """Write the KITTI object (one file per frame) and tracking (sequence 0000) layouts under ``out_dir``.

    Boxes (world frame, [x, y, z, l, w, h, yaw]) become ``h w l``, bottom-centre location and
    rotation_y in the reference camera frame of their frame.
    """
    cam, has_images = reference_camera(scene, options.get("camera"))
    src_cam = scene.camera(cam.name) if has_images else cam
    obj = out_dir / "object" / "training"
    trk = out_dir / "tracking" / "training"
    for d in (obj / "calib", obj / "velodyne", obj / "label_2", trk / "calib", trk / "label_02",
              trk / "velodyne" / "0000", *((obj / "image_2", trk / "image_02" / "0000") if has_images else ())):
        d.mkdir(parents=True, exist_ok=True)
    R = quarter_turn(scene.lidar_extrinsic, 0.0)
    ego_from_velo = compose(scene.lidar_extrinsic, pose_matrix(R, np.zeros(3)))
    cam_from_velo = compose(invert_pose(cam.ego_from_camera), ego_from_velo)
    P2 = np.c_[cam.K, np.zeros(3)]
    write_bytes_atomic(obj.parent.parent / "tracking" / "training" / "calib" / "0000.txt",
                       _calib_text(P2, cam_from_velo, invert_pose(ego_from_velo), True).encode())
    calib_obj = _calib_text(P2, cam_from_velo, invert_pose(ego_from_velo), False).encode()
    track_num = {tid: n for n, tid in enumerate(doc.tracks)}
    tracking_lines: list[str] = []
    intensity = scene.field("intensity") if "intensity" in scene.point_fields else None
    for i in tqdm(range(scene.num_frames), desc="KITTI export", unit="frame", disable=None, leave=False):
        fid = f"{i:06d}"
        write_unsynced(obj / "calib" / f"{fid}.txt", calib_obj)
        pts = scene.points(i)
        velo = np.zeros((len(pts), 4), dtype=np.float32)
        velo[:, :3] = pts[:, :3] @ R
        if intensity is not None:
            velo[:, 3] = pts[:, intensity]
        write_unsynced(obj / "velodyne" / f"{fid}.bin", velo.tobytes())
        _link_or_write(obj / "velodyne" / f"{fid}.bin", trk / "velodyne" / "0000" / f"{fid}.bin")
        data = scene.image_bytes(cam.name, i) if has_images else b""
        if data:
            write_unsynced(obj / "image_2" / f"{fid}.png",
                               _png(data, src_cam, f"{scene.path}: /cameras/{cam.name}/images[{i}]"))
            _link_or_write(obj / "image_2" / f"{fid}.png", trk / "image_02" / "0000" / f"{fid}.png")
        velo_from_world = invert_pose(compose(scene.ego_poses[i], ego_from_velo))
        lines = []
        for tid, track in doc.tracks.items():
            box = track.boxes.get(i)
            if box is None:
                continue
            arr = box.as_array()
            c = transform_points(velo_from_world, arr[None, :3])[0]
            d = velo_from_world[:3, :3] @ np.array([np.cos(arr[6]), np.sin(arr[6]), 0.0])
            bv = np.array([*c, *arr[3:6], np.arctan2(d[1], d[0])])
            corners = transform_points(cam_from_velo, box_corners(bv)[0])
            seen = _image_bbox(cam, corners)
            if seen is None:
                continue
            bbox, truncated = seen
            loc, ry, alpha = box_to_kitti(bv, cam_from_velo)
            occluded = int(box.extra.get("kitti", {}).get("occluded", 0)) if isinstance(box.extra.get("kitti"),
                                                                                        dict) else 0
            kind = track.extra.get("kitti_type") or category_to_type(track.category,
                                                                     {**track.attributes, **box.attributes})
            body = (f"{kind} {truncated:.2f} {occluded} {alpha:.6f} {bbox[0]:.2f} {bbox[1]:.2f} {bbox[2]:.2f} "
                    f"{bbox[3]:.2f} {bv[5]:.6f} {bv[4]:.6f} {bv[3]:.6f} {loc[0]:.6f} {loc[1]:.6f} {loc[2]:.6f} "
                    f"{ry:.6f}")
            if box.source == "prelabel" and box.score is not None:
                body += f" {box.score:.4f}"
            lines.append(body)
            tracking_lines.append(f"{i} {track_num[tid]} {body}")
        write_unsynced(obj / "label_2" / f"{fid}.txt", ("\n".join(lines) + "\n" if lines else "").encode())
    os.sync()  # per-frame files flushed together, then the sequence label file
    write_bytes_atomic(trk / "label_02" / "0000.txt",
                       ("\n".join(tracking_lines) + "\n" if tracking_lines else "").encode())
    return out_dir
