"""Benchmark: the app's QA mode (lidarlabel.edit.qa_mode.QAReview) on the 20k-box version pair of bench/diff.py.

Measures: opening the review (one full diff), keeping it current after an edit of one box
(only that frame is re-diffed), after a category change of a whole 200-frame track (full
diff), reading ``result`` after an edit (lazy full diff), styles + ghosts of one frame, and
one revert. Times are wall seconds (median of --repeat) with CPU seconds beside them.
Prints figures, then one JSON object as the last line.
Usage: python bench/qa_mode.py [--frames 200] [--objects 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diff import make_pair  # noqa: E402  (bench/diff.py: the same 20k-box pair)

from lidarlabel.edit import EditSession  # noqa: E402
from lidarlabel.edit.qa_mode import QAReview  # noqa: E402


def _timed(fn, repeat: int) -> tuple[float, float]:
    """(median wall s, median CPU s) of ``fn()``, run ``repeat`` times."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--objects", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    old, new = make_pair(args.frames, args.objects)
    s = EditSession(None, new)
    bare = EditSession(None, new.copy())  # the same edits with no review attached: the session's own cost
    fig: dict[str, float] = {}

    fig["open_s"], fig["open_cpu_s"] = _timed(lambda: QAReview(s, old).close(), args.repeat)
    review = QAReview(s, old)
    tid = next(iter(s.doc.tracks))
    frame = s.doc.tracks[tid].frames()[args.frames // 2]
    step = iter(range(10**6))

    def nudge(sess: EditSession) -> None:
        c = np.add(sess.doc.tracks[tid].boxes[frame].center, (0.05 * (next(step) % 2 * 2 - 1), 0, 0))
        sess.move_box(tid, frame, center=c)

    fig["edit_one_box_s"], fig["edit_one_box_cpu_s"] = _timed(lambda: nudge(s), args.repeat)
    fig["edit_one_box_without_review_s"], _ = _timed(lambda: nudge(bare), args.repeat)
    cats = iter(["vehicle.truck", "vehicle.car"] * args.repeat)
    fig["category_of_long_track_s"], fig["category_of_long_track_cpu_s"] = _timed(
        lambda: s.set_category(tid, next(cats)), args.repeat)  # fmt: skip

    def result_after_edit() -> None:
        nudge(s)
        _ = review.result

    fig["edit_then_result_s"], fig["edit_then_result_cpu_s"] = _timed(result_after_edit, args.repeat)
    fig["styles_and_ghosts_one_frame_s"], _ = _timed(
        lambda: (review.box_styles(frame), review.ghost_boxes(frame)), args.repeat)  # fmt: skip
    geo = [c for c in review.changes if c.kind == "geometry_changed"]

    def revert_and_undo() -> None:
        review.revert(geo[0])
        s.undo()

    fig["revert_and_undo_s"], _ = _timed(revert_and_undo, args.repeat)
    res = review.result
    print(f"old boxes {res.num_old_boxes}, new boxes {res.num_new_boxes}, changes {len(res.changes)}")
    for k, v in fig.items():
        print(f"{k:36s} {v * 1000:10.2f} ms")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(json.dumps({
        "bench": "qa_mode", "frames": args.frames, "objects_per_frame": args.objects,
        "old_boxes": res.num_old_boxes, "new_boxes": res.num_new_boxes, "changes": len(res.changes),
        **{k: round(v, 4) for k, v in fig.items()}, "repeat": args.repeat,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
