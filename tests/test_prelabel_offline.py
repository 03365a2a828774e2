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


def _surface(box: np.ndarray, step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 3) on the four vertical faces of an axis-aligned (yaw 0) box and their outward normals (N, 2)."""
    x, y, z, L, W, H, _ = box
    zs = np.arange(z - H / 2 + 0.3, z + H / 2, 0.15)
    us, vs = np.arange(-L / 2, L / 2 + 1e-9, step), np.arange(-W / 2, W / 2 + 1e-9, step)
    faces = [(np.c_[us, np.full_like(us, W / 2)], (0, 1)), (np.c_[us, np.full_like(us, -W / 2)], (0, -1)),
             (np.c_[np.full_like(vs, L / 2), vs], (1, 0)), (np.c_[np.full_like(vs, -L / 2), vs], (-1, 0))]
    pts, nrm = [], []
    for xy, n in faces:
        g = np.array([(px + x, py + y, pz) for px, py in xy for pz in zs])
        pts.append(g)
        nrm.append(np.tile(n, (len(g), 1)))
    return np.concatenate(pts), np.concatenate(nrm).astype(float)


def _visible(box: np.ndarray, sensor: np.ndarray) -> np.ndarray:
    pts, nrm = _surface(box)
    return pts[np.einsum("ij,ij->i", nrm, sensor[:2] - pts[:, :2]) > 0.05]


def _drive_past(car: np.ndarray, frames: range, neighbour_frame: int | None = None, halves: bool = False):
    """Records and frame points of a parked car the ego drives past along y = 0 at 1.5 m per frame.

    ``halves``: cars parked in front of and behind it hide its front half until
    the ego is level with it, then its rear half: no frame sees the whole flank.
    """
    from lidarlabel.prelabel.fitting import fit_box

    rec, points = TrackRecord("p00000"), {}
    for f in frames:
        sensor = np.array([1.5 * f, 0.0, 1.8])
        pts = _visible(car, sensor)
        if halves:
            pts = pts[pts[:, 0] < car[0]] if sensor[0] < car[0] else pts[pts[:, 0] > car[0]]
        observed = fit_box(pts, ground_z=0.0)
        box = fit_box(pts, size_prior=(4.63, 1.97, 1.74), yaw_hint=0.0, ground_z=0.0, viewpoint=sensor)
        cloud = pts
        if f == neighbour_frame:  # a car parked 0.9 m beside it joins the cluster in this frame
            other = car.copy()
            other[1] += car[4] + 0.9
            cloud = np.concatenate([pts, _visible(other, sensor)])
        points[f] = cloud.astype(np.float32)
        rec.observations[f] = Observation(f, int(TIMES[f]), box, observed, 0.7, "car", len(pts), sensor,
                                          "vehicle.car", 0.9, pts)
    return [rec], points


def test_frames_seen_from_both_ends_give_the_true_length():
    car = np.array([30.0, 6.0, 0.75, 3.9, 1.8, 1.5, 0.0])  # shorter than the 4.63 m default car
    recs, points = _drive_past(car, range(0, 40), halves=True)
    opts = RefineOptions(angular_spacing=0.0)
    (t,) = refine_scene(recs, TIMES, opts, points)
    b = t.boxes[0]
    assert not t.moving and abs(b[3] - car[3]) < 0.2 and abs(b[4] - car[4]) < 0.15, b
    assert np.hypot(*(b[:2] - car[:2])) < 0.15, b
    # no single frame shows the whole outline: without accumulation the length is off
    (flat,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, accumulate=False), points)
    assert abs(flat.boxes[0][3] - car[3]) > 0.4, flat.boxes[0]


def test_a_far_parked_car_seen_in_many_sweeps_is_not_padded_wider_than_it_is():
    # tens of metres away a return spacing is 0.1-0.3 m: padding each sweep's outline by it made parked
    # cars that much too wide, while the outline of many sweeps already reaches the flanks
    car = np.array([40.0, 14.0, 0.75, 4.4, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 40))
    (t,) = refine_scene(recs, TIMES, RefineOptions(), points)
    b = t.boxes[0]
    assert abs(b[4] - car[4]) < 0.08 and abs(b[1] - car[1]) < 0.05, b
    # the ends bulge at bumper height only (which few rings hit): the length keeps its padding
    assert car[3] < b[3] < car[3] + 0.3, b


def test_a_neighbour_in_one_frame_does_not_widen_the_box():
    car = np.array([30.0, 6.0, 0.75, 3.9, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 40), neighbour_frame=20, halves=True)
    (t,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0), points)
    assert abs(t.boxes[0][4] - car[4]) < 0.15 and abs(t.boxes[0][3] - car[3]) < 0.2, t.boxes[0]


def test_someone_beside_a_parked_car_in_one_sweep_does_not_widen_it():
    car = np.array([30.0, 6.0, 0.75, 4.4, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 40))
    # a person 0.3 m off the near flank (inside the crop margin) for one sweep
    zs = np.linspace(0.2, 1.7, 12)
    person = np.array([(car[0] + dx, car[1] - car[4] / 2 - 0.3, z) for dx in (-0.1, 0.0, 0.1) for z in zs])
    points[20] = np.concatenate([points[20], person]).astype(np.float32)
    (t,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0), points)
    b = t.boxes[0]
    assert abs(b[4] - car[4]) < 0.08 and abs(b[1] - car[1]) < 0.05, b


def test_a_person_walking_along_a_parked_car_does_not_widen_it():
    car = np.array([30.0, 6.0, 0.75, 4.4, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 40))
    walker = TrackRecord("p00001")  # 0.3 m off the near flank, walking along it at 1.5 m/s in frames 10-29
    zs = np.linspace(0.2, 1.7, 12)
    for f in range(10, 30):
        x = car[0] - 2.5 + 0.15 * (f - 10)
        box = np.array([x, car[1] - car[4] / 2 - 0.55, 0.9, 0.6, 0.5, 1.8, 0.0])
        body = np.array([(x + dx, box[1] + dy, z) for dx in (-0.15, 0.15) for dy in (-0.2, 0.2) for z in zs])
        points[f] = np.concatenate([points[f], body]).astype(np.float32)
        walker.observations[f] = Observation(f, int(TIMES[f]), box.copy(), box.copy(), 0.7, "pedestrian",
                                             len(body), np.array([1.5 * f, 0.0, 1.8]),
                                             "human.pedestrian.adult", 0.5, body)
    out = refine_scene(recs + [walker], TIMES, RefineOptions(angular_spacing=0.0), points)
    (t,) = [r for r in out if r.detection_class == "car"]
    assert any(r.moving and r.detection_class == "pedestrian" for r in out)
    b = t.boxes[0]
    assert abs(b[4] - car[4]) < 0.08 and abs(b[1] - car[1]) < 0.05, b


def test_a_moving_box_on_the_car_itself_does_not_take_its_points():
    from lidarlabel.prelabel.offline import _without_movers

    car = np.array([30.0, 6.0, 0.75, 4.4, 1.8, 1.5, 0.0])
    cloud = _visible(car, np.array([20.0, 0.0, 1.8]))
    ghost = np.array([28.3, 5.4, 0.9, 0.6, 0.5, 1.8, 0.0])  # a ghost track on the car's rear corner
    beside = np.array([28.3, 4.5, 0.9, 0.6, 0.5, 1.8, 0.0])  # a person 0.3 m off its flank
    person = cloud[:20] * 0 + beside[:3]
    kept = _without_movers(np.concatenate([cloud, person]), car, [ghost, beside], 0.5)
    assert len(kept) == len(cloud) and np.array_equal(kept, cloud)
    far = np.array([60.0, 6.0, 0.9, 0.6, 0.5, 1.8, 0.0])
    assert np.array_equal(_without_movers(cloud, car, [far], 0.5), cloud)


def test_a_side_never_seen_past_grows_to_the_prior_away_from_the_sensor():
    car = np.array([60.0, 6.0, 0.75, 3.9, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 12))  # the ego stays 42+ m behind it: its rear and near flank only
    (t,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0), points)
    b = t.boxes[0]
    rear = car[0] - car[3] / 2
    assert b[3] > 4.5 and abs((b[0] - b[3] / 2) - rear) < 0.15, b  # the seen rear stays, the length is the prior


def test_a_car_boxed_twice_keeps_one_box_ranked_first():
    ghost = CAR.copy()
    ghost[0] += 0.8  # a second track on the same car (a split cluster) in the same frames
    recs = [_record("p00000", range(0, 20), seed=1), _record("p00001", range(0, 12), ghost, seed=2)]
    for ob in recs[1].observations.values():
        ob.score = 0.5
    opts = RefineOptions(angular_spacing=0.0)
    out = refine_scene(recs, TIMES, opts)
    assert len(out) == 2
    main, dup = sorted(out, key=lambda r: -len(r.boxes))
    assert all(dup.scores[f] < 0.5 * main.scores[f] for f in dup.boxes)
    dropped = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, overlap_factor=0.0))
    assert [len(r.boxes) for r in dropped] == [20]
    kept = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, overlap_iou=1.0))
    (a, b) = kept
    assert min(b.scores.values()) > 0.5 * max(a.scores.values())


def test_a_moving_track_bottom_ignores_one_frames_ground_error():
    from lidarlabel.prelabel.refine import refine_track

    rec = TrackRecord("p00000")
    for f in range(20):
        box = np.array([1.0 * f, 0.0, 0.75, 4.5, 1.85, 1.5, 0.0])
        if f == 10:
            box[2] += 0.4  # the ground under it read 0.4 m too high in one sweep
        rec.observations[f] = Observation(f, int(TIMES[f]), box.copy(), box.copy(), 0.8, "car", 300,
                                          np.array([1.0 * f - 15.0, 4.0, 1.8]), "vehicle.car", 0.9)
    out = refine_track(rec, TIMES, RefineOptions(angular_spacing=0.0))
    assert out.moving
    assert abs(out.boxes[10][2] - out.boxes[10][5] / 2) < 0.05
    raw = refine_track(rec, TIMES, RefineOptions(angular_spacing=0.0, bottom_window=1))
    assert abs(raw.boxes[10][2] - raw.boxes[10][5] / 2 - 0.4) < 0.05


def test_a_flank_too_long_for_a_width_turns_the_box():
    car = np.array([40.0, 8.0, 0.75, 4.5, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 10))
    for f, ob in recs[0].observations.items():
        # each frame sees 2 m of the near flank (its ends hidden), a different 2 m as the ego moves;
        # the detector read each piece as a car's rear (heading across the flank)
        x0 = 38.7 + 0.066 * f
        near = points[f][np.abs(points[f][:, 1] - (car[1] - car[4] / 2)) < 0.05]
        points[f] = near[(near[:, 0] >= x0) & (near[:, 0] <= x0 + 2.0)]
        ob.box = np.array([x0 + 1.0, 7.1 + 2.315, 0.75, 4.63, 2.0, 1.5, np.pi / 2])
        ob.observed = np.array([x0 + 1.0, 7.1, 0.75, 0.1, 2.0, 1.5, np.pi / 2])
        ob.num_points = len(points[f])
    (kept,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, accumulate_swap=-1.0), points)
    assert kept.detection_class == "car" and abs(np.cos(kept.boxes[0][6])) < 0.1, kept.boxes[0]
    (t,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0), points)
    b = t.boxes[0]
    assert abs(np.sin(b[6])) < 0.1 and b[3] > 4.0 and b[4] < 2.3, b  # along the flank


def _moving(tid: str, frames: range, y: float, seed: int) -> TrackRecord:
    """A car driving along +x at 10 m/s in the lane at ``y``, fully seen."""
    rng = np.random.default_rng(seed)
    rec = TrackRecord(tid)
    for f in frames:
        box = np.array([10.0 * f * DT_US / 1e6 + rng.normal(0, 0.05), y, 0.75, 4.5, 1.85, 1.5, 0.0])
        rec.observations[f] = Observation(f, int(TIMES[f]), box.copy(), box.copy(), 0.7, "car", 300,
                                          np.array([0.0, -10.0, 1.8]), "vehicle.car", 0.9)
    return rec


def test_a_moving_car_whose_track_broke_is_one_track_again():
    recs = [_moving("p00000", range(0, 15), 0.0, 1), _moving("p00001", range(19, 40), 0.0, 2)]
    (t,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0))
    assert t.moving and sorted(t.boxes) == list(range(40))  # the 3-frame gap is bridged
    assert abs(t.boxes[17][0] - 17.0) < 0.3
    assert len(refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, link_moving=False))) == 2
    # the car in the next lane, starting where the first one's track ended, is another car
    recs = [_moving("p00000", range(0, 15), 0.0, 1), _moving("p00001", range(19, 40), 3.5, 2)]
    assert len(refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0))) == 2


def test_a_moving_car_ranks_below_a_parked_one_of_the_same_score():
    parked = _record("p00000", range(0, 20), seed=1)
    driving = _moving("p00001", range(0, 20), -6.0, 2)
    out = {r.moving: r for r in refine_scene([parked, driving], TIMES, RefineOptions(angular_spacing=0.0))}
    raw = {r.moving: r for r in refine_scene([parked, driving], TIMES,
                                             RefineOptions(angular_spacing=0.0, moving_score_scale=1.0))}
    assert raw[True].scores[5] > 0.4 and abs(raw[True].scores[5] - raw[False].scores[5]) < 0.05
    assert out[True].scores[5] < out[False].scores[5] - 0.05
    assert out[True].scores[5] >= 0.4  # compressed above the knee, not pushed below it
    assert out[False].scores == raw[False].scores


def test_a_parked_car_keeps_its_box_in_frames_its_points_fill_outside_its_track():
    car = np.array([30.0, 6.0, 0.75, 4.5, 1.8, 1.5, 0.0])
    recs, points = _drive_past(car, range(0, 40))
    recs[0].observations = {f: ob for f, ob in recs[0].observations.items() if 10 <= f < 20}
    for f in range(30, 40):
        points[f] = points[f][:5]  # hidden behind a truck: a few returns only
    (t,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0), points)
    assert sorted(t.boxes) == list(range(0, 30))
    assert all(np.allclose(t.boxes[f], t.boxes[15]) for f in t.boxes)
    assert t.scores[5] < t.scores[15] and 5 in t.interpolated
    (off,) = refine_scene(recs, TIMES, RefineOptions(angular_spacing=0.0, extend_static=0), points)
    assert sorted(off.boxes) == list(range(10, 20))


def _boxed_across(car: np.ndarray, sensor_at, extra: np.ndarray | None = None):
    """A 40-frame track whose every box lies across ``car`` (its rear face read as the length).

    ``sensor_at(f)`` is the (3,) sensor position of frame ``f``; ``extra`` (M, 3) points
    of something else in every sweep. Returns the record and the frames' points.
    """
    across = np.array([car[0] - car[3] / 2 + 1.0, 0.0, 0.75, 4.63, 1.97, 1.5, np.pi / 2])
    rec, points = TrackRecord("p00000"), {}
    for f in range(40):
        sensor = sensor_at(f)
        pts = _visible(car, sensor)
        sweep = pts if extra is None else np.concatenate([pts, extra])
        points[f] = sweep.astype(np.float32)
        rec.observations[f] = Observation(f, int(TIMES[f]), across.copy(), across.copy(), 0.7, "car", len(pts),
                                          sensor, "vehicle.car", 0.9, pts)
    return rec, points


def test_a_parked_car_boxed_across_is_turned_and_measured_whole():
    """The track's box lies across the car (its rear face read as the length): the crop cuts the car short."""
    car = np.array([45.0, 0.0, 0.75, 3.9, 1.8, 1.5, 0.0])
    # the next lane over, closing in on the car
    rec, points = _boxed_across(car, lambda f: np.array([20.0 + 0.5 * f, -8.0, 1.8]))
    (t,) = refine_scene([rec], TIMES, RefineOptions(angular_spacing=0.0), points)
    b = t.boxes[0]
    assert not t.moving and abs(np.sin(b[6])) < 0.05, b  # turned along the car
    assert abs(b[3] - car[3]) < 0.2 and np.hypot(*(b[:2] - car[:2])) < 0.15, b
    # turned without cropping again, the outline stays cut to the old box: length and centre are guessed
    (cut,) = refine_scene([rec], TIMES, RefineOptions(angular_spacing=0.0, accumulate_recrop=False), points)
    c = cut.boxes[0]
    assert abs(c[3] - car[3]) > 0.4 or np.hypot(*(c[:2] - car[:2])) > 0.4, c


def test_a_pole_beside_a_turned_car_does_not_widen_or_shift_its_box():
    """Cropped again after the turn, the car's length grows into view, but not a pole 0.4 m beside its front end.

    The first crop (the box across the car) spanned the car's whole width, so the
    width was measured there; the pole, outside that crop, must not widen it.
    """
    car = np.array([45.0, 0.0, 0.75, 3.9, 1.8, 1.5, 0.0])
    a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    pole = np.array([(46.7 + 0.05 * np.cos(t), -1.3 + 0.05 * np.sin(t), z)
                     for t in a for z in np.arange(0.3, 1.6, 0.15)])
    rec, points = _boxed_across(car, lambda f: np.array([20.0 + 0.5 * f, -8.0, 1.8]), pole)
    for spacing in (0.0, 0.004):  # the tests' exact returns, and a 64-beam sensor's ~0.2 m at 45 m
        (t,) = refine_scene([rec], TIMES, RefineOptions(angular_spacing=spacing), points)
        b = t.boxes[0]
        assert abs(np.sin(b[6])) < 0.05 and abs(b[3] - car[3]) < 0.3, b
        assert abs(b[4] - car[4]) < 0.25 and np.hypot(*(b[:2] - car[:2])) < 0.15, b


def test_a_parked_car_seen_only_from_behind_is_boxed_along_its_rear_face_normal():
    """Its rear face (1.8 m, both ends seen) is no car's length: the box turns, its rear stays on the face."""
    car = np.array([45.0, 0.0, 0.75, 4.5, 1.8, 1.5, 0.0])
    rear = car[0] - car[3] / 2
    # straight behind it: only the rear face shows
    rec, points = _boxed_across(car, lambda f: np.array([0.5 * f, 0.0, 1.8]))
    (t,) = refine_scene([rec], TIMES, RefineOptions(angular_spacing=0.0), points)
    b = t.boxes[0]
    assert abs(np.sin(b[6])) < 0.1 and abs((b[0] - b[3] / 2) - rear) < 0.15 and abs(b[1]) < 0.2, b
    (flat,) = refine_scene([rec], TIMES, RefineOptions(angular_spacing=0.0, accumulate_end_on=False), points)
    assert abs(np.cos(flat.boxes[0][6])) < 0.1, flat.boxes[0]  # left across the car


def _pair(wrong: np.ndarray, frames: range, extra: np.ndarray | None = None):
    """Two tracks boxing CAR in ``frames``: the higher-scored one with ``wrong``, the other with CAR itself."""
    from lidarlabel.prelabel.refine import RefinedTrack

    points = {}
    for f in frames:
        pts = _visible(CAR, np.array([1.5 * f, 0.0, 1.8]))
        points[f] = pts if extra is None else np.concatenate([pts, extra])
    bad = RefinedTrack("a", "vehicle.car", "car", {f: wrong.copy() for f in frames}, {f: 0.8 for f in frames})
    good = RefinedTrack("b", "vehicle.car", "car", {f: CAR.copy() for f in frames}, {f: 0.6 for f in frames})
    return bad, good, points


def test_of_two_boxes_on_one_car_the_one_outlining_its_points_ranks_first():
    from lidarlabel.prelabel.offline import _suppress_overlaps, outline_fit

    shifted = CAR + np.array([1.5, 0, 0, 0, 0, 0, 0])  # cuts the car's rear off
    bad, good, points = _pair(shifted, range(0, 10))
    fit = outline_fit(points[3], np.array([shifted, CAR]), 0.5, 0.25)
    assert fit[1] > 0.95 and fit[0] < 0.9, fit
    # the car and a pole 0.75 m before its front in one box, scored above the car's own box
    pole = np.array([[CAR[0] + 3.0, CAR[1], z] for z in np.arange(0.2, 1.5, 0.1)])
    joined = CAR + np.array([0.8, 0, 0, 1.6, 0, 0, 0])
    bad, good, points = _pair(joined, range(0, 10), pole)
    fit = outline_fit(points[3], np.array([joined, CAR]), 0.5, 0.25)
    assert fit[1] > 0.95 and fit[0] < 0.7, fit
    _suppress_overlaps([bad, good], 0.2, 0.3, points)
    # the car's own box stands for the object with the pair's confidence; the joined one is scored down
    assert all(good.scores[f] == 0.8 and bad.scores[f] < 0.3 for f in range(10)), (good.scores, bad.scores)
    # ranked by score alone (no points), the joined box wins
    bad, good, points = _pair(joined, range(0, 10), pole)
    _suppress_overlaps([bad, good], 0.2, 0.3, None)
    assert all(bad.scores[f] == 0.8 and good.scores[f] < 0.3 for f in range(10))
    assert outline_fit(np.zeros((0, 3)), CAR[None], 0.5, 0.25).tolist() == [0.0]


def test_sweeps_from_a_stopped_ego_count_as_one_sampling_of_the_car():
    from lidarlabel.prelabel.accumulate import static_shape

    # the rear face of a car 20 m ahead, 1.85 m wide, seen by 30 sweeps from one place at one phase:
    # every sweep's outermost returns fall on the same spots, a whole spacing short of the corners
    width, rear, step = 1.85, 17.75, 0.006
    y = rear * np.tan(0.0013 + np.arange(-0.2, 0.2, step))
    y = y[np.abs(y) <= width / 2]
    face = np.array([(rear, v, z) for v in y for z in np.linspace(0.3, 1.4, 5)])
    spacing = step * 20.0
    sensors = np.tile([0.0, 0.0, 1.8], (30, 1))
    shape = static_shape([face] * 30, sensors, 0.0, spacing)
    measured = shape.hi[1] - shape.lo[1] + shape.sampling_gap(spacing)[1]
    assert shape.reach_lo[1] == 1 and shape.reach_hi[1] == 1
    assert measured > width - 0.05, measured
