"""Where agents go: lanes, turns, sidewalks, crossings, and an IDM speed model.

Vehicles follow lane centrelines (right-hand traffic) with the Intelligent Driver
Model: free-road acceleration towards a desired speed, braking for the vehicle
ahead on the same path and for stop lines (zebra crossings while pedestrians
cross, a red light on the side road). Pedestrians walk at a constant speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidarlabel.sim.geometry import Polyline, bezier
from lidarlabel.sim.world import Layout


@dataclass
class Stop:
    s: float  # arc length of the stop line on the path (front bumper stops here)
    release: float  # time (s) from which the line no longer holds


@dataclass
class Route:
    path: Polyline
    name: str  # group key: vehicles on the same route follow each other
    stops: list[Stop] = field(default_factory=list)


def lane(layout: Layout, k: int, direction: int, i: int) -> Polyline:
    road = layout.roads[k]
    base = road.centre if direction > 0 else road.centre.reversed()
    return base.offset(-(i + 0.5) * road.lane_width)


def bike_lane(layout: Layout, k: int, direction: int) -> Polyline:
    road = layout.roads[k]
    base = road.centre if direction > 0 else road.centre.reversed()
    return base.offset(-(road.lanes * road.lane_width - 0.65))


def sidewalk(layout: Layout, k: int, side: int, direction: int) -> Polyline:
    """Walking line on the ``side`` (+1 left, -1 right) sidewalk of road k."""
    road = layout.roads[k]
    line = road.centre.offset(side * (road.half_width + 0.62 * road.sidewalk))
    return line if direction > 0 else line.reversed()


def rounded(points: np.ndarray, radius: float) -> Polyline:
    """A polyline through ``points`` with its corners replaced by smooth curves."""
    pts = [points[0]]
    for i in range(1, len(points) - 1):
        a, b, c = points[i - 1], points[i], points[i + 1]
        r = min(radius, np.linalg.norm(b - a) / 2.1, np.linalg.norm(c - b) / 2.1)
        p0 = b + (a - b) / np.linalg.norm(a - b) * r
        p3 = b + (c - b) / np.linalg.norm(c - b) * r
        pts.extend(bezier(p0, (p0 + 2 * b) / 3, (p3 + 2 * b) / 3, p3, step=0.2))
    pts.append(points[-1])
    return Polyline(np.array(pts)).resampled(0.5)


def turn(layout: Layout, src: Polyline, dst: Polyline) -> Polyline | None:
    """Route along ``src`` into ``dst`` through the junction, or None if they do not meet."""
    J = layout.junction
    main, cross = layout.roads[0], layout.roads[1]
    s_j, _, d_src = src.project(J[None])
    s_k, _, d_dst = dst.project(J[None])
    s_in = s_j[0] - cross.half_width - 1.5
    s_out = s_k[0] + main.half_width + 1.5
    if s_in < 5 or s_out > dst.length - 5 or d_dst[0] > 30:
        return None
    p_in, t_in = src.at(s_in)
    p_out, t_out = dst.at(s_out)
    if np.dot(p_out[0] - J, t_out[0]) < 0:  # dst lane leads into the junction here
        return None
    chord = np.linalg.norm(p_out[0] - p_in[0]) * 0.5
    curve = bezier(p_in[0], p_in[0] + t_in[0] * chord, p_out[0] - t_out[0] * chord, p_out[0])
    before = src.points[src.s < s_in]
    after = dst.points[dst.s > s_out]
    return Polyline(np.vstack([before, curve, after])).resampled(0.5)


def idm(route: Route, s0: float, v_des: float, length: float, times: np.ndarray,
        leader: tuple[np.ndarray, float] | None, v0: float | None = None,
        dt: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Arc length and speed at ``times`` of a vehicle that starts at ``s0`` on ``route``.

    ``leader``: (arc lengths of the vehicle ahead at ``times``, its length).
    """
    a_max, b_comf, headway, gap0 = 1.6, 2.2, 1.3, 2.2
    s, v = s0, v_des if v0 is None else v0
    t = times[0]
    out_s, out_v = np.empty(len(times)), np.empty(len(times))
    end = route.path.length - length
    for k, t_f in enumerate(times):
        while t < t_f - 1e-9:
            h = min(dt, t_f - t)
            gaps = []
            if leader is not None:
                ls = np.interp(t, times, leader[0])
                lv = np.interp(t + dt, times, leader[0]) - ls
                gaps.append((ls - s - (leader[1] + length) / 2, v - lv / dt))
            for stop in route.stops:
                if t < stop.release and stop.s - (s + length / 2) > -0.5:
                    gaps.append((stop.s - s - length / 2 + gap0 - 0.5, v))
            acc = a_max * (1 - (v / max(v_des, 0.1)) ** 4)
            for gap, dv in gaps:
                s_star = gap0 + max(0.0, v * headway + v * dv / (2 * np.sqrt(a_max * b_comf)))
                acc -= a_max * (s_star / max(gap, 0.1)) ** 2
            acc = max(acc, -8.0)
            v_new = max(0.0, v + acc * h)
            s += (v + v_new) / 2 * h
            v = v_new
            if s > end:
                s, v = end, 0.0
            t += h
        out_s[k], out_v[k] = s, v
    return out_s, out_v
