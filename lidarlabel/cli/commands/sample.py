"""``lidarlabel sample OUT.h5``: a synthetic driving scene with exact ground truth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "sample"
HELP = "simulate a street scene (LiDAR + cameras) and write OUT.h5 and OUT.gt.json"


def _positive(name: str, lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be between {lo} and {hi}, got {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT.h5", help="scene file to write (ground truth goes to OUT.gt.json)")
    parser.add_argument("--frames", type=_positive("--frames", 1, 10000), default=50,
                        help="number of frames at 10 Hz (default 50)")
    parser.add_argument("--beams", type=_positive("--beams", 8, 256), default=64,
                        help="LiDAR beams: 32, 64 (HDL-64E pattern) or 128 (default 64)")
    parser.add_argument("--seed", type=_positive("--seed", 0, 2**63 - 1), default=0,
                        help="random seed; the same seed gives the same scene (default 0)")
    parser.add_argument("--cameras", action=argparse.BooleanOptionalAction, default=True,
                        help="render CAM_FRONT, CAM_FRONT_LEFT, CAM_FRONT_RIGHT (default on)")
    parser.add_argument("--width", type=_positive("--width", 64, 4096), default=960,
                        help="camera image width in pixels, 16:9 (default 960)")
    parser.add_argument("--lossless", action="store_true",
                        help="store points exactly (about twice the size); by default they are "
                        "rounded to 1/1024 m, far below the simulated 2 cm range noise")
    parser.add_argument("--json", action="store_true", help="print a summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from lidarlabel.errors import InputError

    out = Path(args.out)
    if out.suffix != ".h5":
        raise InputError(f"{out}: the output scene file must end in .h5")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the output folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; expected a .h5 file name")

    from tqdm import tqdm

    from lidarlabel.sim.generate import generate, gt_path_for
    from lidarlabel.sim.scene import SimConfig

    config = SimConfig(frames=args.frames, beams=args.beams, seed=args.seed,
                       cameras=args.cameras, width=args.width)
    with tqdm(total=args.frames, desc="simulating", unit="frame", file=sys.stderr,
              disable=None) as bar:
        stats = generate(out, config, progress=bar.update,
                         point_precision=None if args.lossless else 0.001)
    if args.json:
        print(json.dumps({"scene": str(out), "ground_truth": str(gt_path_for(out)), **stats.to_dict()}))
    else:
        cats = ", ".join(f"{n} {c}" for c, n in stats.tracks_by_category.items())
        print(f"wrote {out} and {gt_path_for(out)}: {stats.frames} frames ({stats.layout}), "
              f"{stats.points_per_frame:.0f} points/frame, {stats.tracks} tracks ({cats}) "
              f"in {stats.seconds:.1f} s")
    return 0
