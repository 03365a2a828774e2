"""Render benchmark of the annotator window (1280 x 800): orbiting, frame stepping, start-up.

Run under a display with GLX (e.g. ``xvfb-run -a .venv/bin/python bench/render.py``).
The clouds are real sweeps of the committed sample scene (64 beams, 3 cameras),
stacked to reach 200k / 1M points. Each orbit step moves the camera and waits until
the 3D view has drawn (glFinish) and swapped the new frame onto the screen.

Prints the figures, and as its LAST line one JSON object with the medians:
orbit_200k_ms, orbit_1m_ms, orbit_1m_lod_ms, frame_step_ms, frame_step_cold_ms, frame_step_full_ms,
startup_s. While the view moves or frames step, the canvas draws an adaptive
subsample first (as many points as fit in ~30 ms at the measured cost) and the
whole cloud 150 ms after it settles; frame_step_full_ms draws the whole cloud at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_scenes" / "sample.h5"
SIZE = (1280, 800)


def _probe_startup(scene: str) -> None:
    """Child process: launch the window and print when the first frame with points was drawn."""
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from lidarlabel.edit.session import EditSession
    from lidarlabel.viewer.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(os.environ["BENCH_TMP"]) / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(EditSession.open(scene, author="bench"), settings)
    w.resize(*SIZE)
    w.show()
    while w.first_frame_time is None:
        app.processEvents()
        time.sleep(0.001)
    print("FIRST_FRAME", flush=True)
    w.shutdown()


class _Swaps:
    """Counts frames the 3D view has put on screen (QOpenGLWindow.frameSwapped)."""

    def __init__(self, canvas) -> None:
        self.n = 0
        canvas.frameSwapped.connect(self._inc)

    def _inc(self) -> None:
        self.n += 1

    def wait_next(self, app, canvas) -> None:
        start = self.n
        canvas.update()
        while self.n == start:
            app.processEvents()


def _orbit(w, app, swaps, n: int, lod: bool) -> list[float]:
    c = w.canvas
    c.finish_each_frame = True
    c.lod_enabled = lod
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.camera.orbit(0.03, 0.0)
        c.moving = lod  # what a mouse drag does, without the settle timer interfering
        swaps.wait_next(app, c)
        times.append((time.perf_counter() - t0) * 1000)
    c.moving = False
    return times


def _step(w, app, swaps, gap_s: float) -> list[float]:
    s = w.session
    times = []
    for _lap in range(2):
        s.set_frame(0)
        w.wait_for_frame()
        app.processEvents()
        for i in range(1, s.num_frames):
            time.sleep(gap_s)  # an annotator looks at a frame before stepping on; prefetch works meanwhile
            t0 = time.perf_counter()
            s.set_frame(i)
            assert w.wait_for_frame(), f"frame {i} did not load"
            w.camera_panel.repaint()  # cameras painted ...
            swaps.wait_next(app, w.canvas)  # ... and the new cloud on screen
            times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default=str(SAMPLE))
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--probe-startup", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    import tempfile

    tmp = tempfile.mkdtemp(prefix="bench_render_")
    os.environ["BENCH_TMP"] = tmp
    if args.probe_startup:
        _probe_startup(args.scene)
        return 0

    # start-up: a fresh process, from launch to the first drawn frame
    startups = []
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, __file__, "--probe-startup", "--scene", args.scene],
                             stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            if line.startswith("FIRST_FRAME"):
                startups.append(time.perf_counter() - t0)
                break
        p.wait()
    print(f"start-up to first drawn frame: {[round(s, 2) for s in startups]} s")

    from OpenGL import GL
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from lidarlabel.edit.session import EditSession
    from lidarlabel.viewer.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
    session = EditSession.open(args.scene, author="bench")
    w = MainWindow(session, settings)
    w.resize(*SIZE)
    w.show()
    assert w.wait_for_frame()
    w.canvas.makeCurrent()
    renderer = GL.glGetString(GL.GL_RENDERER).decode()
    w.canvas.doneCurrent()
    swaps = _Swaps(w.canvas)
    npts = session.scene.num_points(0)
    print(f"renderer: {renderer}; canvas {w.canvas.width()}x{w.canvas.height()} in a {SIZE[0]}x{SIZE[1]} window")

    step_warm = _step(w, app, swaps, gap_s=0.15)
    step_cold = _step(w, app, swaps, gap_s=0.0)
    w.canvas.lod_enabled = False  # the whole cloud at once, no subsample first
    step_full = _step(w, app, swaps, gap_s=0.15)
    w.canvas.lod_enabled = True
    print(f"frame step ({npts} points, {len(session.scene.cameras)} cameras): "
          f"median {np.median(step_warm):.1f} ms with 150 ms between steps, "
          f"{np.median(step_cold):.1f} ms stepping back-to-back (first drawn frame: the adaptive subsample); "
          f"{np.median(step_full):.1f} ms with the whole cloud drawn at once")

    frames = [w.frames.get(i) for i in range(session.num_frames)]
    cloud = np.concatenate([f.points for f in frames])
    cols = np.concatenate([w.view3d.colors_for(f) for f in frames])
    order = np.random.default_rng(0).permutation(len(cloud))
    cloud, cols = cloud[order], cols[order]
    reps = np.random.default_rng(1)
    while len(cloud) < 1_000_000:  # small scenes: jittered copies
        cloud = np.concatenate([cloud, cloud + reps.normal(0, 0.05, cloud.shape).astype(np.float32)])
        cols = np.concatenate([cols, cols])
    w.camera_panel.hide()  # orbiting repaints the 3D view only
    res = {}
    for key, n, lod in (("orbit_200k_ms", 200_000, False), ("orbit_1m_ms", 1_000_000, False),
                        ("orbit_1m_lod_ms", 1_000_000, True)):
        w.canvas.set_points(cloud[:n], cols[:n])
        _orbit(w, app, swaps, 3, lod)  # upload + warm-up
        t = _orbit(w, app, swaps, args.repeats, lod)
        res[key] = round(float(np.median(t)), 1)
        print(f"{key}: median {res[key]} ms, p90 {np.percentile(t, 90):.1f} ms "
              f"(drawn {w.canvas.last_drawn_points if lod else n} points, LOD budget {w.canvas.lod_budget})")
    res["frame_step_ms"] = round(float(np.median(step_warm)), 1)
    res["frame_step_cold_ms"] = round(float(np.median(step_cold)), 1)
    res["frame_step_full_ms"] = round(float(np.median(step_full)), 1)
    res["startup_s"] = round(float(np.median(startups)), 2)
    res["points_per_frame"] = int(npts)
    res["cameras"] = len(session.scene.cameras)
    res["renderer"] = renderer
    res["load_avg_1m"] = round(os.getloadavg()[0], 2)
    w.shutdown()
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
