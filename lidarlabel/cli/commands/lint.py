"""``lidarlabel lint LABELS [--scene SCENE] [--json] [--fail-on SEVERITY]``.

Exit codes: 0 done, 1 bad input, 2 bad usage, 3 a finding at or above the
``--fail-on`` severity exists (a CI gate).
"""

from __future__ import annotations

import argparse
import json

from lidarlabel.cli.argtypes import unit_fraction

NAME = "lint"
HELP = "check labels for implausible motion, drifting sizes, overlaps, gaps, empty boxes, unknown names"
EXIT_FAIL_ON = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", help="label document (.json)")
    parser.add_argument("--scene", help="the scene (.h5): enables the checks that need LiDAR points")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ontology", help="ontology JSON (default: the packaged nuScenes one)")
    parser.add_argument("--limits", help="JSON of per-category limits laid over the defaults (docs/qa.md)")
    parser.add_argument("--overlap", type=unit_fraction, default=0.25, metavar="F",
                        help="flag boxes sharing more than F of the smaller box's volume (default 0.25)")
    parser.add_argument("--fail-on", choices=("error", "warning", "info"),
                        help="exit 3 when a finding of this severity or worse exists")


def run(args: argparse.Namespace) -> int:
    import sys
    from contextlib import nullcontext

    from lidarlabel.core.ontology import Ontology
    from lidarlabel.errors import InputError
    from lidarlabel.io.labels import load_document
    from lidarlabel.qa.lint import SEVERITIES, lint_document
    from lidarlabel.qa.lint_limits import load_limits

    doc = load_document(args.labels)
    ontology = Ontology.load(args.ontology) if args.ontology else None
    limits = load_limits(args.limits) if args.limits else None
    if args.scene:
        from lidarlabel.io.scene import SceneReader

        ctx = SceneReader.open(args.scene)
    else:
        ctx = nullcontext()
    with ctx as scene:
        if scene is not None and scene.scene_id != doc.scene:
            raise InputError(f"{args.labels}: scene: expected {scene.scene_id!r} (the scene of "
                             f"{args.scene}), got {doc.scene!r}")
        result = lint_document(doc, ontology, limits, scene, args.overlap, progress=True)
    failing = []
    if args.fail_on:
        worst = SEVERITIES.index(args.fail_on)
        failing = [f for f in result.findings if SEVERITIES.index(f.severity) <= worst]
    if args.json:
        out = result.to_dict()
        out["labels"] = str(args.labels)
        print(json.dumps(out))
    else:
        c = result.counts()
        print(f"{args.labels}: {len(doc.tracks)} tracks, {doc.num_boxes()} boxes; "
              f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s)"
              + ("" if result.checked_points else " (no --scene: LiDAR point checks not run)"))
        for f in result.findings:
            print(f"  {f}")
    if failing:
        print(f"lidarlabel lint: {len(failing)} finding(s) at or above {args.fail_on}; exit {EXIT_FAIL_ON}",
              file=sys.stderr)
        return EXIT_FAIL_ON
    return 0
