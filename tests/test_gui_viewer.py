"""The annotator window on the sample scene, driven through its real widgets (pytest-qt, Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QImage

from lidarlabel.core.boxes import box_corners
from lidarlabel.core.camera import world_to_pixels
from lidarlabel.viewer.overlay import box_segments
from lidarlabel.viewer.view3d import SELECTED
from tests import gui_support
from tests.gui_support import SAMPLE

make_viewer = gui_support.make_viewer  # the fixture

pytestmark = pytest.mark.gui
LABELS = SAMPLE.with_name("sample.gt.json")


def _visible_track(w, cam_name="CAM_FRONT"):
    """A track whose box in the current frame projects entirely inside ``cam_name``."""
    s = w.session
    cam = s.scene.camera(cam_name)
    pose = s.scene.ego_poses[s.frame]
    ids, boxes = s.doc.frame_boxes(s.frame)
    for tid, b in zip(ids, boxes):
        uv, depth, valid = world_to_pixels(cam, pose, box_corners(b[None])[0])
        if valid.all() and cam.in_image(uv).all() and depth.min() > 3:
            return tid, uv
    raise AssertionError("no box fully inside the camera in this frame")


def test_stepping_frames_updates_3d_view_cameras_timeline_and_status(make_viewer):
    w = make_viewer(SAMPLE, LABELS)
    s = w.session
    assert w.canvas.num_points == s.scene.num_points(0)
    w.actions["next"].trigger()
    assert s.frame == 1 and w.wait_for_frame()
    assert w.view3d.shown.index == 1 and w.camera_panel.shown.index == 1
    assert w.canvas.num_points == s.scene.num_points(1)
    assert w.timeline.slider.value() == 1 and "frame 2/" in w.timeline.label.text()
    w.actions["next10"].trigger()
    assert s.frame == min(11, s.num_frames - 1)
    for _ in range(s.num_frames // 10 + 1):
        w.actions["next10"].trigger()
    assert s.frame == s.num_frames - 1  # clamped at the end
    w.actions["prev"].trigger()
    assert s.frame == s.num_frames - 2
    w.timeline.slider.setValue(3)
    assert s.frame == 3 and w.wait_for_frame()
    assert w.canvas.ground_z == w.view3d.shown.ground_z


def test_list_selection_follows_into_3d_and_cameras_and_back(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS)
    s = w.session
    tid, corners_uv = _visible_track(w)
    row = w.object_list.model.row_of(tid)
    idx = w.object_list.proxy.mapFromSource(w.object_list.model.index(row, 0))
    w.object_list.table.selectionModel().select(
        idx, w.object_list.table.selectionModel().SelectionFlag.ClearAndSelect
        | w.object_list.table.selectionModel().SelectionFlag.Rows)
    assert s.selection == tid
    # 3D: the selected box is drawn as the wide highlighted batch, exactly its segments
    sel = [b for b in w.canvas._lines if b.width == 4.0]
    assert len(sel) == 1 and (sel[0].colors == SELECTED).all()
    box = s.doc.tracks[tid].boxes[s.frame].as_array()
    np.testing.assert_allclose(sel[0].segments, box_segments(box[None])[0], atol=1e-4)
    # cameras: the projected edges of that track end on the corner pixels the camera model gives
    view = w.camera_panel.views["CAM_FRONT"]
    mine = np.array([k for k, t in enumerate(view.segment_track) if t == tid])
    ends = view.segments[mine].reshape(-1, 2)
    for c in corners_uv:
        assert np.min(np.linalg.norm(ends - c, axis=1)) < 1e-6
    # and back: a selection made elsewhere highlights the row; the strip shows its frames
    other = next(t for t in s.doc.tracks if t != tid)
    s.select(other)
    assert w.object_list.selected_track() == other
    keys, rest = w.timeline.strip.marks()
    assert sorted(keys + rest) == sorted(s.doc.tracks[other].boxes)


def test_filter_and_sort_the_object_list(make_viewer):
    w = make_viewer(SAMPLE, LABELS)
    ol = w.object_list
    ol.filter.setText("pedestrian")
    n = ol.proxy.rowCount()
    cats = {ol.proxy.index(r, 1).data() for r in range(n)}
    assert n > 0 and cats == {"human.pedestrian.adult"}
    ol.filter.setText("")
    ol.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    frames = [int(ol.proxy.index(r, 2).data()) for r in range(ol.proxy.rowCount())]
    assert frames == sorted(frames, reverse=True) and len(frames) == len(w.session.doc.tracks)


def test_click_on_a_box_in_3d_selects_it_and_on_empty_ground_clears(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS, show=True)
    s = w.session
    s.select(None)
    w.actions["birds_eye"].trigger()
    ids, boxes = s.doc.frame_boxes(s.frame)
    px, ok = w.canvas.camera.project(boxes[:, :3])
    inside = [k for k in range(len(ids)) if ok[k] and 20 < px[k, 0] < w.canvas.width() - 20
              and 20 < px[k, 1] < w.canvas.height() - 20]
    k = inside[0]
    qtbot.mouseClick(w.canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(px[k, 0]), int(px[k, 1])))
    assert s.selection == ids[k]
    # the canvas's ego marker spot: nothing there to pick
    c, _ = w.canvas.camera.project(s.scene.ego_poses[s.frame][:3, 3][None] + [[0, 0, 0.1]])
    qtbot.mouseClick(w.canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(c[0, 0]), int(c[0, 1])))
    assert s.selection is None


def test_screenshot_is_not_blank_and_shows_the_cloud(make_viewer, tmp_path):
    from lidarlabel.viewer.app import screenshot

    w = make_viewer(SAMPLE, LABELS)
    out = screenshot(w, tmp_path / "shot.png", frame=2, size=(1280, 800))
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1280, 800)
    # the 3D view area holds many distinct colours (points + boxes), not a flat fill
    g = w.canvas.container.geometry()
    sub = img.copy(g).convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(sub.constBits().asstring(sub.sizeInBytes()), np.uint8)
    arr = arr[: sub.height() * sub.bytesPerLine()].reshape(sub.height(), sub.bytesPerLine())[:, : 3 * sub.width()]
    colors = np.unique(arr.reshape(-1, 3)[::7], axis=0)
    assert len(colors) > 50


def test_camera_click_enlarges_and_colour_modes_recolour(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS, show=True)
    cp = w.camera_panel
    qtbot.mouseClick(cp.views["CAM_FRONT_LEFT"], Qt.MouseButton.LeftButton)
    assert cp.enlarged == "CAM_FRONT_LEFT" and not cp.views["CAM_FRONT"].isVisible()
    qtbot.mouseClick(cp.views["CAM_FRONT_LEFT"], Qt.MouseButton.LeftButton)
    assert cp.enlarged is None and cp.views["CAM_FRONT"].isVisible()
    before = w.canvas._colors.copy()
    w.actions["color_camera"].trigger()
    after = w.canvas._colors
    assert w.display.color_mode == "camera" and not np.array_equal(before, after)
    w.actions["camera_points"].trigger()
    assert cp.views["CAM_FRONT"].points is not None and len(cp.views["CAM_FRONT"].points[0]) > 100


def test_accumulating_past_sweeps_and_playing_at_the_scene_rate(make_viewer, qtbot):
    w = make_viewer(SAMPLE, LABELS)
    s = w.session
    s.set_frame(3)
    assert w.wait_for_frame()
    w.accumulate_box.setValue(2)
    assert w.canvas.num_points == sum(s.scene.num_points(i) for i in (1, 2, 3))
    w.accumulate_box.setValue(0)
    assert w.canvas.num_points == s.scene.num_points(3)
    dt_ms = np.median(np.diff(s.scene.timestamps_us)) / 1000
    assert abs(w.timeline._timer.interval() - dt_ms) <= 1
    s.set_frame(s.num_frames - 3)
    w.actions["play"].trigger()
    assert w.timeline.playing
    qtbot.waitUntil(lambda: not w.timeline.playing, timeout=5000)  # stops at the last frame
    assert s.frame == s.num_frames - 1
