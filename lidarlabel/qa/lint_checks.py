"""The numeric checks of ``lidarlabel lint``: motion, size, overlaps, gaps and LiDAR support.

Each function takes the document (and limits or the scene) and returns a list
of :class:`~lidarlabel.qa.lint.Finding`-shaped dicts; :mod:`lidarlabel.qa.lint`
wraps them. All geometry is in the world frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lidarlabel.core.boxes import count_points_in_boxes, iou3d_matrix, yaw_difference
from lidarlabel.core.labels import LabelDocument, Track
from lidarlabel.core.ontology import Ontology
from lidarlabel.qa.lint_limits import limits_for, overlap_allowed

__all__ = [
    "check_gaps", "check_motion", "check_overlaps", "check_points", "check_sizes", "track_times",
]  # fmt: skip

SPEED_WINDOW_S = 0.5
ACCEL_WINDOW_S = 1.0


def _finding(check: str, severity: str, track: Track | None, frame: int | None, message: str,
             **details: Any) -> dict[str, Any]:  # fmt: skip
    return {"check": check, "severity": severity, "track": None if track is None else track.id,
            "frame": frame, "category": None if track is None else track.category,
            "message": message, "details": details}  # fmt: skip


def track_times(track: Track, scene_times_us: np.ndarray | None) -> np.ndarray | None:
    """Seconds of each of the track's boxes in frame order, or None when unknown.

    Box ``timestamp_us`` wins; the scene's frame timestamps fill the gaps.
    """
    out = []
    for f in track.frames():
        ts = track.boxes[f].timestamp_us
        if ts is None and scene_times_us is not None and f < len(scene_times_us):
            ts = int(scene_times_us[f])
        if ts is None:
            return None
        out.append(ts)
    return np.asarray(out, dtype=np.int64) / 1e6


def _forward_pairs(t: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, k) with k the first index at least ``window`` seconds after i."""
    k = np.searchsorted(t, t + window - 1e-9)
    i = np.nonzero(k < len(t))[0]
    return i, k[i]


def _worst(check: str, track: Track, frames: list[int], values: np.ndarray, bad: np.ndarray,
           limit: float, unit: str, what: str) -> list[dict[str, Any]]:  # fmt: skip
    if not bad.any():
        return []
    idx = np.nonzero(bad)[0]
    w = idx[np.argmax(values[idx])]
    return [_finding(
        check, "warning", track, frames[w],
        f"{what} {values[w]:.1f} {unit} exceeds the {track.category} limit {limit:g} {unit} "
        f"({len(idx)} frame(s))", value=float(values[w]), limit=limit,
        frames=sorted({frames[i] for i in idx}))]  # fmt: skip


def check_motion(doc: LabelDocument, limits: dict, scene_times_us: np.ndarray | None = None
                 ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """Speed, acceleration and yaw rate against the category limits.

    Returns (findings, number of tracks skipped for lack of timestamps).
    """
    out: list[dict[str, Any]] = []
    skipped = 0
    for track in doc.tracks.values():
        if len(track.boxes) < 2:
            continue
        t = track_times(track, scene_times_us)
        if t is None:
            skipped += 1
            continue
        frames = track.frames()
        if np.any(np.diff(t) <= 0):
            bad = int(np.nonzero(np.diff(t) <= 0)[0][0]) + 1
            out.append(_finding("timestamps", "error", track, frames[bad],
                                "box timestamps do not increase with the frame index"))
            continue
        lim = limits_for(track.category, limits)
        geom = np.array([track.boxes[f].as_array() for f in frames])
        i, k = _forward_pairs(t, SPEED_WINDOW_S)
        if len(i) == 0:
            continue
        jit = float(lim.get("position_jitter_m") or 0.0)
        yaw_jit = float(lim.get("yaw_jitter_deg") or 0.0)
        dt = t[k] - t[i]
        disp = geom[k, :2] - geom[i, :2]
        vel = disp / dt[:, None]
        speed = np.linalg.norm(vel, axis=1)
        at = [frames[j] for j in k]  # report at the later box of each window
        if lim.get("max_speed_mps") is not None:
            # a box may sit jit metres off at either end of the window without being a fault
            bad = (np.linalg.norm(disp, axis=1) - jit) / dt > lim["max_speed_mps"]
            out += _worst("speed", track, at, speed, bad, lim["max_speed_mps"], "m/s", "speed")
        if lim.get("max_yaw_rate_dps") is not None:
            dyaw = np.degrees(np.abs(yaw_difference(geom[k, 6], geom[i, 6])))
            bad = (dyaw - yaw_jit) / dt > lim["max_yaw_rate_dps"]
            out += _worst("yaw_rate", track, at, dyaw / dt, bad, lim["max_yaw_rate_dps"], "deg/s",
                          "yaw rate")
        if lim.get("max_accel_mps2") is not None and len(i) >= 2:
            tm = 0.5 * (t[i] + t[k])
            a_i, a_k = _forward_pairs(tm, ACCEL_WINDOW_S)
            if len(a_i):
                dv = np.linalg.norm(vel[a_k] - vel[a_i], axis=1)
                dta = tm[a_k] - tm[a_i]
                # each velocity may be off by 2 jit / its window
                slack = 2 * jit / dt[a_k] + 2 * jit / dt[a_i]
                bad = (dv - slack) / dta > lim["max_accel_mps2"]
                out += _worst("acceleration", track, [at[j] for j in a_k], dv / dta, bad,
                              lim["max_accel_mps2"], "m/s^2", "acceleration")
    return out, skipped


def check_sizes(doc: LabelDocument, limits: dict, ontology: Ontology) -> list[dict[str, Any]]:
    """Size drifting within a track, and sizes far from the category's default size."""
    out: list[dict[str, Any]] = []
    for track in doc.tracks.values():
        frames = track.frames()
        if not frames:
            continue
        lim = limits_for(track.category, limits)
        size = np.array([track.boxes[f].size for f in frames])
        if len(frames) >= 2 and lim.get("size_drift_m") is not None:
            med = np.median(size, axis=0)
            allowed = np.maximum(lim["size_drift_m"], (lim.get("size_drift_frac") or 0) * med)
            ratio = (np.abs(size - med) / allowed).max(axis=1)
            bad = np.nonzero(ratio > 1)[0]
            if len(bad):
                w = bad[np.argmax(ratio[bad])]
                dev = size[w] - med
                out.append(_finding(
                    "size_drift", "warning", track, frames[w],
                    f"size {_fmt(size[w])} differs from the track's median {_fmt(med)} by up to "
                    f"{np.abs(dev).max():.2f} m ({len(bad)} frame(s))",
                    median=med.tolist(), size=size[w].tolist(), frames=[frames[j] for j in bad]))
        rng = lim.get("size_range_frac")
        if rng is not None and track.category in ontology:
            default = np.asarray(ontology.default_size(track.category))
            rel = size / default
            bad = np.nonzero(((rel < rng[0]) | (rel > rng[1])).any(axis=1))[0]
            if len(bad):
                w = bad[np.argmax(np.abs(np.log(rel[bad])).max(axis=1))]
                out.append(_finding(
                    "size_implausible", "warning", track, frames[w],
                    f"size {_fmt(size[w])} is outside {rng[0]:g}-{rng[1]:g} x the {track.category} "
                    f"default {_fmt(default)} ({len(bad)} frame(s))",
                    size=size[w].tolist(), default=default.tolist(), frames=[frames[j] for j in bad]))
    return out


def _fmt(v: np.ndarray) -> str:
    return "x".join(f"{x:.2f}" for x in v) + " m"


def check_gaps(doc: LabelDocument) -> list[dict[str, Any]]:
    """A track missing from annotated frames between two of its boxes (vanishes, reappears).

    Frames that hold no box at all are not annotated and are not gaps (keyframe-only labels).
    """
    annotated = np.array(doc.frames(), dtype=np.int64)
    out = []
    for track in doc.tracks.values():
        fr = track.frames()
        for a, b in zip(fr[:-1], fr[1:]):
            if b - a <= 1:
                continue
            missing = int(np.count_nonzero((annotated > a) & (annotated < b)))
            if missing:
                out.append(_finding(
                    "track_gap", "warning", track, b,
                    f"vanishes after frame {a} and reappears in frame {b} "
                    f"({missing} annotated frame(s) without it)",
                    vanished_after=a, missing_frames=missing))
    return out


def check_overlaps(doc: LabelDocument, min_overlap: float = 0.25) -> list[dict[str, Any]]:
    """Pairs of boxes in one frame sharing more than ``min_overlap`` of the smaller box's volume.

    Category pairs in :data:`~lidarlabel.qa.lint_limits.OVERLAP_ALLOWED` are exempt.
    """
    pairs: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for f in doc.frames():
        ids, boxes = doc.frame_boxes(f)
        if len(ids) < 2:
            continue
        iou = iou3d_matrix(boxes, boxes)
        vol = np.prod(boxes[:, 3:6], axis=1)
        ii, jj = np.nonzero(np.triu(iou, 1) > 0)
        if not len(ii):
            continue
        inter = iou[ii, jj] * (vol[ii] + vol[jj]) / (1 + iou[ii, jj])
        frac = inter / np.minimum(vol[ii], vol[jj])
        for a, b, fr in zip(ii[frac > min_overlap], jj[frac > min_overlap], frac[frac > min_overlap]):
            if overlap_allowed(doc.tracks[ids[a]].category, doc.tracks[ids[b]].category):
                continue
            key = tuple(sorted((ids[a], ids[b])))
            pairs.setdefault(key, []).append((f, float(fr)))  # type: ignore[arg-type]
    out = []
    for (a, b), hits in pairs.items():
        f, fr = max(hits, key=lambda h: h[1])
        out.append(_finding(
            "overlap", "warning", doc.tracks[a], f,
            f"overlaps track {b} by {100 * fr:.0f}% of the smaller box ({len(hits)} frame(s))",
            other_track=b, overlap=fr, frames=[h[0] for h in hits]))
    return out


def check_points(doc: LabelDocument, scene: Any, progress: bool = False) -> list[dict[str, Any]]:
    """Boxes with no LiDAR point inside, and boxes in frames the scene does not have.

    ``scene`` is an open :class:`~lidarlabel.io.scene.SceneReader`; ``progress``
    shows a bar on stderr (when it is a terminal) while frames are read.
    """
    from tqdm import tqdm

    out = []
    empty: dict[str, list[int]] = {}
    n = int(scene.num_frames)
    frames = doc.frames()
    for f in tqdm(frames, desc="lint: LiDAR points", unit="frame", disable=None if progress else True,
                  leave=False):
        ids, boxes = doc.frame_boxes(f)
        if f >= n:
            for tid in ids:
                out.append(_finding("frame_out_of_range", "error", doc.tracks[tid], f,
                                    f"box in frame {f}, but the scene has {n} frames (0-{n - 1})"))
            continue
        pts = scene.points_world(f)
        pts = pts[np.isfinite(pts).all(axis=1)]
        counts = count_points_in_boxes(pts, boxes) if len(pts) else np.zeros(len(ids), dtype=int)
        for tid, c in zip(ids, counts):
            if c == 0:
                empty.setdefault(tid, []).append(f)
    for tid, hit in empty.items():
        out.append(_finding("no_lidar_points", "warning", doc.tracks[tid], hit[0],
                            f"no LiDAR point inside the box in {len(hit)} frame(s)", frames=hit))
    return out
