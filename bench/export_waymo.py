"""Benchmark: export a 200-frame scene (120k points, 3 cameras, 50 objects per frame) to Waymo v1 and v2.

The scene is written with SceneWriter (no simulator) in a temporary folder; only
the exports are timed (v1 is the TFRecord of Frame protos with point counts per box,
v2 the Parquet components), as wall-clock and as this process's CPU time (the
second is the fairer figure on a shared, loaded machine). Target: <= 10 s for v1.
The last line printed is one JSON object with the figures.

    .venv/bin/python bench/export_waymo.py [--frames 200] [--points 120000] [--objects 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lidarlabel.core.camera import CameraModel  # noqa: E402
from lidarlabel.core.labels import Box, LabelDocument, Track  # noqa: E402
from lidarlabel.core.transforms import pose_from_yaw, rotz  # noqa: E402
from lidarlabel.io.formats import waymo  # noqa: E402
from lidarlabel.io.formats.waymo.v1 import read_frames  # noqa: E402
from lidarlabel.io.scene import SceneReader, SceneWriter  # noqa: E402

CATEGORIES = ("vehicle.car", "vehicle.truck", "human.pedestrian.adult", "vehicle.bicycle", "movable_object.barrier")


def build(path: Path, frames: int, points: int, objects: int, seed: int = 0) -> LabelDocument:
    """Write the bench scene to ``path``; return its labels (``objects`` moving boxes per frame)."""
    rng = np.random.default_rng(seed)
    cams = []
    for k, yaw in enumerate((0.0, 2.1, -2.1)):
        T = np.eye(4)
        T[:3, :3] = rotz(yaw) @ np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
        T[:3, 3] = [1.0, 0.0, 1.6]
        cams.append(CameraModel(f"CAM_{k}", 320, 240, [[200, 0, 160], [0, 200, 120], [0, 0, 1]], np.zeros(5), T))
    jpgs = [cv2.imencode(".jpg", rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))[1].tobytes() for _ in cams]
    starts = rng.uniform(-40, 40, (objects, 2))
    yaws = rng.uniform(-np.pi, np.pi, objects)
    speeds = rng.uniform(0, 10, objects)
    tracks = [Track(f"object-{k}", CATEGORIES[k % len(CATEGORIES)]) for k in range(objects)]
    with SceneWriter(path, "bench-waymo", pose_from_yaw(0.0, [1.0, 0.0, 1.8]), cams) as w:
        for f in range(frames):
            ts = 1_700_000_000_000_000 + 100_000 * f
            pts = np.c_[rng.uniform(-50, 50, (points, 2)), rng.uniform(-2, 2, points), rng.uniform(0, 1, points),
                        rng.integers(0, 32, points)].astype(np.float32)
            w.add_frame(ts, pose_from_yaw(0.01 * f, [0.5 * f, 0, 0]), pts, {c.name: jpgs[i] for i, c in enumerate(cams)})
            for k, t in enumerate(tracks):
                c = starts[k] + 0.1 * speeds[k] * f * np.array([np.cos(yaws[k]), np.sin(yaws[k])])
                t.boxes[f] = Box(f, (c[0] + 0.5 * f, c[1], -0.9), (4.5, 1.9, 1.7), float(yaws[k]), ts, "human")
    doc = LabelDocument.new("bench-waymo", source="human", author="bench")
    doc.tracks = {t.id: t for t in tracks}
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--points", type=int, default=120_000)
    ap.add_argument("--objects", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        doc = build(tmp / "bench.h5", args.frames, args.points, args.objects)
        build_s = time.perf_counter() - t0
        figures: dict[str, float | int] = {}
        with SceneReader.open(tmp / "bench.h5") as scene:
            for variant in ("v1", "v2"):
                t0, c0 = time.perf_counter(), time.process_time()
                out = waymo.export_scene(scene, doc, tmp / variant, {"format": variant})
                figures[f"waymo_{variant}_export_s"] = round(time.perf_counter() - t0, 2)
                figures[f"waymo_{variant}_export_cpu_s"] = round(time.process_time() - c0, 2)
                print(f"waymo {variant} export: {figures[f'waymo_{variant}_export_s']:.2f} s", file=sys.stderr)
                if variant == "v1":
                    figures["v1_bytes"] = out.stat().st_size
                    t0 = time.perf_counter()
                    labels = sum(len(fr.laser_labels) for fr in read_frames(out))
                    figures["v1_read_s"] = round(time.perf_counter() - t0, 2)
                    assert labels == args.frames * args.objects, labels
    result = {"bench": "export_waymo", "frames": args.frames, "points_per_frame": args.points,
              "objects_per_frame": args.objects, "cameras": 3, "scene_build_s": round(build_s, 2), **figures,
              "v1_target_s": 10.0, "v1_within_target": figures["waymo_v1_export_s"] <= 10.0,
              "cpu_count": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
