"""A parked car's track taken over by a passing truck becomes the car's track and the truck's."""

from __future__ import annotations

import numpy as np

from lidarlabel.prelabel.offline import refine_scene
from lidarlabel.prelabel.refine import RefineOptions
from lidarlabel.prelabel.takeover import split_takeovers
from lidarlabel.prelabel.tracker import Observation, TrackRecord

DT_US = 100_000
TIMES = np.arange(40) * DT_US
CAR = np.array([20.0, 6.0, 0.75, 4.6, 1.85, 1.5, 0.0])
TRUCK = np.array([8.0, 3.0, 1.6, 8.5, 2.5, 3.2, 0.0])  # drives along +x at 10 m/s
CAR_NAMES, TRUCK_NAMES = ("car", "vehicle.car"), ("truck", "vehicle.truck")


def _observation(f: int, box: np.ndarray, names: tuple[str, str]) -> Observation:
    sensor = np.array([0.0, 0.0, 1.8])
    return Observation(f, int(TIMES[f]), box.copy(), box.copy(), 0.7, names[0], 300, sensor, names[1], 0.9)


def _taken_over(handover: int) -> TrackRecord:
    """The car's detections until ``handover``, then the truck's (the tracker kept one id)."""
    rec = TrackRecord("p00000")
    for f in range(40):
        if f < handover:
            rec.observations[f] = _observation(f, CAR, CAR_NAMES)
        else:
            truck = TRUCK.copy()
            truck[0] += 1.0 * f
            rec.observations[f] = _observation(f, truck, TRUCK_NAMES)
    return rec


def test_a_track_taken_over_by_a_truck_is_cut_where_the_class_changes():
    rec = _taken_over(25)
    rec.observations[3] = _observation(3, CAR[[0, 1, 2, 3, 4, 5, 6]], ("cyclist", "vehicle.bicycle"))
    parts = split_takeovers([rec])
    assert [(p.id, p.frames()[0], p.frames()[-1]) for p in parts] == [("p00000", 0, 24), ("p00000t", 25, 39)]
    assert rec.frames() == list(range(40))  # the input is left as it was
    # the later part's id is one no other record has
    other = TrackRecord("p00000t", {0: _observation(0, CAR + [0, 9, 0, 0, 0, 0, 0], CAR_NAMES)})
    assert [p.id for p in split_takeovers([rec, other])] == ["p00000", "p00000tt", "p00000t"]


def test_a_few_frames_read_as_another_class_do_not_cut_a_track():
    rec = _taken_over(40)
    for f in (10, 11, 30):  # a car read as a truck twice in a row, then once
        rec.observations[f] = _observation(f, CAR, TRUCK_NAMES)
    assert [p.frames() for p in split_takeovers([rec])] == [list(range(40))]


def test_one_vehicle_read_as_two_classes_in_turn_is_not_cut():
    # a truck whose rear alone, seen in its first 5 frames, read as a car: the same motion throughout
    moving = _taken_over(0)
    for f in range(5):
        truck = TRUCK.copy()
        truck[0] += 1.0 * f
        moving.observations[f] = _observation(f, truck, CAR_NAMES)
    # a parked van read as a car and as a truck, 4 frames each in turn
    van = TrackRecord("p00001")
    for f in range(40):
        van.observations[f] = _observation(f, CAR + [0, 0, 0, 1.0, 0.15, 0.6, 0], CAR_NAMES if f // 4 % 2 else TRUCK_NAMES)
    assert [p.frames() for p in split_takeovers([moving, van])] == [list(range(40)), list(range(40))]


def test_the_parked_car_keeps_its_box_after_a_truck_took_its_track():
    out = refine_scene([_taken_over(25)], TIMES, RefineOptions(angular_spacing=0.0))
    cars = [r for r in out if r.detection_class == "car"]
    assert len(cars) == 1 and not cars[0].moving, [(r.detection_class, r.moving) for r in out]
    assert min(cars[0].boxes) == 0 and max(cars[0].boxes) >= 24
    assert np.hypot(*(cars[0].boxes[10][:2] - CAR[:2])) < 0.2
    # without the cut the one track is refined as a single (moving) object and the car is lost
    whole = refine_scene([_taken_over(25)], TIMES, RefineOptions(angular_spacing=0.0, split_takeover=0))
    assert not any(r.detection_class == "car" and not r.moving for r in whole)
