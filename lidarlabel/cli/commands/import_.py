"""``lidarlabel import {kitti,nuscenes,waymo,pcd} SRC... --out SCENE.h5 [--labels OUT.json]``.

Reads a public dataset (or a folder/list of point clouds) into one lidarlabel
scene plus, when the source has boxes, a label document. The labels go to
``--labels`` or, by default, next to the scene: ``SCENE.h5`` -> ``SCENE.labels.json``.
An existing scene or label file is replaced only with ``--overwrite``.

Format modules (:data:`lidarlabel.io.formats.IMPORTERS`) receive the first SRC
as ``src`` and every SRC in ``options["sources"]`` (the pcd importer takes many).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

NAME = "import"
HELP = "import KITTI, nuScenes, Waymo or PCD/PLY/.bin data into a scene (+ labels)"

FORMATS = ("kitti", "nuscenes", "waymo", "pcd")


def default_labels_path(out_scene: Path) -> Path:
    """``X.h5`` -> ``X.labels.json`` (same folder)."""
    stem = out_scene.name[:-3] if out_scene.name.endswith(".h5") else out_scene.name
    return out_scene.with_name(stem + ".labels.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=FORMATS, help="input format")
    parser.add_argument("src", nargs="+", help="source: KITTI folder, nuScenes dataroot, Waymo "
                        ".tfrecord, or point-cloud files / a folder of them (pcd)")
    parser.add_argument("--out", required=True, help="scene file to write (.h5)")
    parser.add_argument("--labels", help="label document to write (default: SCENE.labels.json)")
    parser.add_argument("--scene", help="nuscenes: scene name to import (e.g. scene-0061)")
    parser.add_argument("--version", dest="ds_version", default=None,
                        help="nuscenes: dataset version folder (default: the only one under DATAROOT)")
    parser.add_argument("--frames", help="kitti: comma-separated frame ids to import (e.g. 000001,000002); "
                        "all frames of one scene must share one calibration")
    parser.add_argument("--frame-rate", dest="frame_rate_hz", type=float, default=10.0,
                        help="frames per second when the source has no timestamps (kitti, pcd; default 10)")
    parser.add_argument("--poses", help="pcd: text file of world_from_ego poses, one line per cloud "
                        "(12 or 16 numbers, row-major); default: each cloud's VIEWPOINT or identity")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing scene / label file")
    parser.add_argument("--json", action="store_true", help="print one JSON object with what was written")


def run(args: argparse.Namespace) -> int:
    from lidarlabel.cli.commands.export import format_module
    from lidarlabel.errors import InputError
    from lidarlabel.io.formats import IMPORTERS
    from lidarlabel.io.labels import save_document
    from lidarlabel.io.remote import is_remote, local_copy, output_modified, staged_output

    mod = format_module(args.format, IMPORTERS, "import")
    if args.format != "pcd" and len(args.src) != 1:
        raise InputError(f"import {args.format}: expected one source, got {len(args.src)}")
    for s in args.src:
        if is_remote(s) and args.format in ("kitti", "nuscenes"):
            raise InputError(f"{s}: import {args.format} reads a local folder; copy it locally first")
        if not is_remote(s) and not Path(s).exists():
            raise InputError(f"{s}: no such file or folder")
    if args.frame_rate_hz <= 0:
        raise InputError(f"--frame-rate: expected a positive number, got {args.frame_rate_hz}")
    out = args.out if is_remote(args.out) else Path(args.out)
    labels = args.labels or (default_labels_path(out) if not is_remote(out)
                             else f"{out[:-3] if out.endswith('.h5') else out}.labels.json")
    if not is_remote(out) and not out.parent.is_dir():
        raise InputError(f"{out}: --out: the folder {out.parent} does not exist")
    for p in (out, labels):
        if output_modified(p) is not None and not args.overwrite:
            raise InputError(f"{p}: already exists; pass --overwrite to replace it")
    options = {"sources": list(args.src), "scene": args.scene, "version": args.ds_version,
               "frame_rate_hz": args.frame_rate_hz, "poses": args.poses,
               "frames": [f.strip() for f in args.frames.split(",") if f.strip()] if args.frames else None}
    # remote sources: read through local copies (single files: Waymo .tfrecord, point-cloud files);
    # remote outputs: written locally, uploaded atomically only when the import succeeded
    with contextlib.ExitStack() as stack:
        options["sources"] = [str(stack.enter_context(local_copy(s))) for s in args.src]
        local_out = stack.enter_context(staged_output(out))
        try:
            doc = mod.import_scene(options["sources"][0], local_out, options)
        except OSError as exc:
            name = Path(exc.filename) if exc.filename else None
            if name is not None and name.parent.resolve() == Path(local_out).parent.resolve():
                raise InputError(f"{out}: could not write ({exc.strerror or exc}); nothing was kept") from None
            raise InputError(f"{exc.filename or args.src[0]}: could not read ({exc.strerror or exc})") from None
    if doc is not None:  # after the scene is in place
        with staged_output(labels) as local_labels:
            save_document(doc, local_labels)
        if not is_remote(out):  # also the scene's first label version: `view SCENE` and `history` see it
            from lidarlabel.io.label_store import LabelStore

            LabelStore.for_scene(out).save(doc, author=f"lidarlabel-import/{args.format}", source="import")
    summary = {"format": args.format, "scene": str(out), "labels": str(labels) if doc is not None else None,
               "tracks": len(doc.tracks) if doc is not None else 0,
               "boxes": doc.num_boxes() if doc is not None else 0}
    if args.json:
        print(json.dumps(summary))
    else:
        what = f"{summary['tracks']} tracks, {summary['boxes']} boxes -> {labels}" if doc is not None else "no labels"
        print(f"imported {args.format}: scene -> {out}; {what}")
    return 0
