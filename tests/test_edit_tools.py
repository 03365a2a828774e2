"""Picking, gestures and "see the whole object", without a window."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.core.boxes import box_corners
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.edit import EditSession
from lidarlabel.edit.gestures import drag, handle_at
from lidarlabel.edit.object_points import StackCache, points_in_box_frame, stacked_object_points
from lidarlabel.edit.picking import nearest_point_on_ray, ray_box_hit
from lidarlabel.io.scene import SceneReader


def test_ray_hits_the_nearer_box_and_respects_rotation():
    boxes = np.array([[10, 0, 0, 4, 2, 2, 0.0], [5, 0, 0, 1, 1, 1, np.pi / 4], [5, 5, 0, 1, 1, 1, 0]])
    i, dist = ray_box_hit([0, 0, 0], [1, 0, 0], boxes)
    assert i == 1 and dist == pytest.approx(5 - np.sqrt(0.5))  # the rotated cube's corner points at us
    assert ray_box_hit([0, 0, 0], [-1, 0, 0], boxes) == (None, float("inf"))
    assert ray_box_hit([10, 0, 0], [0, 0, 1], boxes)[0] == 0  # starting inside


def test_nearest_point_on_ray_takes_the_visible_surface():
    pts = np.array([[10, 0.05, 0], [5, 0.1, 0], [3, 2, 0], [-4, 0, 0]])
    assert nearest_point_on_ray([0, 0, 0], [2, 0, 0], pts, 0.2) == 1
    assert nearest_point_on_ray([0, 0, 0], [0, 1, 0], pts, 0.2) is None


@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5])
def test_edge_drag_moves_one_side_and_keeps_the_opposite(yaw):
    box = np.array([3.0, -2.0, 1.0, 4.0, 2.0, 1.5, yaw])
    assert handle_at("top", box, (2.0, 0.0), 0.2) == "+a"
    new = drag("top", "+a", box, (2.0, 0.0), (2.5, 0.3))
    assert new[3] == pytest.approx(4.5)
    old_c, new_c = box_corners(box[None])[0], box_corners(new[None])[0]
    # the rear face (corners 2, 3, 6, 7) stays where it was
    np.testing.assert_allclose(new_c[[2, 3, 6, 7]], old_c[[2, 3, 6, 7]], atol=1e-9)
    side = drag("side", "+b", box, (0, 0.75), (0, 1.25))  # top face up by 0.5, bottom stays
    assert side[5] == pytest.approx(2.0) and side[2] - side[5] / 2 == pytest.approx(box[2] - box[5] / 2)


def test_centre_and_heading_drags():
    box = np.array([0.0, 0.0, 1.0, 4.0, 2.0, 1.5, np.pi / 2])
    moved = drag("top", "centre", box, (0, 0), (1.0, 0))  # 1 m along the heading (world +y)
    np.testing.assert_allclose(moved[:3], [0, 1, 1], atol=1e-9)
    front = drag("front", "centre", box, (0, 0), (0, 0.5))
    np.testing.assert_allclose(front[:3], [0, 0, 1.5], atol=1e-9)
    assert handle_at("top", box, (2.6, 0.0), 0.2) == "heading"
    turned = drag("top", "heading", box, (2.6, 0.0), (0.0, 2.6))
    assert turned[6] == pytest.approx(-np.pi)  # pi/2 + pi/2, normalised
    assert handle_at("top", box, (10, 10), 0.2) is None


def test_stacked_points_show_the_whole_object_in_its_frame(tiny_scene):
    scene = SceneReader.open(tiny_scene)
    doc = LabelDocument.new("tiny")
    boxes = {f: Box(f, (5.0 + f, 2.0, -0.5), (6.0, 6.0, 3.0), 0.2 * f) for f in range(5)}
    doc.tracks["t"] = Track("t", "vehicle.car", {}, boxes)
    s = EditSession(scene, doc)
    pts = stacked_object_points(s, "t", margin=0.0)
    assert len(pts) > 0 and np.all(np.abs(pts) <= [3, 3, 1.5])
    expected = sum(int(((np.abs(_local(s.points_world(f), boxes[f])) <= [3, 3, 1.5]).all(axis=1)).sum()) for f in range(5))
    assert len(pts) == expected
    assert len(stacked_object_points(s, "t", max_frames=2, margin=0.0)) < expected
    cache = StackCache()
    first = stacked_object_points(s, "t", margin=0.0, cache=cache)
    s.move_box("t", 2, center=(0.0, 0.0, -0.5))  # only frame 2 must be looked at again
    reads = []
    original = s.points_world
    s.points_world = lambda f: reads.append(f) or original(f)
    second = stacked_object_points(s, "t", margin=0.0, cache=cache)
    assert reads == [2] and len(first) == expected
    assert len(second) == sum(len(points_in_box_frame(original(f), s.doc.tracks["t"].boxes[f].as_array(), 0.0))
                              for f in range(5))


def _local(points, box):
    rel = points - np.array(box.center)
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    return np.c_[c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]]
