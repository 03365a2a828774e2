"""Material table of the simulator: LiDAR reflectivity and camera colour per material.

A mesh carries one material id per triangle; the LiDAR turns reflectivity and the
angle of incidence into intensity, the cameras turn the colour into a shaded pixel.
"""

from __future__ import annotations

import numpy as np

# name -> (reflectivity in [0, 1], RGB colour in [0, 1])
_TABLE: list[tuple[str, float, tuple[float, float, float]]] = [
    ("asphalt", 0.10, (0.30, 0.30, 0.32)),
    ("paint", 0.65, (0.92, 0.92, 0.88)),
    ("curb", 0.30, (0.62, 0.62, 0.60)),
    ("sidewalk", 0.28, (0.70, 0.68, 0.64)),
    ("grass", 0.22, (0.33, 0.48, 0.24)),
    ("concrete", 0.30, (0.72, 0.70, 0.66)),
    ("brick", 0.25, (0.62, 0.36, 0.28)),
    ("glass", 0.08, (0.35, 0.45, 0.55)),
    ("metal_pole", 0.35, (0.45, 0.45, 0.47)),
    ("bark", 0.15, (0.36, 0.26, 0.18)),
    ("foliage", 0.20, (0.20, 0.42, 0.18)),
    ("car_paint", 0.40, (0.60, 0.10, 0.10)),  # body colour varies per vehicle (see colours)
    ("window", 0.06, (0.12, 0.14, 0.18)),
    ("tyre", 0.05, (0.06, 0.06, 0.06)),
    ("license_plate", 0.95, (0.95, 0.95, 0.90)),
    ("lamp", 0.80, (0.95, 0.90, 0.70)),
    ("skin", 0.30, (0.80, 0.62, 0.50)),
    ("cloth", 0.20, (0.20, 0.25, 0.45)),
    ("bike_frame", 0.45, (0.15, 0.35, 0.70)),
    ("plaster", 0.35, (0.85, 0.80, 0.70)),
    ("cone", 0.70, (0.95, 0.45, 0.08)),
]

NAMES: tuple[str, ...] = tuple(t[0] for t in _TABLE)
ID: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
REFLECTIVITY: np.ndarray = np.array([t[1] for t in _TABLE], dtype=np.float32)
COLOUR: np.ndarray = np.array([t[2] for t in _TABLE], dtype=np.float32)

# Colours an object may override its "car_paint"/"cloth"/"plaster"/"brick" with.
CAR_COLOURS = np.array(
    [
        (0.85, 0.85, 0.85), (0.10, 0.10, 0.10), (0.55, 0.55, 0.58), (0.60, 0.08, 0.08),
        (0.08, 0.18, 0.45), (0.85, 0.85, 0.80), (0.25, 0.30, 0.25), (0.75, 0.60, 0.20),
    ],
    dtype=np.float32,
)
