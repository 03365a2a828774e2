"""One-click fit with time context: a parked car's other sides, a moving car's heading, the scene ends."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.core.boxes import yaw_difference
from lidarlabel.core.ontology import default_ontology
from lidarlabel.edit.fit import RADIUS, fit_at_point, max_extent, object_points_at
from lidarlabel.edit.fit_context import OFFSETS, object_context

CAR = np.array([20.0, 0.0, 0.75, 4.0, 1.8, 1.5, 0.0])  # shorter than the nuScenes mean car (4.63 m)


def face_points(box: np.ndarray, viewpoint: np.ndarray, step: float = 0.08) -> np.ndarray:
    """(K, 3) points on the vertical faces of ``box`` (any yaw) that face ``viewpoint`` (3,)."""
    x, y, z, ln, wd, ht, yaw = box
    c, s = np.cos(yaw), np.sin(yaw)
    to_world = np.array([[c, -s], [s, c]])
    vp = to_world.T @ (np.asarray(viewpoint[:2]) - box[:2])  # the sensor in the box's own frame
    zs = np.arange(z - ht / 2 + 0.05, z + ht / 2, step)
    out = []
    for axis, half, span in ((0, ln / 2, wd), (1, wd / 2, ln)):
        for sign in (-1.0, 1.0):
            if sign * vp[axis] <= half:
                continue  # the face looks away from the sensor
            t = np.arange(-span / 2 + 0.02, span / 2, step)
            tt, zz = np.meshgrid(t, zs)
            local = np.zeros((tt.size, 2))
            local[:, axis] = sign * half
            local[:, 1 - axis] = tt.ravel()
            out.append(np.c_[local @ to_world.T + box[:2], zz.ravel()])
    return np.concatenate(out)


def ground(centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    xy = centre[:2] + rng.uniform(-12, 12, size=(6000, 2))
    return np.c_[xy, rng.normal(0.0, 0.01, len(xy))]


def make_frames(car_at, viewpoints, seed: int = 0, keep=None):
    """World points of each frame: the faces of ``car_at(f)`` seen from ``viewpoints[f]`` plus ground."""
    rng = np.random.default_rng(seed)
    frames = []
    for f, vp in enumerate(viewpoints):
        faces = face_points(car_at(f), vp)
        if keep is not None:
            faces = faces[keep(f, faces)]
        frames.append(np.r_[ground(car_at(f), rng), faces])
    return frames


def context_kw(frames, vps):
    return dict(points_world_of=lambda f: frames[f], viewpoint_of=lambda f: vps[f] if 0 <= f < len(vps) else None)


def test_parked_car_seen_end_on_gets_its_length_from_the_frames_where_its_side_shows():
    # frame 0: the ego right behind the car sees only its rear; then it passes on the right
    vps = [np.array([6.0 + 1.4 * f, -0.6 * f, 1.8]) for f in range(11)]
    frames = make_frames(lambda f: CAR, vps)
    click = np.array([CAR[0] - 2.0, 0.0, 0.8])
    single = fit_at_point(frames[0], click, vps[0], "vehicle.car").box
    assert single[3] > 4.5  # end-on, the hidden length takes the prior (4.63 m)
    limit = max_extent("vehicle.car", default_ontology())
    ctx = object_context(lambda f: frames[f], 0, object_points_at(frames[0], click, limit), click, limit, RADIUS,
                         context_kw(frames, vps)["viewpoint_of"])
    assert ctx.frames == [0, *OFFSETS]  # the ego passing does not stop the walk
    assert ctx.heading is None
    box = fit_at_point(frames[0], click, vps[0], "vehicle.car", frame=0, **context_kw(frames, vps)).box
    assert abs(box[3] - CAR[3]) < 0.2 and abs(box[4] - CAR[4]) < 0.2
    assert np.hypot(*(box[:2] - CAR[:2])) < 0.15


@pytest.mark.parametrize("yaw", [0.0, 0.5, 1.0])
def test_moving_car_seen_in_part_gets_its_heading_from_its_motion(yaw):
    # only the rear 1.2 m of the car shows (nothing hides the rest: a short, square-ish piece
    # whose longer seen side is across the car); it drives at 12 m/s
    d = np.array([np.cos(yaw), np.sin(yaw)])
    vps = [np.array([6.0 + 1.0 * f, -2.0, 1.8]) for f in range(11)]

    def car_at(f: int) -> np.ndarray:
        return np.r_[CAR[:2] + d * 1.2 * (f - 5), CAR[2:6], yaw]

    def rear_part(f: int, pts: np.ndarray) -> np.ndarray:
        return (pts[:, :2] - car_at(f)[:2]) @ d < -CAR[3] / 2 + 1.2

    frames = make_frames(car_at, vps, keep=rear_part)
    click = np.r_[car_at(5)[:2] - d * 1.5, 0.8]
    single = fit_at_point(frames[5], click, vps[5], "vehicle.car").box
    assert abs(abs(yaw_difference(single[6], yaw)) - np.pi / 2) < np.deg2rad(5)  # the 90 deg flip
    box = fit_at_point(frames[5], click, vps[5], "vehicle.car", frame=5, **context_kw(frames, vps)).box
    assert abs(yaw_difference(box[6], yaw)) < np.deg2rad(3)  # along the motion, front forward


def test_moving_car_is_not_smeared_over_frames():
    vps = [np.array([6.0 + 1.4 * f, -4.0, 1.8]) for f in range(11)]  # 14 m/s, one lane to the right
    frames = make_frames(lambda f: CAR + np.r_[1.0 * f, 0, 0, 0, 0, 0, 0], vps)  # 10 m/s
    click = np.array([CAR[0] - 2.0 + 5.0, 0.0, 0.8])
    limit = max_extent("vehicle.car", default_ontology())
    ctx = object_context(lambda f: frames[f], 5, object_points_at(frames[5], click, limit), click, limit, RADIUS,
                         context_kw(frames, vps)["viewpoint_of"])
    assert ctx.heading is not None and abs(yaw_difference(ctx.heading, 0.0)) < np.deg2rad(3)
    # the car's position in each frame used, relative to frame 5: 1 m per frame
    for f, shift in ctx.shifts.items():
        assert np.allclose(-shift, [f - 5.0, 0.0], atol=0.15), (f, shift)
    box = fit_at_point(frames[5], click, vps[5], "vehicle.car", frame=5, **context_kw(frames, vps)).box
    assert box[3] < 5.0  # not stretched by the car's motion


def test_context_stops_at_the_scene_ends_without_viewpoints():
    vps = [np.array([6.0 + 1.4 * f, -4.0, 1.8]) for f in range(3)]
    frames = make_frames(lambda f: CAR, vps)

    def read(f: int) -> np.ndarray:
        if not 0 <= f < len(frames):
            raise IndexError(f)
        return frames[f]

    click = np.array([CAR[0] - 2.0, 0.0, 0.8])
    res = fit_at_point(frames[2], click, vps[2], "vehicle.car", frame=2, points_world_of=read)
    assert np.isfinite(res.box).all()
    with pytest.raises(Exception, match="no points within"):
        fit_at_point(frames[2], np.array([500.0, 500.0, 0.0]), vps[2], frame=2, points_world_of=read)


def test_moving_car_seen_end_on_gets_its_length_from_the_sweeps_that_saw_its_side():
    # the car drives at 10 m/s; the sensor saw its side a second ago and is right behind it now
    vps = [np.array([20.0 - 0.6 * f, -4.0 + 0.4 * f, 1.8]) for f in range(11)]

    def car_at(f: int) -> np.ndarray:
        return CAR + np.r_[1.0 * f, 0, 0, 0, 0, 0, 0]

    frames = make_frames(car_at, vps)
    click = np.r_[car_at(10)[0] - 2.0, 0.0, 0.8]
    single = fit_at_point(frames[10], click, vps[10], "vehicle.car").box
    assert single[3] > 4.5  # end-on, the hidden length takes the prior (4.63 m)
    box = fit_at_point(frames[10], click, vps[10], "vehicle.car", frame=10, **context_kw(frames, vps)).box
    assert abs(yaw_difference(box[6], 0.0)) < np.deg2rad(4)  # the L-shape of the rear face, near the motion
    assert abs(box[3] - CAR[3]) < 0.2 and abs(box[4] - CAR[4]) < 0.2
    assert abs(box[0] - car_at(10)[0]) < 0.2  # grown from the rear it sees, not from a guess


def write_scene(path, frames, vps, with_poses: bool):
    """A scene file of ``frames`` (world points): with the ego at ``vps`` or, without poses, all at the identity."""
    from lidarlabel.io.scene import SceneWriter

    with SceneWriter(path, "fit-context", np.eye(4), [], point_fields=("x", "y", "z")) as w:
        for f, (pts, vp) in enumerate(zip(frames, vps, strict=True)):
            pose = np.eye(4)
            if with_poses:
                pose[:3, 3] = vp
            w.add_frame(f * 100_000, pose, (pts - pose[:3, 3]).astype(np.float32), {})


def test_session_fit_uses_the_neighbouring_frames_only_when_the_scene_has_ego_poses(tmp_path):
    from lidarlabel.edit import EditSession

    vps = [np.array([6.0 + 1.4 * f, -0.6 * f, 1.8]) for f in range(11)]
    frames = make_frames(lambda f: CAR, vps)
    click = (CAR[0] - 2.0, 0.0, 0.8)
    write_scene(tmp_path / "posed.h5", frames, vps, with_poses=True)
    s = EditSession.open(tmp_path / "posed.h5")
    tid = s.fit_box_at(0, click, "vehicle.car")
    box = s.doc.tracks[tid].boxes[0].as_array()
    assert abs(box[3] - CAR[3]) < 0.2  # the side seen in later frames gives the length
    assert 0 in s._points_cache  # the neighbours were read without pushing the edited frame out
    s.close()
    # KITTI object frames, clouds imported without poses: the neighbours are not the same place a moment later
    write_scene(tmp_path / "unposed.h5", frames, vps, with_poses=False)
    s = EditSession.open(tmp_path / "unposed.h5")
    tid = s.fit_box_at(0, click, "vehicle.car")
    box = s.doc.tracks[tid].boxes[0].as_array()
    alone = fit_at_point(frames[0], np.array(click), np.zeros(3), "vehicle.car").box
    np.testing.assert_allclose(box, alone, atol=1e-4)
    s.close()


def test_moving_car_seen_short_in_the_clicked_sweep_grows_to_the_size_other_sweeps_saw_whole():
    # a car driving at 10 m/s ahead of the sensor; in the clicked sweep its front 1.2 m returned
    # nothing (nothing nearer hides it: on its own, the fit has to stop at the last return)
    vps = [np.array([16.0 + 1.0 * f, -7.0, 1.8]) for f in range(11)]  # keeping pace, behind on the right

    def car_at(f: int) -> np.ndarray:
        return CAR + np.r_[1.0 * f, 0, 0, 0, 0, 0, 0]

    def front_missing_at_10(f: int, pts: np.ndarray) -> np.ndarray:
        return (pts[:, 0] < car_at(f)[0] + CAR[3] / 2 - 1.2) | (f != 10)

    frames = make_frames(car_at, vps, keep=front_missing_at_10)
    click = np.r_[car_at(10)[0] - 1.0, -0.9, 0.8]
    single = fit_at_point(frames[10], click, vps[10], "vehicle.car").box
    assert single[3] < CAR[3] - 1.0
    box = fit_at_point(frames[10], click, vps[10], "vehicle.car", frame=10, **context_kw(frames, vps)).box
    assert abs(box[3] - CAR[3]) < 0.2 and abs(box[0] - car_at(10)[0]) < 0.2


def ring_scan(box: np.ndarray, viewpoint: np.ndarray, step_deg: float, elevations_deg: np.ndarray) -> np.ndarray:
    """(K, 3) first hits on an axis-aligned ``box`` (yaw 0) of a spinning LiDAR's rays from ``viewpoint`` (3,)."""
    rel = box[:2] - viewpoint[:2]
    centre = np.degrees(np.arctan2(rel[1], rel[0]))
    az = np.deg2rad(np.arange(centre - 10.0, centre + 10.0, step_deg))
    el = np.deg2rad(elevations_deg)
    a, e = np.meshgrid(az, el)
    d = np.c_[(np.cos(e) * np.cos(a)).ravel(), (np.cos(e) * np.sin(a)).ravel(), np.sin(e).ravel()]
    lo, hi = box[:3] - box[3:6] / 2, box[:3] + box[3:6] / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - viewpoint) / d, (hi - viewpoint) / d
    near, far = np.minimum(t1, t2).max(axis=1), np.maximum(t1, t2).min(axis=1)
    hit = (near <= far) & (near > 0)
    return viewpoint + d[hit] * near[hit, None]


def test_sensor_azimuth_step_is_read_from_the_rings_and_unknown_without_them():
    from lidarlabel.edit.fit_grow import azimuth_step

    vp = np.array([0.0, 0.0, 1.8])
    for step in (0.1, 0.2, 0.33):  # Waymo-like, 64-beam at 10 Hz, nuScenes' 32-beam at 20 Hz
        pts = ring_scan(CAR + np.r_[5.0, 3.0, 0, 0, 0, 0, 0], vp, step, np.arange(-8.0, 0.0, 0.4))
        assert abs(np.degrees(azimuth_step(pts, vp)) - step) < 0.01
    scattered = np.random.default_rng(0).uniform([20, -2, 0], [25, 2, 1.5], size=(500, 3))
    assert azimuth_step(scattered, vp) is None


def test_rear_face_seen_end_to_end_gives_the_width_not_the_default():
    # behind a 1.8 m wide car, a little to its right: the rear face is seen end to end with free space
    # beyond both ends, so the width is the seen one plus the expected sampling gap, not the 1.97 m default
    # (a fixed 0.05 m + 0.1 deg per end made it 1.89 m)
    assert default_ontology().default_size("vehicle.car")[1] > 1.9
    vp = np.array([0.0, -3.0, 1.8])
    pts = np.r_[face_points(CAR, vp, step=0.1), ground(CAR, np.random.default_rng(1))]
    box = fit_at_point(pts, np.r_[CAR[0] - CAR[3] / 2, CAR[1], 0.8], vp, "vehicle.car").box
    assert abs(box[4] - CAR[4]) < 0.05
    assert abs(box[1] - CAR[1]) < 0.1


def test_nan_returns_in_neighbouring_sweeps_change_nothing():
    # dropped returns stored as NaN (x, y or only z) in the other sweeps: the walk and the box are those without them
    vps = [np.array([6.0 + 1.4 * f, -0.6 * f, 1.8]) for f in range(11)]
    frames = make_frames(lambda f: CAR, vps)
    rng = np.random.default_rng(3)
    holed = [frames[0]]
    for pts in frames[1:]:
        bad = np.full((300, 3), np.nan)
        bad[:100, :2] = CAR[:2] + rng.uniform(-2, 2, size=(100, 2))  # NaN z only, inside the crop
        holed.append(np.r_[pts, bad].astype(np.float32))
    click = np.array([CAR[0] - 2.0, 0.0, 0.8])
    clean = fit_at_point(frames[0], click, vps[0], "vehicle.car", frame=0, **context_kw(frames, vps)).box
    box = fit_at_point(frames[0], click, vps[0], "vehicle.car", frame=0, **context_kw(holed, vps)).box
    assert np.isfinite(box).all()
    assert np.allclose(box, clean, atol=0.05)


def test_neighbour_walk_stops_when_its_time_budget_is_spent():
    # the parked car of the first test: with no time left, only the nearest sweep each way is taken
    vps = [np.array([6.0 + 1.4 * f, -0.6 * f, 1.8]) for f in range(21)]
    frames = make_frames(lambda f: CAR, vps)
    click = np.array([CAR[0] - 2.0, 0.0, 0.8])
    limit = max_extent("vehicle.car", default_ontology())
    found = object_points_at(frames[10], click, limit)
    args = (lambda f: frames[f], 10, found, click, limit, RADIUS, context_kw(frames, vps)["viewpoint_of"])
    assert object_context(*args).frames == sorted([10, *(10 + k for k in OFFSETS), *(10 - k for k in OFFSETS)])
    assert object_context(*args, budget_s=0.0).frames == [10 - OFFSETS[0], 10, 10 + OFFSETS[0]]
