"""Helpers shared by the end-to-end tests (tests/test_e2e_*.py); no tests here.

The e2e tests drive the ``lidarlabel`` command the way a user does (in-process
through ``lidarlabel.cli.main`` where the exit code and output are all that
matter, in a subprocess where a crash, a signal or a traceback must be seen).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lidarlabel.core.boxes import yaw_difference
from lidarlabel.core.transforms import invert_pose, transform_points, yaw_of
from lidarlabel.io.labels import load_document
from lidarlabel.io.scene import SceneReader

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT.parent / "shared" / "tools" / "check_label_document.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m lidarlabel.cli ARGS`` in a subprocess; returns the completed process."""
    cmd = [sys.executable, "-m", "lidarlabel.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT)


def one_json(stdout: str) -> dict:
    """Parse stdout that must hold exactly one JSON object (and nothing else)."""
    obj = json.loads(stdout)
    assert isinstance(obj, dict), f"expected one JSON object on stdout, got {type(obj).__name__}"
    return obj


def assert_one_line_error(rc: int, stderr: str, names: Sequence[str | Path]) -> None:
    """Exit 1, no traceback, and the last stderr line names every path in ``names``."""
    assert rc == 1, f"exit {rc}, expected 1; stderr: {stderr[-800:]}"
    assert "Traceback" not in stderr, stderr[-1500:]
    lines = [ln for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
    assert lines, "no error message on stderr"
    msg = lines[-1]
    assert "error" in msg, msg
    for n in names:
        assert Path(n).name in msg, f"message does not name {Path(n).name}: {msg}"


def check_document(path: Path) -> None:
    """The shared contract checker accepts the label document at ``path``."""
    r = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def files_under(folder: Path) -> list[Path]:
    """Every file (hidden ones included) below ``folder``; [] when it does not exist."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def box_errors(ref_path: Path, new_path: Path, frames: Sequence[int] | None = None) -> dict:
    """Largest centre (m), size (m) and yaw (rad) error of ``new`` against ``ref``, world frame.

    Boxes are paired per frame by nearest centre (track ids may change in an
    export/import round trip); a pair farther than 0.5 m counts as unmatched.
    Returns also the box counts and the category pairs (ref, new) seen.
    """
    a, b = load_document(ref_path), load_document(new_path)
    cat_a = {t.id: t.category for t in a.tracks.values()}
    cat_b = {t.id: t.category for t in b.tracks.values()}
    out = {"center": 0.0, "size": 0.0, "yaw": 0.0, "ref": 0, "new": 0, "unmatched": 0, "categories": set()}
    for f in a.frames() if frames is None else frames:
        ia, boxes_a = a.frame_boxes(f)
        ib, boxes_b = b.frame_boxes(f)
        out["ref"] += len(boxes_a)
        out["new"] += len(boxes_b)
        for k in range(len(boxes_a)):
            if len(boxes_b) == 0:
                out["unmatched"] += 1
                continue
            d = np.linalg.norm(boxes_b[:, :3] - boxes_a[k, :3], axis=1)
            j = int(np.argmin(d))
            if d[j] > 0.5:
                out["unmatched"] += 1
                continue
            out["center"] = max(out["center"], float(d[j]))
            out["size"] = max(out["size"], float(np.abs(boxes_b[j, 3:6] - boxes_a[k, 3:6]).max()))
            out["yaw"] = max(out["yaw"], float(abs(yaw_difference(boxes_b[j, 6], boxes_a[k, 6]))))
            out["categories"].add((cat_a[ia[k]], cat_b[ib[j]]))
    return out


def lidar_frame_errors(ref_path: Path, scene_path: Path, new_path: Path, frame_ids: Sequence[int]) -> dict:
    """Errors of boxes imported in per-frame LiDAR frames (KITTI) against world boxes.

    Frame k of ``new`` is frame ``frame_ids[k]`` of the scene; every new box is
    paired with the nearest reference box moved into that frame's LiDAR frame.
    """
    a, b = load_document(ref_path), load_document(new_path)
    reader = SceneReader.open(scene_path)
    out = {"center": 0.0, "size": 0.0, "yaw": 0.0, "n": 0}
    try:
        for k, f in enumerate(frame_ids):
            lidar_from_world = invert_pose(reader.world_from_lidar(f))
            _, ref = a.frame_boxes(f)
            _, new = b.frame_boxes(k)
            if len(new) == 0:
                continue
            centres = transform_points(lidar_from_world, ref[:, :3])
            yaws = ref[:, 6] + yaw_of(lidar_from_world)
            for j in range(len(new)):
                d = np.linalg.norm(centres - new[j, :3], axis=1)
                i = int(np.argmin(d))
                out["n"] += 1
                out["center"] = max(out["center"], float(d[i]))
                out["size"] = max(out["size"], float(np.abs(ref[i, 3:6] - new[j, 3:6]).max()))
                out["yaw"] = max(out["yaw"], float(abs(yaw_difference(yaws[i], new[j, 6]))))
    finally:
        reader.close()
    return out


def interrupt_when(cmd_args: Sequence[str | Path], ready: Callable[[], bool], timeout: float = 120) -> tuple[int, str, bool]:
    """Start the CLI, send SIGINT (Ctrl-C) once ``ready()`` is true; returns (exit code, stderr, interrupted).

    ``interrupted`` is False when the command finished before ``ready()`` became
    true (then nothing was tested).
    """
    cmd = [sys.executable, "-m", "lidarlabel.cli", *map(str, cmd_args)]
    # A shell's background jobs ignore SIGINT and children inherit that: restore it.
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    interrupted = False
    while time.monotonic() - t0 < timeout and p.poll() is None:
        if ready():
            p.send_signal(signal.SIGINT)
            interrupted = True
            break
        time.sleep(0.02)
    _, err = p.communicate(timeout=timeout)
    return p.returncode, err, interrupted
