"""One synthetic scene: world, agents, sensors, and the frames and ground truth they give.

>>> sim = Simulation(SimConfig(frames=5, beams=32, seed=3))
>>> frame = sim.frame(0)          # points, hit object per point, images, hit object per pixel
>>> ids, boxes = sim.boxes(0)     # (M, 7) world-frame boxes of the agents
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidarlabel.core.camera import CameraModel
from lidarlabel.core.transforms import compose, pose_from_yaw, transform_points
from lidarlabel.sim import materials
from lidarlabel.sim.agents import Agent, populate
from lidarlabel.sim.mesh import Mesh
from lidarlabel.sim.raycast import Hits, RayCaster
from lidarlabel.sim.sensors import (
    LidarSpec,
    lidar_returns,
    make_cameras,
    pixel_rays,
    shade,
)
from lidarlabel.sim.world import Layout, build_furniture, build_ground, make_layout, marking_mask

FRAME_DT_US = 100_000  # 10 Hz
T0_US = 1_700_000_000_000_000


@dataclass(frozen=True)
class SimConfig:
    frames: int = 50
    beams: int = 64
    seed: int = 0
    cameras: bool = True
    width: int = 960
    azimuth_steps: int = 1800
    range_noise: float = 0.02  # LiDAR range noise sigma (m)
    gt_range: float = 80.0  # boxes are labelled within this distance or when hit by >= 1 point


@dataclass
class Frame:
    index: int
    timestamp_us: int
    ego_pose: np.ndarray  # (4, 4) world_from_ego
    points: np.ndarray  # (N, 5) float32, LiDAR frame: x, y, z, intensity, ring
    point_object: np.ndarray  # (N,) int32 agent index hit by each point, -1 background
    images: dict[str, np.ndarray] = field(default_factory=dict)  # RGB (H, W, 3)
    pixel_object: dict[str, np.ndarray] = field(default_factory=dict)  # (H, W) int32


class Simulation:
    """A deterministic scene from ``config.seed``: layout, agents, sensors."""

    def __init__(self, config: SimConfig) -> None:
        if config.frames < 1:
            raise ValueError(f"frames must be >= 1, got {config.frames}")
        self.config = config
        rng = np.random.default_rng(config.seed)
        self._rng_layout, self._rng_agents, self._rng_frames = rng.spawn(3)
        self.times = np.arange(config.frames) * (FRAME_DT_US / 1e6)
        self.layout: Layout = make_layout(self._rng_layout)
        furniture = build_furniture(self.layout, self._rng_layout, (0.0, 1e9))
        self.ego, self.agents = populate(self.layout, self._rng_agents, self.times,
                                         furniture.footprints)
        centre = self.ego.xy.mean(0)
        self._ground = build_ground(self.layout, centre, 150.0)
        self.static = Mesh.concat([self._ground.mesh, furniture.mesh])
        self._n_ground = self._ground.mesh.num_triangles
        origin = np.array([centre[0], centre[1], 0.0])
        self._caster = RayCaster(self.static, origin)
        self._ground_heights(origin)
        self.agent_meshes = [a.model.mesh.with_object_id(i) for i, a in enumerate(self.agents)]
        self.lidar = LidarSpec(beams=config.beams, azimuth_steps=config.azimuth_steps,
                               range_noise=config.range_noise)
        self._lidar_dirs, self._lidar_ring = self.lidar.directions()
        self.cameras: list[CameraModel] = make_cameras(config.width) if config.cameras else []
        self._cam_rays = {c.name: pixel_rays(c) for c in self.cameras}
        self._frame_rngs = self._rng_frames.spawn(config.frames)

    # --- geometry over time ------------------------------------------------------------
    def _ground_heights(self, origin: np.ndarray) -> None:
        """Ground height under each agent: the highest of its centre and footprint
        corners, so that the box (whose bottom is this height) holds no ground."""
        ground = RayCaster(self._ground.mesh, origin)
        everyone = [self.ego, *self.agents]
        F = len(self.times)
        samples = []
        for a in everyone:
            l, w, _ = a.size
            c, s = np.cos(a.yaw), np.sin(a.yaw)
            for fx, fy in ((0, 0), (0.5, 0.5), (0.5, -0.5), (-0.5, 0.5), (-0.5, -0.5)):
                dx, dy = fx * l, fy * w
                samples.append(a.xy + np.column_stack([c * dx - s * dy, s * dx + c * dy]))
        xy = np.concatenate(samples)
        o = np.column_stack([xy, np.full(len(xy), 60.0)])
        hits = ground.cast(o, np.tile([0.0, 0.0, -1.0], (len(xy), 1)))
        z = np.where(hits.hit, 60.0 - hits.t, self.layout.ground(xy)).reshape(len(everyone), 5, F)
        for k, a in enumerate(everyone):
            a.z = z[k].max(axis=0)

    def ego_pose(self, i: int) -> np.ndarray:
        """world_from_ego (4, 4) at frame ``i``: origin on the ground under the ego's centre."""
        e = self.ego
        return pose_from_yaw(float(e.yaw[i]), np.array([*e.xy[i], e.z[i]]))

    def world_from_lidar(self, i: int) -> np.ndarray:
        return compose(self.ego_pose(i), self.lidar.ego_from_lidar())

    def boxes(self, i: int) -> np.ndarray:
        """(A, 7) world-frame boxes of all agents at frame ``i`` (row = agent index)."""
        rows = []
        for a in self.agents:
            l, w, h = a.size
            rows.append([*a.xy[i], a.z[i] + h / 2, l, w, h, a.yaw[i]])
        return np.array(rows, float).reshape(-1, 7)

    def agents_mesh(self, i: int) -> Mesh:
        parts = []
        for a, m in zip(self.agents, self.agent_meshes):
            parts.append(m.transformed(pose_from_yaw(float(a.yaw[i]), np.array([*a.xy[i], a.z[i]]))))
        return Mesh.concat(parts)

    # --- sensors -----------------------------------------------------------------------
    def _paint(self, hits: Hits, origins: np.ndarray, dirs: np.ndarray) -> None:
        """Lane markings and crosswalks on road hits (changes colour and reflectivity)."""
        on_ground = hits.hit & ~hits.dynamic & (hits.triangle >= 0) & (hits.triangle < self._n_ground)
        idx = np.flatnonzero(on_ground)
        tri = hits.triangle[idx]
        road = self._ground.road_index[tri]
        keep = (road >= 0) & (hits.material[idx] == materials.ID["asphalt"])
        idx, tri, road = idx[keep], tri[keep], road[keep]
        if not len(idx):
            return
        u, v = hits.uv[idx, 0:1], hits.uv[idx, 1:2]
        c = self._ground.road_coords[tri]
        coords = (1 - u - v) * c[:, 0] + u * c[:, 1] + v * c[:, 2]
        paint = marking_mask(self.layout, road, coords[:, 0], coords[:, 1], coords[:, 2])
        sel = idx[paint]
        pid = materials.ID["paint"]
        hits.material[sel] = pid
        hits.colour[sel] = materials.COLOUR[pid]
        hits.reflectivity[sel] = materials.REFLECTIVITY[pid]

    def frame(self, i: int, images: bool = True) -> Frame:
        """Simulate frame ``i``: the LiDAR sweep and (if configured) the camera images."""
        rng = np.random.default_rng(self._frame_rngs[i])
        self._caster.set_dynamic(self.agents_mesh(i))
        T = self.world_from_lidar(i)
        dirs_w = self._lidar_dirs @ T[:3, :3].T
        hits = self._caster.cast(T[:3, 3], dirs_w)
        self._paint(hits, T[:3, 3], dirs_w)
        pts, ray_idx = lidar_returns(self.lidar, self._lidar_dirs, dirs_w, self._lidar_ring, hits, rng)
        obj = np.where(hits.dynamic[ray_idx], hits.object_id[ray_idx], -1).astype(np.int32)
        out = Frame(i, T0_US + i * FRAME_DT_US, self.ego_pose(i), pts, obj)
        if images:
            for cam in self.cameras:
                Tc = compose(self.ego_pose(i), cam.ego_from_camera)
                d = self._cam_rays[cam.name] @ Tc[:3, :3].T
                h = self._caster.cast(Tc[:3, 3], d)
                self._paint(h, Tc[:3, 3], d)
                out.images[cam.name] = shade(cam, d, h, rng)
                pix = np.where(h.dynamic, h.object_id, -1).astype(np.int32)
                out.pixel_object[cam.name] = pix.reshape(cam.height, cam.width)
        return out

    def points_world(self, frame: Frame) -> np.ndarray:
        return transform_points(self.world_from_lidar(frame.index), frame.points[:, :3])

    @property
    def track_ids(self) -> list[str]:
        return [a.id for a in self.agents]

    def agent(self, index: int) -> Agent:
        return self.agents[index]
