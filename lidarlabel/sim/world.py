"""The static street: a seeded road layout, its ground surface and roadside objects.

Layouts (chosen by the seed): a straight road, a bend, a four-way intersection or a
T-junction, rotated by a random angle in the world. Heights: a ground plane with a
gentle grade ``g(x, y)``; sidewalks and yards at ``g + CURB``; carriageways crowned
(``g + crown * (1 - (o / half_width)^2)``, ``o`` the lateral offset) with vertical
curbs. Carriageway mesh vertices carry road coordinates ``(s, o)`` so that lane
markings and crosswalks are painted at hit points (intensity and colour) without
extra geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon

from lidarlabel.sim import materials
from lidarlabel.sim.geometry import Polyline, arc
from lidarlabel.sim.mesh import Mesh, box
from lidarlabel.sim.models import pole, sign_post, tree

CURB = 0.15
VERGE = 2.5  # grass strip beyond each sidewalk, part of the road mesh


@dataclass
class Road:
    centre: Polyline
    lanes: int  # per direction
    lane_width: float
    parking: float  # parking strip width on each side (0 = none)
    sidewalk: float
    crosswalks: list[float] = field(default_factory=list)  # arc lengths of zebra crossings

    @property
    def half_width(self) -> float:
        return self.lanes * self.lane_width + self.parking

    @property
    def crown(self) -> float:
        return 0.018 * self.half_width


@dataclass
class Layout:
    kind: str  # straight | bend | intersection | tjunction
    roads: list[Road]
    grade: np.ndarray  # (2,) ground slope dz/dx, dz/dy
    junction: np.ndarray | None  # (2,) centre of the intersection, if any

    def ground(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, float).reshape(-1, 2) @ self.grade


def make_layout(rng: np.random.Generator) -> Layout:
    kind = str(rng.choice(["straight", "bend", "intersection", "tjunction"], p=[0.25, 0.25, 0.3, 0.2]))
    rot = rng.uniform(-np.pi, np.pi)
    R = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    offset = rng.uniform(-50, 50, 2)

    def place(pts: np.ndarray) -> Polyline:
        return Polyline(pts @ R.T + offset).resampled(1.0)

    def road(pts: np.ndarray) -> Road:
        lanes = int(rng.choice([1, 2], p=[0.55, 0.45]))
        return Road(place(pts), lanes, float(rng.uniform(3.2, 3.7)),
                    float(rng.choice([0.0, 2.3], p=[0.3, 0.7])), float(rng.uniform(2.5, 4.5)))

    junction = None
    if kind == "straight":
        roads = [road(np.array([[-170.0, 0], [170, 0]]))]
        roads[0].crosswalks = [170 + rng.uniform(10, 40)]
    elif kind == "bend":
        radius, angle = rng.uniform(35, 70), rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
        a = arc(np.array([0.0, 0]), 0.0, radius, angle)
        end_dir = np.array([np.cos(angle), np.sin(angle)])
        pts = np.vstack([[[-170.0, 0]], a, [a[-1] + 140 * end_dir]])
        roads = [road(pts)]
        roads[0].crosswalks = [170 - rng.uniform(8, 25)]
    else:
        angle = np.pi / 2 + rng.uniform(-0.3, 0.3)
        d = np.array([np.cos(angle), np.sin(angle)])
        main = road(np.array([[-170.0, 0], [170, 0]]))
        if kind == "intersection":
            cross_pts = np.array([-150 * d, 150 * d])
        else:
            cross_pts = np.array([0 * d, rng.choice([-1, 1]) * 150 * d])
        cross = road(cross_pts)
        junction = offset.copy()
        # zebra crossings on the main road just before and after the junction
        clear = cross.half_width + cross.sidewalk / 2 + 1.5
        main.crosswalks = [170 - clear - 1.5, 170 + clear + 1.5]
        roads = [main, cross]
    grade = rng.normal(0, 0.012, 2)
    return Layout(kind, roads, grade, junction)


# --- the ground: carriageways, curbs, sidewalks, verges, terrain -------------------------

@dataclass
class Ground:
    mesh: Mesh
    road_index: np.ndarray  # (T,) int16, -1 for terrain
    road_coords: np.ndarray  # (T, 3, 3) per-vertex (s, o, inside another carriageway)


def _inside_other(layout: Layout, k: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inside mask, road height there) for points inside another road's carriageway."""
    inside = np.zeros(len(xy), bool)
    height = np.zeros(len(xy))
    for j, other in enumerate(layout.roads):
        if j == k:
            continue
        s, o, dist = other.centre.project(xy)
        within = (np.abs(o) < other.half_width) & (s > 0.01) & (s < other.centre.length - 0.01)
        h = layout.ground(xy) + other.crown * (1 - (o / other.half_width) ** 2)
        height = np.where(within & ~inside, h, height)
        inside |= within
    return inside, height


def _road_mesh(layout: Layout, k: int) -> Ground:
    road = layout.roads[k]
    hw = road.half_width
    n_cw = max(4, int(np.ceil(2 * hw / 1.2)))
    cw = np.linspace(-hw, hw, n_cw + 1)
    outer = [hw + road.sidewalk, hw + road.sidewalk + VERGE]
    # offsets and what each strip between consecutive offsets is
    offs = np.concatenate([-np.array(outer[::-1]), [-hw], cw, [hw], outer])
    # kind of each vertex column: 0 carriageway, 1 curb top / sidewalk / verge
    top = np.concatenate([[1, 1, 1], np.zeros(len(cw)), [1, 1, 1]]).astype(bool)
    strip_mat = (["grass", "sidewalk", "curb"] + ["asphalt"] * (len(cw) - 1)
                 + ["curb", "sidewalk", "grass"])
    # stations: 1 m, refined to 0.25 m near other roads (where curbs end)
    fine = np.arange(0, road.centre.length + 1e-9, 0.25)
    pts, _ = road.centre.at(fine)
    near = np.zeros(len(fine), bool)
    for j, other in enumerate(layout.roads):
        if j != k:
            _, _, dist = other.centre.project(pts)
            near |= dist < other.half_width + other.sidewalk + 4
    keep = near | (np.abs(fine - np.round(fine)) < 1e-6)
    s_st = fine[keep]
    c, tan = road.centre.at(s_st)
    normal = np.column_stack([-tan[:, 1], tan[:, 0]])
    ns, no = len(s_st), len(offs)
    xy = c[:, None, :] + offs[None, :, None] * normal[:, None, :]
    flat = xy.reshape(-1, 2)
    g = layout.ground(flat).reshape(ns, no)
    crown = road.crown * (1 - (np.clip(offs, -hw, hw) / hw) ** 2)
    z = g + np.where(top, CURB, crown)[None, :]
    z[:, [0, -1]] -= 0.01  # verge edge just below sidewalks, terrain below that: no z-fighting
    inside, h_other = _inside_other(layout, k, flat)
    inside = inside.reshape(ns, no)
    z = np.where(inside, h_other.reshape(ns, no), z)
    verts = np.column_stack([flat, z.reshape(-1)])
    idx = np.arange(ns * no).reshape(ns, no)
    a, b, c2, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    tris = np.concatenate([np.stack([a, b, c2], -1), np.stack([a, c2, d], -1)], axis=0)
    # strip index of every triangle (column j of idx[:, j])
    strip = np.concatenate([np.broadcast_to(np.arange(no - 1), a.shape)] * 2, axis=0)
    tris, strip = tris.reshape(-1, 3), strip.reshape(-1)
    mats = np.array([materials.ID[m] for m in strip_mat])[strip]
    # where a sidewalk strip lies inside another carriageway it is road surface
    tri_inside = inside.reshape(-1)[tris].any(1)
    mats = np.where(tri_inside, materials.ID["asphalt"], mats)
    area = np.linalg.norm(np.cross(verts[tris[:, 1]] - verts[tris[:, 0]],
                                   verts[tris[:, 2]] - verts[tris[:, 0]]), axis=1)
    ok = area > 1e-8
    tris, mats = tris[ok], mats[ok]
    mesh = Mesh(verts, tris.astype(np.int32), mats.astype(np.int16), materials.COLOUR[mats],
                materials.REFLECTIVITY[mats], np.full(len(tris), -1, np.int32))
    coords = np.stack([np.repeat(s_st, no), np.tile(offs, ns), inside.reshape(-1)], 1)
    return Ground(mesh, np.full(len(tris), k, np.int16), coords[tris])


def _terrain(layout: Layout, centre: np.ndarray, half: float, cell: float = 2.5) -> Ground:
    n = int(2 * half / cell)
    xs = centre[0] - half + cell * np.arange(n + 1)
    ys = centre[1] - half + cell * np.arange(n + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    flat = np.column_stack([gx.ravel(), gy.ravel()])
    verts = np.column_stack([flat, layout.ground(flat) + CURB - 0.02])
    idx = np.arange(len(flat)).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    cell_centre = (flat[a.ravel()] + flat[c.ravel()]) / 2
    drop = np.zeros(len(cell_centre), bool)
    for road in layout.roads:
        s, o, dist = road.centre.project(cell_centre)
        drop |= (np.abs(o) < road.half_width + road.sidewalk) & (dist < road.half_width + road.sidewalk + 0.01)
    keep = ~drop
    tris = np.concatenate([np.column_stack([a.ravel(), b.ravel(), c.ravel()])[keep],
                           np.column_stack([a.ravel(), c.ravel(), d.ravel()])[keep]])
    mesh = Mesh.from_arrays(verts, tris, "grass")
    return Ground(mesh, np.full(len(tris), -1, np.int16), np.zeros((len(tris), 3, 3)))


def build_ground(layout: Layout, centre: np.ndarray, half: float) -> Ground:
    parts = [_road_mesh(layout, k) for k in range(len(layout.roads))]
    parts.append(_terrain(layout, centre, half))
    return Ground(Mesh.concat([p.mesh for p in parts]),
                  np.concatenate([p.road_index for p in parts]),
                  np.concatenate([p.road_coords for p in parts]))


def marking_mask(layout: Layout, road_index: np.ndarray, s: np.ndarray, o: np.ndarray,
                 inside_other: np.ndarray) -> np.ndarray:
    """(N,) bool: hit points on painted markings (lane lines, edge lines, crosswalks)."""
    paint = np.zeros(len(s), bool)
    for k, road in enumerate(layout.roads):
        m = (road_index == k) & (inside_other < 0.5)
        if not m.any():
            continue
        ss, oo = s[m], o[m]
        hw = road.half_width
        lane_edge = road.lanes * road.lane_width
        p = np.abs(oo) < 0.08  # centre line: double solid for two lanes, dashed for one
        if road.lanes == 1:
            p &= (ss % 9.0) < 3.0
        else:
            p = (np.abs(np.abs(oo) - 0.12) < 0.06)
        for lane in range(1, road.lanes):  # dashed lane dividers
            p |= (np.abs(np.abs(oo) - lane * road.lane_width) < 0.07) & ((ss % 12.0) < 3.0)
        p |= np.abs(np.abs(oo) - lane_edge) < 0.07  # edge line
        for cw in road.crosswalks:
            on = (np.abs(ss - cw) < 2.0) & (np.abs(oo) < hw - 0.2)
            p |= on & ((oo % 1.2) < 0.6)
            stop = ((oo < 0) & (np.abs(ss - (cw - 3.2)) < 0.25)) | (
                (oo > 0) & (np.abs(ss - (cw + 3.2)) < 0.25))
            p |= stop & (np.abs(oo) < lane_edge)
        paint[np.flatnonzero(m)] = p & (np.abs(oo) < hw)
    return paint


# --- roadside objects --------------------------------------------------------------------

@dataclass
class Furniture:
    mesh: Mesh
    footprints: np.ndarray  # (K, 5) x, y, length, width, yaw: what agents must not enter


def _corridor(layout: Layout, xy: np.ndarray) -> np.ndarray:
    """Smallest (distance to a road centreline - that road's half width + sidewalk)."""
    best = np.full(len(xy), np.inf)
    for road in layout.roads:
        _, _, dist = road.centre.project(xy)
        best = np.minimum(best, dist - road.half_width - road.sidewalk)
    return best


def _near_special(layout: Layout, road: Road, s: float, margin: float) -> bool:
    if any(abs(s - cw) < margin for cw in road.crosswalks):
        return True
    if layout.junction is not None:
        p, _ = road.centre.at(s)
        return bool(np.linalg.norm(p[0] - layout.junction) < margin + 14)
    return False


def build_furniture(layout: Layout, rng: np.random.Generator, s_range: tuple[float, float]) -> Furniture:
    meshes: list[Mesh] = []
    feet: list[tuple[float, float, float, float, float]] = []
    buildings: list[Polygon] = []
    for k, road in enumerate(layout.roads):
        hw = road.half_width
        lo, hi = max(0.0, s_range[0]), min(road.centre.length, s_range[1])
        for side in (-1, 1):
            # buildings: blocks along the road with varied setbacks, sizes and gaps
            s = lo + rng.uniform(0, 10)
            setback = rng.uniform(0.0, 6.0)
            while s < hi:
                front = rng.uniform(8, 28)
                depth = rng.uniform(10, 22)
                height = rng.uniform(5, 28) if rng.random() < 0.8 else rng.uniform(3, 5)
                if rng.random() < 0.3:
                    setback = rng.uniform(0.0, 8.0)
                mid = s + front / 2
                p, t = road.centre.at(mid)
                p, t = p[0], t[0]
                n = np.array([-t[1], t[0]]) * side
                o = hw + road.sidewalk + VERGE * 0.2 + setback + depth / 2
                centre = p + n * o
                yaw = float(np.arctan2(t[1], t[0]))
                poly = _rect(centre, front, depth, yaw)
                corners = np.array(poly.exterior.coords)[:-1]
                clear = _corridor(layout, np.vstack([corners, centre[None]])).min() > 0.3
                if clear and not any(poly.intersects(b) for b in buildings):
                    buildings.append(poly)
                    feet.append((*centre, front, depth, yaw))
                    meshes.append(_building(layout, centre, front, depth, height, yaw, side, rng))
                s += front + (rng.uniform(0, 8) if rng.random() < 0.5 else 0.3)
            # street lights, trees and a sign in the furniture strip next to the curb
            s = lo + rng.uniform(0, 8)
            while s < hi:
                if not _near_special(layout, road, s, 5.0):
                    p, t = road.centre.at(s)
                    n = np.array([-t[0, 1], t[0, 0]]) * side
                    pos = p[0] + n * (hw + 0.6)
                    z0 = float(layout.ground(pos[None])[0] + CURB)
                    if _corridor_other(layout, k, pos) > 0.3:
                        r = rng.random()
                        if r < 0.45:
                            meshes.append(tree(pos, z0, rng))
                            feet.append((*pos, 0.6, 0.6, 0.0))
                        elif r < 0.8:
                            meshes.append(pole(pos, z0, -n, rng))
                            feet.append((*pos, 0.4, 0.4, 0.0))
                        elif r < 0.9:
                            meshes.append(sign_post(pos, z0, float(np.arctan2(t[0, 1], t[0, 0]))))
                            feet.append((*pos, 0.8, 0.8, 0.0))
                s += rng.uniform(8, 22)
    return Furniture(Mesh.concat(meshes), np.array(feet, float).reshape(-1, 5))


def _corridor_other(layout: Layout, k: int, pos: np.ndarray) -> float:
    best = np.inf
    for j, road in enumerate(layout.roads):
        if j != k:
            _, _, dist = road.centre.project(pos[None])
            best = min(best, float(dist[0] - road.half_width - road.sidewalk))
    return best


def _rect(centre, length, width, yaw) -> Polygon:
    c, s = np.cos(yaw), np.sin(yaw)
    pts = np.array([[length, width], [-length, width], [-length, -width], [length, -width]]) / 2
    return Polygon(pts @ np.array([[c, s], [-s, c]]) + centre)


def _building(layout: Layout, centre, front, depth, height, yaw, side, rng) -> Mesh:
    mat = str(rng.choice(["brick", "plaster", "concrete"]))
    colour = np.clip(materials.COLOUR[materials.ID[mat]] + rng.normal(0, 0.06, 3), 0, 1)
    corners = np.array(_rect(centre, front, depth, yaw).exterior.coords)[:-1]
    z0 = float(layout.ground(corners).min() + CURB - 0.3)
    parts = [box((*centre, z0 + (height + 0.3) / 2), (front, depth, height + 0.3), mat, colour, yaw)]
    # window bands on the street facade (slightly proud of the wall), one per floor
    toward_road = side * np.array([np.sin(yaw), -np.cos(yaw)])
    facade = np.asarray(centre) + toward_road * (depth / 2 + 0.03)
    floors = int(height // 3.2)
    for f in range(floors):
        zc = z0 + 0.3 + 3.2 * f + 1.7
        if zc + 0.8 > z0 + height:
            break
        parts.append(box((*facade, zc), (front * 0.9, 0.1, 1.4), "glass", yaw=yaw))
    return Mesh.concat(parts)

