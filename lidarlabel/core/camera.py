"""Pinhole cameras with OpenCV-style distortion.

The camera frame follows OpenCV: x right, y down, z forward. ``K`` is the
(3, 3) intrinsic matrix and ``dist`` the (5,) coefficients ``k1, k2, p1, p2, k3``.
``ego_from_camera`` is the (4, 4) extrinsic that maps camera-frame points into
the ego frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidarlabel.core.boxes import BOX_EDGES
from lidarlabel.core.transforms import compose, invert_pose, transform_points

__all__ = ["CameraModel", "camera_from_world", "world_to_pixels"]


def _radial(dist: np.ndarray, r2: np.ndarray) -> np.ndarray:
    k1, k2, _, _, k3 = dist
    return 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3


@dataclass(frozen=True, eq=False)
class CameraModel:
    """One calibrated camera: image size, intrinsics, distortion, extrinsic."""

    name: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    ego_from_camera: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", np.asarray(self.K, dtype=float).reshape(3, 3))
        d = np.zeros(5)
        given = np.asarray(self.dist, dtype=float).ravel()[:5]
        d[: len(given)] = given
        object.__setattr__(self, "dist", d)
        object.__setattr__(self, "ego_from_camera", np.asarray(self.ego_from_camera, dtype=float))
        object.__setattr__(self, "_r2_limit", self._monotonic_r2_limit())

    def _monotonic_r2_limit(self) -> float:
        """Largest squared normalised radius where distortion still grows with radius.

        Beyond it the polynomial folds back and far-off-axis points would land
        inside the image; they are reported invalid instead.
        """
        r = np.linspace(0.0, 4.0, 4001)
        rd = r * _radial(self.dist, r**2)
        bad = np.nonzero(np.diff(rd) <= 0)[0]
        r_max = r[bad[0]] if len(bad) else r[-1]
        return float(r_max**2)

    def project(self, points_cam: np.ndarray, near: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) camera-frame points to (N, 2) pixels (u right, v down).

        Returns ``(uv, valid)``: ``valid`` is False for points behind ``near`` or
        outside the region where the distortion model is monotonic. Pixel
        centres are at integer coordinates (OpenCV convention).
        """
        p = np.asarray(points_cam, dtype=float).reshape(-1, 3)
        z = p[:, 2]
        valid = z > near
        zs = np.where(valid, z, 1.0)
        x, y = p[:, 0] / zs, p[:, 1] / zs
        r2 = x * x + y * y
        valid &= r2 <= self._r2_limit
        _, _, p1, p2, _ = self.dist
        rad = _radial(self.dist, r2)
        xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        K = self.K
        u = K[0, 0] * xd + K[0, 1] * yd + K[0, 2]
        v = K[1, 1] * yd + K[1, 2]
        return np.stack([u, v], axis=1), valid

    def unproject(self, uv: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Unit rays (N, 3) in the camera frame through (N, 2) pixels (distortion inverted)."""
        uv = np.asarray(uv, dtype=float).reshape(-1, 2)
        K = self.K
        yd = (uv[:, 1] - K[1, 2]) / K[1, 1]
        xd = (uv[:, 0] - K[0, 2] - K[0, 1] * yd) / K[0, 0]
        x, y = xd.copy(), yd.copy()
        _, _, p1, p2, _ = self.dist
        for _ in range(iterations):
            r2 = x * x + y * y
            rad = _radial(self.dist, r2)
            dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
            x = (xd - dx) / rad
            y = (yd - dy) / rad
        rays = np.stack([x, y, np.ones_like(x)], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def in_image(self, uv: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N,) bool: pixels inside the image, allowing ``margin`` pixels outside."""
        uv = np.asarray(uv, dtype=float).reshape(-1, 2)
        return (
            (uv[:, 0] >= -0.5 - margin)
            & (uv[:, 0] <= self.width - 0.5 + margin)
            & (uv[:, 1] >= -0.5 - margin)
            & (uv[:, 1] <= self.height - 0.5 + margin)
        )

    def project_box_edges(
        self, corners_cam: np.ndarray, near: float = 0.1, samples: int = 8
    ) -> tuple[np.ndarray, np.ndarray]:
        """Project the 12 edges of boxes into the image, clipped at the near plane.

        corners_cam: (N, 8, 3) box corners in this camera's frame (corner order
        of :mod:`lidarlabel.core.boxes`). Each edge is clipped to ``z >= near``
        (so a box half behind the camera still draws its visible part) and cut
        into ``samples`` pieces so that distortion bends it as the lens does.

        Returns ``(segments, box_index)``: (S, 2, 2) pixel segments and (S,)
        the box each belongs to. Segments outside the image are kept; the
        painter clips them.
        """
        c = np.asarray(corners_cam, dtype=float).reshape(-1, 8, 3)
        if len(c) == 0:
            return np.zeros((0, 2, 2)), np.zeros(0, dtype=int)
        a = c[:, BOX_EDGES[:, 0]]  # (N, 12, 3)
        b = c[:, BOX_EDGES[:, 1]]
        za, zb = a[..., 2], b[..., 2]
        keep = (za >= near) | (zb >= near)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(np.abs(zb - za) > 1e-12, (near - za) / (zb - za), 0.0)
        a_c = np.where(((za < near) & keep)[..., None], a + t[..., None] * (b - a), a)
        b_c = np.where(((zb < near) & keep)[..., None], a + t[..., None] * (b - a), b)
        a_c, b_c = a_c[keep], b_c[keep]
        box_of_edge = np.nonzero(keep)[0]
        s = np.linspace(0.0, 1.0, samples + 1)
        pts = a_c[:, None, :] + s[None, :, None] * (b_c - a_c)[:, None, :]  # (E, samples+1, 3)
        uv, valid = self.project(pts.reshape(-1, 3), near=near * 0.5)
        uv = uv.reshape(len(a_c), samples + 1, 2)
        valid = valid.reshape(len(a_c), samples + 1)
        seg = np.stack([uv[:, :-1], uv[:, 1:]], axis=2)  # (E, samples, 2, 2)
        seg_ok = valid[:, :-1] & valid[:, 1:]
        idx = np.repeat(box_of_edge[:, None], samples, axis=1)
        return seg[seg_ok], idx[seg_ok]


def camera_from_world(camera: CameraModel, world_from_ego: np.ndarray) -> np.ndarray:
    """(4, 4) pose mapping world points into ``camera``'s frame at the given ego pose."""
    return compose(invert_pose(camera.ego_from_camera), invert_pose(world_from_ego))


def world_to_pixels(
    camera: CameraModel, world_from_ego: np.ndarray, points_world: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project (N, 3) world points: returns (uv (N, 2), depth (N,), valid (N,))."""
    pc = transform_points(camera_from_world(camera, world_from_ego), points_world)
    uv, valid = camera.project(pc)
    return uv, pc[:, 2], valid
