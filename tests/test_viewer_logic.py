"""Qt-free viewer logic: orbit camera, overlay geometry, gestures driven by fake events, frame cache."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lidarlabel.core.boxes import box_corners
from lidarlabel.core.camera import world_to_pixels
from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.transforms import pose_from_yaw
from lidarlabel.edit.frame_cache import FrameCache, ground_height, load_frame
from lidarlabel.edit.session import EditSession
from lidarlabel.io.scene import SceneReader
from lidarlabel.viewer.gestures import (
    GestureController,
    PointerEvent,
    box_from_ground_rect,
    nudge,
    pick_track,
    ray_ground,
)
from lidarlabel.viewer.orbit import OrbitCamera
from lidarlabel.viewer.overlay import box_segments, dashed, project_boxes


# ----------------------------------------------------------------------------- orbit camera
def test_orbit_ray_passes_through_the_projected_point():
    cam = OrbitCamera(target=np.array([10.0, -3.0, 0.5]), distance=40, azimuth=2.0, elevation=0.6,
                      width=1280, height=800)
    pts = np.array([[12.0, 1.0, 1.0], [0.0, 0.0, 0.0], [25.0, -10.0, 3.0]])
    px, ok = cam.project(pts)
    assert ok.all()
    for p, (x, y) in zip(pts, px):
        o, d = cam.ray(x, y)
        # distance from the point to the ray
        v = p - o
        assert np.linalg.norm(v - (v @ d) * d) < 1e-6 * np.linalg.norm(v) + 1e-6


def test_target_projects_to_the_centre_and_birds_eye_puts_heading_up():
    cam = OrbitCamera(width=800, height=600)
    pose = pose_from_yaw(0.7, [5.0, 2.0, 0.3])
    cam.birds_eye(pose)
    px, _ = cam.project(pose[:3, 3][None])
    assert np.allclose(px[0], [400, 300], atol=1e-6)
    ahead = pose[:3, 3] + 10 * np.array([np.cos(0.7), np.sin(0.7), 0])
    pa, _ = cam.project(ahead[None])
    assert abs(pa[0, 0] - 400) < 1.0 and pa[0, 1] < 250  # straight up on screen


def test_ray_ground():
    g = ray_ground(np.array([0, 0, 10.0]), np.array([0, 0, -1.0]), 1.0)
    assert np.allclose(g, [0, 0, 1])
    assert ray_ground(np.array([0, 0, 10.0]), np.array([0, 0, 1.0]), 1.0) is None


# ----------------------------------------------------------------------------- overlay
def test_box_segments_and_dashes():
    seg = box_segments(np.array([[0, 0, 1, 4, 2, 2, 0.0]]))
    assert seg.shape == (1, 15, 2, 3)
    head = seg[0, 14]
    assert np.allclose(head[0], [0, 0, 0]) and np.allclose(head[1], [2, 0, 0])  # points along +x
    d = dashed(seg[0], pieces=7)
    assert d.shape == (15 * 4, 2, 3)
    lengths = np.linalg.norm(d[:, 1] - d[:, 0], axis=1)
    full = np.linalg.norm(seg[0, :, 1] - seg[0, :, 0], axis=1)
    assert np.allclose(lengths.reshape(15, 4).sum(axis=1), full * 4 / 7, atol=1e-5)


def test_projected_box_corner_lands_where_the_camera_model_says(tiny_scene):
    scene = SceneReader.open(tiny_scene)
    cam = scene.cameras[0]
    pose = scene.ego_poses[2]
    box = np.array([[pose[0, 3] + 12, pose[1, 3] + 1, 0.8, 4.0, 2.0, 1.6, 0.3]])
    segs, idx = project_boxes(cam, pose, box)
    assert len(segs) > 0 and (idx == 0).all()
    corners = box_corners(box)[0]
    uv, _, valid = world_to_pixels(cam, pose, corners)
    assert valid.all()
    ends = segs.reshape(-1, 2)
    for c in uv:  # every corner is an end point of some projected edge piece
        assert np.min(np.linalg.norm(ends - c, axis=1)) < 1e-6
    scene.close()


# ----------------------------------------------------------------------------- gestures
def _session(tmp_path, tiny_scene=None) -> EditSession:
    scene = SceneReader.open(tiny_scene) if tiny_scene else None
    doc = LabelDocument.new("tiny", source="human", author="t")
    return EditSession(scene, doc, author="t", scene_path=tiny_scene)


def _ev(kind, origin, d, ground=None, mods=(), pos=(0, 0), button="left"):
    return PointerEvent(kind, np.asarray(origin, float), np.asarray(d, float) / np.linalg.norm(d),
                        None if ground is None else np.asarray(ground, float), button, frozenset(mods), pos)


def test_click_selects_the_nearest_box_and_empty_click_clears(tmp_path):
    s = _session(tmp_path)
    near = s.create_box(0, [10, 0, 1], [4, 2, 2])
    far = s.create_box(0, [20, 0, 1], [4, 2, 2])
    s.select(None)
    assert pick_track(s, np.array([0, 0, 1.0]), np.array([1.0, 0, 0])) == near
    s.create_box(0, [0, 0, 0], [10, 1, 1], yaw=np.pi / 4)  # rotated: hit inside, miss in its AABB corner
    assert pick_track(s, np.array([3, -3, 5.0]), np.array([0, 0, -1.0])) is None
    g = GestureController(s, lambda: 0.0, lambda: np.array([1.0, 0]))
    down = [0.0, 0.0, -1.0]
    assert g.handle(_ev("press", [20, 0, 30], down, pos=(5, 5)))
    g.handle(_ev("release", [20, 0, 30], down, pos=(6, 5)))
    assert s.selection == far
    g.handle(_ev("press", [50, 50, 30], down, pos=(5, 5)))
    g.handle(_ev("release", [50, 50, 30], down, pos=(5, 5)))
    assert s.selection is None


def test_shift_drag_previews_then_creates_one_undoable_box(tmp_path):
    s = _session(tmp_path)
    previews = []
    s.events.box_preview.connect(lambda tid, f, b: previews.append(b))
    g = GestureController(s, lambda: 0.0, lambda: np.array([1.0, 0.0]))  # screen up = world +x
    down = [0, 0, -1.0]
    g.handle(_ev("press", [0, 0, 30], down, ground=[0, 0, 0], mods={"shift"}))
    g.handle(_ev("move", [0, 0, 30], down, ground=[2, -1, 0], mods={"shift"}))
    g.handle(_ev("move", [0, 0, 30], down, ground=[5, -2, 0], mods={"shift"}))
    assert len(s.doc.tracks) == 0 and previews[-1] is not None
    g.handle(_ev("release", [0, 0, 30], down, ground=[5, -2, 0], mods={"shift"}))
    assert previews[-1] is None
    (tid,) = s.doc.tracks
    b = s.doc.tracks[tid].boxes[0].as_array()
    assert np.allclose(b[:2], [2.5, -1.0]) and np.allclose(b[3:5], [5, 2]) and np.isclose(b[6], 0.0)
    assert s.selection == tid
    s.undo()
    assert len(s.doc.tracks) == 0


def test_escape_during_a_drag_pushes_nothing(tmp_path):
    s = _session(tmp_path)
    g = GestureController(s, lambda: 0.0, lambda: np.array([1.0, 0.0]))
    g.handle(_ev("press", [0, 0, 30], [0, 0, -1], ground=[0, 0, 0], mods={"shift"}))
    g.handle(_ev("move", [0, 0, 30], [0, 0, -1], ground=[4, 3, 0], mods={"shift"}))
    g.cancel()
    assert not g.busy and len(s.doc.tracks) == 0 and not s.can_undo


def test_ground_rect_uses_the_longer_side_as_heading():
    b = box_from_ground_rect(np.array([0, 0, 0.0]), np.array([1.5, 6.0, 0]), np.array([1.0, 0]), 0.5, 1.6)
    assert np.allclose(b[3:6], [6.0, 1.5, 1.6]) and np.isclose(abs(b[6]), np.pi / 2) and np.isclose(b[2], 1.3)
    assert box_from_ground_rect(np.zeros(3), np.array([0.1, 3, 0]), np.array([1.0, 0]), 0, 1) is None


def test_nudges_move_in_the_box_frame_and_merge_into_one_undo_step(tmp_path):
    s = _session(tmp_path)
    tid = s.create_box(0, [0, 0, 1], [4, 2, 2], yaw=np.pi / 2)
    for _ in range(3):
        assert nudge(s, "W")
    b = s.doc.tracks[tid].boxes[0].as_array()
    assert np.allclose(b[:3], [0, 0.3, 1], atol=1e-9)  # heading is +y
    assert nudge(s, "Q", fine=True) and nudge(s, "I")
    b = s.doc.tracks[tid].boxes[0].as_array()
    assert np.isclose(b[6], np.pi / 2 + np.deg2rad(0.25)) and np.isclose(b[3], 4.1)
    s.undo()
    assert np.allclose(s.doc.tracks[tid].boxes[0].as_array()[:3], [0, 0, 1])
    s.select(None)
    assert not nudge(s, "W")


# ----------------------------------------------------------------------------- frame cache
def test_frame_cache_prefetches_neighbours_on_the_worker():
    loaded = []
    main = threading.get_ident()

    def loader(i):
        loaded.append((i, threading.get_ident()))
        time.sleep(0.01)
        return i * 10

    ready = []
    c = FrameCache(loader, 20, capacity=6, ahead=2, behind=1, on_ready=ready.append)
    try:
        assert c.get(5) == 50
        t0 = time.time()
        while len(ready) < 4 and time.time() - t0 < 5:
            time.sleep(0.01)
        assert set(c.cached()) >= {4, 5, 6, 7}
        assert all(tid != main for _, tid in loaded)
        assert c.request(6) == 60  # already there: no wait
        c.get(15)
        assert len(c.cached()) <= 6
    finally:
        c.close()


def test_frame_cache_reports_loader_errors_to_the_caller():
    def loader(i):
        if i == 3:
            raise ValueError("broken frame 3")
        return i

    c = FrameCache(loader, 5, ahead=0, behind=0)
    try:
        with pytest.raises(ValueError, match="broken frame 3"):
            c.get(3)
        assert c.get(2) == 2
    finally:
        c.close()


def test_load_frame_shuffles_and_keeps_world_coordinates(tiny_scene):
    scene = SceneReader.open(tiny_scene)
    f = load_frame(scene, 3)
    ref = scene.points_world(3)
    assert f.points.shape == ref.shape and f.points.dtype == np.float32
    a = np.sort(f.points.astype(float), axis=0)
    assert np.allclose(a, np.sort(ref, axis=0), atol=1e-3)
    assert not np.allclose(f.points[:50], ref[:50].astype(np.float32))  # shuffled for LOD
    assert set(f.images) == {"CAM_FRONT"} and f.images["CAM_FRONT"].shape == (240, 320, 3)
    assert f.intensity is not None and 0 <= f.intensity.min() and f.intensity.max() <= 1
    scene.close()


def test_ground_height_finds_the_road_whether_the_ego_origin_is_on_it_or_at_the_lidar():
    rng = np.random.default_rng(3)
    road = np.c_[rng.uniform(-30, 30, (5000, 2)), rng.normal(12.0, 0.02, 5000)]
    walls = np.c_[rng.uniform(-30, 30, (3000, 2)), rng.uniform(12.0, 16.0, 3000)]
    noise = np.c_[rng.uniform(-30, 30, (20, 2)), rng.uniform(10.0, 11.0, 20)]  # a few multipath returns below
    pts = np.concatenate([road, walls, noise]).astype(np.float32)
    for ego_z in (12.0, 13.73):  # origin on the ground / at the LiDAR
        assert abs(ground_height(pts, pose_from_yaw(0.3, [1.0, 2.0, ego_z])) - 12.0) < 0.1
    assert ground_height(pts[:10], pose_from_yaw(0.0, [0, 0, 5.0])) == 5.0  # too few points: the pose
