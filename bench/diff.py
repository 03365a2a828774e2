"""Benchmark: diff two versions of a 200-frame scene with 100 objects per frame (20,000 boxes).

The new version moves 10% of the boxes, relabels 2% of the tracks' categories, changes
attributes on 5%, deletes 5% and adds 5% of boxes, re-ids 10 tracks, and accepts the
pre-labels (source prelabel -> human). Prints figures, then one JSON object as the last line.
Usage: python bench/diff.py [--frames 200] [--objects 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.io.labels import load_document, save_document
from lidarlabel.qa.diff import diff_documents


def make_pair(frames: int, objects: int, seed: int = 0) -> tuple[LabelDocument, LabelDocument]:
    """An old (pre-label) and a new (reviewed) version with every kind of change."""
    rng = np.random.default_rng(seed)
    old = LabelDocument.new("bench", "prelabel", "bot")
    cats = ["vehicle.car", "vehicle.truck", "human.pedestrian.adult", "vehicle.bicycle"]
    # objects laid on a grid so boxes never overlap; each moves along its heading
    grid = np.stack(np.meshgrid(np.arange(10), np.arange(objects // 10 + 1)), -1).reshape(-1, 2)
    for k in range(objects):
        start = np.r_[grid[k] * 12.0, 0.9]
        yaw = float(rng.uniform(-np.pi, np.pi))
        v = 0.3 * np.r_[np.cos(yaw), np.sin(yaw), 0.0]
        tid = f"t{k:04d}"
        boxes = {f: Box(f, tuple(start + f * v * 0.01), (4.5, 1.9, 1.6), yaw,
                        1_700_000_000_000_000 + f * 100_000, "prelabel", 0.9, False)
                 for f in range(frames)}  # fmt: skip
        old.tracks[tid] = Track(tid, cats[k % len(cats)], {}, boxes)
    new = old.as_new_version("human", "ann1")
    for t in list(new.tracks.values()):
        for f, b in list(t.boxes.items()):
            r = rng.random()
            if r < 0.05:
                del t.boxes[f]
            elif r < 0.15:
                t.boxes[f] = b.with_array(b.as_array() + np.r_[0.2, 0, 0, 0, 0, 0, 0.05], source="human")
            elif r < 0.20:
                t.boxes[f] = b.with_array(b.as_array(), source="human", attributes={"vehicle.moving": True})
            else:
                t.boxes[f] = b.with_array(b.as_array(), source="human")
    for tid in list(new.tracks)[:2]:
        new.tracks[tid].category = "vehicle.bus.rigid"
    for tid in list(new.tracks)[10:20]:
        t = new.tracks.pop(tid)
        t.id = tid + "-r"
        new.tracks[t.id] = t
    for k in range(int(0.05 * frames * objects) // 10):
        tid = f"h{k:04d}"
        f0 = int(rng.integers(0, frames - 10))
        xy = np.r_[-30.0 - 5 * k, 0.0, 0.9]
        new.tracks[tid] = Track(tid, "vehicle.car", {}, {
            f: Box(f, tuple(xy), (4.5, 1.9, 1.6), 0.0, None, "human", None, f == f0)
            for f in range(f0, f0 + 10)})  # fmt: skip
    return old, new


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--objects", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    old, new = make_pair(args.frames, args.objects)
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = diff_documents(old, new)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # CPU time of this process: less sensitive to load
    with tempfile.TemporaryDirectory() as tmp:
        po, pn = save_document(old, Path(tmp) / "old.json"), save_document(new, Path(tmp) / "new.json")
        t0 = time.perf_counter()
        o2, n2 = load_document(po), load_document(pn)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        json.dumps(diff_documents(o2, n2).to_dict())
        t_json = time.perf_counter() - t0
    best = min(times)
    print(f"old boxes {res.num_old_boxes}, new boxes {res.num_new_boxes}, changes {len(res.changes)}")
    print(f"summary {res.summary}")
    print(f"diff (best of {args.repeat}): {best:.3f} s wall, {min(cpu):.3f} s CPU; "
          f"median {float(np.median(times)):.3f} s wall")
    print(f"loading both JSON files: {t_load:.3f} s; diff + JSON serialisation: {t_json:.3f} s")
    print(json.dumps({
        "bench": "diff", "frames": args.frames, "objects_per_frame": args.objects,
        "old_boxes": res.num_old_boxes, "new_boxes": res.num_new_boxes, "changes": len(res.changes),
        "diff_s_best": round(best, 4), "diff_s_median": round(float(np.median(times)), 4),
        "diff_cpu_s_best": round(min(cpu), 4), "load_average_1min": round(os.getloadavg()[0], 2),
        "load_two_files_s": round(t_load, 4), "diff_plus_json_s": round(t_json, 4),
        "target_s": 1.0, "pass": best <= 1.0,
    }))


if __name__ == "__main__":
    main()
