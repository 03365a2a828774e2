"""Time every editing operation of the session on a simulated ~120k-point scene.

Usage: python bench/edit.py [--beams 72] [--frames 12] [--seed 3] [--repeats 5]
Prints one line per operation (median and max milliseconds; the max of the
first call includes lazy imports) and, last, one JSON object with every figure. Frame reads (HDF5 decode + transform) are timed
separately: the session caches the last 4 frames, so single-frame edits run on
a cached frame, while propagate reads each new frame it visits.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from lidarlabel.cli import main as cli
from lidarlabel.core.boxes import points_in_boxes
from lidarlabel.edit import EditSession
from lidarlabel.edit.object_points import stacked_object_points


def timed(fn, repeats: int, setup=None) -> tuple[float, float]:
    ms = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ms)), float(np.max(ms))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beams", type=int, default=72)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        cli(["sample", str(path), "--frames", str(a.frames), "--beams", str(a.beams), "--seed", str(a.seed),
             "--no-cameras"])
        gt = json.loads(path.with_suffix(".gt.json").read_text())
        s = EditSession.open(path)
        n_points = s.scene.num_points(0)
        pts = s.points_world(0)
        cars = [t for t in gt["tracks"] if t["category"] == "vehicle.car" and len(t["boxes"]) == a.frames]
        g = {b["frame"]: np.r_[b["center"], b["size"], b["yaw"]] for b in cars[0]["boxes"]}
        inside = pts[points_in_boxes(pts, g[0][None])[0]]
        click = inside[np.argmin(((inside - g[0][:3]) ** 2).sum(axis=1))] if len(inside) else g[0][:3]
        r: dict[str, tuple[float, float]] = {}
        r["read_frame"] = timed(lambda: s.scene.points_world(1), a.repeats)
        r["fit_box_at"] = timed(lambda: s.fit_box_at(0, click, "vehicle.car"), a.repeats)
        tid = s.create_box(0, g[0][:3], g[0][3:6], g[0][6])
        r["create_box"] = timed(lambda: s.create_box(0, g[0][:3], g[0][3:6], g[0][6]), a.repeats)
        r["move_box"] = timed(lambda: s.move_box(tid, 0, center=g[0][:3] + 0.1), a.repeats)
        r["nudge"] = timed(lambda: s.move_box(tid, 0, center=g[0][:3] + 0.2, merge_key="nudge"), a.repeats)
        r["set_category"] = timed(lambda: s.set_category(tid, "vehicle.truck"), a.repeats)
        r["set_attribute"] = timed(lambda: s.set_attribute(tid, "vehicle.moving"), a.repeats)
        last = a.frames - 1
        r["propagate_5_frames"] = timed(lambda: s.propagate(tid, 0, 5), a.repeats)
        s.move_box(tid, last, center=g[last][:3], yaw=g[last][6])
        r["interpolate"] = timed(lambda: s.interpolate(tid), a.repeats)
        r["set_keyframe"] = timed(lambda: s.set_keyframe(tid, 3, True), a.repeats)
        r["split"] = timed(lambda: s.split(tid, 5), 1)
        tail = list(s.doc.tracks)[-1]
        r["merge"] = timed(lambda: s.merge(tid, tail), 1)
        r["undo"] = timed(s.undo, a.repeats)
        r["redo"] = timed(s.redo, a.repeats)
        r["delete_box"] = timed(lambda: s.delete(tid, frame=2), 1)
        r["stacked_object_points"] = timed(lambda: stacked_object_points(s, tid), 1)

        def uncached():
            s._points_cache.clear()
        r["propagate_1_frame_uncached"] = timed(lambda: s.propagate(tid, 5, 6), a.repeats, setup=uncached)
        r["fit_box_at_uncached"] = timed(lambda: s.fit_box_at(0, click, "vehicle.car"), a.repeats, setup=uncached)
    for k, (med, mx) in r.items():
        print(f"{k:28s} median {med:8.1f} ms   max {mx:8.1f} ms")
    print(json.dumps({"points_per_frame": int(n_points), "repeats": a.repeats,
                      "ms_median": {k: round(v[0], 2) for k, v in r.items()},
                      "ms_max": {k: round(v[1], 2) for k, v in r.items()}}))


if __name__ == "__main__":
    main()
