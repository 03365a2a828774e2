"""Waymo v1 range images -> points (FORMATS.md §2.5, ``utils/range_image_utils.py``).

A range image is a zlib-compressed ``MatrixFloat`` of shape (H, W, 4):
range, intensity, elongation, is-in-no-label-zone. Row 0 is the highest beam;
column j looks at azimuth ``((W - j - 0.5) / W * 2 - 1) * pi - yaw(extrinsic)``
in the sensor frame. Pixels with range <= 0 hold no return.
"""

from __future__ import annotations

import zlib

import numpy as np

from lidarlabel.core.transforms import compose, invert_pose, transform_points
from lidarlabel.io.formats.waymo.proto import message_class

__all__ = ["decode_matrix", "encode_matrix", "pixel_poses", "range_image_to_points"]


def decode_matrix(compressed: bytes, int32: bool = False) -> np.ndarray:
    """Decompress a ``MatrixFloat`` (or ``MatrixInt32``) into an array of its ``shape``.

    Raises ValueError if the payload or its shape is inconsistent.
    """
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as exc:
        raise ValueError(f"not zlib data ({exc})") from None
    msg = message_class("MatrixInt32" if int32 else "MatrixFloat")()
    msg.ParseFromString(raw)
    data = np.asarray(msg.data, dtype=np.int32 if int32 else np.float32)
    dims = tuple(int(d) for d in msg.shape.dims)
    if not dims or int(np.prod(dims)) != data.size:
        raise ValueError(f"matrix shape {dims} does not match its {data.size} values")
    return data.reshape(dims)


def encode_matrix(array: np.ndarray, int32: bool = False) -> bytes:
    """Inverse of :func:`decode_matrix`: zlib of a serialised MatrixFloat/MatrixInt32."""
    msg = message_class("MatrixInt32" if int32 else "MatrixFloat")()
    a = np.asarray(array)
    msg.data.extend(a.ravel().tolist())
    msg.shape.dims.extend(int(d) for d in a.shape)
    return zlib.compress(msg.SerializeToString())


def _rotation_rpy(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations Rz(yaw) @ Ry(pitch) @ Rx(roll) (Waymo ``get_rotation_matrix``)."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    R = np.empty(roll.shape + (3, 3))
    R[..., 0, 0] = cy * cp
    R[..., 0, 1] = cy * sp * sr - sy * cr
    R[..., 0, 2] = cy * sp * cr + sy * sr
    R[..., 1, 0] = sy * cp
    R[..., 1, 1] = sy * sp * sr + cy * cr
    R[..., 1, 2] = sy * sp * cr - cy * sr
    R[..., 2, 0] = -sp
    R[..., 2, 1] = cp * sr
    R[..., 2, 2] = cp * cr
    return R


def pixel_poses(pose_image: np.ndarray) -> np.ndarray:
    """(H, W, 6) [roll, pitch, yaw, x, y, z] per-pixel poses -> (H, W, 4, 4) world_from_vehicle."""
    p = np.asarray(pose_image, dtype=float)
    T = np.zeros(p.shape[:-1] + (4, 4))
    T[..., :3, :3] = _rotation_rpy(p[..., 0], p[..., 1], p[..., 2])
    T[..., :3, 3] = p[..., 3:6]
    T[..., 3, 3] = 1.0
    return T


def range_image_to_points(
    image: np.ndarray,
    extrinsic: np.ndarray,
    inclinations: np.ndarray,
    pixel_pose: np.ndarray | None = None,
    frame_pose: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points of one range image in the vehicle frame of the frame pose.

    ``image`` (H, W, C>=1) with range in channel 0; ``extrinsic`` (4, 4)
    vehicle_from_lidar; ``inclinations`` (H,) ascending (row H-1 = lowest beam),
    as stored in ``LaserCalibration``. With ``pixel_pose`` (H, W, 6) (TOP lidar,
    rolling-shutter poses) and ``frame_pose`` (4, 4) world_from_vehicle, each point
    goes through its pixel's pose and back through the frame pose.
    Returns (points (N, 3) float64, mask (H, W) bool of the pixels used).
    """
    img = np.asarray(image, dtype=np.float64)
    H, W = img.shape[:2]
    incl = np.asarray(inclinations, dtype=float)[::-1]  # row 0 = highest beam
    if incl.shape != (H,):
        raise ValueError(f"expected {H} beam inclinations (one per row), got {incl.size}")
    ext = np.asarray(extrinsic, dtype=float)
    az_corr = np.arctan2(ext[1, 0], ext[0, 0])
    az = ((W - np.arange(W) - 0.5) / W * 2.0 - 1.0) * np.pi - az_corr
    rng = img[..., 0]
    mask = rng > 0
    r = rng[mask]
    rows, cols = np.nonzero(mask)
    inc, a = incl[rows], az[cols]
    pts = np.stack([r * np.cos(a) * np.cos(inc), r * np.sin(a) * np.cos(inc), r * np.sin(inc)], axis=1)
    pts = transform_points(ext, pts)
    if pixel_pose is not None and frame_pose is not None:
        T = compose(invert_pose(frame_pose))[None] @ pixel_poses(np.asarray(pixel_pose)[mask])
        pts = np.einsum("nij,nj->ni", T[:, :3, :3], pts) + T[:, :3, 3]
    return pts, mask


def uniform_inclinations(lo: float, hi: float, height: int) -> np.ndarray:
    """(H,) ascending beam inclinations spread uniformly between ``lo`` and ``hi``."""
    return lo + (np.arange(height) + 0.5) / height * (hi - lo)
