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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lidarlabel.io.formats import waymo  # noqa: E402
from lidarlabel.io.formats.waymo.v1 import read_frames  # noqa: E402
from lidarlabel.io.scene import SceneReader  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scenes import build_export_scene  # noqa: E402

CATEGORIES = ("vehicle.car", "vehicle.truck", "human.pedestrian.adult", "vehicle.bicycle", "movable_object.barrier")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--points", type=int, default=120_000)
    ap.add_argument("--objects", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        doc = build_export_scene(tmp / "bench.h5", args.frames, args.points, args.objects, CATEGORIES, "bench-waymo")
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
