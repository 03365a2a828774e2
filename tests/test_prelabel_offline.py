"""The offline pass over a scene: tracklets of one parked car become one track."""

from __future__ import annotations

import numpy as np

from lidarlabel.prelabel.offline import refine_scene
from lidarlabel.prelabel.refine import RefineOptions
from lidarlabel.prelabel.tracker import Observation, TrackRecord

DT_US = 100_000
TIMES = np.arange(40) * DT_US
CAR = np.array([30.0, 6.0, 0.75, 4.5, 1.85, 1.5, 0.0])  # parked, world frame


def _record(tid: str, frames: range, car: np.ndarray = CAR, seed: int = 0) -> TrackRecord:
    """A parked car's detections in ``frames``: full-size boxes with centre jitter of ~0.1 m."""
    rng = np.random.default_rng(seed)
    rec = TrackRecord(tid)
    for f in frames:
        box = car.copy()
        box[:2] += rng.normal(0, 0.1, 2)
        sensor = np.array([0.5 * f, 0.0, 1.8])  # the ego drives along +x
        rec.observations[f] = Observation(f, int(TIMES[f]), box.copy(), box.copy(), 0.7, "car", 150, sensor,
                                          "vehicle.car", 0.9)
    return rec


def test_tracklets_of_one_parked_car_become_one_track_with_one_box():
    recs = [_record("p00000", range(0, 9), seed=1), _record("p00001", range(16, 30), seed=2)]
    out = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0))
    assert len(out) == 1, [r.id for r in out]
    t = out[0]
    assert t.id == "p00000" and not t.moving and t.detection_class == "car"
    assert sorted(t.boxes) == list(range(0, 30))  # the gap between the tracklets is bridged
    assert {tuple(np.round(b, 6)) for b in t.boxes.values()} == {tuple(np.round(t.boxes[0], 6))}
    assert np.hypot(*(t.boxes[0][:2] - CAR[:2])) < 0.2
    # without merging the same records stay two tracks
    apart = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, merge_static=False))
    assert len(apart) == 2


def test_neighbours_and_simultaneous_tracks_are_not_merged():
    other = CAR.copy()
    other[0] += 6.0  # the next car along the curb
    recs = [_record("p00000", range(0, 9), seed=1), _record("p00001", range(16, 30), other, seed=2)]
    assert len(refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0))) == 2
    # two tracks at one place in the same frames are two objects (or a duplicate), not one seen in turns
    recs = [_record("p00000", range(0, 20), seed=1), _record("p00001", range(10, 30), seed=2)]
    assert len(refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0))) == 2
