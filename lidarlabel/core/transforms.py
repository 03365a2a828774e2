"""Rigid poses as 4x4 homogeneous matrices.

A pose ``T_a_from_b`` maps points from frame ``b`` into frame ``a``:
``p_a = R @ p_b + t``. Frames are ``sensor`` (LiDAR or camera), ``ego`` (vehicle,
x forward, y left, z up) and ``world``. Quaternions are ``(w, x, y, z)``;
pyquaternion is used only at this edge.
"""

from __future__ import annotations

import numpy as np
from pyquaternion import Quaternion

__all__ = [
    "compose",
    "invert_pose",
    "matrix_from_quat",
    "pose_from_quat",
    "pose_from_yaw",
    "pose_matrix",
    "pose_to_quat",
    "quat_from_matrix",
    "rotz",
    "transform_points",
    "yaw_of",
]


def pose_matrix(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Build a 4x4 pose from a (3, 3) rotation and a (3,) translation."""
    T = np.eye(4)
    T[:3, :3] = np.asarray(rotation, dtype=float)
    T[:3, 3] = np.asarray(translation, dtype=float)
    return T


def rotz(yaw: float) -> np.ndarray:
    """(3, 3) rotation about +z by ``yaw`` radians (counter-clockwise seen from above)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def pose_from_yaw(yaw: float, translation: np.ndarray) -> np.ndarray:
    """4x4 pose that rotates about +z by ``yaw`` then translates."""
    return pose_matrix(rotz(yaw), translation)


def invert_pose(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid (4, 4) pose, exact for orthonormal rotations."""
    T = np.asarray(T, dtype=float)
    R, t = T[:3, :3], T[:3, 3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ t
    return out


def compose(*poses: np.ndarray) -> np.ndarray:
    """Matrix product of poses left to right: ``compose(A, B)`` applies B first, then A."""
    out = np.eye(4)
    for T in poses:
        out = out @ np.asarray(T, dtype=float)
    return out


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) pose to (N, 3) points; returns (N, 3) float64.

    Extra columns beyond the first three are ignored (use ``points[:, :3]``).
    """
    pts = np.asarray(points, dtype=float)[..., :3]
    T = np.asarray(T, dtype=float)
    return pts @ T[:3, :3].T + T[:3, 3]


def yaw_of(T: np.ndarray) -> float:
    """Heading of a pose's x axis in the xy plane of its parent frame, radians."""
    T = np.asarray(T, dtype=float)
    return float(np.arctan2(T[1, 0], T[0, 0]))


def quat_from_matrix(R: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion (w, x, y, z) of a (3, 3) rotation, with w >= 0."""
    q = Quaternion(matrix=np.asarray(R, dtype=float), atol=1e-6, rtol=1e-6).normalised
    arr = np.array([q.w, q.x, q.y, q.z])
    return -arr if arr[0] < 0 else arr


def matrix_from_quat(q_wxyz: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of a quaternion (w, x, y, z); the quaternion is normalised first."""
    w, x, y, z = np.asarray(q_wxyz, dtype=float)
    return Quaternion(w, x, y, z).normalised.rotation_matrix


def pose_from_quat(q_wxyz: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 pose from a quaternion (w, x, y, z) and a (3,) translation."""
    return pose_matrix(matrix_from_quat(q_wxyz), translation)


def pose_to_quat(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a 4x4 pose into a quaternion (w, x, y, z) and a (3,) translation."""
    T = np.asarray(T, dtype=float)
    return quat_from_matrix(T[:3, :3]), T[:3, 3].copy()
