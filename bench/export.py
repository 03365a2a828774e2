"""Benchmark: export a 200-frame scene (120k points, 3 cameras, 50 objects per frame) to nuScenes and KITTI.

The scene is built with SceneWriter (not the simulator) in a temporary folder; only
the export is timed (wall and CPU time; the load average is printed because a shared
machine inflates wall time). Target: <= 10 s for the nuScenes export. The last line printed
is one JSON object with the figures.

    .venv/bin/python bench/export.py [--frames 200] [--points 120000] [--objects 50]
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

from lidarlabel.io.formats import kitti, nuscenes  # noqa: E402
from lidarlabel.io.scene import SceneReader  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scenes import build_export_scene  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--points", type=int, default=120_000)
    ap.add_argument("--objects", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        doc = build_export_scene(tmp / "bench.h5", args.frames, args.points, args.objects)
        build_s = time.perf_counter() - t0
        figures = {}
        with SceneReader.open(tmp / "bench.h5") as scene:
            for name, mod in (("nuscenes", nuscenes), ("kitti", kitti)):
                t0, c0 = time.perf_counter(), time.process_time()
                mod.export_scene(scene, doc, tmp / name, {"version": "v1.0-bench"})
                figures[f"{name}_export_s"] = round(time.perf_counter() - t0, 2)
                figures[f"{name}_export_cpu_s"] = round(time.process_time() - c0, 2)
                print(f"{name} export: {figures[f'{name}_export_s']:.2f} s wall, "
                      f"{figures[f'{name}_export_cpu_s']:.2f} s CPU", file=sys.stderr)
    result = {"bench": "export", "frames": args.frames, "points_per_frame": args.points,
              "objects_per_frame": args.objects, "cameras": 3, "scene_build_s": round(build_s, 2), **figures,
              "nuscenes_target_s": 10.0, "nuscenes_within_target": figures["nuscenes_export_s"] <= 10.0,
              "cpu_count": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
