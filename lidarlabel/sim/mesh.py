"""Triangle meshes with per-triangle attributes, and the primitives the world is built from.

A :class:`Mesh` is plain numpy: vertices ``(V, 3)`` float64, triangles ``(T, 3)``
int32, and per triangle a material id, an RGB colour, a LiDAR reflectivity and an
object id (``-1`` for the static background). Primitives are built in a local
frame and placed with :meth:`Mesh.transformed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.sim import materials


@dataclass
class Mesh:
    vertices: np.ndarray  # (V, 3) float64
    triangles: np.ndarray  # (T, 3) int32
    material: np.ndarray  # (T,) int16
    colour: np.ndarray  # (T, 3) float32
    reflectivity: np.ndarray  # (T,) float32
    object_id: np.ndarray  # (T,) int32, -1 = background

    @staticmethod
    def empty() -> Mesh:
        return Mesh(
            np.zeros((0, 3)), np.zeros((0, 3), np.int32), np.zeros(0, np.int16),
            np.zeros((0, 3), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
        )

    @staticmethod
    def from_arrays(
        vertices: np.ndarray,
        triangles: np.ndarray,
        material: str,
        colour: np.ndarray | None = None,
        object_id: int = -1,
    ) -> Mesh:
        t = len(triangles)
        mid = materials.ID[material]
        col = materials.COLOUR[mid] if colour is None else np.asarray(colour, np.float32)
        return Mesh(
            np.asarray(vertices, np.float64),
            np.asarray(triangles, np.int32).reshape(-1, 3),
            np.full(t, mid, np.int16),
            np.tile(col, (t, 1)).astype(np.float32),
            np.full(t, materials.REFLECTIVITY[mid], np.float32),
            np.full(t, object_id, np.int32),
        )

    @property
    def num_triangles(self) -> int:
        return len(self.triangles)

    def transformed(self, T: np.ndarray) -> Mesh:
        """This mesh with vertices mapped by the (4, 4) transform ``T``."""
        v = self.vertices @ T[:3, :3].T + T[:3, 3]
        return Mesh(v, self.triangles, self.material, self.colour, self.reflectivity, self.object_id)

    def with_object_id(self, object_id: int) -> Mesh:
        return Mesh(
            self.vertices, self.triangles, self.material, self.colour, self.reflectivity,
            np.full(len(self.triangles), object_id, np.int32),
        )

    @staticmethod
    def concat(meshes: list[Mesh]) -> Mesh:
        meshes = [m for m in meshes if m.num_triangles]
        if not meshes:
            return Mesh.empty()
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
        return Mesh(
            np.concatenate([m.vertices for m in meshes]),
            np.concatenate([m.triangles + o for m, o in zip(meshes, offsets)]).astype(np.int32),
            np.concatenate([m.material for m in meshes]),
            np.concatenate([m.colour for m in meshes]),
            np.concatenate([m.reflectivity for m in meshes]),
            np.concatenate([m.object_id for m in meshes]),
        )


def loft(polygons: list[np.ndarray], zs: list[float], material: str, colour=None,
         cap_bottom: bool = True, cap_top: bool = True) -> Mesh:
    """Side surface through convex polygons ``(K, 2)`` (counter-clockwise) stacked at
    heights ``zs``, with fan caps. All polygons have the same K."""
    k = len(polygons[0])
    verts = np.concatenate(
        [np.column_stack([p, np.full(k, z)]) for p, z in zip(polygons, zs)]
    )
    tris = []
    idx = np.arange(k)
    nxt = (idx + 1) % k
    for layer in range(len(polygons) - 1):
        a, b = layer * k, (layer + 1) * k
        tris.append(np.column_stack([a + idx, a + nxt, b + nxt]))
        tris.append(np.column_stack([a + idx, b + nxt, b + idx]))
    if cap_bottom:
        tris.append(np.column_stack([np.zeros(k - 2, int), idx[2:], idx[1:-1]]))
    if cap_top:
        top = (len(polygons) - 1) * k
        tris.append(np.column_stack([np.full(k - 2, top), top + idx[1:-1], top + idx[2:]]))
    return Mesh.from_arrays(verts, np.concatenate(tris), material, colour)


def chamfered_rect(length: float, width: float, chamfer: float, x0: float = 0.0) -> np.ndarray:
    """Octagon ``(8, 2)``: a length x width rectangle centred at (x0, 0) with cut corners."""
    hl, hw, c = length / 2, width / 2, min(chamfer, length / 2.01, width / 2.01)
    pts = [(hl, -hw + c), (hl, hw - c), (hl - c, hw), (-hl + c, hw),
           (-hl, hw - c), (-hl, -hw + c), (-hl + c, -hw), (hl - c, -hw)]
    return np.array(pts, float) + (x0, 0.0)


def box(center, size, material: str, colour=None, yaw: float = 0.0) -> Mesh:
    """Axis-aligned (then yawed) box with centre ``center`` and ``size`` (l, w, h)."""
    l, w, h = size
    poly = np.array([(l / 2, -w / 2), (l / 2, w / 2), (-l / 2, w / 2), (-l / 2, -w / 2)])
    m = loft([poly, poly], [-h / 2, h / 2], material, colour)
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:2, :2] = [[c, -s], [s, c]]
    T[:3, 3] = center
    return m.transformed(T)


def cylinder(p0, p1, radius: float, material: str, colour=None, segments: int = 10,
             radius1: float | None = None) -> Mesh:
    """Closed (possibly conical) cylinder from point p0 to p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.column_stack([np.cos(ang), np.sin(ang)])
    r1 = radius if radius1 is None else radius1
    m = loft([ring * radius, ring * r1], [0.0, length], material, colour)
    return m.transformed(_frame_along(axis / length, p0))


def ellipsoid(center, radii, material: str, colour=None, rings: int = 6, segments: int = 10,
              rng: np.random.Generator | None = None, roughness: float = 0.0) -> Mesh:
    """UV ellipsoid; with ``rng`` the radius is perturbed by up to ``roughness`` (foliage)."""
    th = np.linspace(0, np.pi, rings + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    tt, pp = np.meshgrid(th, ph, indexing="ij")
    dirs = np.stack([np.sin(tt) * np.cos(pp), np.sin(tt) * np.sin(pp), np.cos(tt)], -1).reshape(-1, 3)
    dirs = np.concatenate([[[0, 0, 1]], dirs, [[0, 0, -1]]])
    scale = np.ones(len(dirs))
    if rng is not None and roughness > 0:
        scale = 1.0 + rng.uniform(-roughness, roughness, len(dirs))
    verts = dirs * scale[:, None] * np.asarray(radii, float) + np.asarray(center, float)
    tris = []
    r_n = rings - 1
    for j in range(segments):
        jn = (j + 1) % segments
        tris.append((0, 1 + jn, 1 + j))
        for i in range(r_n - 1):
            a, b = 1 + i * segments, 1 + (i + 1) * segments
            tris.append((a + j, a + jn, b + jn))
            tris.append((a + j, b + jn, b + j))
        last = 1 + (r_n - 1) * segments
        tris.append((last + j, last + jn, len(dirs) - 1))
    return Mesh.from_arrays(verts, np.array(tris), material, colour)


def _frame_along(z_axis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """A (4, 4) transform whose local +z is ``z_axis`` and whose origin is ``origin``."""
    helper = np.array([1.0, 0, 0]) if abs(z_axis[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, z_axis)
    x /= np.linalg.norm(x)
    y = np.cross(z_axis, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z_axis, origin
    return T
