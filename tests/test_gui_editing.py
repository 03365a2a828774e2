"""Editing through the real window: clicks and drags in the 3D view, nudge keys, shortcuts, actions, saving."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtTest import QTest

from lidarlabel.core.boxes import bev_iou_pairs
from tests import gui_support
from tests.conftest import CHECKER
from tests.gui_support import SAMPLE

make_viewer = gui_support.make_viewer  # the fixture
pytestmark = pytest.mark.gui
LABELS = SAMPLE.with_name("sample.gt.json")


def _copy_scene(tmp_path):
    """The sample scene in a temporary folder (make_viewer leaves a scene there as it is)."""
    dst = tmp_path / "scene.h5"
    dst.write_bytes(SAMPLE.read_bytes())
    return dst


def _px(w, world):
    p, ok = w.canvas.camera.project(np.asarray(world, float).reshape(1, 3))
    assert ok[0]
    return QPoint(int(round(p[0, 0])), int(round(p[0, 1])))


def _activate(w, qtbot):
    w.activateWindow()
    w.canvas.container.setFocus()
    qtbot.waitUntil(lambda: w.isActiveWindow(), timeout=3000)


def _hide_three_view(w):
    # ThreeViewPanel paints point by point in Python (seconds per paint for a nearby car
    # with all frames stacked); reported to its owner. Hidden here so the test stays fast.
    w.docks["Top / side / front"].hide()


def test_click_selects_nudge_key_moves_and_ctrl_z_restores(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS, show=True)
    s = w.session
    _hide_three_view(w)
    _activate(w, qtbot)
    w.actions["birds_eye"].trigger()
    ids, boxes = s.doc.frame_boxes(s.frame)
    dist = np.linalg.norm(boxes[:, :2] - s.scene.ego_poses[s.frame][:2, 3], axis=1)
    k = int(np.argmin(np.where(boxes[:, 3] > 3, dist, np.inf)))  # the nearest car-sized box
    tid, before = ids[k], boxes[k].copy()
    s.select(None)
    QTest.mouseClick(w.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _px(w, before[:3]))
    assert s.selection == tid
    QTest.keyClick(w.canvas, Qt.Key.Key_W)
    QTest.keyClick(w.canvas, Qt.Key.Key_W)
    QTest.keyClick(w.canvas, Qt.Key.Key_Q, Qt.KeyboardModifier.ShiftModifier)  # fine rotation
    after = s.doc.tracks[tid].boxes[s.frame].as_array()
    heading = np.array([np.cos(before[6]), np.sin(before[6])])
    np.testing.assert_allclose(after[:2] - before[:2], 0.2 * heading, atol=1e-6)
    assert np.isclose(after[6] - before[6], np.deg2rad(0.25))
    assert s.undo_label.startswith("Nudge")
    QTest.keyClick(w.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the Undo shortcut
    np.testing.assert_allclose(s.doc.tracks[tid].boxes[s.frame].as_array(), before, atol=1e-9)
    assert not s.can_undo
    QTest.keyClick(w.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_allclose(s.doc.tracks[tid].boxes[s.frame].as_array(), after, atol=1e-9)


def test_ctrl_click_fits_a_box_to_the_object_and_undo_removes_it(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS, show=True)
    s = w.session
    _hide_three_view(w)
    w.actions["birds_eye"].trigger()
    ids, boxes = s.doc.frame_boxes(s.frame)
    dist = np.linalg.norm(boxes[:, :2] - s.scene.ego_poses[s.frame][:2, 3], axis=1)
    k = int(np.argmin(np.where(boxes[:, 3] > 3, dist, np.inf)))
    truth = boxes[k]
    s.delete(ids[k])  # the car is now unlabelled: fit a new box on it
    n = len(s.doc.tracks)
    QTest.mouseClick(w.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, _px(w, truth[:3]))
    assert len(s.doc.tracks) == n + 1
    new = s.doc.tracks[s.selection].boxes[s.frame].as_array()
    assert bev_iou_pairs(new[None], truth[None])[0] > 0.3  # the fit landed on the clicked car
    w.actions["undo"].trigger()
    assert len(s.doc.tracks) == n and s.selection is None


def test_shift_drag_in_birds_eye_creates_a_box_with_the_dragged_footprint(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS, show=True)
    s = w.session
    _hide_three_view(w)
    w.actions["birds_eye"].trigger()
    c = w.canvas
    a, b = QPoint(c.width() // 2 - 40, 60), QPoint(c.width() // 2 + 40, 110)
    ga = c.camera.ray(a.x(), a.y())
    n = len(s.doc.tracks)
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, a)
    QTest.mouseMove(c, QPoint(a.x() + 30, a.y() + 20))
    assert w.view3d._preview is not None  # the candidate is drawn while dragging
    QTest.mouseMove(c, b)
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, b)
    assert len(s.doc.tracks) == n + 1 and w.view3d._preview is None
    box = s.doc.tracks[s.selection].boxes[s.frame].as_array()
    gz = s.scene.ego_poses[s.frame][2, 3]
    o, d = ga
    start = o + (gz - o[2]) / d[2] * d
    o, d = c.camera.ray(b.x(), b.y())
    end = o + (gz - o[2]) / d[2] * d
    np.testing.assert_allclose(box[:2], (start[:2] + end[:2]) / 2, atol=0.05)
    up = w.view3d._screen_up()  # the rectangle's sides follow the screen axes
    right = np.array([up[1], -up[0]])
    d = (end - start)[:2]
    np.testing.assert_allclose(sorted(box[3:5]), sorted([abs(d @ up), abs(d @ right)]), rtol=0.02)


def test_review_and_track_actions_and_save_a_valid_version(make_viewer, tmp_path, qtbot):
    scene = _copy_scene(tmp_path)
    doc = json.loads(LABELS.read_text())
    n_frames = max(len(t["boxes"]) for t in doc["tracks"])
    doc["tracks"].sort(key=lambda t: -len(t["boxes"]))  # full-length tracks first
    for k, t in enumerate(doc["tracks"][:3]):  # three pre-labelled tracks, scores 0.4, 0.6, 0.8
        for b in t["boxes"]:
            b["source"], b["score"] = "prelabel", 0.4 + 0.2 * k
    pre = tmp_path / "pre.json"
    pre.write_text(json.dumps(doc))
    w = make_viewer(scene, pre)
    s = w.session
    t0, t1, t2 = (t["id"] for t in doc["tracks"][:3])
    s.select(t0)
    w.actions["accept"].trigger()
    assert all(b.source == "human" for b in s.doc.tracks[t0].boxes.values())
    w.prompts.score = 0.7
    w.actions["accept_all"].trigger()  # t2 (0.8) yes, t1 (0.6) no
    assert all(b.source == "human" for b in s.doc.tracks[t2].boxes.values())
    assert all(b.source == "prelabel" for b in s.doc.tracks[t1].boxes.values())
    s.select(t1)
    w.actions["reject"].trigger()
    assert t1 not in s.doc.tracks
    s.select(t0)
    s.set_frame(5)
    w.actions["split"].trigger()
    assert sorted(s.doc.tracks[t0].boxes) == [0, 1, 2, 3, 4]
    tail = next(t for t in s.doc.tracks if t not in {tt["id"] for tt in doc["tracks"]})
    w.prompts.merge_choice = tail
    w.actions["merge"].trigger()
    assert tail not in s.doc.tracks and len(s.doc.tracks[t0].boxes) == n_frames
    w.actions["delete_box"].trigger()
    assert 5 not in s.doc.tracks[t0].boxes
    w.actions["undo"].trigger()
    assert 5 in s.doc.tracks[t0].boxes
    w.actions["save"].trigger()
    assert not s.modified
    versions = sorted((scene.parent).rglob("*.json"))
    saved = [p for p in versions if p.name not in ("pre.json",) and "draft" not in p.name]
    assert saved, "no version was written"
    r = subprocess.run([sys.executable, str(CHECKER), str(saved[-1])], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    w.actions["delete_track"].trigger()
    assert t0 not in s.doc.tracks and s.modified


def test_propagate_and_interpolate_from_the_edit_menu(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS)
    s = w.session
    tid = next(t for t, tr in s.doc.tracks.items() if len(tr.boxes) == s.num_frames and tr.category == "vehicle.car")
    s.select(tid)
    with s.batch("keep keyframes 0 and 6 only"):
        for f in range(1, s.num_frames):
            if f != 6:
                s.delete(tid, f)
    w.actions["interpolate"].trigger()
    t = s.doc.tracks[tid]
    assert sorted(t.boxes) == list(range(7)) and t.boxes[3].source == "interpolated"
    s.set_frame(6)
    w.actions["propagate"].trigger()
    assert s.frame == 7 and 7 in s.doc.tracks[tid].boxes
    w.actions["undo"].trigger()
    assert 7 not in s.doc.tracks[tid].boxes


def test_autosave_writes_a_draft_and_reopening_offers_it(make_viewer, tmp_path, qtbot):
    from lidarlabel.io.label_store import LabelStore
    from lidarlabel.viewer import app_files

    scene = _copy_scene(tmp_path)
    w = make_viewer(scene, LABELS)
    s = w.session
    assert app_files.autosave(w) is None  # nothing to save yet
    tid = next(iter(s.doc.tracks))
    s.save()  # a saved version, then an unsaved edit that only the draft holds
    kept = set(s.doc.tracks) - {tid}
    s.delete(tid)
    draft = app_files.autosave(w)
    assert draft is not None and draft.is_file()
    assert LabelStore.for_scene(scene).has_newer_draft() or not LabelStore.for_scene(scene).versions()
    w.prompts.answer = True
    app_files.open_scene(w, scene)  # reopen: "discard?" yes, "recover draft?" yes
    assert "Recover draft" in w.prompts.asked
    assert set(w.session.doc.tracks) == kept  # the draft's edit is back ...
    assert w.session.modified and w.session.undo_label == "Recover autosaved draft"
    w.session.undo()  # ... as one undoable step on top of the saved version
    assert tid in w.session.doc.tracks
    assert [t for t in w.timers if t.isActive() and t.interval() == 30_000]


def test_editing_panels_are_docked_and_follow_the_selection(make_viewer):
    w = make_viewer(SAMPLE, LABELS)
    assert set(w.extra_panels) == {"Top / side / front", "Properties", "QA review"}
    for name, panel in w.extra_panels.items():
        assert w.docks[name].widget() is panel
    tid = next(iter(w.session.doc.tracks))
    w.session.select(tid)
    assert w.extra_panels["Top / side / front"].current_box() is not None


def test_help_lists_every_shortcut(make_viewer):
    from lidarlabel.viewer.actions import shortcut_table, show_help

    w = make_viewer(SAMPLE, LABELS)
    rows = shortcut_table(w)
    keys = {k for k, _ in rows}
    for needed in ("Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+S", "Del", "Space", "B", "C", "W", "Q", "F1"):
        assert needed in keys, needed
    from PyQt6.QtWidgets import QTableWidget

    d = show_help(w)
    table = d.findChild(QTableWidget)
    assert table.rowCount() == len(rows) and table.item(0, 0).text() == rows[0][0]
    d.close()
    d.deleteLater()


def test_qa_review_colours_changed_boxes_in_3d_and_cameras_and_draws_removed_ghosts(make_viewer, tmp_path):
    """QA mode in the app: compare with the saved version; the 3D overlay and the cameras follow."""
    from lidarlabel.edit.qa_mode import KIND_COLOURS

    scene = _copy_scene(tmp_path)
    w = make_viewer(scene, LABELS)
    s = w.session
    base = s.save()  # the version to compare with
    ids, boxes = s.doc.frame_boxes(s.frame)
    moved, gone = ids[0], ids[1]
    s.move_box(moved, s.frame, center=boxes[0, :3] + [1.0, 0, 0])
    s.delete(gone)
    qa = w.extra_panels["QA review"]
    qa.compare_with_version(base.stem)

    def colours_drawn():
        return {tuple(int(v) for v in c) for batch in w.canvas._lines for c in batch.colors}

    drawn = colours_drawn()
    assert KIND_COLOURS["geometry_changed"] in drawn
    assert KIND_COLOURS["removed"] in drawn  # the deleted track as a ghost
    view = next(iter(w.camera_panel.views.values()))
    assert qa.review.box_styles(s.frame)[moved][0] == "geometry_changed"
    assert view.panel.qa_source is qa
    qa.set_review(None)  # leaving QA mode restores the category colours
    assert KIND_COLOURS["removed"] not in colours_drawn()
