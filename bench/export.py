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

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lidarlabel.core.camera import CameraModel  # noqa: E402
from lidarlabel.core.labels import Box, LabelDocument, Track  # noqa: E402
from lidarlabel.core.transforms import pose_from_yaw, rotz  # noqa: E402
from lidarlabel.io.formats import kitti, nuscenes  # noqa: E402
from lidarlabel.io.scene import SceneReader, SceneWriter  # noqa: E402


def build(path: Path, frames: int, points: int, objects: int, seed: int = 0) -> LabelDocument:
    rng = np.random.default_rng(seed)
    cams = []
    for k, yaw in enumerate((0.0, 2.1, -2.1)):
        R = rotz(yaw) @ np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, [1.0, 0.0, 1.6]
        cams.append(CameraModel(f"CAM_{k}", 320, 240, [[200, 0, 160], [0, 200, 120], [0, 0, 1]], np.zeros(5), T))
    jpgs = [cv2.imencode(".jpg", rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))[1].tobytes() for _ in range(3)]
    doc = LabelDocument.new("bench", source="human", author="bench")
    starts = rng.uniform(-40, 40, (objects, 2))
    yaws = rng.uniform(-np.pi, np.pi, objects)
    tracks = [Track(f"t{k}", "vehicle.car", {"vehicle.moving": True}) for k in range(objects)]
    with SceneWriter(path, "bench", pose_from_yaw(0.0, [1.0, 0.0, 1.8]), cams) as w:
        for f in range(frames):
            ts = 1_700_000_000_000_000 + 100_000 * f
            pts = np.c_[rng.uniform(-50, 50, (points, 2)), rng.uniform(-2, 2, points), rng.uniform(0, 1, points),
                        rng.integers(0, 32, points)].astype(np.float32)
            w.add_frame(ts, pose_from_yaw(0.01 * f, [0.5 * f, 0, 0]), pts, {c.name: jpgs[i] for i, c in enumerate(cams)})
            for k, t in enumerate(tracks):
                c = starts[k] + 0.3 * f * np.array([np.cos(yaws[k]), np.sin(yaws[k])])
                t.boxes[f] = Box(f, (c[0] + 0.5 * f, c[1], -0.9), (4.5, 1.9, 1.7), float(yaws[k]), ts, "human")
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
