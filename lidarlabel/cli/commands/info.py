"""``lidarlabel info SCENE [--json]``: what a scene file holds."""

from __future__ import annotations

import argparse
import json

NAME = "info"
HELP = "describe a scene file: frames, duration, points, cameras, ego path"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene file (.h5) or URL (s3://bucket/key.h5; credentials from "
                        "the environment)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from lidarlabel.io.remote import is_remote, local_copy
    from lidarlabel.io.scene import SceneReader
    from lidarlabel.io.scene_info import scene_summary

    with local_copy(args.scene) as local, SceneReader.open(local) as scene:
        info = scene_summary(scene)
    if is_remote(args.scene):  # name the object, not the download cache
        info["path"] = args.scene
    if args.json:
        print(json.dumps(info))
        return 0
    pts = info["lidar_points"]
    ego = info["ego_xyz"]
    travelled = sum(
        sum((a - b) ** 2 for a, b in zip(p, q)) ** 0.5 for p, q in zip(ego[1:], ego[:-1])
    )
    print(f"scene        {info['scene_id']}  ({info['path']})")
    print(f"frames       {info['frames']}  over {info['duration_s']:.2f} s")
    print(f"lidar points min {pts['min']}  median {pts['median']:.0f}  max {pts['max']}")
    for c in info["cameras"]:
        print(f"camera       {c['name']}  {c['width']}x{c['height']}")
    print(f"ego path     {travelled:.1f} m")
    print(f"ground truth {'yes' if info['has_ground_truth'] else 'no'}")
    return 0
