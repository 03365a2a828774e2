"""Write a simulated scene (HDF5) and its exact ground truth (label document)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lidarlabel.core.boxes import count_points_in_boxes
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.io.labels import save_document
from lidarlabel.io.scene import SceneWriter, quantise_points
from lidarlabel.sim.models import CATEGORY
from lidarlabel.sim.scene import Frame, SimConfig, Simulation

JPEG_QUALITY = 88


@dataclass
class GenerationStats:
    frames: int
    seconds: float
    points_per_frame: float
    tracks: int
    boxes: int
    tracks_by_category: dict[str, int]
    layout: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def gt_path_for(scene_path: str | Path) -> Path:
    """``OUT.h5`` -> ``OUT.gt.json`` (any other suffix: ``OUT.<suffix>.gt.json``)."""
    p = Path(scene_path)
    return p.with_suffix(".gt.json") if p.suffix == ".h5" else p.with_name(p.name + ".gt.json")


def box_attributes(sim: Simulation, agent_index: int, frame: int) -> dict[str, bool]:
    """The nuScenes attribute of an agent in one frame, as ``{name: True}`` (cones: none)."""
    a = sim.agents[agent_index]
    if a.kind in ("cyclist", "motorcyclist"):
        return {"cycle.with_rider": True}
    if a.kind == "cone":
        return {}
    if a.kind == "pedestrian":
        return {"pedestrian.moving" if a.speed[frame] > 0.2 else "pedestrian.standing": True}
    if a.parked:
        return {"vehicle.parked": True}
    return {"vehicle.moving" if a.speed[frame] > 0.3 else "vehicle.stopped": True}


def frame_boxes(sim: Simulation, frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, 7) boxes, (A,) num_lidar_pts and (A,) bool "labelled in this frame".

    An agent is labelled when at least one LiDAR point lies in its box or its
    centre is within ``config.gt_range`` metres (horizontally) of the LiDAR.
    """
    boxes = sim.boxes(frame.index)
    counts = count_points_in_boxes(sim.points_world(frame), boxes)
    lidar_xy = sim.world_from_lidar(frame.index)[:2, 3]
    near = np.linalg.norm(boxes[:, :2] - lidar_xy, axis=1) <= sim.config.gt_range
    return boxes, counts, near | (counts > 0)


def encode_jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def generate(
    out_path: str | Path,
    config: SimConfig,
    progress: Callable[[int], None] | None = None,
    point_precision: float | None = 0.001,
) -> GenerationStats:
    """Simulate ``config`` and write ``out_path`` (scene) and its ``.gt.json``.

    Points are stored rounded to ``point_precision`` (1/1024 m by default, far
    below the 2 cm range noise; None = lossless), and ``num_lidar_pts`` is
    counted on the rounded values, so it equals a count on the stored points.

    Both files appear only when everything succeeded (atomic writes); an
    exception or Ctrl-C leaves no partial output. ``progress(k)`` is called
    after each frame.
    """
    t0 = time.perf_counter()
    out_path = Path(out_path)
    sim = Simulation(config)
    scene_id = f"sim-{config.seed}-{sim.layout.kind}"
    doc = LabelDocument.new(scene_id, source="sim", author="lidarlabel.sim")
    tracks = {
        a.id: Track(a.id, CATEGORY[a.kind], {}, {}) for a in sim.agents
    }
    n_points = 0
    fields = ("x", "y", "z", "intensity", "ring")
    with SceneWriter(out_path, scene_id, sim.lidar.ego_from_lidar(), sim.cameras,
                     point_fields=fields, source="sim", point_precision=point_precision) as writer:
        for i in range(config.frames):
            fr = sim.frame(i, images=config.cameras)
            if point_precision is not None:
                fr.points = quantise_points(fr.points, point_precision, fields)
            images = {name: encode_jpeg(img) for name, img in fr.images.items()}
            writer.add_frame(fr.timestamp_us, fr.ego_pose, fr.points, images)
            n_points += len(fr.points)
            boxes, counts, labelled = frame_boxes(sim, fr)
            for k in np.flatnonzero(labelled):
                a = sim.agents[k]
                b = boxes[k]
                tracks[a.id].boxes[i] = Box(
                    frame=i, timestamp_us=fr.timestamp_us,
                    center=(float(b[0]), float(b[1]), float(b[2])),
                    size=(float(b[3]), float(b[4]), float(b[5])), yaw=float(b[6]),
                    source="sim", score=None, keyframe=True,
                    attributes=box_attributes(sim, int(k), i), num_lidar_pts=int(counts[k]),
                )
            if progress is not None:
                progress(1)
    for tid, tr in tracks.items():
        if tr.boxes:
            doc.tracks[tid] = tr
    # the ground truth only once the scene is in place, and never without it
    try:
        save_document(doc, gt_path_for(out_path))
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    by_cat: dict[str, int] = {}
    for tr in doc.tracks.values():
        by_cat[tr.category] = by_cat.get(tr.category, 0) + 1
    return GenerationStats(
        frames=config.frames, seconds=time.perf_counter() - t0,
        points_per_frame=n_points / config.frames, tracks=len(doc.tracks),
        boxes=sum(len(t.boxes) for t in doc.tracks.values()),
        tracks_by_category=dict(sorted(by_cat.items())), layout=sim.layout.kind,
    )


def stats_json(stats: GenerationStats) -> str:
    return json.dumps(stats.to_dict())
