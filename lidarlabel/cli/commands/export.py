"""``lidarlabel export {nuscenes,waymo,kitti} SCENE --labels FILE --out DIR``.

Writes a scene and one label document in a public dataset format that the
format's own tooling reads (docs/formats/<format>.md). Format modules are looked
up in :data:`lidarlabel.io.formats.EXPORTERS` and imported only when used.

Errors: every problem with the inputs (missing files, labels of another scene,
frames the scene does not have, a format module's :class:`InputError`) prints one
sentence and exits 1; a file-system error while writing (permission denied, disk
full) is reported the same way.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from types import ModuleType

NAME = "export"
HELP = "export a scene and its labels to nuScenes, Waymo (v1 TFRecord / v2 Parquet) or KITTI"

FORMATS = ("nuscenes", "waymo", "kitti")


def format_module(name: str, registry: dict[str, str], kind: str) -> ModuleType:
    """Import the module that implements format ``name`` (``kind`` is "export" or "import")."""
    from lidarlabel.errors import InputError

    if name not in registry:
        raise InputError(f"{kind} format {name!r} is not known (known: {', '.join(sorted(registry))})")
    try:
        return importlib.import_module(registry[name])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("lidarlabel"):
            raise InputError(f"{kind} format {name!r} is not available in this build ({exc.name} missing)") from None
        raise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=FORMATS, help="output format")
    parser.add_argument("scene", help="scene file (.h5)")
    parser.add_argument("--labels", required=True, help="label document (.json) of that scene")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--format", dest="variant", choices=("v1", "v2"), default="v1",
                        help="waymo only: v1 TFRecord of Frame protos (default) or v2 Parquet components")
    parser.add_argument("--results", help="nuscenes: also write a detection and tracking submission "
                        "from this pre-label document")
    parser.add_argument("--version", dest="ds_version", default="v1.0-lidarlabel",
                        help="nuscenes: dataset version folder name (default v1.0-lidarlabel)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with what was written")


def _check_document(doc, scene, labels_path: Path) -> None:
    from lidarlabel.errors import InputError

    if doc.scene != scene.scene_id:
        raise InputError(
            f"{labels_path}: scene: expected the labels of scene {scene.scene_id!r} ({scene.path}), "
            f"got labels of {doc.scene!r}"
        )
    for tid, track in doc.tracks.items():
        for f in track.boxes:
            if not 0 <= f < scene.num_frames:
                raise InputError(
                    f"{labels_path}: track {tid!r}: frame {f}: expected a frame index in "
                    f"0..{scene.num_frames - 1} (the scene has {scene.num_frames} frames)"
                )


def _existing_paths(folder: Path) -> set[Path] | None:
    """Every file and folder under ``folder`` now (None if it does not exist yet)."""
    if not folder.exists():
        return None
    return {p for p in folder.rglob("*")} | {folder}


def _remove_new_paths(folder: Path, existed: set[Path] | None) -> None:
    """Delete what appeared under ``folder`` since :func:`_existing_paths` (deepest first)."""
    import shutil

    if existed is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    if not folder.exists():
        return
    for p in sorted(folder.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if p not in existed:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from lidarlabel.errors import InputError
    from lidarlabel.io.formats import EXPORTERS
    from lidarlabel.io.labels import load_document
    from lidarlabel.io.remote import is_remote, local_copy, staged_output_dir
    from lidarlabel.io.scene import SceneReader

    mod = format_module(args.format, EXPORTERS, "export")
    labels_path = Path(args.labels) if not is_remote(args.labels) else args.labels
    with local_copy(args.labels) as local_labels:
        doc = load_document(local_labels)
    results = None
    if args.results:
        if args.format != "nuscenes":
            raise InputError(f"--results: only the nuscenes export writes a submission, not {args.format}")
        with local_copy(args.results) as local_results:
            results = load_document(local_results)
    if not is_remote(args.out) and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"{args.out}: --out: expected a folder, got an existing file")
    options = {"format": args.variant, "version": args.ds_version, "results": args.results,
               "results_document": results}
    # remote --out: written to a local folder, uploaded file by file (atomically) only if the export succeeds
    with local_copy(args.scene) as local_scene, SceneReader.open(local_scene) as scene, \
            staged_output_dir(args.out) as out_dir:
        _check_document(doc, scene, labels_path)
        existed = _existing_paths(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            written = mod.export_scene(scene, doc, out_dir, options)
        except BaseException as exc:  # all or nothing: remove what this export added, keep what was there
            _remove_new_paths(out_dir, existed)
            if isinstance(exc, OSError):
                raise InputError(f"{exc.filename or out_dir}: could not write ({exc.strerror or exc}); "
                                 "nothing of this export was kept") from None
            raise
        frames, boxes = scene.num_frames, doc.num_boxes()
    if is_remote(args.out):
        written = str(written).replace(str(out_dir), str(args.out).rstrip("/"))
    if args.json:
        print(json.dumps({"format": args.format, "out": str(written), "frames": frames,
                          "tracks": len(doc.tracks), "boxes": boxes}))
    else:
        print(f"exported {frames} frames, {len(doc.tracks)} tracks, {boxes} boxes as {args.format}: {written}")
    return 0
