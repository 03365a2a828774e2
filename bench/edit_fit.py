"""One-click fit quality against simulated ground truth, per seed group, and its speed.

Usage: python bench/edit_fit.py [--scenes DIR] [--frames-eval 0 10 20] [--modes single context]
       [--no-category-modes context] [--groups ...]

Cases: every ``vehicle.car`` box (``--category``) with >= 50 LiDAR points
(``--min-points``) in the evaluated frames of each simulated scene (64 beams, 21
frames); the click is the object's point nearest its ground-truth centre; the
category is given and, separately, left out. Scenes are read from ``DIR/s<seed>.h5`` when present,
otherwise simulated into a temporary folder (``lidarlabel sample``).
Modes: ``single`` (the clicked frame only) and ``context`` (neighbouring frames
through ``points_world_of``, as ``EditSession.fit_box_at`` passes them).
Prints one line per seed group and mode (and the held-out groups pooled),
then one JSON object with every figure. Times: fits whose neighbouring frames
were read already (wall and CPU time: median, p95, max) and first fits that
read them (median); ``--dump`` writes every case for inspection. CPU time is the calling
thread's (``time.thread_time``): OpenBLAS threads woken by the harness's own matrix
products (ground-truth point counts, frame transforms) spin for a while and would
otherwise be counted in the fit's process time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from lidarlabel.cli import main as cli
from lidarlabel.core.boxes import bev_iou_pairs, points_in_boxes
from lidarlabel.edit.fit import fit_at_point
from lidarlabel.io.scene import SceneReader

GROUPS = {"tune 0-2": [0, 1, 2], "held-out 3-6": [3, 4, 5, 6], "held-out 7-9,11": [7, 8, 9, 11],
          "held-out 31-36": [31, 32, 33, 34, 35, 36]}


class Frames:
    """Reader-backed ``points_world_of`` / ``viewpoint_of`` with an LRU of decoded frames (like the session)."""

    def __init__(self, reader: SceneReader, size: int = 32) -> None:
        self.reader, self.size = reader, size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.reads = 0

    def points_world(self, frame: int) -> np.ndarray:
        if frame not in self._cache:
            self.reads += 1
            self._cache[frame] = self.reader.points_world(frame)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(frame)
        return self._cache[frame]

    def viewpoint(self, frame: int) -> np.ndarray | None:
        if not 0 <= frame < self.reader.num_frames:
            return None
        return self.reader.world_from_lidar(frame)[:3, 3]


def scene_path(seed: int, folder: Path | None, tmp: Path) -> Path:
    if folder is not None and (folder / f"s{seed}.h5").exists():
        return folder / f"s{seed}.h5"
    out = tmp / f"s{seed}.h5"
    cli(["sample", str(out), "--frames", "21", "--beams", "64", "--seed", str(seed), "--no-cameras"])
    return out


def evaluate(path: Path, frames_eval: list[int], context: bool, category: str | None,
             target: str = "vehicle.car", min_points: int = 50) -> dict:
    reader = SceneReader.open(path)
    gt = json.loads(path.with_suffix(".gt.json").read_text())
    src = Frames(reader)
    ious, ms, first_ms, moving, cases, cpu = [], [], [], [], [], []
    for f in frames_eval:
        if f >= reader.num_frames:
            continue
        pts = src.points_world(f)
        vp = src.viewpoint(f)
        for t in gt["tracks"]:
            if t["category"] != target:
                continue
            b = next((b for b in t["boxes"] if b["frame"] == f), None)
            if b is None:
                continue
            g = np.r_[b["center"], b["size"], b["yaw"]]
            inside = pts[points_in_boxes(pts, g[None])[0]]
            if len(inside) < min_points:
                continue
            click = inside[np.argmin(((inside - g[:3]) ** 2).sum(axis=1))]
            kw = dict(frame=f, points_world_of=src.points_world, viewpoint_of=src.viewpoint) if context else {}
            reads = src.reads
            t0, c0 = time.perf_counter(), time.thread_time()
            box = None
            try:
                res = fit_at_point(pts, click, vp, category, **kw)
                box = res.box
                iou = float(bev_iou_pairs(res.box[None], g[None])[0])
            except Exception:  # a failed fit counts as a miss
                iou = 0.0
            dt = (time.perf_counter() - t0) * 1e3
            (first_ms if src.reads > reads else ms).append(dt)
            if src.reads == reads:
                cpu.append((time.thread_time() - c0) * 1e3)
            ious.append(iou)
            moving.append(any(k.endswith(".moving") for k in b.get("attributes", {})))
            cases.append({"scene": path.stem, "frame": f, "track": t["id"], "iou": round(iou, 3),
                          "ms": round(dt, 1), "points": int(len(inside)), "moving": moving[-1],
                          "gt": np.round(g, 3).tolist(), "box": None if box is None else np.round(box, 3).tolist()})
    return {"ious": ious, "ms": ms, "first_ms": first_ms, "moving": moving, "cases": cases, "cpu_ms": cpu}


def report(name: str, key: str, acc: dict) -> dict:
    """Figures of one seed group and mode; prints one line."""
    iou = np.array(acc["ious"])
    mov = np.array(acc["moving"], dtype=bool)
    fig = {"cases": len(iou), "frac_iou_ge_0.8": round(float((iou >= 0.8).mean()), 3),
           "mean_iou": round(float(iou.mean()), 3),
           "moving_cases": int(mov.sum()),
           "moving_frac_ge_0.8": round(float((iou[mov] >= 0.8).mean()), 3) if mov.any() else None,
           "ms_median": round(float(np.median(acc["ms"])), 1) if acc["ms"] else None,
           "ms_p95": round(float(np.percentile(acc["ms"], 95)), 1) if acc["ms"] else None,
           "ms_max": round(float(np.max(acc["ms"])), 1) if acc["ms"] else None,
           # CPU time of the same fits (the fitting thread's): less sensitive to other jobs on a shared machine
           "cpu_ms_median": round(float(np.median(acc["cpu_ms"])), 1) if acc["cpu_ms"] else None,
           "cpu_ms_p95": round(float(np.percentile(acc["cpu_ms"], 95)), 1) if acc["cpu_ms"] else None,
           "cpu_ms_max": round(float(np.max(acc["cpu_ms"])), 1) if acc["cpu_ms"] else None,
           "first_fit_ms_median": round(float(np.median(acc["first_ms"])), 1) if acc["first_ms"] else None}
    print(f"{name:18s} {key:22s} cases {fig['cases']:4d}  IoU>=0.8 {fig['frac_iou_ge_0.8']:.1%}  "
          f"mean {fig['mean_iou']:.3f}  moving {fig['moving_frac_ge_0.8']} ({fig['moving_cases']})  "
          f"ms median {fig['ms_median']} p95 {fig['ms_p95']} max {fig['ms_max']} (cpu median {fig['cpu_ms_median']} p95 {fig['cpu_ms_p95']} max {fig['cpu_ms_max']}) first {fig['first_fit_ms_median']}", flush=True)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=Path, default=None, help="folder with s<seed>.h5 scenes (21 frames, 64 beams)")
    ap.add_argument("--frames-eval", type=int, nargs="+", default=[0, 10, 20])
    ap.add_argument("--modes", nargs="+", default=["single", "context"], choices=["single", "context"])
    ap.add_argument("--no-category-modes", nargs="*", default=["context"], choices=["single", "context"])
    ap.add_argument("--groups", nargs="*", default=list(GROUPS))
    ap.add_argument("--seeds", type=int, nargs="+", help="evaluate these seeds as one group instead (e.g. unseen ones)")
    ap.add_argument("--category", default="vehicle.car", help="ground-truth category evaluated (the issue's target: cars)")
    ap.add_argument("--min-points", type=int, default=50, help="objects with fewer LiDAR points are left out")
    ap.add_argument("--dump", type=Path, help="write every case (scene, frame, track, IoU, ms, boxes) to this JSON file")
    a = ap.parse_args()
    out: dict = {"frames": a.frames_eval, "groups": {}}
    pooled: dict = {}
    dumped: list = []
    with tempfile.TemporaryDirectory() as tmp:
        if a.seeds:
            GROUPS["seeds " + ",".join(map(str, a.seeds))] = a.seeds
            a.groups = ["seeds " + ",".join(map(str, a.seeds))]
        for name in a.groups:
            row: dict = {}
            for mode in a.modes:
                for category in (a.category, None):
                    if category is None and mode not in a.no_category_modes:
                        continue
                    key = mode if category else f"{mode}/no-category"
                    acc: dict = {"ious": [], "ms": [], "first_ms": [], "moving": [], "cases": [], "cpu_ms": []}
                    for seed in GROUPS[name]:
                        r = evaluate(scene_path(seed, a.scenes, Path(tmp)), a.frames_eval, mode == "context", category,
                                     a.category, a.min_points)
                        for k in acc:
                            acc[k] += r[k]
                    if name.startswith("held-out"):
                        into = pooled.setdefault(key, {k: [] for k in acc})
                        for k in acc:
                            into[k] += acc[k]
                    row[key] = report(name, key, acc)
                    dumped += [dict(c, group=name, mode=key) for c in acc["cases"]]
            out["groups"][name] = row
    if len([n for n in a.groups if n.startswith("held-out")]) > 1:
        out["groups"]["held-out, all"] = {key: report("held-out, all", key, acc) for key, acc in pooled.items()}
    if a.dump:
        a.dump.write_text(json.dumps(dumped))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
