"""A summary of a scene for ``lidarlabel info`` and the app's status line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lidarlabel.io.scene import SceneReader

__all__ = ["ground_truth_path", "scene_summary"]


def ground_truth_path(scene_path: str | Path) -> Path:
    """Where ``lidarlabel sample`` puts a scene's ground truth: ``X.h5`` -> ``X.gt.json``."""
    p = Path(scene_path)
    return p.with_name(p.name[: -len(p.suffix)] + ".gt.json" if p.suffix else p.name + ".gt.json")


def scene_summary(scene: SceneReader) -> dict[str, Any]:
    """Frames, duration, points per frame, cameras and the ego path of a scene (JSON-ready)."""
    F = scene.num_frames
    counts = np.array([scene.num_points(i) for i in range(F)], dtype=np.int64)
    ts = scene.timestamps_us
    duration = float((ts[-1] - ts[0]) * 1e-6) if F > 1 else 0.0
    return {
        "path": str(scene.path),
        "scene_id": scene.scene_id,
        "source": scene.source,
        "frames": F,
        "duration_s": round(duration, 6),
        "frame_rate_hz": round((F - 1) / duration, 3) if duration > 0 else None,
        "first_timestamp_us": int(ts[0]) if F else None,
        "lidar": {"name": scene.lidar_name, "fields": list(scene.point_fields)},
        "lidar_points": {
            "min": int(counts.min()) if F else 0,
            "median": float(np.median(counts)) if F else 0.0,
            "max": int(counts.max()) if F else 0,
            "total": int(counts.sum()),
        },
        "cameras": [{"name": c.name, "width": c.width, "height": c.height} for c in scene.cameras],
        "ego_xyz": [[round(float(v), 4) for v in p[:3, 3]] for p in scene.ego_poses],
        "has_ground_truth": ground_truth_path(scene.path).is_file(),
    }
