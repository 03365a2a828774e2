"""Moving vehicles: one length and one along-track motion fitted to the ends seen in all frames."""

from __future__ import annotations

import copy

import numpy as np

from lidarlabel.prelabel.classify import size_prior
from lidarlabel.prelabel.fitting import fit_box
from lidarlabel.prelabel.moving_shape import EndObservation, fit_along, frame_ends
from lidarlabel.prelabel.offline import refine_scene
from lidarlabel.prelabel.refine import RefineOptions
from lidarlabel.prelabel.tracker import Observation, TrackRecord
from tests.test_prelabel_offline import TIMES, _visible

SENSOR = np.array([0.0, 0.0, 1.8])  # the ego waits at the origin


def _drive_away(length: float, hidden: range = range(0), lane: float = 5.0, start: float = -6.0,
                speed: float = 12.0, seen_length: float | None = None):
    """A car overtaking the waiting ego along y = ``lane`` (+x), seen front and flank first, then its rear end-on.

    Far frames are sparser (every k-th surface point). In ``hidden`` frames a
    vehicle in between hides the rear 1.5 m of the car: the end the far
    partial views are anchored on is then not the car's end. ``seen_length``:
    only the rear this long shows in every frame (the rest of the flank is
    hidden or too thinly sampled).
    """
    rec, points, truth = TrackRecord("p00000"), {}, {}
    for f in range(40):
        x = start + speed * 0.1 * f
        car = np.array([x, lane, 0.75, length, 1.8, 1.5, 0.0])
        truth[f] = car
        pts = _visible(car, SENSOR)
        pts = pts[:: max(1, int(np.hypot(x, lane) / 8))]
        if seen_length is not None:
            pts = pts[pts[:, 0] < x - length / 2 + seen_length]
        if f in hidden:
            pts = pts[pts[:, 0] > x - length / 2 + 1.5]
        observed = fit_box(pts, ground_z=0.0)
        box = fit_box(pts, size_prior=size_prior("car"), yaw_hint=0.0, ground_z=0.0, viewpoint=SENSOR)
        points[f] = pts.astype(np.float32)
        rec.observations[f] = Observation(f, int(TIMES[f]), box, observed, 0.7, "car", len(pts), SENSOR,
                                          "vehicle.car", 0.9, pts)
    return [rec], points, truth


def _along_errors(track, truth) -> np.ndarray:
    return np.array([track.boxes[f][0] - truth[f][0] for f in sorted(track.boxes)])


def test_the_absolute_variant_keeps_a_hidden_rear_in_the_middle_of_a_track_from_shifting_its_boxes():
    # frames 20-31: the rear (the end the sensor faces) is hidden; the frames before and after
    # measure the same motion, so one smooth motion through all ends puts those boxes right.
    # (Off by default: on the held-out scenes it lost more near range than it won; docs/prelabel.md.)
    recs, points, truth = _drive_away(4.2, hidden=range(20, 32))
    opts = RefineOptions(moving_shape_absolute=True, moving_shape_degree=2)
    (t,) = refine_scene(copy.deepcopy(recs), TIMES, opts, points)
    assert t.moving and t.detection_class == "car"
    err = _along_errors(t, truth)
    assert np.max(np.abs(err)) < 0.15, np.round(err, 2)
    assert all(abs(b[3] - 4.2) < 0.15 for b in t.boxes.values()), t.boxes[0]
    # each frame anchored on its own nearest end (the pass off): the hidden stretch is ~0.5 m off
    (old,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(moving_shape=False), points)
    assert np.max(np.abs(_along_errors(old, truth))) > 0.4


def test_front_and_rear_seen_in_different_frames_give_the_true_length():
    # a short car (3.8 m, far from the 4.63 m prior): the near frames see its front and flank, the far ones
    # its rear; its length is measured from both ends, not taken from the prior
    recs, points, truth = _drive_away(3.8)
    (t,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(), points)
    assert all(abs(b[3] - 3.8) < 0.15 for b in t.boxes.values()), t.boxes[0]
    assert np.max(np.abs(_along_errors(t, truth))) < 0.15


def test_a_car_only_ever_seen_from_behind_is_not_cut_to_its_partial_length():
    # far ahead, seen from behind at a few degrees: only its rear 3.6 m show (above the 3.3 m class
    # minimum, so a single frame's reading takes it as measured); no frame saw its front
    recs, points, truth = _drive_away(4.6, lane=3.0, start=30.0, speed=5.0, seen_length=3.6)
    (t,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(), points)
    assert t.moving
    assert all(abs(b[3] - 4.6) < 0.15 for b in t.boxes.values()), t.boxes[0]
    assert np.max(np.abs(_along_errors(t, truth))) < 0.2  # grown away from the seen rear
    (old,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(moving_shape=False), points)
    assert old.boxes[0][3] < 4.2 and np.max(np.abs(_along_errors(old, truth))) > 0.3, old.boxes[0]


def test_frame_ends_marks_the_end_the_sensor_faces():
    u = np.linspace(-1.0, 2.0, 20)
    pts = np.stack([u, np.full_like(u, -0.9)], axis=1)
    lo, hi, rear, front = frame_ends(pts, np.array([30.0, 0.5]), 1.8, 0.1)  # straight ahead
    assert (lo, hi, rear, front) == (-1.0, 2.0, False, True)
    _, _, rear, front = frame_ends(pts, np.array([-30.0, -0.2]), 1.8, 0.1)  # straight behind
    assert rear and not front
    _, _, rear, front = frame_ends(pts, np.array([0.5, -8.0]), 1.8, 0.1)  # abeam: the flank shows both ends
    assert rear and front
    assert frame_ends(pts[:2], np.array([30.0, 0.0]), 1.8, 0.1) is None


def test_an_end_seen_in_a_few_frames_only_does_not_measure_the_length():
    # 20 frames from behind (rear at -2.3 m in the box frame, the points reach -1.0 m); in 2 of them a
    # box turned off the heading made the sensor seem beside the flank, so the near points read as the front
    K = 20
    front = np.zeros(K, dtype=bool)
    front[[5, 6]] = True
    ends = EndObservation(np.arange(K) * 0.1, np.full(K, -2.3), np.full(K, -1.0), np.ones(K, dtype=bool), front)
    _, L, measured = fit_along(ends, 4.63, (3.3, 5.6), 4.63, min_share=0.3)
    assert not measured and L == 4.63
    # every frame an end: without the share rule those two frames cut the car to the class minimum
    _, L, measured = fit_along(ends, 4.63, (3.3, 5.6), 4.63, min_share=0.0)
    assert measured and L < 3.5


def test_a_track_bowed_by_its_partial_views_is_straightened_on_the_seen_rear():
    # followed end-on: every frame sees the rear, but the detector's boxes bow 0.8 m along the road over
    # the track (far partial views anchored badly); the points do not. The correction may bend at
    # 1 s knots, so the seen rear puts every box back within 0.15 m; a straight correction cannot
    recs, points, truth = _drive_away(4.6, lane=0.3, start=25.0, speed=5.0)
    for f, ob in recs[0].observations.items():
        bow = 0.8 * np.sin(np.pi * f / 39)
        ob.box[0] += bow
        ob.observed[0] += bow
    (t,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(), points)
    assert np.max(np.abs(_along_errors(t, truth))) < 0.15
    (line,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(moving_shape_knot=0.0), points)
    assert np.max(np.abs(_along_errors(line, truth))) > 0.25
    (off,) = refine_scene(copy.deepcopy(recs), TIMES, RefineOptions(moving_shape=False), points)
    assert np.max(np.abs(_along_errors(off, truth))) > 0.5
