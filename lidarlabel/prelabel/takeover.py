"""Tracks taken over by another vehicle: split where the detected class and the motion change together.

A truck passing a parked car, close enough for the tracker's gate, can take
the car's track over: the track then holds the car's frames, then the
truck's. The offline pass would refine that as one object (a moving truck
that stood still for a while) and the car would be lost. One object keeps
one size class over its life and changes speed only as fast as it can
brake or accelerate, so a run of frames detected as one vehicle class
followed by a run detected as another (car then truck, say), *and* moving at
a clearly different speed, is two objects: the track is cut between the
runs. A class read differently for a while alone (a van read as a car, then
as a truck; a truck read as a car while only its rear was seen) does not cut.
"""

from __future__ import annotations

import numpy as np

from lidarlabel.prelabel.classify import VEHICLES
from lidarlabel.prelabel.tracker import Observation, TrackRecord

__all__ = ["split_takeovers"]


def _velocity(obs: list[Observation]) -> np.ndarray:
    """Least-squares ground-plane velocity (2,) m/s of observations' box centres (world frame)."""
    t = np.array([o.timestamp_us for o in obs], dtype=float) / 1e6
    xy = np.array([o.box[:2] for o in obs], dtype=float)
    t = t - t.mean()
    denom = float(np.sum(t * t))
    return np.zeros(2) if denom <= 0 else (t[:, None] * (xy - xy.mean(axis=0))).sum(axis=0) / denom


def _cut(rec: TrackRecord, min_run: int, min_speed_change: float) -> int | None:
    """Index into ``rec.frames()`` where a second vehicle took the track over, or None.

    A candidate cut is the first frame of a run of ``min_run`` frames of one
    vehicle class that follows a run of ``min_run`` frames of another vehicle
    class (other detections, a person or a partial view read as a cyclist,
    are ignored). It is taken when the vehicle observations before it and
    from it on move at velocities (least squares) differing by more than
    ``min_speed_change`` m/s.
    """
    frames = rec.frames()
    vehicle = [(k, rec.observations[f].detection_class) for k, f in enumerate(frames)
               if rec.observations[f].detection_class in VEHICLES]
    run_start, run_class, run_len, settled = 0, None, 0, None
    for k, cls in vehicle:
        if cls == run_class:
            run_len += 1
        else:
            run_start, run_class, run_len = k, cls, 1
        if run_len != min_run:
            continue
        if settled is not None and settled != cls:
            head = [rec.observations[frames[j]] for j, _ in vehicle if j < run_start]
            tail = [rec.observations[frames[j]] for j, _ in vehicle if j >= run_start]
            if np.hypot(*(_velocity(head) - _velocity(tail))) > min_speed_change:
                return run_start
        settled = cls
    return None


def split_takeovers(records: list[TrackRecord], min_run: int = 3,
                    min_speed_change: float = 3.0) -> list[TrackRecord]:
    """``records`` with every track taken over by another vehicle cut in two (or more) records.

    Each later part follows its parent and gets an unused id ``<id>t`` (``<id>tt``, ...);
    the input records are not changed. ``min_run`` <= 0: the records as they are.
    """
    if min_run <= 0:
        return list(records)
    used = {r.id for r in records}
    out: list[TrackRecord] = []
    for rec in records:
        while (k := _cut(rec, min_run, min_speed_change)) is not None:
            frames = rec.frames()
            out.append(TrackRecord(rec.id, {f: rec.observations[f] for f in frames[:k]}))
            tid = rec.id + "t"
            while tid in used:
                tid += "t"
            used.add(tid)
            rec = TrackRecord(tid, {f: rec.observations[f] for f in frames[k:]})
        out.append(rec)
    return out
