"""Object models: cars, trucks, buses, pedestrians, cyclists, and street furniture.

Every agent model is built in its own frame (x forward, y left, z up, ground at
z = 0) from several primitives, then re-centred so that its axis-aligned extent
is centred on the origin in x and y. The ground-truth box of the agent is exactly
that extent: :func:`build_agent` returns the mesh and ``(length, width, height)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidarlabel.sim import materials
from lidarlabel.sim.mesh import Mesh, box, chamfered_rect, cylinder, ellipsoid, loft

# agent kind -> nuScenes category
CATEGORY = {
    "car": "vehicle.car",
    "truck": "vehicle.truck",
    "bus": "vehicle.bus.rigid",
    "pedestrian": "human.pedestrian.adult",
    "cyclist": "vehicle.bicycle",
    "motorcyclist": "vehicle.motorcycle",
    "cone": "movable_object.trafficcone",
}


@dataclass
class AgentModel:
    kind: str
    mesh: Mesh  # local frame, extent centred on the origin in x, y; z from 0 to height
    size: tuple[float, float, float]  # (length, width, height) = the mesh's extent


def build_agent(kind: str, rng: np.random.Generator, moving: bool = True) -> AgentModel:
    """A randomised model of ``kind`` (one of :data:`CATEGORY`)."""
    builders = {"car": _car, "truck": _truck, "bus": _bus, "pedestrian": _pedestrian,
                "cyclist": _cyclist, "motorcyclist": _motorcyclist, "cone": _cone}
    mesh = builders[kind](rng, moving) if kind in ("pedestrian", "cyclist") else builders[kind](rng)
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    shift = np.eye(4)
    shift[:2, 3] = -(lo[:2] + hi[:2]) / 2
    shift[2, 3] = -lo[2]
    mesh = mesh.transformed(shift)
    size = tuple(float(x) for x in (hi - lo))
    return AgentModel(kind, mesh, size)


def _wheels(xs, half_track: float, radius: float, width: float, segments: int = 12) -> list[Mesh]:
    out = []
    for x in xs:
        for side in (-1, 1):
            y = side * half_track
            out.append(cylinder((x, y - width / 2, radius), (x, y + width / 2, radius), radius,
                                "tyre", segments=segments))
    return out


def _paint(rng: np.random.Generator) -> np.ndarray:
    base = materials.CAR_COLOURS[rng.integers(len(materials.CAR_COLOURS))]
    return np.clip(base + rng.normal(0, 0.03, 3), 0, 1).astype(np.float32)


def _car(rng: np.random.Generator) -> Mesh:
    style = rng.choice(["sedan", "hatch", "suv", "van"], p=[0.4, 0.2, 0.3, 0.1])
    L = {"sedan": rng.uniform(4.4, 4.95), "hatch": rng.uniform(3.8, 4.3),
         "suv": rng.uniform(4.5, 5.0), "van": rng.uniform(4.8, 5.3)}[style]
    W = rng.uniform(1.72, 1.95)
    H = {"sedan": rng.uniform(1.42, 1.5), "hatch": rng.uniform(1.45, 1.55),
         "suv": rng.uniform(1.65, 1.8), "van": rng.uniform(1.9, 2.1)}[style]
    r = rng.uniform(0.31, 0.36) if style in ("sedan", "hatch") else rng.uniform(0.35, 0.39)
    paint = _paint(rng)
    zb0, zb1 = 0.28, 0.55 * H if style != "van" else 0.5 * H
    body = loft(
        [chamfered_rect(L - 0.35, W - 0.12, 0.3), chamfered_rect(L, W, 0.38),
         chamfered_rect(L - 0.06, W, 0.32), chamfered_rect(L - 0.25, W - 0.1, 0.28)],
        [zb0, zb0 + 0.2, zb1 - 0.12, zb1], "car_paint", paint)
    if style == "van":
        cab = [chamfered_rect(L * 0.8, W - 0.1, 0.25, -0.08 * L),
               chamfered_rect(L * 0.72, W - 0.25, 0.2, -0.12 * L)]
    elif style == "hatch":
        cab = [chamfered_rect(L * 0.62, W - 0.12, 0.25, -0.12 * L),
               chamfered_rect(L * 0.42, W - 0.34, 0.2, -0.17 * L)]
    else:
        cab = [chamfered_rect(L * 0.58, W - 0.12, 0.25, -0.06 * L),
               chamfered_rect(L * 0.36, W - 0.36, 0.2, -0.09 * L)]
    cabin = loft(cab, [zb1, H - 0.05], "window", cap_bottom=False, cap_top=False)
    cen = cab[1].mean(0)
    roof = loft([cab[1], cen + (cab[1] - cen) * 0.97],
                [H - 0.05, H], "car_paint", paint, cap_bottom=False)
    axle = L / 2 - rng.uniform(0.75, 0.95)
    parts = [body, cabin, roof, *_wheels((axle, -axle), W / 2 - 0.13, r, 0.22)]
    # licence plates (retro-reflective) and lamps
    parts.append(box((-L / 2 + 0.04, 0, zb0 + 0.25), (0.1, 0.52, 0.12), "license_plate"))
    parts.append(box((L / 2 - 0.04, 0, zb0 + 0.15), (0.1, 0.52, 0.12), "license_plate"))
    for side in (-1, 1):
        parts.append(box((-L / 2 + 0.1, side * (W / 2 - 0.25), zb1 - 0.2), (0.22, 0.3, 0.12),
                         "lamp", colour=(0.8, 0.05, 0.05)))
    return Mesh.concat(parts)


def _truck(rng: np.random.Generator) -> Mesh:
    L, W, H = rng.uniform(6.5, 9.5), rng.uniform(2.3, 2.5), rng.uniform(3.0, 3.8)
    paint = _paint(rng)
    cab_len, r = 2.1, 0.5
    x_cab = L / 2 - cab_len / 2
    cab = loft([chamfered_rect(cab_len, W, 0.2, x_cab), chamfered_rect(cab_len, W, 0.2, x_cab),
                chamfered_rect(cab_len - 0.5, W - 0.2, 0.2, x_cab - 0.25)],
               [0.55, 1.6, 2.75], "car_paint", paint)
    wind = loft([chamfered_rect(0.3, W - 0.3, 0.05, L / 2 - 0.45),
                 chamfered_rect(0.3, W - 0.4, 0.05, L / 2 - 0.7)], [1.65, 2.55], "window")
    cargo_len = L - cab_len - 0.15
    cargo = box((-L / 2 + cargo_len / 2, 0, 0.95 + (H - 0.95) / 2), (cargo_len, W, H - 0.95),
                "plaster", colour=np.clip(rng.uniform(0.6, 0.95, 3), 0, 1))
    chassis = box((0, 0, 0.75), (L - 0.3, W - 0.5, 0.4), "metal_pole")
    axles = [L / 2 - 1.2, -L / 2 + 1.6] + ([-L / 2 + 2.9] if L > 8 else [])
    parts = [cab, wind, cargo, chassis, *_wheels(axles, W / 2 - 0.2, r, 0.32)]
    parts.append(box((-L / 2 + 0.03, 0, 0.7), (0.06, 0.52, 0.12), "license_plate"))
    return Mesh.concat(parts)


def _bus(rng: np.random.Generator) -> Mesh:
    L, W, H = rng.uniform(10.5, 12.5), 2.55, rng.uniform(3.0, 3.3)
    paint = _paint(rng)
    poly = chamfered_rect(L, W, 0.25)
    lower = loft([chamfered_rect(L - 0.2, W - 0.1, 0.25), poly, poly],
                 [0.3, 0.45, 1.15], "car_paint", paint, cap_top=False)
    band = loft([poly, poly], [1.15, 2.45], "window", cap_bottom=False, cap_top=False)
    upper = loft([poly, poly, chamfered_rect(L - 0.3, W - 0.3, 0.3)], [2.45, H - 0.15, H],
                 "car_paint", paint, cap_bottom=False)
    parts = [lower, band, upper, *_wheels((L / 2 - 2.6, -L / 2 + 3.0), W / 2 - 0.25, 0.5, 0.32)]
    parts.append(box((-L / 2 + 0.03, 0, 0.7), (0.06, 0.52, 0.12), "license_plate"))
    return Mesh.concat(parts)


def _person(rng: np.random.Generator, height: float, stride: float, seated: bool = False) -> Mesh:
    """A person: two legs, torso, two arms, head (standing or walking pose)."""
    cloth = np.clip(rng.uniform(0.05, 0.8, 3), 0, 1).astype(np.float32)
    trousers = np.clip(rng.uniform(0.05, 0.5, 3), 0, 1).astype(np.float32)
    hip, shoulder, head_z = 0.52 * height, 0.81 * height, 0.93 * height
    leg_r, sw = 0.065, 0.1  # leg radius, half distance between hips
    parts = []
    for side, phase in ((-1, 1), (1, -1)):
        foot = (phase * stride / 2, side * sw, 0.0)
        parts.append(cylinder(foot, (0, side * sw, hip), leg_r, "cloth", trousers, segments=7,
                              radius1=leg_r * 1.5))
        # arm swings opposite to the leg
        hand = (-phase * stride * 0.35, side * 0.24, hip - 0.02)
        parts.append(cylinder((0, side * 0.2, shoulder - 0.03), hand, 0.045, "cloth", cloth,
                              segments=6))
    torso = loft([chamfered_rect(0.2, 0.32, 0.07), chamfered_rect(0.24, 0.4, 0.08),
                  chamfered_rect(0.2, 0.36, 0.08)], [hip - 0.05, shoulder - 0.1, shoulder],
                 "cloth", cloth)
    head = ellipsoid((0.01, 0, head_z), (0.1, 0.085, 0.12), "skin", rings=5, segments=8)
    return Mesh.concat([*parts, torso, head])


def _pedestrian(rng: np.random.Generator, moving: bool) -> Mesh:
    h = float(np.clip(rng.normal(1.73, 0.09), 1.5, 1.95))
    return _person(rng, h, stride=rng.uniform(0.45, 0.65) if moving else rng.uniform(0.0, 0.1))


def _cyclist(rng: np.random.Generator, moving: bool) -> Mesh:
    wr, wb = rng.uniform(0.32, 0.36), rng.uniform(1.0, 1.1)  # wheel radius, wheelbase
    colour = np.clip(rng.uniform(0.05, 0.9, 3), 0, 1).astype(np.float32)
    xf, xr = wb / 2, -wb / 2
    parts = []
    for x in (xf, xr):
        parts.append(cylinder((x, -0.02, wr), (x, 0.02, wr), wr, "tyre", segments=14))
    seat = np.array([xr + 0.3, 0, wr + 0.62])
    bar = np.array([xf - 0.12, 0, wr + 0.68])
    crank = np.array([xr + 0.45, 0, wr])
    for a, b in ((np.array([xr, 0, wr]), crank), (crank, seat), (seat, bar - (0.05, 0, 0.05)),
                 (crank, bar - (0.05, 0, 0.1)), (np.array([xf, 0, wr]), bar),
                 (np.array([xr, 0, wr]), seat)):
        parts.append(cylinder(a, b, 0.022, "bike_frame", colour, segments=5))
    parts.append(cylinder(bar + (0, -0.28, 0), bar + (0, 0.28, 0), 0.015, "metal_pole", segments=5))
    # rider: legs from seat to pedals, leaning torso, arms to the bar, head
    cloth = np.clip(rng.uniform(0.05, 0.8, 3), 0, 1).astype(np.float32)
    hip = seat + (0, 0, 0.05)
    for side, ph in ((-1, 0.0), (1, np.pi)):
        pedal = crank + (0.17 * np.cos(ph), side * 0.12, 0.17 * np.sin(ph))
        knee = (hip + pedal) / 2 + (0.2, 0, 0.12)
        parts.append(cylinder(hip + (0, side * 0.1, 0), knee + (0, side * 0.1, 0), 0.07, "cloth",
                              cloth, segments=6))
        parts.append(cylinder(knee + (0, side * 0.1, 0), pedal, 0.055, "cloth", cloth, segments=6))
    shoulder = hip + (0.32, 0, 0.5)
    torso_dir = shoulder - hip
    parts.append(cylinder(hip, shoulder, 0.15, "cloth", cloth, segments=8, radius1=0.17))
    for side in (-1, 1):
        parts.append(cylinder(shoulder + (0, side * 0.18, 0), bar + (0, side * 0.24, 0), 0.04,
                              "cloth", cloth, segments=6))
    head_c = shoulder + torso_dir / np.linalg.norm(torso_dir) * 0.22
    parts.append(ellipsoid(head_c, (0.11, 0.09, 0.12), "skin", rings=5, segments=8))
    return Mesh.concat(parts)


def _motorcyclist(rng: np.random.Generator) -> Mesh:
    """A motorcycle (wheels, engine block, tank, seat, fork, bar) with its rider."""
    wr, wb = rng.uniform(0.3, 0.34), rng.uniform(1.35, 1.5)
    paint = _paint(rng)
    xf, xr = wb / 2, -wb / 2
    parts = [cylinder((x, -0.065, wr), (x, 0.065, wr), wr, "tyre", segments=14) for x in (xf, xr)]
    parts.append(box((0.0, 0, wr + 0.05), (0.6, 0.34, 0.38), "metal_pole"))  # engine
    parts.append(loft([chamfered_rect(0.55, 0.34, 0.1, 0.18), chamfered_rect(0.5, 0.26, 0.1, 0.15)],
                      [wr + 0.3, wr + 0.52], "car_paint", paint))  # tank
    parts.append(box((-0.3, 0, wr + 0.45), (0.7, 0.28, 0.1), "cloth", (0.05, 0.05, 0.05)))  # seat
    bar = np.array([xf - 0.2, 0, wr + 0.75])
    parts.append(cylinder((xf, 0, wr), bar, 0.035, "metal_pole", segments=6))  # fork
    parts.append(cylinder(bar + (0, -0.36, 0), bar + (0, 0.36, 0), 0.02, "metal_pole", segments=5))
    parts.append(box((xf - 0.1, 0, wr + 0.6), (0.12, 0.22, 0.2), "lamp"))
    parts.append(box((xr - 0.02, 0, wr + 0.35), (0.04, 0.2, 0.14), "license_plate"))
    cloth = np.clip(rng.uniform(0.02, 0.5, 3), 0, 1).astype(np.float32)
    hip = np.array([-0.3, 0, wr + 0.55])
    for side in (-1, 1):
        knee = np.array([0.1, side * 0.2, wr + 0.55])
        peg = np.array([-0.05, side * 0.18, wr + 0.1])
        parts.append(cylinder(hip + (0, side * 0.1, 0), knee, 0.075, "cloth", cloth, segments=6))
        parts.append(cylinder(knee, peg, 0.06, "cloth", cloth, segments=6))
    shoulder = hip + (0.25, 0, 0.47)
    parts.append(cylinder(hip, shoulder, 0.16, "cloth", cloth, segments=8, radius1=0.18))
    for side in (-1, 1):
        parts.append(cylinder(shoulder + (0, side * 0.19, 0), bar + (0, side * 0.32, 0), 0.045,
                              "cloth", cloth, segments=6))
    helmet = (0.1, 0.1, 0.1) if rng.random() < 0.5 else (0.85, 0.85, 0.85)
    parts.append(ellipsoid(shoulder + (0.06, 0, 0.24), (0.14, 0.12, 0.14), "car_paint", helmet,
                           rings=5, segments=8))
    return Mesh.concat(parts)


def _cone(rng: np.random.Generator) -> Mesh:
    h = rng.uniform(0.5, 0.75)
    base = box((0, 0, 0.015), (0.38, 0.38, 0.03), "cone", (0.1, 0.1, 0.1))
    body = cylinder((0, 0, 0.03), (0, 0, h), 0.15, "cone", segments=10, radius1=0.03)
    # reflective collar following the cone's taper (radius 0.15 -> 0.03 over the height)
    band = cylinder((0, 0, 0.45 * h), (0, 0, 0.6 * h), 0.15 - 0.12 * 0.45 + 0.005,
                    "license_plate", (0.95, 0.95, 0.95), segments=10,
                    radius1=0.15 - 0.12 * 0.6 + 0.005)
    return Mesh.concat([base, body, band])


# --- street furniture (static background, object id -1) ----------------------------------

def tree(pos, z0: float, rng: np.random.Generator) -> Mesh:
    """A street tree, pruned so that nothing hangs below 4.3 m (clear of trucks and buses)."""
    r_crown = rng.uniform(1.5, 2.8)
    roughness = 0.18
    crown_z = z0 + 4.3 + r_crown * 0.9 * (1 + roughness) + rng.uniform(0, 1.0)
    x, y = pos
    trunk = cylinder((x, y, z0 - 0.1), (x, y, crown_z), rng.uniform(0.12, 0.22), "bark",
                     segments=8)
    crown = ellipsoid((x, y, crown_z), (r_crown, r_crown, r_crown * 0.9),
                      "foliage", rings=7, segments=12, rng=rng, roughness=roughness)
    return Mesh.concat([trunk, crown])


def pole(pos, z0: float, toward: np.ndarray, rng: np.random.Generator) -> Mesh:
    """A street light: a pole and an arm reaching over the road in direction ``toward``."""
    x, y = pos
    h = rng.uniform(6.5, 8.5)
    top = np.array([x, y, z0 + h])
    arm_end = top + np.append(toward * 1.8, 0.15)
    return Mesh.concat([
        cylinder((x, y, z0 - 0.1), top, 0.1, "metal_pole", segments=8, radius1=0.07),
        cylinder(top, arm_end, 0.05, "metal_pole", segments=6),
        box(arm_end - (0, 0, 0.1), (0.6, 0.3, 0.12), "lamp",
            yaw=float(np.arctan2(toward[1], toward[0]))),
    ])


def sign_post(pos, z0: float, yaw: float) -> Mesh:
    x, y = pos
    return Mesh.concat([
        cylinder((x, y, z0 - 0.1), (x, y, z0 + 2.6), 0.04, "metal_pole", segments=6),
        box((x, y, z0 + 2.35), (0.05, 0.7, 0.7), "license_plate", colour=(0.85, 0.1, 0.1), yaw=yaw),
    ])
