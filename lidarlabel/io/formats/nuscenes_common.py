"""Constants and small conversions shared by the nuScenes exporter and importer.

nuScenes conventions (docs/formats/nuscenes.md): boxes in the global frame with
``size = [width, length, height]`` and a (w, x, y, z) quaternion; LIDAR_TOP
points are float32 x, y, z, intensity, ring in the LIDAR_TOP frame (x right,
y forward, z up in the released data); timestamps are int microseconds.
"""

from __future__ import annotations

import hashlib

import numpy as np

from lidarlabel.core.transforms import yaw_of

TABLES = (
    "attribute", "calibrated_sensor", "category", "ego_pose", "instance", "log", "map",
    "sample", "sample_annotation", "sample_data", "scene", "sensor", "visibility",
)  # fmt: skip

ATTRIBUTES = (
    "vehicle.moving", "vehicle.parked", "vehicle.stopped", "cycle.with_rider",
    "cycle.without_rider", "pedestrian.moving", "pedestrian.standing",
    "pedestrian.sitting_lying_down",
)  # fmt: skip

VISIBILITY = (
    ("1", "v0-40", "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", "visibility of whole object is between 80 and 100%"),
)

TRACKING_CLASSES = ("bicycle", "bus", "car", "motorcycle", "pedestrian", "trailer", "truck")

LIDAR_CHANNEL = "LIDAR_TOP"
#: Heading (in the ego frame) of the x axis of nuScenes' LIDAR_TOP: x points right.
NUSCENES_LIDAR_YAW = -np.pi / 2


def token(*parts: object) -> str:
    """A deterministic 32-hex-digit token from the given parts (same input, same token)."""
    return hashlib.md5("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def yaw_to_quat(yaw: float) -> list[float]:
    """Yaw (radians about +z) -> quaternion [w, x, y, z]."""
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def quat_to_yaw(q: list[float]) -> float:
    """Quaternion [w, x, y, z] -> yaw of its rotated x axis (the devkit's ``quaternion_yaw``)."""
    w, x, y, z = (float(v) for v in q)
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def quarter_turn(ego_from_lidar: np.ndarray, target_yaw: float) -> np.ndarray:
    """(3, 3) exact rotation about z by a multiple of 90 deg, ``lidar_from_out``.

    The output LiDAR frame ``out = lidar @ R`` has its x axis as close as a quarter
    turn allows to ``target_yaw`` in the ego frame; points map as ``p_out = R.T @ p``.
    Multiples of 90 deg are written with exact 0/1 entries, so no precision is lost.
    """
    k = int(np.round((target_yaw - yaw_of(ego_from_lidar)) / (np.pi / 2))) % 4
    c, s = ((1, 0), (0, 1), (-1, 0), (0, -1))[k]
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=float)


def write_unsynced(path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling and rename it into place (never half a file at ``path``).

    Not fsynced: bulk sensor files are flushed together with one ``os.sync()`` before
    the exporter writes the (fsynced) tables that make the dataset complete.
    """
    import os
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
