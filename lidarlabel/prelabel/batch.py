"""Pre-label one scene: detect every frame, track, refine, write one label document.

:func:`prelabel_scene` is a pure function of its arguments (a scene path in, a
document file out) so that any executor (a local process pool now, Ray later;
see :mod:`.executors`) can run it on any worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lidarlabel.core.boxes import count_points_in_boxes
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.prelabel.detector import Detector, FrameData, make_detector
from lidarlabel.prelabel.offline import refine_scene
from lidarlabel.prelabel.refine import RefineOptions
from lidarlabel.prelabel.tracker import Tracker, TrackerOptions

__all__ = ["SceneResult", "output_path", "prelabel_document", "prelabel_scene", "short_scene_options", "up_to_date"]

AUTHOR = "lidarlabel-prelabel"


@dataclass
class SceneResult:
    """What happened to one scene (JSON-ready with :meth:`to_dict`)."""

    scene: str
    out: str
    ok: bool
    frames: int = 0
    tracks: int = 0
    boxes: int = 0
    seconds: float = 0.0
    skipped: bool = False
    error: str | None = None
    stage_ms_per_frame: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def output_path(scene_path: str | Path, out_dir: str | Path) -> Path:
    """``OUT_DIR/<scene file stem>.json``."""
    return Path(out_dir) / f"{Path(scene_path).stem}.json"


def up_to_date(scene_path: str | Path, out_path: str | Path) -> bool:
    """True when ``out_path`` exists and is newer than the scene file."""
    out, scene = Path(out_path), Path(scene_path)
    return out.is_file() and scene.is_file() and out.stat().st_mtime >= scene.stat().st_mtime


def short_scene_options(options: dict[str, Any], num_frames: int, reclassify: bool = True,
                        ) -> tuple[TrackerOptions, RefineOptions]:
    """Tracker and refinement options for a scene of ``num_frames`` frames.

    A track can never be longer than its scene: the minimum number of hits
    that confirms a track and the minimum observations the refinement keeps
    are capped at the scene length, so a 1-frame scene (a KITTI object frame,
    one nuScenes sweep) keeps its detections as 1-box tracks.
    """
    tracker_opts = TrackerOptions(**options.get("tracker", {}))
    refine_kw = dict(options.get("refine", {}))
    refine_kw.setdefault("reclassify", reclassify)  # other detectors know their classes
    refine_opts = RefineOptions(**refine_kw)
    n = max(1, int(num_frames))
    tracker_opts.min_hits = min(tracker_opts.min_hits, n)
    refine_opts.min_observations = min(refine_opts.min_observations, n)
    return tracker_opts, refine_opts


def prelabel_document(
    scene_path: str | Path, detector: str | Detector = "geometric", options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[LabelDocument, dict[str, float]]:
    """Pre-label a scene in memory: the document (world frame) and seconds per stage.

    ``detector``: a name (built with ``options["detector"]``) or a ready
    :class:`~lidarlabel.prelabel.detector.Detector` (e.g. cached per worker; its
    ``timings`` are read as they are). ``options``: ``{"detector": {...},
    "tracker": {...}, "refine": {...}}`` keyword options of each stage.
    ``progress(done, total)`` is called after each frame.
    """
    from lidarlabel.io.scene import SceneReader

    opts = options or {}
    det = make_detector(detector, **opts.get("detector", {})) if isinstance(detector, str) else detector
    start_timings = dict(det.timings)
    timings: dict[str, float] = {"read": 0.0, "track": 0.0, "refine": 0.0, "count": 0.0}
    with SceneReader.open(scene_path) as scene:
        F = scene.num_frames
        tracker_opts, refine_opts = short_scene_options(opts, F, reclassify=det.name == "geometric")
        tracker = Tracker(tracker_opts)
        nonground: dict[int, np.ndarray] = {}
        for i in range(F):
            t0 = time.perf_counter()
            feats = scene.points(i)
            wfl = scene.world_from_lidar(i)
            pts = feats[:, :3].astype(float) @ wfl[:3, :3].T + wfl[:3, 3]
            frame = FrameData(i, int(scene.timestamps_us[i]), pts, scene.ego_poses[i], wfl,
                              feats, scene.point_fields)
            t1 = time.perf_counter()
            d = det.detect(frame)
            t2 = time.perf_counter()
            tracker.step(i, frame.timestamp_us, d, frame.sensor_origin)
            if "nonground" in d.extra:
                nonground[i] = d.extra["nonground"]
            t3 = time.perf_counter()
            timings["read"] += t1 - t0
            timings["track"] += t3 - t2
            if progress:
                progress(i + 1, F)
        t0 = time.perf_counter()
        refined = refine_scene(tracker.finish(), scene.timestamps_us, refine_opts, nonground or None)
        del nonground
        timings["refine"] += time.perf_counter() - t0
        doc = LabelDocument.new(scene.scene_id, source="prelabel", author=f"{AUTHOR}/{det.name}")
        t0 = time.perf_counter()
        per_frame: dict[int, list[tuple[str, np.ndarray]]] = {}
        for r in refined:
            for f, b in r.boxes.items():
                per_frame.setdefault(f, []).append((r.id, b))
        counts: dict[tuple[str, int], int] = {}
        for f, items in per_frame.items():
            n = count_points_in_boxes(scene.points_world(f), np.array([b for _, b in items]))
            for (tid, _), c in zip(items, n):
                counts[(tid, f)] = int(c)
        timings["count"] += time.perf_counter() - t0
        for r in refined:
            boxes = {}
            for f, b in sorted(r.boxes.items()):
                boxes[f] = Box(f, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0,
                               timestamp_us=int(scene.timestamps_us[f]), source="prelabel",
                               score=round(float(r.scores[f]), 4), keyframe=False,
                               num_lidar_pts=counts.get((r.id, f), 0)).with_array(b)
            doc.tracks[r.id] = Track(r.id, r.category, {}, boxes)
    for k, v in det.timings.items():
        timings[k] = v - start_timings.get(k, 0.0)
    return doc, timings


def prelabel_scene(
    scene_path: str | Path, out_path: str | Path, detector: str | Detector = "geometric",
    options: dict[str, Any] | None = None, progress: Callable[[int, int], None] | None = None,
) -> SceneResult:
    """Pre-label one scene file and write its document atomically to ``out_path``.

    Never raises for a bad scene: the result carries ``ok=False`` and the message.
    """
    from lidarlabel.errors import LidarLabelError
    from lidarlabel.io.labels import save_document

    t0 = time.perf_counter()
    res = SceneResult(str(scene_path), str(out_path), ok=False)
    try:
        doc, timings = prelabel_document(scene_path, detector, options, progress)
        save_document(doc, out_path)
    except (LidarLabelError, OSError, ValueError) as exc:
        res.error = str(exc) if isinstance(exc, LidarLabelError) else f"{scene_path}: {exc}"
        res.seconds = time.perf_counter() - t0
        return res
    res.ok = True
    res.frames = len(doc.frames()) and max(doc.frames()) + 1
    res.tracks = len(doc.tracks)
    res.boxes = doc.num_boxes()
    res.seconds = time.perf_counter() - t0
    frames = max(1, _frame_count(scene_path))
    res.frames = frames
    res.stage_ms_per_frame = {k: round(1000 * v / frames, 2) for k, v in timings.items()}
    return res


def _frame_count(scene_path: str | Path) -> int:
    from lidarlabel.io.scene import SceneReader

    with SceneReader.open(scene_path) as s:
        return s.num_frames
