"""Offline refinement: partial views hidden by an occluder must not drag a moving track's boxes."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.prelabel.refine import RefineOptions, refine_track, rts_smooth
from lidarlabel.prelabel.tracker import Observation, TrackRecord

L, W, H = 4.6, 1.85, 1.5
SPEED = 8.0  # m/s along +x
DT_US = 100_000


def _truth(f: int) -> np.ndarray:
    return np.array([SPEED * f * DT_US / 1e6, 0.0, H / 2, L, W, H, 0.0])


def _track(occluded: range) -> tuple[TrackRecord, np.ndarray]:
    """An oncoming-view car track: the sensor stands 20 m ahead and 8 m to the side.

    In ``occluded`` frames a car in between hides the front: only a 1.4 m
    piece of the flank behind the middle is seen, so anchoring on the nearest
    visible end (the front, towards the sensor) puts the box ~2 m too far back.
    """
    rec = TrackRecord("p00000")
    times = np.arange(30) * DT_US
    for f in range(30):
        g = _truth(f)
        sensor = np.array([g[0] + 20.0, 8.0, 1.8])
        if f in occluded:
            obs = np.array([g[0] - 1.2, g[1] + 0.1, H / 2, 1.4, W - 0.1, H, 0.0])
            n = 60
        else:
            obs = np.array([g[0] + 0.05, g[1], H / 2, L - 0.1, W - 0.1, H, 0.0])
            n = 400
        rec.observations[f] = Observation(f, int(times[f]), obs.copy(), obs.copy(), 0.8, "car", n, sensor,
                                          "vehicle.car", 0.9)
    return rec, times


def _centre_errors(options: RefineOptions, occluded: range) -> np.ndarray:
    rec, times = _track(occluded)
    out = refine_track(rec, times, options)
    assert out is not None and out.moving and out.detection_class == "car"
    return np.array([np.hypot(*(out.boxes[f][:2] - _truth(f)[:2])) for f in occluded])


def test_occluded_partial_views_do_not_drag_a_moving_track():
    occluded = range(12, 18)
    err = _centre_errors(RefineOptions(angular_spacing=0.0), occluded)
    assert err.max() < 0.35, err
    # the same track with every frame trusted alike: the occluded frames pull the boxes back
    flat = _centre_errors(RefineOptions(angular_spacing=0.0, unseen_weight=0.0), occluded)
    assert flat.max() > 2 * err.max(), (flat, err)


def test_rts_smoother_follows_frames_by_their_noise():
    t = np.arange(20) * 0.1
    meas = np.c_[5.0 * t, np.zeros(20)]
    meas[10, 0] += 3.0  # one wild measurement
    sig = np.full(20, 0.1)
    trusted = rts_smooth(t, meas, 2.0, sig)[10, 0]
    sig[10] = 3.0
    doubted = rts_smooth(t, meas, 2.0, sig)[10, 0]
    assert abs(doubted - 5.0 * t[10]) < 0.2
    assert abs(trusted - 5.0 * t[10]) > 3 * abs(doubted - 5.0 * t[10])
    # one noise for all frames still works (the old call)
    assert rts_smooth(t, meas, 2.0, 0.1).shape == (20, 4)


def test_fully_seen_track_keeps_its_boxes():
    rec, times = _track(range(0))
    out = refine_track(rec, times, RefineOptions(angular_spacing=0.0))
    err = [np.hypot(*(out.boxes[f][:2] - _truth(f)[:2])) for f in range(30)]
    assert max(err) < 0.15, err
    assert all(abs(out.boxes[f][3] - L) < 0.2 for f in range(30))


@pytest.mark.parametrize("occluded", [range(0, 5), range(25, 30)])
def test_occlusion_at_the_ends_of_a_track_is_pulled_towards_the_motion(occluded):
    # at an end the smoother has motion on one side only: less than in the middle, but still better
    err = _centre_errors(RefineOptions(angular_spacing=0.0), occluded)
    flat = _centre_errors(RefineOptions(angular_spacing=0.0, unseen_weight=0.0), occluded)
    assert err.mean() < 0.6 * flat.mean(), (err, flat)


def test_ground_around_a_far_car_is_the_road_not_its_underside():
    from lidarlabel.prelabel.geometric import _ground_around
    from lidarlabel.prelabel.ground import GroundModel

    surface = np.full((40, 40), -0.15)  # 0.5 m cells: a 20 m square of road at z = -0.15
    surface[18:27, 18:22] = 0.3  # the opened surface under the car: its lowest returns, 0.45 m up
    surface[27:34, 18:22] = np.nan  # the shadow behind it: no ground seen
    model = GroundModel(np.zeros(2), 0.5, surface)
    car = np.c_[np.random.default_rng(0).uniform([9.0, 9.0], [13.5, 11.0], (200, 2)), np.full(200, 1.0)]
    assert _ground_around(model, car, 2.0, under=0.3) == pytest.approx(-0.15)
    # never above the surface under the object, and unchanged without known ground around it
    assert _ground_around(model, car, 2.0, under=-0.4) == -0.4
    empty = GroundModel(np.zeros(2), 0.5, np.full((40, 40), np.nan))
    assert _ground_around(empty, car, 2.0, under=0.3) == 0.3


def _jittered(speed: float, seed: int) -> TrackRecord:
    """A car's full-size detections whose centres jump between anchors 1.2 m apart every few frames.

    That is how a far parked car's partial views are placed: on its rear, then
    its front, then its rear again, as the cluster grows and shrinks.
    """
    rng = np.random.default_rng(seed)
    offsets = np.repeat(rng.choice([-1.2, 0.0, 1.2], 10), 4)
    rec = TrackRecord("p00000")
    for f in range(40):
        box = np.array([40.0 + speed * f * DT_US / 1e6 + offsets[f], 8.0, H / 2, L, W, H, 0.0])
        rec.observations[f] = Observation(f, f * DT_US, box.copy(), box.copy(), 0.6, "car", 40,
                                          np.array([0.5 * f, 0.0, 1.8]), "vehicle.car", 0.9)
    return rec


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_far_parked_car_whose_views_jitter_stays_static(seed):
    times = np.arange(40) * DT_US
    rec = _jittered(0.0, seed)
    out = refine_track(rec, times, RefineOptions(angular_spacing=0.0))
    mean_x = np.mean([ob.box[0] for ob in rec.observations.values()])
    assert not out.moving and abs(out.boxes[0][0] - mean_x) < 0.1  # one box where the views average
    # the rule that only bounds the spread of the centres calls it moving
    old = refine_track(_jittered(0.0, seed), times, RefineOptions(angular_spacing=0.0, static_drift=False))
    assert old.moving


def test_a_slow_car_with_jittering_views_still_moves():
    out = refine_track(_jittered(1.5, 0), np.arange(40) * DT_US, RefineOptions(angular_spacing=0.0))
    assert out.moving
    assert abs(out.boxes[39][0] - out.boxes[0][0] - 1.5 * 3.9) < 1.0


def test_a_car_seen_from_one_end_keeps_most_of_its_score():
    def parked(length_seen: float) -> TrackRecord:
        rec = TrackRecord("p00000")
        for f in range(20):
            obs = np.array([40.0 - (L - length_seen) / 2, 8.0, H / 2, length_seen, W, H, 0.0])
            rec.observations[f] = Observation(f, f * DT_US, obs.copy(), obs.copy(), 0.8, "car", 200,
                                              np.array([0.0, 8.0, 1.8]), "vehicle.car", 0.9)
        return rec

    times = np.arange(20) * DT_US
    opts = RefineOptions(angular_spacing=0.0)
    whole = refine_track(parked(L), times, opts).scores[0]
    rear = refine_track(parked(1.0), times, opts).scores[0]  # its rear face and 1 m of flank
    assert rear < whole
    # weighted as other classes are (0.5), the unseen footprint would cost it a fifth more
    old = refine_track(parked(1.0), times, RefineOptions(angular_spacing=0.0, car_seen_weight=0.5)).scores[0]
    assert rear > 1.2 * old


def _two_wheeler(length: float, beside: float) -> TrackRecord:
    """A two-wheeler riding along +x at 5 m/s, ``beside`` m from the sensor, its whole side seen in each frame.

    Each sweep's outline falls short of the length by one azimuth step (0.2 degrees) at that range.
    """
    rec = TrackRecord("p00000")
    seen = length - np.deg2rad(0.2) * beside
    for f in range(20):
        box = np.array([0.5 * f, beside, 0.85, seen, 0.6, 1.7, 0.0])
        sensor = np.array([0.5 * f, 0.0, 1.8])
        rec.observations[f] = Observation(f, f * DT_US, box.copy(), box.copy(), 0.7, "cyclist", 120, sensor,
                                          "vehicle.bicycle", 0.4)
    return rec


@pytest.mark.parametrize("length, category", [(1.7, "vehicle.bicycle"), (1.85, "vehicle.bicycle"),
                                              (2.0, "vehicle.motorcycle"), (2.2, "vehicle.motorcycle")])
@pytest.mark.parametrize("beside", [10.0, 40.0])
def test_a_two_wheeler_is_a_bicycle_or_a_motorcycle_by_its_measured_length(length, category, beside):
    # 40 m away a whole return spacing of padding (0.24 m) made a bicycle as long as a motorcycle, and no
    # padding a motorcycle as short as a bicycle
    r = refine_track(_two_wheeler(length, beside), np.arange(20) * DT_US, RefineOptions())
    assert r is not None and r.detection_class == "cyclist"
    assert r.category == category, (length, r.category, r.boxes[10])


def _truck_track(top_cut: bool) -> TrackRecord:
    """A parked truck 12 m away whose returns stop at 2.3 m: where the sensor's highest laser passes."""
    rec = TrackRecord("p00000")
    box = np.array([12.0, 5.0, 1.15, 8.0, 2.5, 2.3, 0.0])
    for f in range(10):
        rec.observations[f] = Observation(f, f * DT_US, box.copy(), box.copy(), 0.7, "truck", 900,
                                          np.array([0.0, 0.0, 1.8]), "vehicle.truck", 0.9, None, top_cut)
    return rec


def test_a_truck_topped_by_the_highest_laser_is_at_least_the_prior_tall():
    from lidarlabel.prelabel.classify import size_prior

    cut = refine_track(_truck_track(True), np.arange(10) * DT_US, RefineOptions(angular_spacing=0.0))
    seen = refine_track(_truck_track(False), np.arange(10) * DT_US, RefineOptions(angular_spacing=0.0))
    assert abs(seen.boxes[0][5] - 2.3) < 0.05  # the top was seen (a laser passed above it): as measured
    assert abs(cut.boxes[0][5] - size_prior("truck")[2]) < 0.05, cut.boxes[0]
    assert abs((cut.boxes[0][2] - cut.boxes[0][5] / 2) - 0.0) < 0.05  # it grows up from the ground


def test_the_highest_laser_of_a_sweep_and_of_an_object():
    from lidarlabel.prelabel.geometric import highest_elevation

    el = np.deg2rad(np.linspace(-24.0, 2.0, 64))
    az = np.deg2rad(np.arange(0.0, 360.0, 1.0))
    ranges = np.array([30.0])
    sweep = np.array([(r * np.cos(a), r * np.sin(a), r * np.tan(e)) for e in el for a in az for r in ranges])
    assert abs(highest_elevation(sweep) - np.deg2rad(2.0)) < 1e-9
    assert highest_elevation(sweep[:, :] * [0, 0, 1]) is None  # nothing beyond 3 m in xy


@pytest.mark.parametrize("length, category", [(7.5, "vehicle.truck"), (8.5, "vehicle.truck"),
                                              (10.5, "vehicle.bus.rigid"), (12.0, "vehicle.bus.rigid")])
def test_a_long_vehicle_is_a_truck_or_a_bus_by_its_measured_length(length, category):
    rec = _truck_track(False)
    for ob in rec.observations.values():
        ob.box[3] = ob.observed[3] = length
    r = refine_track(rec, np.arange(10) * DT_US, RefineOptions(angular_spacing=0.0))
    assert r is not None and r.detection_class in ("truck", "bus")
    assert r.category == category, (length, r.detection_class, r.category)
