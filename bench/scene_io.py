"""Benchmark the HDF5 scene store: write throughput, open time, random frame-read latency.

A 200-frame, 64-beam scene (115,200 returns per sweep, 5 float32 fields, 3 cameras
with 800x450 JPEGs) is written to a temporary folder, then reopened and read at
random frames. LiDAR-like sweeps (ring-ordered spherical scan of a street-like
range field with noise) so compression behaves as on real data.

Last line: one JSON object with the figures.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lidarlabel.core.camera import CameraModel  # noqa: E402
from lidarlabel.core.transforms import pose_from_yaw  # noqa: E402
from lidarlabel.io.scene import SceneReader, SceneWriter  # noqa: E402

FRAMES, BEAMS, AZIMUTHS = 200, 64, 1800


def sweep(rng: np.random.Generator, t: int) -> np.ndarray:
    """One LiDAR-like sweep (N, 5): x, y, z, intensity, ring in the sensor frame."""
    elev = np.deg2rad(np.r_[np.linspace(2, -8, 32), np.linspace(-8.5, -24.8, 32)])[:BEAMS]
    az = np.linspace(-np.pi, np.pi, AZIMUTHS, endpoint=False)
    E, A = np.meshgrid(elev, az, indexing="ij")
    ground = np.where(E < -0.01, 1.9 / np.maximum(-np.sin(E), 1e-3), np.inf)
    walls = 12.0 / np.maximum(np.abs(np.sin(A + 0.01 * t)), 0.1)
    r = np.minimum(ground, walls) + rng.normal(0, 0.02, E.shape)
    keep = (r < 120) & (rng.random(E.shape) > 0.03)
    x = r * np.cos(E) * np.cos(A)
    y = r * np.cos(E) * np.sin(A)
    z = r * np.sin(E)
    inten = np.clip(0.3 + 0.1 * rng.normal(size=E.shape), 0, 1)
    ring = np.broadcast_to(np.arange(BEAMS)[:, None], E.shape)
    return np.stack([x, y, z, inten, ring], axis=-1)[keep].astype(np.float32)


def measure(precision: float | None) -> dict:
    rng = np.random.default_rng(0)
    cams = [
        CameraModel(n, 800, 450, [[600, 0, 400], [0, 600, 225], [0, 0, 1]], [-0.05, 0.01, 0, 0, 0],
                    pose_from_yaw(yaw, [1.5, 0, 1.6]) @ np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1.0]]))
        for n, yaw in (("CAM_FRONT", 0.0), ("CAM_FRONT_LEFT", 0.9), ("CAM_FRONT_RIGHT", -0.9))
    ]
    img = (rng.random((450, 800, 3)) * 60 + np.linspace(0, 180, 800)[None, :, None]).astype(np.uint8)
    jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    sweeps = [sweep(rng, t) for t in range(8)]  # reuse a few sweeps so generation does not dominate
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        t0 = time.perf_counter()
        total_pts = 0
        with SceneWriter(path, "bench", pose_from_yaw(0, [1, 0, 1.9]), cams, point_precision=precision) as w:
            for i in range(FRAMES):
                pts = sweeps[i % len(sweeps)]
                total_pts += len(pts)
                w.add_frame(1_700_000_000_000_000 + i * 100_000, pose_from_yaw(0.0, [i, 0, 0]), pts,
                            {c.name: jpg for c in cams})
        write_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        opens = []
        for _ in range(7):
            t0 = time.perf_counter()
            s = SceneReader.open(path)
            opens.append(time.perf_counter() - t0)
            s.close()
        s = SceneReader.open(path)
        lat = []
        for i in rng.integers(0, FRAMES, 200):
            t0 = time.perf_counter()
            s.points(int(i))
            lat.append((time.perf_counter() - t0) * 1e3)
        img_lat = []
        for i in rng.integers(0, FRAMES, 50):
            t0 = time.perf_counter()
            s.image("CAM_FRONT", int(i))
            img_lat.append((time.perf_counter() - t0) * 1e3)
        s.close()
    result = {
        "frames": FRAMES,
        "beams": BEAMS,
        "points_per_frame": int(total_pts / FRAMES),
        "file_mb": round(size_mb, 1),
        "write_s": round(write_s, 2),
        "write_mpts_per_s": round(total_pts / write_s / 1e6, 2),
        "write_frames_per_s": round(FRAMES / write_s, 1),
        "open_s_median": round(float(np.median(opens)), 4),
        "read_frame_ms_median": round(float(np.median(lat)), 2),
        "read_frame_ms_p95": round(float(np.percentile(lat, 95)), 2),
        "decode_image_ms_median": round(float(np.median(img_lat)), 2),
    }
    mode = "lossless" if precision is None else f"precision {precision} m"
    print(f"{mode}: wrote {FRAMES} frames x {result['points_per_frame']} points in {write_s:.1f} s ({size_mb:.0f} MB); "
          f"open {result['open_s_median'] * 1e3:.1f} ms; frame read median {result['read_frame_ms_median']} ms")
    return result


def main() -> dict:
    """Lossless store (the default) and the compact 1 mm store; JSON: lossless figures + compact_*."""
    result = measure(None)
    compact = measure(0.001)
    result.update({f"compact_{k}": v for k, v in compact.items() if k not in ("frames", "beams", "points_per_frame")})
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
