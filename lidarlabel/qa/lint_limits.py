"""Per-category plausibility limits of ``lidarlabel lint``, as data (documented in docs/qa.md).

A limit set is a JSON object ``{"<category or prefix>": {field: value, ...}}``;
the longest matching key wins (``"vehicle.bus.rigid"`` before ``"vehicle.bus"``
before ``"vehicle"`` before ``"*"``). Fields, all optional (``null`` disables a check):

- ``max_speed_mps``        ground speed over a >= 0.5 s window, m/s
- ``max_accel_mps2``       change of that velocity over a >= 1.0 s window, m/s^2
- ``max_yaw_rate_dps``     heading change rate over a >= 0.5 s window, degrees/s
- ``position_jitter_m``    how far a correct box may sit off the true centre (label jitter);
                           a window's displacement is reduced by it before the speed test,
                           velocities by 2 * jitter / window before the acceleration test
- ``yaw_jitter_deg``       the same for the heading before the yaw-rate test
- ``size_drift_m``, ``size_drift_frac``  a box dimension may differ from the track's
                           median by at most max(size_drift_m, size_drift_frac * median)
- ``size_range_frac``      [lo, hi]: each dimension within lo..hi times the ontology's default size

Windows and jitter allowances absorb label noise: 5 cm of noise per box at
10 Hz would otherwise look like 5 m/s^2 of acceleration.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from lidarlabel.errors import InputError

__all__ = ["DEFAULT_LIMITS", "LIMIT_FIELDS", "OVERLAP_ALLOWED", "limits_for", "load_limits", "overlap_allowed"]

LIMIT_FIELDS = (
    "max_speed_mps", "max_accel_mps2", "max_yaw_rate_dps", "size_drift_m", "size_drift_frac",
    "size_range_frac", "position_jitter_m", "yaw_jitter_deg",
)  # fmt: skip

# Sources of the figures: road vehicles rarely exceed 250 km/h (70 m/s) or ~1 g of braking
# (10 m/s^2); heavy vehicles are slower and steer slower; a sprinting adult reaches ~10 m/s;
# static and movable objects should not move at all (0.5 m/s allows for label jitter).
DEFAULT_LIMITS: dict[str, dict[str, Any]] = {
    "*": {"max_speed_mps": 70.0, "max_accel_mps2": 12.0, "max_yaw_rate_dps": 120.0,
          "position_jitter_m": 0.2, "yaw_jitter_deg": 5.0,
          "size_drift_m": 0.15, "size_drift_frac": 0.05, "size_range_frac": [0.3, 3.0]},
    "vehicle": {"max_speed_mps": 70.0, "max_accel_mps2": 10.0, "max_yaw_rate_dps": 90.0},
    "vehicle.truck": {"max_speed_mps": 45.0, "max_accel_mps2": 6.0, "max_yaw_rate_dps": 60.0},
    "vehicle.bus": {"max_speed_mps": 40.0, "max_accel_mps2": 6.0, "max_yaw_rate_dps": 60.0},
    "vehicle.trailer": {"max_speed_mps": 45.0, "max_accel_mps2": 6.0, "max_yaw_rate_dps": 60.0},
    "vehicle.construction": {"max_speed_mps": 25.0, "max_accel_mps2": 5.0, "max_yaw_rate_dps": 60.0},
    "vehicle.motorcycle": {"max_speed_mps": 70.0, "max_accel_mps2": 12.0, "max_yaw_rate_dps": 120.0},
    "vehicle.bicycle": {"max_speed_mps": 20.0, "max_accel_mps2": 6.0, "max_yaw_rate_dps": 180.0,
                        "size_drift_m": 0.2, "size_drift_frac": 0.1},
    "human.pedestrian": {"max_speed_mps": 10.0, "max_accel_mps2": 8.0, "max_yaw_rate_dps": None,
                         "size_drift_m": 0.3, "size_drift_frac": 0.25, "size_range_frac": [0.3, 2.5]},
    "human.pedestrian.personal_mobility": {"max_speed_mps": 15.0, "max_accel_mps2": 6.0},
    "animal": {"max_speed_mps": 20.0, "max_accel_mps2": 10.0, "max_yaw_rate_dps": None,
               "size_drift_m": 0.3, "size_drift_frac": 0.25, "size_range_frac": [0.1, 5.0]},
    "movable_object": {"max_speed_mps": 0.5, "max_accel_mps2": None, "max_yaw_rate_dps": 10.0,
                       "size_range_frac": [0.2, 5.0]},
    "static_object": {"max_speed_mps": 0.5, "max_accel_mps2": None, "max_yaw_rate_dps": 10.0,
                      "size_range_frac": [0.2, 5.0]},
}  # fmt: skip


# Category pairs (dotted prefixes) whose boxes legitimately overlap: a person walking a bike
# or pushing a stroller, a bike in a rack. Seen in real nuScenes ground truth.
OVERLAP_ALLOWED: tuple[tuple[str, str], ...] = (
    ("human.pedestrian", "vehicle.bicycle"), ("human.pedestrian", "vehicle.motorcycle"),
    ("human.pedestrian", "human.pedestrian.stroller"), ("human.pedestrian", "human.pedestrian.wheelchair"),
    ("human.pedestrian", "human.pedestrian.personal_mobility"),
    ("human.pedestrian", "movable_object.pushable_pullable"), ("human.pedestrian", "static_object.bicycle_rack"),
    ("vehicle.bicycle", "static_object.bicycle_rack"), ("vehicle.motorcycle", "static_object.bicycle_rack"),
)  # fmt: skip


def _has_prefix(category: str, prefix: str) -> bool:
    return category == prefix or category.startswith(prefix + ".")


def overlap_allowed(cat_a: str, cat_b: str) -> bool:
    """True when boxes of these two categories may overlap (see :data:`OVERLAP_ALLOWED`)."""
    return any(
        (_has_prefix(cat_a, p) and _has_prefix(cat_b, q)) or (_has_prefix(cat_a, q) and _has_prefix(cat_b, p))
        for p, q in OVERLAP_ALLOWED
    )


def limits_for(category: str, limits: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The merged limits of ``category``: ``"*"``, then every dotted prefix, then the name itself."""
    table = DEFAULT_LIMITS if limits is None else limits
    out: dict[str, Any] = dict(table.get("*", {}))
    parts = category.split(".")
    for i in range(1, len(parts) + 1):
        out.update(table.get(".".join(parts[:i]), {}))
    return out


def load_limits(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a limits JSON file and lay it over :data:`DEFAULT_LIMITS` (per key, per field)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such limits file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: expected a JSON object of category limits ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: top level: expected a JSON object, got {type(data).__name__}")
    merged = copy.deepcopy(DEFAULT_LIMITS)
    for key, fields in data.items():
        if not isinstance(fields, dict):
            raise InputError(f"{path}: {key}: expected an object of limits, got {fields!r}")
        for name, value in fields.items():
            if name not in LIMIT_FIELDS:
                raise InputError(f"{path}: {key}.{name}: expected one of {', '.join(LIMIT_FIELDS)}")
            ok = value is None or (
                name == "size_range_frac" and isinstance(value, list) and len(value) == 2
                and all(isinstance(v, (int, float)) and v > 0 for v in value) and value[0] < value[1]
            ) or (name != "size_range_frac" and isinstance(value, (int, float))
                  and not isinstance(value, bool) and value >= 0)  # fmt: skip
            if not ok:
                want = "[lo, hi] with 0 < lo < hi" if name == "size_range_frac" else "a number >= 0"
                raise InputError(f"{path}: {key}.{name}: expected {want} or null, got {value!r}")
        merged.setdefault(key, {}).update(fields)
    return merged
