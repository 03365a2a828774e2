"""Pre-labeling throughput: frames/s with 1 and 2 local workers and with the Ray executor.

Workload: the real batch pre-labeler (``lidarlabel.prelabel.batch.prelabel_scene``,
``geometric`` detector, tracking, refinement, document write) on synthetic
``lidarlabel sample`` street scenes (no cameras: the pre-labeler reads only
LiDAR). Each configuration labels the same scenes into its own folder; wall
time covers the whole batch. Ray is measured twice: ``cold`` includes starting
worker processes and importing lidarlabel in them (``ray.init`` itself is
reported separately), ``warm`` reuses those workers, as a long batch does.
CPU seconds per frame are measured in-process with the default BLAS thread
pool and in a subprocess with one BLAS/OpenMP thread (what a 1-CPU Ray task
gets: Ray sets ``OMP_NUM_THREADS`` to the task's CPUs).

    .venv/bin/python bench/prelabel_scale.py [--scenes 6] [--frames 10] [--beams 64]

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_scenes(folder: Path, n: int, frames: int, beams: int, seed: int) -> list[Path]:
    """``n`` synthetic scenes (seeds seed..seed+n-1), generated once and reused from ``folder``."""
    from lidarlabel.cli import main

    paths = []
    for k in range(n):
        p = folder / f"scene_s{seed + k}_f{frames}_b{beams}.h5"
        if not p.is_file():
            code = main(["sample", str(p), "--frames", str(frames), "--beams", str(beams),
                         "--no-cameras", "--seed", str(seed + k)])
            if code != 0:
                raise SystemExit(f"lidarlabel sample failed for {p}")
        paths.append(p)
    return paths


def _tasks(scenes: list[Path], out: Path) -> list:
    from lidarlabel.prelabel.batch import output_path

    try:
        from lidarlabel.prelabel.executors import SceneTask
    except ImportError:  # executors module not there yet: the same fields
        from dataclasses import dataclass, field

        @dataclass(frozen=True)
        class SceneTask:  # type: ignore[no-redef]
            scene: str
            out: str
            detector: str = "geometric"
            options: dict = field(default_factory=dict)

    out.mkdir(parents=True, exist_ok=True)
    return [SceneTask(str(s), str(output_path(s, out))) for s in scenes]


def run_local(scenes: list[Path], out: Path, workers: int) -> tuple[float, int, str, float]:
    """Wall seconds, frames labelled, which local executor ran, CPU seconds of this process."""
    tasks = _tasks(scenes, out)
    try:
        from lidarlabel.prelabel.executors import LocalExecutor

        executor, kind = LocalExecutor(workers), "lidarlabel.prelabel.executors.LocalExecutor"
        c0, t0 = time.process_time(), time.perf_counter()
        results = list(executor.run(tasks))
    except ImportError:
        import concurrent.futures as cf

        from lidarlabel.prelabel.batch import prelabel_scene

        kind = "concurrent.futures.ProcessPoolExecutor over prelabel_scene"
        c0, t0 = time.process_time(), time.perf_counter()
        if workers == 1:
            results = [prelabel_scene(t.scene, t.out) for t in tasks]
        else:
            with cf.ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(prelabel_scene, [t.scene for t in tasks], [t.out for t in tasks]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    bad = [r.error for r in results if not r.ok]
    if bad:
        raise SystemExit(f"pre-labeling failed: {bad[0]}")
    return wall, sum(r.frames for r in results), kind, cpu


_CPU_PROBE = """
import json, sys, time
from lidarlabel.prelabel.batch import prelabel_scene
c = time.process_time()
frames = sum(prelabel_scene(s, o).frames for s, o in zip(sys.argv[1::2], sys.argv[2::2]))
print(json.dumps({"cpu_s": time.process_time() - c, "frames": frames}))
"""


def cpu_single_thread(scenes: list[Path], out: Path) -> float:
    """CPU s per frame with BLAS/OpenMP pools of one thread, as a 1-CPU Ray task runs (OMP_NUM_THREADS=1)."""
    import subprocess

    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    argv = [a for s in scenes for a in (str(s), str(out / f"{s.stem}.json"))]
    proc = subprocess.run([sys.executable, "-c", _CPU_PROBE, *argv], env=env, capture_output=True, text=True,
                          check=True)
    fig = json.loads(proc.stdout.strip().splitlines()[-1])
    return fig["cpu_s"] / fig["frames"]


def run_ray(scenes: list[Path], out: Path, cpus: int) -> dict:
    """Ray figures: init seconds, cold and warm wall seconds, frames."""
    import ray

    from lidarlabel.prelabel.ray_executor import RayExecutor

    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 * 1024 * 1024)
    init_s = time.perf_counter() - t0
    figures = {"init_s": round(init_s, 2)}
    try:
        with RayExecutor(num_cpus_per_task=1) as ex:
            for label in ("cold", "warm"):
                tasks = _tasks(scenes, out / label)
                t0 = time.perf_counter()
                results = list(ex.run(tasks))
                wall = time.perf_counter() - t0
                bad = [r.error for r in results if not r.ok]
                if bad:
                    raise SystemExit(f"pre-labeling on Ray failed: {bad[0]}")
                frames = sum(r.frames for r in results)
                figures[label] = {"wall_s": round(wall, 2), "frames": frames,
                                  "frames_per_s": round(frames / wall, 2)}
    finally:
        ray.shutdown()
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--beams", type=int, default=64, choices=(32, 64, 128))
    ap.add_argument("--seed", type=int, default=100, help="first scene seed (not tuned: any works)")
    ap.add_argument("--scene-dir", type=Path, default=None,
                    help="keep generated scenes here and reuse them (default: a temporary folder)")
    ap.add_argument("--scenes-from", type=Path, nargs="+", default=None, metavar="SCENE.h5",
                    help="measure these existing scenes (e.g. imported real data) instead of generating")
    args = ap.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lidarlabel-bench-") as tmp:
        tmp = Path(tmp)
        scene_dir = args.scene_dir or tmp / "scenes"
        scene_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        from lidarlabel.io.scene import SceneReader

        if args.scenes_from:
            scenes, source = list(args.scenes_from), "given scene files"
            with SceneReader.open(scenes[0]) as r:
                args.frames, args.beams = r.num_frames, None
        else:
            scenes, source = make_scenes(scene_dir, args.scenes, args.frames, args.beams, args.seed), \
                "lidarlabel sample scenes"
        print(f"{len(scenes)} scenes x {args.frames} frames ({source}, ready in {time.perf_counter() - t0:.1f} s)")
        with SceneReader.open(scenes[0]) as r:
            pts = r.num_points(0)
        result: dict = {"bench": "prelabel_scale", "workload": f"prelabel_scene(geometric) on {source}",
                        "scene_files": [str(s) for s in scenes] if args.scenes_from else None,
                        "scenes": len(scenes), "frames_per_scene": args.frames, "beams": args.beams,
                        "points_per_frame": pts, "cpu_count": os.cpu_count(),
                        "loadavg_before": [round(x, 2) for x in load_before]}
        for workers in (1, 2):
            wall, frames, kind, cpu = run_local(scenes, tmp / f"local{workers}", workers)
            fps = frames / wall
            result[f"local_{workers}"] = {"wall_s": round(wall, 2), "frames": frames,
                                          "frames_per_s": round(fps, 2),
                                          "frames_per_s_per_worker": round(fps / workers, 2)}
            if workers == 1:  # in-process: CPU time is what one unshared core would need
                import resource

                result["cpu_s_per_frame"] = round(cpu / frames, 4)
                result["frames_per_cpu_s"] = round(frames / cpu, 2)
                # upper bound of one scene task's memory (this process also holds the bench itself)
                result["peak_rss_mb_1_worker"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            result["local_executor"] = kind
            print(f"local, {workers} worker(s): {frames} frames in {wall:.2f} s = {fps:.2f} frames/s")
        single = cpu_single_thread(scenes, tmp / "single")
        result["cpu_s_per_frame_single_thread"] = round(single, 4)
        print(f"CPU per frame: {result['cpu_s_per_frame']:.4f} s (default BLAS threads), "
              f"{single:.4f} s (one thread, as in a 1-CPU Ray task)")
        try:
            ray_fig = run_ray(scenes, tmp / "ray", cpus=2)
        except ImportError:
            ray_fig = {"error": "ray not installed"}
        result["ray_2cpu"] = ray_fig
        if "warm" in ray_fig:
            print(f"ray, 2 CPUs: init {ray_fig['init_s']} s; cold {ray_fig['cold']['frames_per_s']} frames/s, "
                  f"warm {ray_fig['warm']['frames_per_s']} frames/s")
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print("note: the machine is shared (see loadavg); figures are pessimistic")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
