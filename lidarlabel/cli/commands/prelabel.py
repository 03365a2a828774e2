"""``lidarlabel prelabel SCENE... --out DIR``: batch pre-labeling, one document per scene."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "prelabel"
HELP = "detect and track objects in scenes; write one pre-label document per scene"

EXECUTOR_CHOICES = ["local", "ray"]


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers must be an integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--workers must be >= 1, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", nargs="+", metavar="SCENE",
                        help="scene files (.h5); or URLs: s3://bucket/key.h5, a prefix s3://bucket/dir/ or a glob")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder or URL prefix: DIR/<scene stem>.json; credentials from the "
                        "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL)")
    parser.add_argument("--workers", type=_workers, default=1, help="parallel scenes (default 1)")
    parser.add_argument("--detector", default="geometric", choices=["geometric", "onnx"],
                        help="detector (default geometric: no training, no download)")
    parser.add_argument("--model", metavar="MODEL.onnx", help="ONNX model for --detector onnx")
    parser.add_argument("--executor", default="local", choices=EXECUTOR_CHOICES,
                        help="where scenes run (default local process pool; ray needs "
                        "pip install 'lidarlabel[ray]')")
    parser.add_argument("--ray-address", metavar="ADDR", default=None,
                        help="--executor ray: join this cluster ('auto', 'ray://host:10001'); default: "
                        "start a local Ray instance with --workers CPUs")
    parser.add_argument("--force", action="store_true", help="redo scenes whose output is up to date")
    parser.add_argument("--json", action="store_true", help="print a summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lidarlabel.errors import InputError
    from lidarlabel.io import remote
    from lidarlabel.prelabel.batch import SceneResult
    from lidarlabel.prelabel.executors import SceneTask, make_executor
    from lidarlabel.prelabel.ray_executor import output_name

    if args.ray_address and args.executor != "ray":
        raise InputError("--ray-address: only with --executor ray")
    if not remote.is_remote(args.out):
        out_dir = Path(args.out)
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir}: --out must be a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
    # a URL prefix (ending in /) or glob lists its *.h5 objects; a named object that is missing fails on its own
    scenes = [u for s in args.scenes
              for u in (remote.list_scenes(s) if remote.is_remote(s) and (s.endswith("/") or set("*?[") & set(s))
                        else [s])]
    options: dict = {}
    if args.detector == "onnx":
        if not args.model:
            raise InputError("--detector onnx needs --model MODEL.onnx")
        if not Path(args.model).is_file():
            raise InputError(f"{args.model}: no such ONNX model file")
        options["detector"] = {"model": str(args.model)}
    stems: dict[str, str] = {}
    tasks, results = [], []
    outs = [remote.join_url(args.out, output_name(scene)) for scene in scenes]
    # one listing per folder/prefix, not one request per object (thousands of scenes on S3)
    t_scene, t_out = remote.modified_times(scenes), remote.modified_times(outs)
    for scene, out, ts, to in zip(scenes, outs, t_scene, t_out):
        if str(out) in stems:
            raise InputError(f"{scene}: writes {out}, like {stems[str(out)]}; give scenes distinct file names")
        stems[str(out)] = scene
        if ts is None:
            results.append(SceneResult(scene, str(out), ok=False, error=f"{scene}: no such scene file"))
        elif not args.force and to is not None and to >= ts:
            results.append(SceneResult(scene, str(out), ok=True, skipped=True))
        else:
            tasks.append(SceneTask(scene, str(out), args.detector, options))
    executor = make_executor(args.executor, workers=args.workers, address=args.ray_address)
    # disable=None: bars on a terminal only, nothing in logs and pipes
    overall = tqdm(total=len(tasks), desc="scenes", unit="scene", file=sys.stderr, position=0,
                   disable=None)
    bars: dict[str, tqdm] = {}

    def progress(scene: str, done: int, total: int) -> None:
        bar = bars.get(scene)
        if bar is None:
            bar = bars[scene] = tqdm(total=total, desc=Path(scene).name, unit="frame", file=sys.stderr,
                                     position=1, leave=False, disable=overall.disable)
        bar.n = done
        bar.refresh()

    try:
        for res in executor.run(tasks, progress):
            results.append(res)
            bar = bars.pop(res.scene, None)
            if bar is not None:
                bar.close()
            overall.update(1)
            if not res.ok:
                tqdm.write(f"lidarlabel prelabel: error: {res.error}", file=sys.stderr)
    finally:
        for bar in bars.values():
            bar.close()
        overall.close()
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    failed = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps({"scenes": [r.to_dict() for r in results], "failed": len(failed),
                          "done": sum(r.ok and not r.skipped for r in results),
                          "skipped": sum(r.skipped for r in results)}))
    else:
        for r in results:
            if r.skipped:
                print(f"{r.scene}: up to date ({r.out})")
            elif r.ok:
                print(f"{r.scene}: {r.tracks} tracks, {r.boxes} boxes in {r.seconds:.1f} s -> {r.out}")
        for r in failed:
            if r.error and "no such scene" in r.error:
                print(f"lidarlabel prelabel: error: {r.error}", file=sys.stderr)
    return 1 if failed else 0
