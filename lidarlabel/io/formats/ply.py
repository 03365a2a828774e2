"""PLY point clouds (vertex element; ascii, binary little / big endian) and KITTI ``.bin`` sweeps.

Both readers return ``(points (N, C) float32, field names)`` with x, y, z first;
an intensity-like property (intensity, reflectance, remission, scalar_intensity)
is renamed ``intensity``. Other vertex properties are kept under their names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lidarlabel.errors import InputError

__all__ = ["read_kitti_bin", "read_ply", "tidy_fields"]

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_INTENSITY = ("intensity", "reflectance", "remission", "scalar_intensity", "i")


def tidy_fields(path: Path, names: list[str], columns: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Reorder (N, C) ``columns`` named ``names`` to x, y, z first; rename intensity aliases.

    Raises InputError if x, y or z is missing or a name repeats.
    """
    lower = [n.lower() for n in names]
    for axis in ("x", "y", "z"):
        if axis not in lower:
            raise InputError(f"{path}: fields: expected x, y and z among the point fields, got {names}")
    if len(set(lower)) != len(lower):
        raise InputError(f"{path}: fields: a field name repeats in {names}")
    order = [lower.index(a) for a in ("x", "y", "z")]
    rest = [k for k in range(len(names)) if k not in order]
    rest_names = [lower[k] for k in rest]
    if "intensity" not in rest_names:
        for alias in _INTENSITY:
            if alias in rest_names:
                rest_names[rest_names.index(alias)] = "intensity"
                break
    out_names = ["x", "y", "z", *rest_names]
    cols = np.asarray(columns)[:, order + rest].astype(np.float32)
    return cols, tuple(out_names)


def _float32_records(path: str | Path, names: tuple[str, ...], what: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """A headerless file of little-endian float32 records, one value per name -> (N, len(names))."""
    path = Path(path)
    data = path.read_bytes()
    width = 4 * len(names)
    if len(data) % width:
        raise InputError(
            f"{path}: size: expected a multiple of {width} bytes ({what}: float32 {', '.join(names)} per point), "
            f"got {len(data)} bytes"
        )
    return np.frombuffer(data, dtype="<f4").reshape(-1, len(names)).astype(np.float32), names


def read_kitti_bin(path: str | Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """A KITTI velodyne sweep: little-endian float32 x, y, z, reflectance -> (N, 4), names."""
    return _float32_records(path, ("x", "y", "z", "intensity"), "KITTI .bin")


def read_nuscenes_bin(path: str | Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """A nuScenes LiDAR sweep (``*.pcd.bin``): float32 x, y, z, intensity, ring -> (N, 5), names.

    A ``.pcd.bin`` is also a multiple of 16 bytes as often as not, so it is told
    from a KITTI ``.bin`` by its name, as nuScenes names its files.
    """
    return _float32_records(path, ("x", "y", "z", "intensity", "ring"), "nuScenes .pcd.bin")


def _ply_header(path: Path, data: bytes) -> tuple[str, int, list[tuple[str, str]], int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise InputError(f"{path}: header: expected a PLY file starting with 'ply' and holding 'end_header'")
    nl = data.find(b"\n", end)
    body = nl + 1 if nl >= 0 else len(data)
    lines = data[:end].decode("ascii", "replace").splitlines()[1:]
    fmt, count, props, elements = None, None, [], []
    for raw in lines:
        tok = raw.split()
        if not tok or tok[0] in ("comment", "obj_info"):
            continue
        if tok[0] == "format":
            if len(tok) < 2 or tok[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise InputError(f"{path}: format: expected ascii, binary_little_endian or binary_big_endian, got {raw.strip()!r}")
            fmt = tok[1]
        elif tok[0] == "element":
            elements.append(tok[1] if len(tok) > 1 else "")
            if elements[-1] == "vertex":
                try:
                    count = int(tok[2])
                except (IndexError, ValueError):
                    raise InputError(f"{path}: element vertex: expected a count, got {raw.strip()!r}") from None
        elif tok[0] == "property" and elements and elements[-1] == "vertex":
            if len(tok) != 3 or tok[1] not in _PLY_TYPES:
                raise InputError(f"{path}: property: expected 'property <scalar type> <name>' for vertices, got {raw.strip()!r}")
            props.append((tok[2], _PLY_TYPES[tok[1]]))
    if fmt is None:
        raise InputError(f"{path}: format: the header has no format line")
    if count is None or not props:
        raise InputError(f"{path}: element vertex: expected a vertex element with properties")
    if elements[0] != "vertex":
        raise InputError(f"{path}: element vertex: expected vertices as the first element, got {elements[0]!r} first")
    return fmt, count, props, body


def read_ply(path: str | Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """Vertices of a PLY file -> (N, C) float32 points with x, y, z first, and field names."""
    path = Path(path)
    data = path.read_bytes()
    fmt, n, props, body = _ply_header(path, data)
    names = [p[0] for p in props]
    if fmt == "ascii":
        rows = data[body:].decode("ascii", "replace").split("\n")
        vals = [r.split() for r in rows[:n]]
        if len(vals) < n or any(len(v) < len(props) for v in vals):
            raise InputError(f"{path}: vertex data: expected {n} lines of {len(props)} values")
        try:
            cols = np.array([v[: len(props)] for v in vals], dtype=np.float64).reshape(n, len(props))
        except ValueError as exc:
            raise InputError(f"{path}: vertex data: expected numbers ({exc})") from None
    else:
        endian = "<" if fmt == "binary_little_endian" else ">"
        dt = np.dtype([(f"f{k}", endian + t) for k, (_, t) in enumerate(props)])
        if len(data) - body < n * dt.itemsize:
            raise InputError(
                f"{path}: vertex data: expected {n} vertices of {dt.itemsize} bytes, "
                f"got {len(data) - body} bytes (truncated?)"
            )
        rec = np.frombuffer(data, dtype=dt, count=n, offset=body)
        cols = np.stack([rec[f"f{k}"].astype(np.float64) for k in range(len(props))], axis=1) if n else np.zeros((0, len(props)))
    return tidy_fields(path, names, cols)
