"""Ray casting against the static street plus the agents of one frame (open3d Embree).

The static scene's BVH is built once per scene; the agents' meshes (a few thousand
triangles) get a small scene per frame. A ray's hit is the nearer of the two.
Geometry is shifted by ``origin`` before the float32 conversion so that
coordinates stay small and precise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from lidarlabel.sim.mesh import Mesh

INVALID = np.iinfo(np.uint32).max


@dataclass
class Hits:
    t: np.ndarray  # (N,) distance along the (unit) ray, inf for a miss
    hit: np.ndarray  # (N,) bool
    dynamic: np.ndarray  # (N,) bool: hit an agent
    triangle: np.ndarray  # (N,) int64 triangle index in its mesh (static or dynamic), -1 miss
    uv: np.ndarray  # (N, 2) barycentric coordinates
    normal: np.ndarray  # (N, 3) unit normal of the hit triangle
    object_id: np.ndarray  # (N,) int32, -1 background or miss
    material: np.ndarray  # (N,) int16, -1 miss
    colour: np.ndarray  # (N, 3) float32
    reflectivity: np.ndarray  # (N,) float32


def _scene(mesh: Mesh, origin: np.ndarray) -> o3d.t.geometry.RaycastingScene:
    scene = o3d.t.geometry.RaycastingScene()
    if mesh.num_triangles:
        tm = o3d.t.geometry.TriangleMesh()
        tm.vertex.positions = o3d.core.Tensor((mesh.vertices - origin).astype(np.float32))
        tm.triangle.indices = o3d.core.Tensor(mesh.triangles.astype(np.int32))
        scene.add_triangles(tm)
    return scene


class RayCaster:
    """Static scene, built once; :meth:`cast` takes the agents' mesh of the frame."""

    def __init__(self, static: Mesh, origin: np.ndarray) -> None:
        self.static = static
        self.origin = np.asarray(origin, float)
        self._static_scene = _scene(static, self.origin)
        self._dyn_mesh: Mesh | None = None
        self._dyn_scene = None

    def set_dynamic(self, mesh: Mesh) -> None:
        self._dyn_mesh = mesh
        self._dyn_scene = _scene(mesh, self.origin) if mesh.num_triangles else None

    def cast(self, origins: np.ndarray, dirs: np.ndarray) -> Hits:
        """Cast unit rays from world-frame ``origins`` (N, 3) or (3,) along ``dirs`` (N, 3)."""
        dirs = np.asarray(dirs, float)
        o = np.broadcast_to(np.asarray(origins, float) - self.origin, dirs.shape)
        rays = o3d.core.Tensor(np.concatenate([o, dirs], 1).astype(np.float32))
        r_s = self._static_scene.cast_rays(rays)
        t = r_s["t_hit"].numpy().astype(np.float64)
        prim = r_s["primitive_ids"].numpy().astype(np.int64)
        uv = r_s["primitive_uvs"].numpy()
        normal = r_s["primitive_normals"].numpy()
        dynamic = np.zeros(len(t), bool)
        if self._dyn_scene is not None:
            r_d = self._dyn_scene.cast_rays(rays)
            t_d = r_d["t_hit"].numpy().astype(np.float64)
            dynamic = t_d < t
            t = np.where(dynamic, t_d, t)
            prim = np.where(dynamic, r_d["primitive_ids"].numpy().astype(np.int64), prim)
            uv = np.where(dynamic[:, None], r_d["primitive_uvs"].numpy(), uv)
            normal = np.where(dynamic[:, None], r_d["primitive_normals"].numpy(), normal)
        hit = np.isfinite(t)
        prim = np.where(hit, prim, -1)
        n = len(t)
        obj = np.full(n, -1, np.int32)
        mat = np.full(n, -1, np.int16)
        col = np.zeros((n, 3), np.float32)
        refl = np.zeros(n, np.float32)
        for mesh, sel in ((self.static, hit & ~dynamic), (self._dyn_mesh, hit & dynamic)):
            if mesh is None or not sel.any():
                continue
            tri = prim[sel]
            obj[sel] = mesh.object_id[tri]
            mat[sel] = mesh.material[tri]
            col[sel] = mesh.colour[tri]
            refl[sel] = mesh.reflectivity[tri]
        nrm = normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        return Hits(t, hit, dynamic, prim, uv, nrm, obj, mat, col, refl)
