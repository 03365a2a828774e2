"""Point-cloud import: PCD (ascii, binary, binary_compressed), PLY and KITTI ``.bin`` into a scene.

``import_scene`` turns files, or folders of them, into one scene: one frame per
cloud in name order (natural sort: ``2.pcd`` before ``10.pcd``), timestamps from
``options["frame_rate_hz"]`` (default 10 Hz), poses from ``options["poses"]``
(a text file of 12 or 16 numbers per line, world_from_lidar) or else the PCD
VIEWPOINT (identity for PLY/.bin). Clouds carry no labels: it returns None.
PCD ``binary_compressed`` uses LZF; the pure-Python decoder here is used unless
the optional ``lzf`` module (PyPI ``python-neo-lzf``) is installed. Details in
docs/formats/pcd.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lidarlabel.core.transforms import pose_from_quat
from lidarlabel.errors import InputError
from lidarlabel.io.formats.ply import read_kitti_bin, read_nuscenes_bin, read_ply, tidy_fields

__all__ = ["CLOUD_SUFFIXES", "import_scene", "lzf_decompress", "read_cloud", "read_pcd"]

CLOUD_SUFFIXES = (".pcd", ".ply", ".bin")
_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4",
              ("I", 8): "i8", ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8"}  # fmt: skip
_HEADER_KEYS = ("VERSION", "FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS", "DATA")


def _lzf_decompress_py(data: bytes, out_len: int) -> bytes:
    """Pure-Python LZF decoder (liblzf format): literal runs and back references."""
    out = bytearray(out_len)
    i = o = 0
    n = len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            ln = ctrl + 1
            if i + ln > n or o + ln > out_len:
                raise ValueError("literal run past the end of the data")
            out[o : o + ln] = data[i : i + ln]
            i += ln
            o += ln
            continue
        ln = ctrl >> 5
        if ln == 7:
            if i >= n:
                raise ValueError("truncated back reference")
            ln += data[i]
            i += 1
        ln += 2
        if i >= n:
            raise ValueError("truncated back reference")
        ref = o - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        if ref < 0 or o + ln > out_len:
            raise ValueError("back reference outside the output")
        if ref + ln <= o:
            out[o : o + ln] = out[ref : ref + ln]
        else:  # overlapping copy repeats the last (o - ref) bytes
            pattern = bytes(out[ref:o])
            out[o : o + ln] = (pattern * (ln // len(pattern) + 1))[:ln]
        o += ln
    if o != out_len:
        raise ValueError(f"decoded {o} bytes, expected {out_len}")
    return bytes(out)


def lzf_decompress(data: bytes, out_len: int) -> bytes:
    """Decompress an LZF block of known decompressed size (ValueError if it is corrupt)."""
    try:
        import lzf  # optional C implementation
    except ImportError:
        return _lzf_decompress_py(data, out_len)
    try:
        out = lzf.decompress(bytes(data), out_len) if out_len else b""
    except Exception as exc:  # the C module raises ValueError or SystemError on corrupt input
        raise ValueError(str(exc)) from None
    if out is None or len(out) != out_len:
        raise ValueError(f"decoded {0 if out is None else len(out)} bytes, expected {out_len}")
    return out


def _header(path: Path, data: bytes) -> tuple[dict[str, list[str]], int]:
    fields: dict[str, list[str]] = {}
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise InputError(f"{path}: header: expected a PCD header ending with a DATA line, none found")
        line = data[pos:nl].decode("ascii", "replace").strip()
        pos = nl + 1
        if not line or line.startswith("#"):
            continue
        key, *vals = line.split()
        key = key.upper()
        if key not in _HEADER_KEYS:
            raise InputError(f"{path}: header: unknown key {key!r}; expected one of {', '.join(_HEADER_KEYS)}")
        fields[key] = vals
        if key == "DATA":
            return fields, pos


def _int(path: Path, hdr: dict, key: str, default: int | None = None) -> int:
    vals = hdr.get(key)
    if vals is None:
        if default is None:
            raise InputError(f"{path}: {key}: expected a {key} line in the header")
        return default
    try:
        (v,) = vals
        v = int(v)
        if v < 0:
            raise ValueError
        return v
    except ValueError:
        raise InputError(f"{path}: {key}: expected one non-negative integer, got {' '.join(vals)!r}") from None


def _layout(path: Path, hdr: dict) -> tuple[list[str], list[str], list[int], int]:
    """Field names, numpy types and counts of a PCD header, plus the number of points."""
    names = hdr.get("FIELDS")
    if not names:
        raise InputError(f"{path}: FIELDS: expected a FIELDS line naming the point fields")
    k = len(names)
    sizes, types = hdr.get("SIZE"), hdr.get("TYPE")
    counts = hdr.get("COUNT", ["1"] * k)
    for key, vals in (("SIZE", sizes), ("TYPE", types), ("COUNT", counts)):
        if vals is None or len(vals) != k:
            got = "none" if vals is None else f"{len(vals)}"
            raise InputError(f"{path}: {key}: expected {k} values (one per field {names}), got {got}")
    try:
        cnt = [int(c) for c in counts]
        dts = [_PCD_TYPES[(t.upper(), int(s))] for t, s in zip(types, sizes)]
    except (KeyError, ValueError):
        raise InputError(
            f"{path}: TYPE/SIZE: expected F 4|8, I 1|2|4|8 or U 1|2|4|8 per field, got TYPE {types} SIZE {sizes}"
        ) from None
    width, height = _int(path, hdr, "WIDTH"), _int(path, hdr, "HEIGHT", 1)
    points = _int(path, hdr, "POINTS", width * height)
    if points != width * height:
        raise InputError(f"{path}: POINTS: expected WIDTH x HEIGHT = {width * height}, got {points}")
    return names, dts, cnt, points


def _viewpoint(path: Path, hdr: dict) -> np.ndarray:
    vp = hdr.get("VIEWPOINT", ["0", "0", "0", "1", "0", "0", "0"])
    try:
        v = [float(x) for x in vp]
        if len(v) != 7:
            raise ValueError
    except ValueError:
        raise InputError(f"{path}: VIEWPOINT: expected 7 numbers tx ty tz qw qx qy qz, got {' '.join(vp)!r}") from None
    return pose_from_quat(v[3:], v[:3])


def read_pcd(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """A PCD file -> ((N, C) float32 points with x, y, z first, field names, (4, 4) VIEWPOINT pose).

    Padding fields named ``_`` are skipped; a field with COUNT k > 1 becomes
    ``name_0 .. name_{k-1}``. NaN points are kept (the scene writer drops them).
    """
    path = Path(path)
    data = path.read_bytes()
    hdr, body = _header(path, data)
    names, dts, cnt, n = _layout(path, hdr)
    mode = (hdr["DATA"] or [""])[0].lower()
    flat_names = [nm if c == 1 else f"{nm}_{j}" for nm, c in zip(names, cnt) for j in range(c)]
    flat_types = [dt for dt, c in zip(dts, cnt) for _ in range(c)]
    keep = [j for j, nm in enumerate(flat_names) if not nm.startswith("_")]
    if mode == "ascii":
        text = data[body:].decode("ascii", "replace").split()
        need = n * len(flat_names)
        if len(text) < need:
            raise InputError(f"{path}: DATA ascii: expected {n} points x {len(flat_names)} values, got {len(text)} values")
        try:
            cols = np.array(text[:need], dtype=np.float64).reshape(n, len(flat_names))[:, keep]
        except ValueError as exc:
            raise InputError(f"{path}: DATA ascii: expected numbers ({exc})") from None
    elif mode in ("binary", "binary_compressed"):
        dt = np.dtype([(f"f{j}", "<" + t) for j, t in enumerate(flat_types)])
        if mode == "binary":
            raw, got = data[body:], len(data) - body
            if got < n * dt.itemsize:
                raise InputError(f"{path}: DATA binary: expected {n} points x {dt.itemsize} bytes, got {got} bytes (truncated?)")
            rec = np.frombuffer(raw, dtype=dt, count=n)
            cols = np.stack([rec[f"f{j}"].astype(np.float64) for j in keep], axis=1) if n else np.zeros((0, len(keep)))
        else:
            cols = _compressed_columns(path, data[body:], dts, cnt, n)[:, keep]
    else:
        raise InputError(f"{path}: DATA: expected ascii, binary or binary_compressed, got {mode!r}")
    pts, out_names = tidy_fields(path, [flat_names[j] for j in keep], cols)
    return pts, out_names, _viewpoint(path, hdr)


def _compressed_columns(path: Path, blob: bytes, types: list[str], counts: list[int], n: int) -> np.ndarray:
    """Columns of binary_compressed data: per field, n points x COUNT values (PCL's layout)."""
    if len(blob) < 8:
        raise InputError(f"{path}: DATA binary_compressed: expected 8 bytes of sizes, got {len(blob)}")
    csize, usize = (int(v) for v in np.frombuffer(blob[:8], "<u4"))
    widths = [np.dtype(t).itemsize * c for t, c in zip(types, counts)]
    if usize != n * sum(widths):
        raise InputError(f"{path}: DATA binary_compressed: expected {n * sum(widths)} uncompressed bytes, header says {usize}")
    if len(blob) - 8 < csize:
        raise InputError(f"{path}: DATA binary_compressed: expected {csize} compressed bytes, got {len(blob) - 8} (truncated?)")
    try:
        raw = lzf_decompress(blob[8 : 8 + csize], usize)
    except ValueError as exc:
        raise InputError(f"{path}: DATA binary_compressed: corrupt LZF data ({exc})") from None
    cols, off = [], 0
    for t, c, w in zip(types, counts, widths):
        cols.append(np.frombuffer(raw, "<" + t, count=n * c, offset=off).astype(np.float64).reshape(n, c))
        off += n * w
    return np.concatenate(cols, axis=1) if cols else np.zeros((n, 0))


def read_cloud(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Any supported cloud by suffix -> (points (N, C) float32, field names, (4, 4) sensor pose)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pcd":
        return read_pcd(path)
    if path.name.lower().endswith(".pcd.bin"):  # nuScenes: 5 floats per point, not KITTI's 4
        pts, names = read_nuscenes_bin(path)
    elif suffix == ".ply":
        pts, names = read_ply(path)
    elif suffix == ".bin":
        pts, names = read_kitti_bin(path)
    else:
        raise InputError(f"{path}: expected a .pcd, .ply or KITTI .bin point cloud, got a {suffix or 'suffix-less'} file")
    return pts, names, np.eye(4)


def _natural_key(p: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def cloud_files(sources: Sequence[str | Path]) -> list[Path]:
    """Files to import: files as given, folders expanded to their clouds in natural name order."""
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = sorted((f for f in p.iterdir() if f.suffix.lower() in CLOUD_SUFFIXES and f.is_file()), key=_natural_key)
            if not found:
                raise InputError(f"{p}: expected .pcd, .ply or .bin point clouds in the folder, found none")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return files


def _load_poses(path: str | Path, n: int) -> np.ndarray:
    path = Path(path)
    try:
        rows = [ln.split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
        vals = [[float(v) for v in r] for r in rows]
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: poses: expected lines of 12 or 16 numbers ({exc})") from None
    if len(vals) != n or any(len(v) not in (12, 16) for v in vals):
        raise InputError(f"{path}: poses: expected {n} lines (one per cloud) of 12 or 16 numbers, got {len(vals)} lines")
    out = np.tile(np.eye(4), (n, 1, 1))
    for i, v in enumerate(vals):
        out[i, : len(v) // 4] = np.array(v).reshape(-1, 4)
    return out


def import_scene(src: str, out_scene: Path, options: dict) -> None:
    """Write one scene from the clouds of ``options["sources"]`` (or ``src``); returns None (no labels)."""
    from lidarlabel.io.scene import SceneWriter

    options = options or {}
    files = cloud_files(options.get("sources") or [src])
    rate = float(options.get("frame_rate_hz") or 10.0)
    if not rate > 0:
        raise InputError(f"frame_rate_hz: expected a positive number, got {rate}")
    poses = _load_poses(options["poses"], len(files)) if options.get("poses") else None
    first_pts, fields, first_vp = read_cloud(files[0])
    first_src = Path(options.get("sources", [src])[0])
    scene_id = options.get("scene") or (first_src.name if first_src.is_dir() else first_src.stem)
    start_us = int(options.get("start_us", 0))
    with SceneWriter(out_scene, scene_id, np.eye(4), [], point_fields=fields, source="import") as w:
        for i, f in enumerate(files):
            pts, names, vp = (first_pts, fields, first_vp) if i == 0 else read_cloud(f)
            if names != fields:
                raise InputError(f"{f}: fields: expected the fields of {files[0].name} {list(fields)}, got {list(names)}")
            pose = poses[i] if poses is not None else vp
            w.add_frame(start_us + int(round(i * 1e6 / rate)), pose, pts)
    return None
