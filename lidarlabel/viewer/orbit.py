"""The 3D view's camera: an orbit around a target point (Qt-free, plain numpy).

World frame, z up. ``azimuth`` is the direction from the target to the eye,
counter-clockwise about +z from +x; ``elevation`` is the angle above the
ground plane. Matrices are row-major numpy (transpose when uploading to GL).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidarlabel.core.transforms import yaw_of

__all__ = ["OrbitCamera"]

_MAX_EL = np.deg2rad(89.9)


@dataclass
class OrbitCamera:
    """Perspective orbit camera; ``width``/``height`` are the viewport in pixels."""

    target: np.ndarray = field(default_factory=lambda: np.zeros(3))
    distance: float = 60.0
    azimuth: float = np.pi  # eye behind the target (looking along +x)
    elevation: float = np.deg2rad(35.0)
    fov_deg: float = 50.0
    width: int = 800
    height: int = 600
    near: float = 0.2
    far: float = 2000.0

    # ------------------------------------------------------------------ matrices
    @property
    def eye(self) -> np.ndarray:
        """(3,) eye position in the world frame."""
        ce = np.cos(self.elevation)
        d = np.array([ce * np.cos(self.azimuth), ce * np.sin(self.azimuth), np.sin(self.elevation)])
        return np.asarray(self.target, float) + self.distance * d

    def view_matrix(self) -> np.ndarray:
        """(4, 4) camera_from_world (OpenGL camera: x right, y up, looking down -z)."""
        eye = self.eye
        f = np.asarray(self.target, float) - eye
        f /= np.linalg.norm(f)
        # up is +z except straight down, where "up on screen" is the azimuth direction
        up = np.array([0.0, 0.0, 1.0])
        s = np.cross(f, up)
        if np.linalg.norm(s) < 1e-6:
            s = np.array([np.sin(self.azimuth), -np.cos(self.azimuth), 0.0])
        s /= np.linalg.norm(s)
        u = np.cross(s, f)
        m = np.eye(4)
        m[0, :3], m[1, :3], m[2, :3] = s, u, -f
        m[:3, 3] = -m[:3, :3] @ eye
        return m

    def projection_matrix(self) -> np.ndarray:
        """(4, 4) OpenGL perspective projection."""
        aspect = max(self.width, 1) / max(self.height, 1)
        t = 1.0 / np.tan(np.deg2rad(self.fov_deg) / 2)
        n, f = self.near, self.far
        p = np.zeros((4, 4))
        p[0, 0], p[1, 1] = t / aspect, t
        p[2, 2], p[2, 3] = (f + n) / (n - f), 2 * f * n / (n - f)
        p[3, 2] = -1.0
        return p

    def mvp(self) -> np.ndarray:
        """(4, 4) clip_from_world."""
        return self.projection_matrix() @ self.view_matrix()

    # ------------------------------------------------------------------ queries
    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> ((N, 2) pixels, x right / y down, (N,) in front of the camera)."""
        p = np.c_[np.asarray(pts, float).reshape(-1, 3), np.ones(len(np.asarray(pts).reshape(-1, 3)))]
        clip = p @ self.mvp().T
        w = clip[:, 3]
        ok = w > self.near
        ws = np.where(ok, w, 1.0)
        x = (clip[:, 0] / ws + 1) * 0.5 * self.width
        y = (1 - clip[:, 1] / ws) * 0.5 * self.height
        return np.c_[x, y], ok

    def ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
        """World ray (origin (3,), unit direction (3,)) through pixel (x right, y down)."""
        v = self.view_matrix()
        aspect = max(self.width, 1) / max(self.height, 1)
        t = np.tan(np.deg2rad(self.fov_deg) / 2)
        nx = (2 * x / max(self.width, 1) - 1) * t * aspect
        ny = (1 - 2 * y / max(self.height, 1)) * t
        d_cam = np.array([nx, ny, -1.0])
        d = v[:3, :3].T @ d_cam
        return self.eye, d / np.linalg.norm(d)

    # ------------------------------------------------------------------ motion
    def orbit(self, d_azimuth: float, d_elevation: float) -> None:
        """Rotate the eye about the target (radians)."""
        self.azimuth = float((self.azimuth + d_azimuth) % (2 * np.pi))
        self.elevation = float(np.clip(self.elevation + d_elevation, np.deg2rad(-10), _MAX_EL))

    def pan(self, dx_px: float, dy_px: float) -> None:
        """Move the target so the scene follows the mouse by (dx, dy) pixels."""
        v = self.view_matrix()
        scale = 2 * self.distance * np.tan(np.deg2rad(self.fov_deg) / 2) / max(self.height, 1)
        right, up = v[0, :3], v[1, :3]
        self.target = np.asarray(self.target, float) - scale * (dx_px * right - dy_px * up)

    def zoom(self, factor: float) -> None:
        """Multiply the eye distance by ``factor`` (< 1 comes closer)."""
        self.distance = float(np.clip(self.distance * factor, 1.0, 1500.0))

    # ------------------------------------------------------------------ presets
    def birds_eye(self, world_from_ego: np.ndarray, distance: float = 90.0) -> None:
        """Straight down on the ego vehicle, its heading pointing up on screen."""
        self.target = world_from_ego[:3, 3].astype(float).copy()
        self.azimuth = float(yaw_of(world_from_ego) + np.pi)
        self.elevation = float(_MAX_EL)
        self.distance = distance

    def chase(self, world_from_ego: np.ndarray) -> None:
        """Behind and above the ego vehicle, looking along its heading."""
        yaw = yaw_of(world_from_ego)
        ahead = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        self.target = world_from_ego[:3, 3].astype(float) + 20.0 * ahead
        self.azimuth = float(yaw + np.pi)
        self.elevation = float(np.deg2rad(16.0))
        self.distance = 36.0  # eye ~15 m behind the ego vehicle, ~10 m up

    def reset(self, world_from_ego: np.ndarray) -> None:
        """The default overview: the ego vehicle seen from behind and high above."""
        yaw = yaw_of(world_from_ego)
        self.target = world_from_ego[:3, 3].astype(float).copy()
        self.azimuth = float(yaw + np.pi)
        self.elevation = float(np.deg2rad(50.0))
        self.distance = 75.0
