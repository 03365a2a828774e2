"""Populate the street: the ego vehicle, parked cars, moving vehicles, cyclists and
pedestrians, each with a trajectory sampled at the frame times.

Agents are accepted one at a time; a candidate whose footprint (inflated by a
safety margin) overlaps an accepted agent's footprint in any frame is dropped,
so no two agents ever intersect. Vehicles on the same route are simulated front
to back, each following the accepted vehicle ahead of it (IDM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.core.boxes import bev_intersection_pairs
from lidarlabel.sim.geometry import Polyline
from lidarlabel.sim.models import AgentModel, build_agent
from lidarlabel.sim.traffic import Route, Stop, idm, lane, rounded, sidewalk, turn
from lidarlabel.sim.world import Layout

EGO_SIZE = (4.7, 1.9, 1.7)


@dataclass
class Agent:
    id: str
    kind: str  # car | truck | bus | pedestrian | cyclist | ego
    model: AgentModel | None  # None for the ego (not rendered)
    xy: np.ndarray  # (F, 2) centre of the footprint in the world
    yaw: np.ndarray  # (F,)
    speed: np.ndarray  # (F,) m/s
    parked: bool = False
    z: np.ndarray | None = None  # (F,) ground height under the centre (set later)

    @property
    def size(self) -> tuple[float, float, float]:
        return EGO_SIZE if self.model is None else self.model.size

    def bev(self, margin: float = 0.0) -> np.ndarray:
        """(F, 7) footprints as boxes (z and height dummy), inflated by ``margin``."""
        F = len(self.xy)
        l, w, _ = self.size
        return np.column_stack([self.xy, np.zeros(F), np.full(F, l + 2 * margin),
                                np.full(F, w + 2 * margin), np.ones(F), self.yaw])


def _on_path(path: Polyline, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Footprint centre and yaw for an agent whose reference point is at ``s``."""
    p, t = path.at(s)
    return p, np.arctan2(t[:, 1], t[:, 0])


class Population:
    """Accepts agents that do not collide with those already accepted."""

    def __init__(self, margin: float = 0.35) -> None:
        self.agents: list[Agent] = []
        self.margin = margin
        self._boxes: list[np.ndarray] = []

    def collides(self, cand: Agent) -> bool:
        if not self._boxes:
            return False
        a = cand.bev(self.margin / 2)
        others = np.stack(self._boxes)  # (M, F, 7)
        ra = np.hypot(a[0, 3], a[0, 4]) / 2
        rb = np.hypot(others[:, 0, 3], others[:, 0, 4]) / 2
        d = np.linalg.norm(others[:, :, :2] - a[None, :, :2], axis=2)  # (M, F)
        near = d < (ra + rb[:, None])
        if not near.any():
            return False
        m, f = np.nonzero(near)
        return bool((bev_intersection_pairs(a[f], others[m, f]) > 1e-6).any())

    def add_obstacles(self, footprints: np.ndarray, frames: int) -> None:
        """Static footprints (K, 5) x, y, length, width, yaw that no agent may enter."""
        for x, y, l, w, yaw in footprints:
            row = [x, y, 0.0, l + self.margin, w + self.margin, 1.0, yaw]
            self._boxes.append(np.tile(row, (frames, 1)))

    def add(self, agent: Agent, force: bool = False) -> bool:
        if not force and self.collides(agent):
            return False
        self.agents.append(agent)
        self._boxes.append(agent.bev(self.margin / 2))
        return True


class _Ids:
    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        self.n[kind] = self.n.get(kind, 0) + 1
        return f"{kind}-{self.n[kind]:03d}"


def populate(layout: Layout, rng: np.random.Generator, times: np.ndarray,
             obstacles: np.ndarray | None = None) -> tuple[Agent, list[Agent]]:
    """The ego vehicle and all other agents with trajectories at ``times`` (seconds),
    none of them entering the static ``obstacles`` footprints (K, 5)."""
    F = len(times)
    pop = Population()
    if obstacles is not None:
        pop.add_obstacles(obstacles, F)
    ids = _Ids()
    main = layout.roads[0]
    mid = main.centre.length / 2  # the junction / bend / crossing area is around here

    # --- crossing pedestrians decide when zebra crossings are busy -----------------
    crossings: list[tuple[np.ndarray, float, float]] = []  # (point on centreline, t_in, t_out)
    ped_routes: list[tuple[Polyline, float, float]] = []  # (path, s0, speed)
    for cw in main.crosswalks:
        for _ in range(int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))):
            side = int(rng.choice([-1, 1]))
            speed = rng.uniform(1.2, 1.7)
            a = sidewalk(layout, 0, side, 1)
            b = sidewalk(layout, 0, -side, 1)
            sa, _, _ = a.project(main.centre.at(cw)[0])
            sb, _, _ = b.project(main.centre.at(cw)[0])
            d_along = rng.choice([-1, 1])
            pre = 10.0 + 1.7 * (times[-1] - times[0])
            pts = np.array([a.at(sa[0] - d_along * pre)[0][0], a.at(sa[0])[0][0],
                            b.at(sb[0])[0][0], b.at(sb[0] + d_along * 25)[0][0]])
            path = rounded(pts, 1.5)
            # where on its path it starts so that it is on the crossing during the scene
            s_cross0 = pre + (main.sidewalk * 0.62 - 1.0)
            t_enter = rng.uniform(-0.7, 0.6) * times[-1] - 1.0
            s0 = s_cross0 - t_enter * speed
            t_out = t_enter + (2 * main.half_width + 2) / speed
            crossings.append((main.centre.at(cw)[0][0], t_enter - 1.5, t_out + 0.5))
            ped_routes.append((path, s0, speed))

    def route_for(path: Polyline, name: str, stopline_red: float | None = None) -> Route:
        r = Route(path, name)
        for point, _t_in, t_out in crossings:
            s, _, d = path.project(point[None])
            if d[0] < main.half_width and t_out > times[0]:
                r.stops.append(Stop(float(s[0]) - 3.2, t_out))
        if stopline_red is not None and layout.junction is not None:
            s, _, d = path.project(layout.junction[None])
            if d[0] < 5:
                r.stops.append(Stop(float(s[0]) - main.half_width - 2.5, stopline_red))
        return r

    def place(route: Route, s_list, kinds, v_des_list, keep_right: float = 0.0):
        """Vehicles on one route, front to back, each following the accepted one ahead.
        Cyclists ride ``keep_right`` metres right of the route (the lane's edge)."""
        order = np.argsort(-np.asarray(s_list))
        leader = None
        accepted = []
        for i in order:
            kind, v_des = kinds[i], v_des_list[i]
            if kind != "ego" and not 10.0 < s_list[i] < route.path.length - 40.0:
                continue  # keep to the part of the route that exists
            model = None if kind == "ego" else build_agent(kind, rng)
            length = EGO_SIZE[0] if model is None else model.size[0]
            v0 = v_des * rng.uniform(0.7, 1.0)
            s, v = idm(route, s_list[i], v_des, length, times, leader, v0=v0)
            xy, yaw = _on_path(route.path, s)
            if kind == "cyclist":
                xy = xy + keep_right * np.column_stack([np.sin(yaw), -np.cos(yaw)])
            agent = Agent("ego" if kind == "ego" else ids(kind), kind, model, xy, yaw, v)
            if pop.add(agent, force=(kind == "ego")):
                leader = (s, length)
                accepted.append(agent)
        return accepted

    # --- road works: a row of cones at the edge of a parking strip ahead of the ego ----
    if main.parking > 0 and rng.random() < 0.6:
        line = main.centre.offset(-(main.half_width - main.parking + 0.45))
        s_c = mid + rng.uniform(-60, 40)
        for j in range(int(rng.integers(4, 8))):
            p, t = line.at(s_c + 2.5 * j)
            if _near_crossing_or_junction(layout, 0, p[0], 3.0):
                continue
            pop.add(Agent(ids("cone"), "cone", build_agent("cone", rng), np.repeat(p, F, 0),
                          np.full(F, np.arctan2(t[0, 1], t[0, 0]) + rng.uniform(-0.3, 0.3)),
                          np.zeros(F)))

    # --- parked vehicles along parking strips ----------------------------------------
    for k, road in enumerate(layout.roads):
        if road.parking <= 0:
            continue
        for side in (-1, 1):
            line = road.centre.offset(side * (road.half_width - road.parking / 2))
            ref = mid if k == 0 else float(line.project(layout.junction[None])[0][0])
            s = max(0.0, ref - 90) + rng.uniform(0, 6)
            s_end = min(line.length - 6, ref + 110)
            while s < s_end:
                kind = "car" if rng.random() < 0.92 else "truck"
                model = build_agent(kind, rng)
                L = model.size[0]
                c = s + L / 2
                p, t = line.at(c)
                ok = rng.random() < 0.65 and not _near_crossing_or_junction(layout, k, p[0], 9.0)
                if ok:
                    yaw = np.arctan2(t[0, 1], t[0, 0]) + (0 if side < 0 else np.pi)
                    xy = np.repeat(p, len(times), 0) + 0 * times[:, None]
                    agent = Agent(ids(kind), kind, model, xy, np.full(len(times), yaw),
                                  np.zeros(len(times)), parked=True)
                    pop.add(agent)
                s += L + rng.uniform(0.8, 5.0)

    # --- ego and the traffic in its lane ----------------------------------------------
    ego_lane_i = int(rng.integers(0, main.lanes))
    ego_path = lane(layout, 0, 1, ego_lane_i)
    if layout.junction is not None and rng.random() < 0.35:  # the ego turns at the junction
        turning = turn(layout, ego_path, lane(layout, 1, int(rng.choice([-1, 1])), 0))
        ego_path = turning if turning is not None else ego_path
    ego_route = route_for(ego_path, "ego")
    ego_s0 = mid - rng.uniform(12, 32)
    ego_v = rng.uniform(7, 12)
    # cyclists keep to the outermost lane of either direction, others follow them
    cyclists: dict[int, list[float]] = {1: [], -1: []}  # direction -> offsets from the ego
    for _ in range(int(rng.integers(1, 4))):
        cyclists[int(rng.choice([-1, 1]))].append(float(rng.uniform(-30, 60)))
    keep_right = main.lane_width / 2 - 0.75
    s_list, kinds, vs = [ego_s0], ["ego"], [ego_v]
    for _ in range(int(rng.integers(0, 3))):
        s_list.append(ego_s0 + rng.uniform(15, 60) * rng.choice([-1, 1]))
        kinds.append(_vehicle_kind(rng))
        vs.append(rng.uniform(7, 13))
    if ego_lane_i == main.lanes - 1:
        for ds in cyclists.pop(1):
            if abs(ds) < 12.0:  # the ego is placed regardless: keep others clear of it
                continue
            s_list.append(ego_s0 + ds)
            kinds.append("cyclist")
            vs.append(rng.uniform(4.0, 6.5))
    place(ego_route, s_list, kinds, vs, keep_right)
    ego = next(a for a in pop.agents if a.kind == "ego")

    # --- pedestrians: crossing, walking, standing -------------------------------------
    for path, s0, speed in ped_routes:
        s = s0 + speed * (times - times[0])
        xy, yaw = _on_path(path, s)
        pop.add(Agent(ids("pedestrian"), "pedestrian", build_agent("pedestrian", rng), xy, yaw,
                      np.full(F, speed)))
    for k in range(len(layout.roads)):
        n_walk = int(rng.integers(2, 7)) if k == 0 else int(rng.integers(0, 4))
        for _ in range(n_walk + int(rng.integers(0, 3))):
            standing = rng.random() < 0.2
            side, direction = int(rng.choice([-1, 1])), int(rng.choice([-1, 1]))
            path = sidewalk(layout, k, side, direction)
            centre_s = path.project(ego.xy[0][None])[0][0] if k == 0 else path.length / 2
            s0 = centre_s + rng.uniform(-40, 70)
            speed = 0.0 if standing else rng.uniform(1.0, 1.6)
            s = s0 + speed * (times - times[0])
            if s.min() < 1 or s.max() > path.length - 1:
                continue
            xy, yaw = _on_path(path, s)
            if standing:
                yaw = yaw + rng.uniform(-np.pi, np.pi)
            pop.add(Agent(ids("pedestrian"), "pedestrian",
                          build_agent("pedestrian", rng, moving=not standing), xy, yaw,
                          np.full(F, speed)))

    # --- other traffic: both directions of every road, and turns at the junction ------
    red = times[-1] * rng.uniform(0.6, 3.0)
    for k, road in enumerate(layout.roads):
        for direction in (1, -1):
            for i in range(road.lanes):
                if k == 0 and direction == 1 and i == ego_lane_i:
                    continue
                path = lane(layout, k, direction, i)
                route = route_for(path, f"r{k}{direction}{i}", stopline_red=red if k == 1 else None)
                ref = path.project((layout.junction if k == 1 else ego.xy[0])[None])[0][0]
                n = int(rng.integers(2, 6))
                s_list = list(ref - 70 + _spaced(rng, n, 160.0, 14.0))
                kinds = [_vehicle_kind(rng) for _ in range(n)]
                vs = [rng.uniform(7, 13) for _ in range(n)]
                if k == 0 and i == road.lanes - 1:
                    for ds in cyclists.pop(direction, []):
                        s_list.append(ref + ds)
                        kinds.append("cyclist")
                        vs.append(rng.uniform(4.0, 6.5))
                place(route, s_list, kinds, vs, keep_right)
    if layout.junction is not None:
        for _ in range(int(rng.integers(1, 4))):
            direction = int(rng.choice([-1, 1]))
            src = lane(layout, 0, direction, int(rng.integers(0, main.lanes)))
            dst = lane(layout, 1, int(rng.choice([-1, 1])), 0)
            path = turn(layout, src, dst)
            if path is None:
                continue
            route = route_for(path, "turn")
            s_j = path.project(layout.junction[None])[0][0]
            place(route, [s_j - rng.uniform(10, 45)], [_vehicle_kind(rng, bus=False)],
                  [rng.uniform(6, 10)])
    others = [a for a in pop.agents if a.kind != "ego"]
    return ego, others


def _spaced(rng: np.random.Generator, n: int, span: float, gap: float) -> np.ndarray:
    """``n`` sorted positions in [0, span) at least ``gap`` apart (fewer if they do not fit)."""
    n = min(n, int(span // gap))
    free = span - n * gap
    return np.sort(rng.uniform(0, free, n)) + gap * np.arange(n)


def _vehicle_kind(rng: np.random.Generator, bus: bool = True) -> str:
    r = rng.random()
    if r < 0.74:
        return "car"
    if r < 0.79:
        return "motorcyclist"
    if r < 0.9 or not bus:
        return "truck"
    return "bus"


def _near_crossing_or_junction(layout: Layout, k: int, p: np.ndarray, margin: float) -> bool:
    main = layout.roads[0]
    for cw in main.crosswalks:
        if np.linalg.norm(main.centre.at(cw)[0][0] - p) < margin + main.half_width:
            return True
    for j, other in enumerate(layout.roads):
        if j != k:
            _, _, d = other.centre.project(p[None])
            if d[0] < other.half_width + other.sidewalk + margin:
                return True
    return False
