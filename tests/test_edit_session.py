"""The Qt-free editing session: every edit undoable, exactly; signals for the views."""

from __future__ import annotations

import numpy as np
import pytest

from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.edit import EditSession
from lidarlabel.errors import InputError
from lidarlabel.io.scene import SceneReader


def prelabelled_session(scene_path) -> EditSession:
    doc = LabelDocument.new("tiny", source="prelabel", author="pre")
    for k, score in enumerate([0.95, 0.6, 0.85]):
        boxes = {f: Box(f, (5.0 * k, 1.0, 0.0), (4.0, 2.0, 1.5), 0.1, source="prelabel", score=score) for f in range(4)}
        doc.tracks[f"p{k}"] = Track(f"p{k}", "vehicle.car", {}, boxes)
    return EditSession(SceneReader.open(scene_path), doc)


def run_every_edit(s: EditSession) -> None:
    tid = s.create_box(1, (3, 4, 0), (4, 2, 1.5), 0.3, "vehicle.car")
    s.move_box(tid, 1, center=(3.5, 4, 0))
    s.move_box(tid, 3, yaw=1.0)
    s.set_category(tid, "vehicle.truck")
    s.set_attribute(tid, "vehicle.moving")
    s.set_attribute(tid, "vehicle.parked")
    s.accept("p0")
    s.reject("p1")
    s.accept_all(min_score=0.8)
    tail = s.split(tid, 3)
    s.merge(tid, tail)
    s.delete("p2", frame=2)
    s.delete("p0")


def test_undo_all_gives_back_the_exact_documents_and_redo_replays(tiny_scene):
    s = prelabelled_session(tiny_scene)
    snapshots = [s.document()]
    steps = []
    original_push = s._stack.push

    def push(cmd, doc):
        original_push(cmd, doc)
        snapshots.append(s.document())
        steps.append(cmd.label)

    s._stack.push = push  # observe every undo step as it is made
    run_every_edit(s)
    assert len(steps) >= 12
    for expected in reversed(snapshots[:-1]):
        assert s.undo()
        assert s.document() == expected
    assert not s.undo()
    for expected in snapshots[1:]:
        assert s.redo()
        assert s.document() == expected


def test_attributes_in_exclusive_group_replace_each_other(tiny_scene):
    s = prelabelled_session(tiny_scene)
    s.set_attribute("p0", "vehicle.moving")
    s.set_attribute("p0", "vehicle.parked")
    assert s.doc.tracks["p0"].attributes == {"vehicle.parked": True}
    with pytest.raises(InputError, match="unknown attribute"):
        s.set_attribute("p0", "vehicle.flying")


def test_moved_box_becomes_human_keyframe_with_point_count(tiny_scene):
    s = prelabelled_session(tiny_scene)
    pts = s.points_world(2)
    centre = pts[0]
    s.move_box("p0", 2, center=centre, size=(3, 3, 3))
    b = s.doc.tracks["p0"].boxes[2]
    assert (b.source, b.keyframe, b.score) == ("human", True, None)
    assert b.num_lidar_pts >= 1
    assert b.timestamp_us == s.scene.timestamps_us[2]


def test_move_on_a_frame_without_box_creates_one_from_the_nearest(tiny_scene):
    s = prelabelled_session(tiny_scene)
    s.move_box("p0", 4, yaw=0.5)
    b = s.doc.tracks["p0"].boxes[4]
    assert b.size == (4.0, 2.0, 1.5) and b.yaw == pytest.approx(0.5) and b.keyframe


def test_key_nudges_merge_into_one_undo_step(tiny_scene):
    s = prelabelled_session(tiny_scene)
    before = s.document()
    for i in range(5):
        s.move_box("p0", 0, center=(0.1 * (i + 1), 1, 0), merge_key="nudge")
    assert s.undo_label == "Move box"
    s.undo()
    assert s.document() == before


def test_accept_all_is_one_step_and_respects_the_score(tiny_scene):
    s = prelabelled_session(tiny_scene)
    assert s.accept_all(min_score=0.8) == 2
    sources = {tid: {b.source for b in t.boxes.values()} for tid, t in s.doc.tracks.items()}
    assert sources == {"p0": {"human"}, "p1": {"prelabel"}, "p2": {"human"}}
    s.undo()
    assert all(b.source == "prelabel" for t in s.doc.tracks.values() for b in t.boxes.values())


def test_signals_tell_views_what_changed(tiny_scene):
    s = prelabelled_session(tiny_scene)
    seen = []
    s.events.document_changed.connect(lambda c: seen.append((c.kind, set(c.track_ids))))
    s.events.frame_changed.connect(lambda f: seen.append(("frame", f)))
    s.events.selection_changed.connect(lambda t: seen.append(("sel", t)))
    s.set_frame(3)
    s.select("p1")
    s.reject("p1")
    s.undo()
    # the selection is cleared before views hear of the change, so none sees a dangling id
    assert seen == [("frame", 3), ("sel", "p1"), ("sel", None), ("edit", {"p1"}), ("undo", {"p1"})]


def test_bad_edits_are_refused_without_changing_anything(tiny_scene):
    s = prelabelled_session(tiny_scene)
    before = s.document()
    with pytest.raises(InputError, match="unknown category"):
        s.create_box(0, (0, 0, 0), category="vehicle.spaceship")
    with pytest.raises(InputError, match="positive size"):
        s.move_box("p0", 0, size=(0, 1, 1))
    with pytest.raises(InputError, match="no track"):
        s.accept("nope")
    assert s.document() == before and not s.can_undo


def test_frame_is_clamped_to_the_scene(tiny_scene):
    s = prelabelled_session(tiny_scene)
    s.set_frame(99)
    assert s.frame == 4
    np.testing.assert_allclose(s.points_world(4), s.scene.points_world(4))
