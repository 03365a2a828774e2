"""Benchmark: simulate and write a 50-frame, 64-beam, 3-camera scene.

Target: <= 60 s on 2 cores. Prints progress lines, then, as its last line, one
JSON object: {"seconds_total", "seconds_per_frame", "points_per_frame", ...}.

    python bench/sim.py [--frames 50] [--beams 64] [--seed 0] [--width 960]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--beams", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=960)
    args = ap.parse_args()

    from lidarlabel.sim.generate import generate
    from lidarlabel.sim.scene import SimConfig

    config = SimConfig(frames=args.frames, beams=args.beams, seed=args.seed, width=args.width)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.h5"
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            if done[0] % 10 == 0:
                print(f"  {done[0]}/{args.frames} frames", file=sys.stderr)

        cpu0 = time.process_time()
        stats = generate(out, config, progress=tick)
        cpu = time.process_time() - cpu0
        size_mb = (out.stat().st_size + out.with_suffix(".gt.json").stat().st_size) / 1e6
    result = {
        "benchmark": "sim",
        "frames": args.frames,
        "beams": args.beams,
        "cameras": 3,
        "width": args.width,
        "seed": args.seed,
        "layout": stats.layout,
        "cpus": os.cpu_count(),
        "seconds_total": round(stats.seconds, 2),
        "seconds_per_frame": round(stats.seconds / args.frames, 3),
        "cpu_seconds": round(cpu, 1),  # all threads; ~2x wall time when both cores are ours
        "load_average_1min": round(os.getloadavg()[0], 1),
        "points_per_frame": round(stats.points_per_frame),
        "tracks": stats.tracks,
        "output_mb": round(size_mb, 1),
        "target_seconds": 60,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
