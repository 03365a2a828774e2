"""Point-cloud import: PCD (ascii / binary / binary_compressed, padding fields), PLY, KITTI .bin."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.errors import InputError
from lidarlabel.io.formats import pcd
from lidarlabel.io.formats.pcd import _lzf_decompress_py, import_scene, read_cloud, read_pcd
from lidarlabel.io.scene import SceneReader


# ----------------------------------------------------------------------------- writers (test side)
def lzf_compress(data: bytes) -> bytes:
    """A small greedy LZF compressor (liblzf format) with literal runs and back references."""
    out, lit = bytearray(), bytearray()
    table: dict[bytes, int] = {}
    i, n = 0, len(data)

    def flush():
        for k in range(0, len(lit), 32):
            chunk = lit[k : k + 32]
            out.append(len(chunk) - 1)
            out.extend(chunk)
        lit.clear()

    while i < n:
        key = data[i : i + 3]
        ref = table.get(key) if len(key) == 3 else None
        table[key] = i
        if ref is not None and 0 < i - ref <= 8192:
            ln = 3
            while i + ln < n and ln < 264 and data[ref + ln] == data[i + ln]:
                ln += 1
            flush()
            off = i - ref - 1
            if ln - 2 < 7:
                out.append(((ln - 2) << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(ln - 2 - 7)
            out.append(off & 0xFF)
            i += ln
        else:
            lit.append(data[i])
            i += 1
    flush()
    return bytes(out)


FIELDS = [("x", "F", 4, 1), ("y", "F", 4, 1), ("z", "F", 4, 1), ("_", "U", 1, 4), ("intensity", "F", 4, 1),
          ("ring", "U", 2, 1), ("normal", "F", 8, 3)]  # fmt: skip


def _cloud(rng, n):
    cols = {
        "x": rng.uniform(-50, 50, n).astype("f4"), "y": rng.uniform(-50, 50, n).astype("f4"),
        "z": rng.uniform(-3, 5, n).astype("f4"), "_": rng.integers(0, 255, (n, 4)).astype("u1"),
        "intensity": rng.uniform(0, 1, n).astype("f4"), "ring": rng.integers(0, 64, n).astype("u2"),
        "normal": rng.normal(size=(n, 3)),
    }  # fmt: skip
    cols["z"][: n // 4] = 0.5  # repetitive content, so LZF finds back references
    return cols


def write_pcd(path: Path, cols: dict, mode: str, viewpoint="0 0 0 1 0 0 0") -> Path:
    n = len(cols["x"])
    head = ("# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
            f"FIELDS {' '.join(f[0] for f in FIELDS)}\nSIZE {' '.join(str(f[2]) for f in FIELDS)}\n"
            f"TYPE {' '.join(f[1] for f in FIELDS)}\nCOUNT {' '.join(str(f[3]) for f in FIELDS)}\n"
            f"WIDTH {n}\nHEIGHT 1\nVIEWPOINT {viewpoint}\nPOINTS {n}\nDATA {mode}\n")
    dt = np.dtype([(f[0], f"<{f[1].lower() if f[1] != 'F' else 'f'}{f[2]}", (f[3],)) for f in FIELDS])
    rec = np.zeros(n, dt)
    for f in FIELDS:
        rec[f[0]] = np.asarray(cols[f[0]]).reshape(n, f[3])
    if mode == "ascii":
        rows = [" ".join(repr(float(v)) if f[1] == "F" else str(int(v)) for f in FIELDS for v in np.atleast_1d(r[f[0]]))
                for r in rec]
        body = ("\n".join(rows) + "\n").encode()
    elif mode == "binary":
        body = rec.tobytes()
    else:
        raw = b"".join(np.ascontiguousarray(rec[f[0]]).tobytes() for f in FIELDS)
        comp = lzf_compress(raw)
        body = struct.pack("<II", len(comp), len(raw)) + comp
    path.write_bytes(head.encode() + body)
    return path


# ----------------------------------------------------------------------------- LZF
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lzf_decoder_inverts_compression(seed):
    rng = np.random.default_rng(seed)
    data = b"".join([rng.bytes(int(rng.integers(1, 80))) * int(rng.integers(1, 12)) for _ in range(300)])
    data += b"\x00" * 1000 + b"ab" * 300  # long and overlapping back references
    comp = lzf_compress(data)
    assert len(comp) < len(data)
    assert _lzf_decompress_py(comp, len(data)) == data
    assert pcd.lzf_decompress(comp, len(data)) == data
    with pytest.raises(ValueError):
        _lzf_decompress_py(comp[:-5], len(data))
    with pytest.raises(ValueError):
        _lzf_decompress_py(bytes([0x20, 0x05]) + comp, len(data))  # a reference before the start


def test_lzf_decoder_reads_liblzf_output():
    import lzf  # python-neo-lzf, a dependency: the reference liblzf binding
    data = np.random.default_rng(5).normal(size=20000).astype("f4").tobytes() + b"\x07" * 5000
    assert _lzf_decompress_py(lzf.compress(data), len(data)) == data


# ----------------------------------------------------------------------------- PCD
@pytest.mark.parametrize("mode", ["ascii", "binary", "binary_compressed"])
def test_pcd_encodings_read_the_same_points(tmp_path, mode):
    cols = _cloud(np.random.default_rng(4), 500)
    pts, names, vp = read_pcd(write_pcd(tmp_path / f"c.{mode}.pcd", cols, mode, "1 2 3 0 0 0 1"))
    assert names == ("x", "y", "z", "intensity", "ring", "normal_0", "normal_1", "normal_2")  # padding dropped
    want = np.c_[cols["x"], cols["y"], cols["z"], cols["intensity"], cols["ring"], cols["normal"]].astype("f4")
    assert pts.dtype == np.float32 and np.array_equal(pts, want)
    assert np.allclose(vp[:3, 3], [1, 2, 3]) and np.allclose(vp[:3, :3], np.diag([-1, -1, 1]))  # qz = 1: 180 deg


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda h: h.replace(b"FIELDS x y z _ intensity ring normal\n", b""), "FIELDS"),
        (lambda h: h.replace(b"SIZE 4 4 4 1 4 2 8", b"SIZE 4 4 4 1 4 2"), "SIZE"),
        (lambda h: h.replace(b"TYPE F F F U F U F", b"TYPE F F F U F U Q"), "TYPE"),
        (lambda h: h.replace(b"POINTS 50", b"POINTS 51"), "POINTS"),
        (lambda h: h.replace(b"DATA binary", b"DATA packed"), "DATA"),
        (lambda h: h.replace(b"VERSION 0.7", b"VERSIO 0.7"), "header"),
        (lambda h: h.replace(b"VIEWPOINT 0 0 0 1 0 0 0", b"VIEWPOINT 0 0 0 1"), "VIEWPOINT"),
        (lambda h: h[:-300], "DATA binary"),
    ],
)
def test_pcd_header_errors_name_file_and_field(tmp_path, edit, field):
    p = write_pcd(tmp_path / "bad.pcd", _cloud(np.random.default_rng(0), 50), "binary")
    p.write_bytes(edit(p.read_bytes()))
    with pytest.raises(InputError, match=rf"bad\.pcd: {field}"):
        read_pcd(p)


def test_corrupt_compressed_pcd_is_reported(tmp_path):
    p = write_pcd(tmp_path / "cz.pcd", _cloud(np.random.default_rng(0), 300), "binary_compressed")
    data = bytearray(p.read_bytes())
    body = data.index(b"DATA binary_compressed\n") + len(b"DATA binary_compressed\n")
    data[body + 8 : body + 40] = b"\xff" * 32  # back references pointing before the start
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"cz\.pcd: DATA binary_compressed: corrupt LZF"):
        read_pcd(p)
    p.write_bytes(bytes(data[: body + 30]))
    with pytest.raises(InputError, match=r"cz\.pcd: DATA binary_compressed: expected \d+ compressed bytes"):
        read_pcd(p)


# ----------------------------------------------------------------------------- PLY and KITTI .bin
def _ply(path: Path, pts: np.ndarray, fmt: str) -> Path:
    head = (f"ply\nformat {fmt} 1.0\ncomment made by a test\nelement vertex {len(pts)}\nproperty float x\n"
            "property float y\nproperty float z\nproperty uchar reflectance\nelement face 0\n"
            "property list uchar int vertex_indices\nend_header\n").encode()
    if fmt == "ascii":
        body = "".join(f"{a!r} {b!r} {c!r} {int(d)}\n" for a, b, c, d in pts.tolist()).encode()
    else:
        dt = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1")])
        rec = np.zeros(len(pts), dt)
        rec["x"], rec["y"], rec["z"], rec["r"] = pts.T
        body = rec.tobytes()
    path.write_bytes(head + body)
    return path


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian"])
def test_ply_vertices(tmp_path, fmt):
    rng = np.random.default_rng(2)
    pts = np.c_[rng.uniform(-5, 5, (40, 3)).astype("f4"), rng.integers(0, 255, 40)].astype("f8")
    got, names, pose = read_cloud(_ply(tmp_path / "v.ply", pts, fmt))
    assert names == ("x", "y", "z", "intensity") and np.array_equal(pose, np.eye(4))
    assert np.array_equal(got, pts.astype("f4"))


def test_ply_errors(tmp_path):
    p = _ply(tmp_path / "t.ply", np.ones((40, 4)), "binary_little_endian")
    p.write_bytes(p.read_bytes()[:-20])
    with pytest.raises(InputError, match=r"t\.ply: vertex data: expected 40 vertices"):
        read_cloud(p)
    p.write_bytes(b"ply\nformat binary_middle_endian 1.0\nend_header\n")
    with pytest.raises(InputError, match=r"t\.ply: format"):
        read_cloud(p)


def test_kitti_bin_real_sweep_and_bad_size(tmp_path, shared_data):
    f = shared_data / "kitti" / "velodyne" / "000000.bin"
    pts, names, _ = read_cloud(f)
    assert names == ("x", "y", "z", "intensity")
    assert len(pts) == f.stat().st_size // 16 and len(pts) > 100_000
    assert np.array_equal(pts[7], np.frombuffer(f.read_bytes()[7 * 16 : 8 * 16], "<f4"))
    bad = tmp_path / "cut.bin"
    bad.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(InputError, match=r"cut\.bin: size: expected a multiple of 16 bytes"):
        read_cloud(bad)
    with pytest.raises(InputError, match=r"x\.xyz: expected a \.pcd"):
        read_cloud(tmp_path / "x.xyz")


# ----------------------------------------------------------------------------- folders become scenes
def test_folder_of_clouds_becomes_a_scene(tmp_path):
    rng = np.random.default_rng(9)
    folder = tmp_path / "clouds"
    folder.mkdir()
    clouds = {}
    for k, name in enumerate(["10.pcd", "2.pcd", "1.pcd"]):
        cols = _cloud(rng, 100 + k)
        cols["x"][3] = np.nan  # an invalid return in an organised cloud
        clouds[name] = cols
        write_pcd(folder / name, cols, ["ascii", "binary", "binary_compressed"][k], f"{k} 0 0 1 0 0 0")
    (folder / "notes.txt").write_text("not a cloud")
    assert import_scene(str(folder), tmp_path / "s.h5", {"frame_rate_hz": 5.0}) is None
    with SceneReader.open(tmp_path / "s.h5") as s:
        assert s.scene_id == "clouds" and s.num_frames == 3
        assert s.timestamps_us.tolist() == [0, 200_000, 400_000]
        assert [s.num_points(i) for i in range(3)] == [101, 100, 99]  # 1, 2, 10; NaN row dropped
        assert [s.ego_poses[i][0, 3] for i in range(3)] == [2.0, 1.0, 0.0]  # each file's VIEWPOINT (1, 2, 10)
        assert s.point_fields[:4] == ("x", "y", "z", "intensity")
        assert np.allclose(s.points(1)[:, 3], np.delete(clouds["2.pcd"]["intensity"], 3))

    poses = tmp_path / "poses.txt"
    poses.write_text("".join(f"1 0 0 {i} 0 1 0 0 0 0 1 0\n" for i in range(3)))
    import_scene(str(folder), tmp_path / "p.h5", {"poses": str(poses)})
    with SceneReader.open(tmp_path / "p.h5") as s:
        assert s.ego_poses[:, 0, 3].tolist() == [0.0, 1.0, 2.0]
        assert s.timestamps_us.tolist() == [0, 100_000, 200_000]  # 10 Hz default
    _ply(folder / "3.ply", np.ones((5, 4)), "ascii")  # different fields from the PCDs
    with pytest.raises(InputError, match=r"3\.ply: fields: expected the fields of 1\.pcd"):
        import_scene(str(folder), tmp_path / "q.h5", {})
    assert not (tmp_path / "q.h5").exists()


def test_cli_imports_kitti_bins_and_reports_a_bad_header(tmp_path, shared_data, capsys):
    from lidarlabel.cli import main

    velo = shared_data / "kitti" / "velodyne"
    assert main(["import", "pcd", str(velo), "--out", str(tmp_path / "k.h5"), "--frame-rate", "10"]) == 0
    with SceneReader.open(tmp_path / "k.h5") as s:
        files = sorted(velo.glob("*.bin"))
        assert s.num_frames == len(files)
        assert [s.num_points(i) for i in range(s.num_frames)] == [f.stat().st_size // 16 for f in files]
    assert not (tmp_path / "k.labels.json").exists()
    bad = tmp_path / "bad.pcd"
    bad.write_bytes(b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4\nTYPE F F F\nWIDTH 1\nPOINTS 1\nDATA ascii\n1 2 3\n")
    assert main(["import", "pcd", str(bad), "--out", str(tmp_path / "b.h5")]) == 1
    err = capsys.readouterr().err
    assert "bad.pcd: SIZE: expected 3 values" in err and "Traceback" not in err


def test_cli_passes_a_poses_file_to_the_folder_import(tmp_path):
    from lidarlabel.cli import main

    rng = np.random.default_rng(4)
    folder = tmp_path / "clouds"
    folder.mkdir()
    for k in range(3):
        write_pcd(folder / f"{k}.pcd", _cloud(rng, 50), "binary")
    poses = tmp_path / "poses.txt"
    poses.write_text("".join(f"1 0 0 {5 * i} 0 1 0 {i} 0 0 1 0\n" for i in range(3)))
    assert main(["import", "pcd", str(folder), "--out", str(tmp_path / "s.h5"), "--poses", str(poses)]) == 0
    with SceneReader.open(tmp_path / "s.h5") as s:
        assert s.ego_poses[:, :2, 3].tolist() == [[0.0, 0.0], [5.0, 1.0], [10.0, 2.0]]
