"""KITTI files and frame conversions shared by the KITTI importer and exporter.

KITTI object labels (docs/formats/kitti.md) live in the rectified camera frame
(x right, y down, z forward): ``dimensions = h w l``, ``location`` is the
bottom-face centre and ``rotation_y`` turns about camera +y, zero facing camera +x.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lidarlabel.core.boxes import normalize_yaw
from lidarlabel.core.transforms import invert_pose, transform_points
from lidarlabel.errors import InputError

#: KITTI type -> (lidarlabel category, attributes it implies). DontCare is a region, never a box.
TYPE_TO_CATEGORY: dict[str, tuple[str, dict]] = {
    "Car": ("vehicle.car", {}),
    "Van": ("vehicle.car", {}),
    "Truck": ("vehicle.truck", {}),
    "Pedestrian": ("human.pedestrian.adult", {}),
    "Person_sitting": ("human.pedestrian.adult", {"pedestrian.sitting_lying_down": True}),
    "Cyclist": ("vehicle.bicycle", {"cycle.with_rider": True}),
    "Tram": ("vehicle.bus.rigid", {}),
    "Misc": ("movable_object.pushable_pullable", {}),
}
_CALIB_ALIASES = {"R_rect": "R0_rect", "Tr_velo_cam": "Tr_velo_to_cam", "Tr_imu_velo": "Tr_imu_to_velo"}
_CALIB_SIZES = {"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9, "Tr_velo_to_cam": 12, "Tr_imu_to_velo": 12}
LABEL_FIELDS = "type truncated occluded alpha bbox(4) dimensions(3: h w l) location(3) rotation_y"


def category_to_type(category: str, attributes: dict) -> str:
    """The KITTI type for a lidarlabel category (Misc when KITTI has no class for it)."""
    if category.startswith("human.pedestrian"):
        return "Person_sitting" if attributes.get("pedestrian.sitting_lying_down") else "Pedestrian"
    if category in ("vehicle.car", "vehicle.emergency.ambulance", "vehicle.emergency.police"):
        return "Car"
    if category == "vehicle.truck":
        return "Truck"
    if category == "vehicle.bicycle":
        return "Cyclist"
    if category.startswith("vehicle.bus"):
        return "Tram"
    return "Misc"


def homogeneous(m: np.ndarray) -> np.ndarray:
    """(3, 3) or (3, 4) matrix -> (4, 4) with a 1 in the bottom-right corner."""
    out = np.eye(4)
    out[: m.shape[0], : m.shape[1]] = m
    return out


@dataclass(frozen=True)
class Calib:
    """One KITTI calib file: P2 (3, 4), R0_rect (4, 4), velo -> rectified camera 0 (4, 4)."""

    P2: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsics of camera 2 (rectified)."""
        return self.P2[:, :3]

    @property
    def rect_from_velo(self) -> np.ndarray:
        """(4, 4) velodyne -> rectified camera-0 frame (the frame of the labels)."""
        return self.R0_rect @ self.Tr_velo_to_cam

    @property
    def cam2_from_velo(self) -> np.ndarray:
        """(4, 4) velodyne -> camera 2 frame: rect frame shifted by P2's baseline, ``K @ t = P2[:, 3]``."""
        shift = np.eye(4)
        shift[:3, 3] = np.linalg.solve(self.K, self.P2[:, 3])
        return shift @ self.rect_from_velo


def read_calib(path: Path) -> Calib:
    """Parse a KITTI object (``KEY: v ...``) or tracking (``KEY v ...``) calib file."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: calib file missing; expected one per frame") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read calib file ({exc})") from None
    vals: dict[str, np.ndarray] = {}
    for n, line in enumerate(lines, 1):
        parts = line.replace(":", " ", 1).split()
        if not parts:
            continue
        key = _CALIB_ALIASES.get(parts[0], parts[0])
        try:
            nums = np.array([float(v) for v in parts[1:]])
        except ValueError:
            raise InputError(f"{path}: line {n}: {key}: expected numbers, got {line.strip()[:60]!r}") from None
        if key in _CALIB_SIZES and len(nums) != _CALIB_SIZES[key]:
            raise InputError(f"{path}: {key}: expected {_CALIB_SIZES[key]} numbers, got {len(nums)}")
        vals[key] = nums
    for key in ("P2", "R0_rect", "Tr_velo_to_cam"):
        if key not in vals:
            raise InputError(f"{path}: {key}: missing; a KITTI calib file needs P2, R0_rect and Tr_velo_to_cam")
    calib = Calib(vals["P2"].reshape(3, 4), homogeneous(vals["R0_rect"].reshape(3, 3)),
                  homogeneous(vals["Tr_velo_to_cam"].reshape(3, 4)))
    if not np.isfinite(calib.P2).all() or abs(np.linalg.det(calib.K)) < 1e-9:
        raise InputError(f"{path}: P2: expected a projection matrix with invertible intrinsics")
    for key, m in (("R0_rect", calib.R0_rect), ("Tr_velo_to_cam", calib.Tr_velo_to_cam)):
        R = m[:3, :3]
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-3) or np.linalg.det(R) < 0:
            raise InputError(f"{path}: {key}: expected a rotation (orthonormal, det +1) in its 3x3 part")
    return calib


@dataclass(frozen=True)
class KittiObject:
    """One parsed label line (KITTI units and camera frame); ``track_id`` only in tracking files."""

    type: str
    truncated: float
    occluded: int
    alpha: float
    bbox: tuple[float, float, float, float]
    hwl: tuple[float, float, float]
    location: tuple[float, float, float]
    rotation_y: float
    score: float | None = None
    frame: int | None = None
    track_id: int | None = None


def parse_label_line(line: str, where: str, tracking: bool = False) -> KittiObject:
    """Parse one object line (15 fields, 16 with a score; tracking lines start with frame and id)."""
    parts = line.split()
    head = 2 if tracking else 0
    if len(parts) not in (head + 15, head + 16):
        raise InputError(f"{where}: expected {head + 15} space-separated fields "
                         f"({'frame track_id ' if tracking else ''}{LABEL_FIELDS}), got {len(parts)}")
    try:
        nums = [float(v) for v in parts[head + 1:]]
        ids = [int(v) for v in parts[:head]]
    except ValueError:
        raise InputError(f"{where}: expected numbers after the type, got {line.strip()[:80]!r}") from None
    return KittiObject(parts[head], nums[0], int(nums[1]), nums[2], tuple(nums[3:7]), tuple(nums[7:10]),
                       tuple(nums[10:13]), nums[13], nums[14] if len(nums) > 14 else None,
                       ids[0] if tracking else None, ids[1] if tracking else None)


def object_to_box(obj: KittiObject, velo_from_rect: np.ndarray) -> np.ndarray:
    """KITTI object -> (7,) box ``[x, y, z, l, w, h, yaw]`` in the velodyne frame."""
    h, w, l = obj.hwl
    center_rect = np.asarray(obj.location) - np.array([0.0, h / 2, 0.0])
    center = transform_points(velo_from_rect, center_rect[None])[0]
    heading_rect = np.array([np.cos(obj.rotation_y), 0.0, -np.sin(obj.rotation_y)])
    d = velo_from_rect[:3, :3] @ heading_rect
    return np.array([*center, l, w, h, np.arctan2(d[1], d[0])])


def box_to_kitti(box: np.ndarray, rect_from_velo: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(7,) velodyne-frame box -> (bottom-centre location (3,), rotation_y, alpha) in the rect frame."""
    c = transform_points(rect_from_velo, np.asarray(box[:3])[None])[0]
    loc = c + np.array([0.0, box[5] / 2, 0.0])
    # The rotation_y that object_to_box maps back to exactly this yaw. (Rotating the
    # heading into the rect frame and dropping its y is not the inverse when the
    # camera is tilted against the LiDAR: the two horizontal planes differ.)
    # object_to_box: d(ry) = M (cos ry, 0, -sin ry), yaw = atan2(d_y, d_x); solve
    # d_y cos(yaw) - d_x sin(yaw) = 0 for ry and keep the root pointing along yaw.
    M = np.linalg.inv(rect_from_velo)[:3, :3]
    cy, sy = np.cos(box[6]), np.sin(box[6])
    a = M[1, 0] * cy - M[0, 0] * sy
    b = M[1, 2] * cy - M[0, 2] * sy
    ry = float(np.arctan2(a, b))
    d = np.cos(ry) * M[:, 0] - np.sin(ry) * M[:, 2]
    if d[0] * cy + d[1] * sy < 0:
        ry = float(normalize_yaw(ry + np.pi))
    alpha = float(normalize_yaw(ry - np.arctan2(loc[0], loc[2])))
    return loc, ry, alpha


def velo_from_rect(calib: Calib) -> np.ndarray:
    """(4, 4) rectified camera-0 frame -> velodyne frame."""
    return invert_pose(calib.Tr_velo_to_cam) @ np.linalg.inv(calib.R0_rect)
