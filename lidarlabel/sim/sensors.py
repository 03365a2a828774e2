"""The sensor rig: a roof-mounted spinning LiDAR and pinhole cameras with distortion.

LiDAR model: ``beams`` lasers at fixed, non-uniform elevation angles (the 64-beam
table follows the Velodyne HDL-64E: +2.0 deg to -24.8 deg, finer near the
horizon), ``azimuth_steps`` firings per revolution (1800 = 0.2 deg), Gaussian
range noise, random dropout (higher for dark and glass surfaces far away), and
an intensity in [0, 255] from the surface reflectivity and the angle of
incidence. The sweep is instantaneous at the frame time (no rolling shutter).
Ring 0 is the topmost beam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.transforms import pose_matrix
from lidarlabel.sim import materials
from lidarlabel.sim.raycast import Hits


def beam_elevations(beams: int) -> np.ndarray:
    """Elevation angles in degrees, top beam first, for a ``beams``-laser sensor."""
    if beams == 64:  # HDL-64E: upper block 1/3 deg spacing, lower block 1/2 deg
        return np.concatenate([np.linspace(2.0, -8.33, 32), np.linspace(-8.83, -24.8, 32)])
    if beams == 32:  # HDL-32E: +10.67 .. -30.67 deg in 1.33 deg steps
        return np.linspace(10.67, -30.67, 32)
    if beams == 128:  # OS-128 / Pandar128-like: dense band around the horizon
        return np.concatenate([np.linspace(15.0, 3.2, 16), np.linspace(3.0, -6.0, 72),
                               np.linspace(-6.4, -25.0, 40)])
    if beams < 8 or beams > 256:
        raise ValueError(f"beams must be between 8 and 256, got {beams}")
    up = beams // 2
    return np.concatenate([np.linspace(2.0, -8.33, up), np.linspace(-8.83, -24.8, beams - up)])


@dataclass(frozen=True)
class LidarSpec:
    beams: int = 64
    azimuth_steps: int = 1800
    range_noise: float = 0.02
    dropout: float = 0.015
    min_range: float = 1.0
    max_range: float = 120.0
    height: float = 1.9  # mount height above the ground under the ego origin
    x: float = 0.95  # mount position along the ego x axis

    def ego_from_lidar(self) -> np.ndarray:
        return pose_matrix(np.eye(3), np.array([self.x, 0.0, self.height]))

    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit ray directions (B * A, 3) in the LiDAR frame and the ring of each."""
        el = np.deg2rad(beam_elevations(self.beams))
        az = np.linspace(np.pi, -np.pi, self.azimuth_steps, endpoint=False)  # clockwise spin
        ee, aa = np.meshgrid(el, az, indexing="ij")
        d = np.stack([np.cos(ee) * np.cos(aa), np.cos(ee) * np.sin(aa), np.sin(ee)], -1)
        ring = np.broadcast_to(np.arange(self.beams)[:, None], ee.shape)
        # firing order: column by column (all lasers fire per azimuth step)
        return d.transpose(1, 0, 2).reshape(-1, 3), ring.T.reshape(-1)


def lidar_returns(spec: LidarSpec, dirs: np.ndarray, dirs_world: np.ndarray, ring: np.ndarray,
                  hits: Hits, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Turn ray hits into the sweep: ``(points (N, 5) float32 x y z intensity ring,
    index of the ray of each point)``. ``dirs`` are the LiDAR-frame ray directions,
    ``dirs_world`` the same rays in the world frame (where ``hits`` were cast)."""
    n = len(dirs)
    r = hits.t + rng.normal(0.0, spec.range_noise, n)
    cos_inc = np.abs((hits.normal * dirs_world).sum(1))
    keep = hits.hit & (r > spec.min_range) & (r < spec.max_range)
    # dropout: uniform, plus weak returns (dark or glancing surfaces far away)
    strength = hits.reflectivity * (0.25 + 0.75 * cos_inc) / (1.0 + (r / 60.0) ** 2)
    p_drop = spec.dropout + np.where(hits.material == materials.ID["glass"], 0.4, 0.0)
    p_drop = p_drop + np.clip(0.02 - strength, 0, 0.02) * 20.0
    keep &= rng.random(n) >= p_drop
    retro = hits.material == materials.ID["license_plate"]
    inten = np.where(retro, 230.0 + 25 * cos_inc, 255.0 * hits.reflectivity * (0.3 + 0.7 * cos_inc))
    inten = np.clip(inten + rng.normal(0, 2.0, n), 0, 255).round()
    idx = np.flatnonzero(keep)
    pts = np.column_stack([dirs[idx] * r[idx, None], inten[idx], ring[idx]]).astype(np.float32)
    return pts, idx


# --- cameras -----------------------------------------------------------------------------

CAMERA_LAYOUT = {  # name: (x, y, z in the ego frame, yaw in degrees, left positive)
    "CAM_FRONT": (1.70, 0.0, 1.55, 0.0),
    "CAM_FRONT_LEFT": (1.55, 0.45, 1.55, 55.0),
    "CAM_FRONT_RIGHT": (1.55, -0.45, 1.55, -55.0),
}


def make_cameras(width: int = 960, names=tuple(CAMERA_LAYOUT)) -> list[CameraModel]:
    """Cameras with a 70 deg horizontal field of view, 16:9, mild barrel distortion."""
    if width < 64 or width > 4096:
        raise ValueError(f"camera width must be between 64 and 4096 pixels, got {width}")
    height = int(round(width * 9 / 16))
    f = (width / 2) / np.tan(np.deg2rad(35.0))
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
    dist = np.array([-0.06, 0.012, 0.0005, -0.0003, 0.0])
    # OpenCV camera axes (x right, y down, z forward) in the ego frame for yaw 0
    base = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    cams = []
    for name in names:
        x, y, z, yaw = CAMERA_LAYOUT[name]
        c, s = np.cos(np.deg2rad(yaw)), np.sin(np.deg2rad(yaw))
        Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        cams.append(CameraModel(name, width, height, K, dist, pose_matrix(Rz @ base, np.array([x, y, z]))))
    return cams


def pixel_rays(cam: CameraModel) -> np.ndarray:
    """Unit rays (H * W, 3) in the camera frame through every pixel centre, row major."""
    v, u = np.mgrid[0:cam.height, 0:cam.width]
    return cam.unproject(np.column_stack([u.ravel(), v.ravel()]).astype(float))


SUN = np.array([0.35, 0.25, 0.9]) / np.linalg.norm([0.35, 0.25, 0.9])
SKY_LOW = np.array([0.78, 0.85, 0.95], np.float32)
SKY_HIGH = np.array([0.35, 0.55, 0.85], np.float32)


def shade(cam: CameraModel, dirs_world: np.ndarray, hits: Hits, rng: np.random.Generator) -> np.ndarray:
    """RGB uint8 image (H, W, 3): material colour x (ambient + Lambert), sky gradient."""
    d = dirs_world.astype(np.float32)
    nrm = hits.normal.astype(np.float32)
    facing = np.einsum("ij,ij->i", nrm, d) > 0
    nrm[facing] *= -1
    lambert = np.clip(nrm @ SUN.astype(np.float32), 0, 1)
    shade_f = (0.38 + 0.62 * lambert) * (1.0 + rng.normal(0, 0.025, len(d)).astype(np.float32))
    col = hits.colour * shade_f[:, None]
    haze = np.clip(hits.t.astype(np.float32) / 250.0, 0, 0.6)[:, None]
    el = np.clip(d[:, 2], -0.2, 1.0)[:, None]
    sky = SKY_LOW * (1 - el) + SKY_HIGH * el
    col = np.where(hits.hit[:, None], col * (1 - haze) + sky * haze, sky)
    img = (np.clip(col, 0, 1) * 255 + 0.5).astype(np.uint8)
    return img.reshape(cam.height, cam.width, 3)
