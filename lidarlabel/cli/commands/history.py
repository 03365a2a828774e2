"""``lidarlabel history SCENE [--json]``: the saved label versions of a scene, oldest first."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "history"
HELP = "list a scene's saved label versions (id, parent, author, time, source, size)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene file (.h5); versions live in <scene>.labels/")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from lidarlabel.errors import InputError
    from lidarlabel.io.label_store import LabelStore, labels_dir_for

    scene = Path(args.scene)
    if not scene.exists() and not labels_dir_for(scene).is_dir():
        raise InputError(f"{scene}: no such scene and no label folder {labels_dir_for(scene)}")
    store = LabelStore.for_scene(scene)
    versions = store.versions()
    holder = store.lock_holder()
    draft = store.has_newer_draft()
    if args.json:
        print(json.dumps({
            "scene": str(scene), "labels_dir": str(store.root),
            "versions": [v.to_dict() for v in versions],
            "newer_draft": draft, "locked_by": holder,
        }))  # fmt: skip
        return 0
    if not versions:
        print(f"{scene}: no saved label versions (folder {store.root})")
    else:
        print(f"{'id':<34} {'parent':<34} {'author':<12} {'created':<25} {'source':<9} tracks  boxes")
        for v in versions:
            print(f"{v.id:<34} {v.parent or '-':<34} {v.author:<12} {v.created:<25} "
                  f"{v.source:<9} {v.num_tracks:>6} {v.num_boxes:>6}")
    if draft:
        print("an autosave draft newer than the latest version exists (drafts/draft.json)")
    if holder:
        print(f"being edited by {holder.get('owner')} (pid {holder.get('pid')} on {holder.get('host')})")
    return 0
