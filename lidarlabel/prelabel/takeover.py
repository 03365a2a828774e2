"""Tracks taken over by another vehicle: split where the detected class changes for good.

A truck passing a parked car, close enough for the tracker's gate, can take
the car's track over: the track then holds the car's frames, then the
truck's. The offline pass would refine that as one object (a moving truck
that stood still for a while) and the car would be lost. One object keeps
one size class over its life, so a run of frames detected as one vehicle
class followed by a run detected as another (car then truck, say) is two
objects: the track is cut between the runs.
"""

from __future__ import annotations

from lidarlabel.prelabel.classify import VEHICLES
from lidarlabel.prelabel.tracker import TrackRecord

__all__ = ["split_takeovers"]


def _cut(rec: TrackRecord, min_run: int) -> int | None:
    """Index into ``rec.frames()`` where a second vehicle took the track over, or None.

    The cut is the first frame of a run of ``min_run`` frames of one vehicle
    class that follows a run of ``min_run`` frames of another vehicle class,
    other detections (a person, a partial view read as a cyclist) between
    or inside the runs being ignored.
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
        if run_len == min_run:
            if settled is not None and settled != cls:
                return run_start
            settled = cls
    return None


def split_takeovers(records: list[TrackRecord], min_run: int = 3) -> list[TrackRecord]:
    """``records`` with every track taken over by another vehicle cut in two (or more) records.

    The later part gets the id ``<id>t`` (``<id>tt``, ...); the input records are not changed.
    """
    out: list[TrackRecord] = []
    todo = list(records)
    while todo:
        rec = todo.pop()
        k = _cut(rec, min_run) if min_run > 0 else None
        if k is None:
            out.append(rec)
            continue
        frames = rec.frames()
        out.append(TrackRecord(rec.id, {f: rec.observations[f] for f in frames[:k]}))
        todo.append(TrackRecord(rec.id + "t", {f: rec.observations[f] for f in frames[k:]}))
    return sorted(out, key=lambda r: r.id)
