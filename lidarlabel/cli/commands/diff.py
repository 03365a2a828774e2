"""``lidarlabel diff OLD.json NEW.json [--json] [--html OUT.html] [--iou T] [--fail-on KINDS]``.

Exit codes: 0 done (no ``--fail-on`` change found), 1 bad input, 2 bad usage,
3 a change of a ``--fail-on`` kind exists (a CI gate).
"""

from __future__ import annotations

import argparse
import json

from lidarlabel.cli.argtypes import unit_fraction

NAME = "diff"
HELP = "compare two label versions box by box: added, removed, moved, relabelled, re-identified"
EXIT_FAIL_ON = 3


def _kinds(text: str) -> tuple[str, ...]:
    from lidarlabel.qa.diff import fail_kinds

    try:
        return fail_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _nonneg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v >= 0.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="the older label document (.json)")
    parser.add_argument("new", help="the newer label document (.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (summary, changes, ...)")
    parser.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
    parser.add_argument("--iou", type=unit_fraction, default=0.5,
                        help="IoU needed to match boxes whose track id changed (default 0.5)")
    parser.add_argument("--iou-kind", choices=("3d", "bev"), default="3d",
                        help="IoU used for matching (default 3d)")
    parser.add_argument("--ignore-ids", action="store_true",
                        help="match by IoU only (for documents with unrelated track ids)")
    parser.add_argument("--center-tol", type=_nonneg, default=0.01, metavar="M",
                        help="centre move counted as a geometry change, metres (default 0.01)")
    parser.add_argument("--size-tol", type=_nonneg, default=0.01, metavar="M",
                        help="size change counted as a geometry change, metres (default 0.01)")
    parser.add_argument("--yaw-tol", type=_nonneg, default=0.2, metavar="DEG",
                        help="heading change counted as a geometry change, degrees (default 0.2)")
    parser.add_argument("--fail-on", type=_kinds, metavar="KINDS",
                        help="comma list of change kinds (or 'any'); exit 3 if any such change exists")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from lidarlabel.errors import InputError
    from lidarlabel.io.atomic import write_bytes_atomic
    from lidarlabel.io.labels import load_document
    from lidarlabel.qa.diff import SUMMARY_KEYS, Tolerances, diff_documents, has_failures
    from lidarlabel.qa.report_html import diff_report_html

    old = load_document(args.old)
    new = load_document(args.new)
    if old.scene != new.scene:
        raise InputError(
            f"{args.new}: scene: expected the scene of {args.old} ({old.scene!r}), got {new.scene!r}"
        )
    if args.html and not Path(args.html).resolve().parent.is_dir():
        raise InputError(f"{args.html}: the folder {Path(args.html).parent} does not exist")
    tol = Tolerances(args.center_tol, args.size_tol, args.yaw_tol)
    result = diff_documents(old, new, args.iou, tol, args.iou_kind, not args.ignore_ids)
    if args.html:
        write_bytes_atomic(args.html, diff_report_html(result, args.old, args.new).encode("utf-8"))
    failed = has_failures(result, args.fail_on) if args.fail_on else []
    if args.json:
        out = result.to_dict()
        out["old"], out["new"] = str(args.old), str(args.new)
        out["fail_on"] = {"kinds": list(args.fail_on or []), "found": failed}
        print(json.dumps(out))
    else:
        s = result.summary
        print(f"{args.old} -> {args.new}  (scene {result.scene}; {result.num_old_boxes} -> "
              f"{result.num_new_boxes} boxes)")
        for k in SUMMARY_KEYS:
            print(f"  {k:<20} {s[k]:>7}")
        for k, v in result.other_counts.items():
            print(f"  {k:<20} {v:>7}")
        r = result.review
        if r.total:
            print(f"  pre-labels: {r.total}; accepted unchanged {r.accepted} ({100 * r.share(r.accepted):.1f}%), "
                  f"corrected {r.corrected} ({100 * r.share(r.corrected):.1f}%), "
                  f"deleted {r.deleted} ({100 * r.share(r.deleted):.1f}%)")
        print(f"  boxes added by hand: {r.added_by_hand}")
        for e in result.track_events[:20]:
            print(f"  {e.kind}: {' '.join(e.old_tracks)} -> {' '.join(e.new_tracks)} "
                  f"(frames {e.frames[0]}-{e.frames[-1]})")
        if len(result.track_events) > 20:
            print(f"  ... {len(result.track_events) - 20} more track events (--json)")
        if args.html:
            print(f"report: {args.html}")
    if failed:
        print(f"lidarlabel diff: changes of kind {', '.join(failed)} found (--fail-on); exit {EXIT_FAIL_ON}",
              file=sys.stderr)
        return EXIT_FAIL_ON
    return 0
