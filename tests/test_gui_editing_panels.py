"""The three-view and properties panels driven with real mouse events (pytest-qt, Xvfb)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PyQt6.QtCore import QPoint, Qt  # noqa: E402

from lidarlabel.core.labels import Box, LabelDocument, Track  # noqa: E402
from lidarlabel.edit import EditSession  # noqa: E402
from lidarlabel.edit.gestures import handle_positions  # noqa: E402
from lidarlabel.io.scene import SceneReader  # noqa: E402
from lidarlabel.viewer.properties import PropertiesPanel  # noqa: E402
from lidarlabel.viewer.three_view import ThreeViewPanel  # noqa: E402


@pytest.fixture
def session(tiny_scene):
    doc = LabelDocument.new("tiny", source="prelabel", author="pre")
    boxes = {f: Box(f, (5.0, 1.0, -0.5), (4.0, 2.0, 1.5), 0.4, source="prelabel", score=0.7) for f in range(3)}
    doc.tracks["p0"] = Track("p0", "vehicle.car", {}, boxes)
    s = EditSession(SceneReader.open(tiny_scene), doc)
    s.select("p0")
    return s


def _pixel(view, ab) -> QPoint:
    p = view.to_pixel(np.asarray(ab))
    return QPoint(round(p.x()), round(p.y()))


def test_dragging_the_front_edge_in_the_top_view_is_one_undo_step(qtbot, session):
    panel = ThreeViewPanel(session)
    qtbot.addWidget(panel)
    panel.resize(900, 320)
    panel.show()
    qtbot.waitExposed(panel)
    top = panel.views["top"]
    before = session.document()
    box = panel.current_box()
    previews = []
    session.events.box_preview.connect(lambda tid, f, b: previews.append(b))
    start = _pixel(top, handle_positions("top", box)["+a"])
    scale = top._scale(box)
    qtbot.mousePress(top, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(top, start + QPoint(round(0.5 * scale), 0))
    qtbot.mouseMove(top, start + QPoint(round(1.0 * scale), 0))
    assert session.document() == before  # previews only while dragging
    assert len(previews) == 2 and previews[-1][3] == pytest.approx(5.0, abs=0.05)
    qtbot.mouseRelease(top, Qt.MouseButton.LeftButton, pos=start + QPoint(round(1.0 * scale), 0))
    new = session.doc.tracks["p0"].boxes[0]
    assert new.size[0] == pytest.approx(5.0, abs=0.05) and new.size[1:] == (2.0, 1.5)
    assert (new.source, new.keyframe) == ("human", True)
    # the rear edge stayed put: the centre moved half the growth along the heading
    assert np.hypot(new.center[0] - 5.0, new.center[1] - 1.0) == pytest.approx(0.5, abs=0.03)
    assert previews[-1] is None and session.undo_label == "Resize box"
    assert session.undo() and session.document() == before and not session.can_undo


def test_escape_cancels_a_drag_and_pushes_nothing(qtbot, session):
    panel = ThreeViewPanel(session)
    qtbot.addWidget(panel)
    panel.resize(900, 320)
    panel.show()
    qtbot.waitExposed(panel)
    side = panel.views["side"]
    before = session.document()
    start = _pixel(side, (0.0, 0.0))
    qtbot.mousePress(side, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(side, start + QPoint(40, -30))
    qtbot.keyClick(side, Qt.Key.Key_Escape)
    qtbot.mouseRelease(side, Qt.MouseButton.LeftButton, pos=start + QPoint(40, -30))
    assert session.document() == before and not session.can_undo


def test_properties_panel_edits_through_the_session(qtbot, session):
    panel = PropertiesPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.track_id.text() == "p0" and panel.status.text() == "unreviewed (score 0.70)"
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "reviewed" and not panel.accept_button.isEnabled()
    panel.category.setCurrentText("vehicle.truck")
    assert session.doc.tracks["p0"].category == "vehicle.truck"
    panel.attribute_buttons["vehicle.moving"].click()
    panel.attribute_buttons["vehicle.parked"].click()
    assert session.doc.tracks["p0"].attributes == {"vehicle.parked": True}
    panel.keyframe.click()  # the pre-label box of frame 0 becomes a keyframe
    assert session.doc.tracks["p0"].boxes[0].keyframe
    assert session.undo_label == "Set keyframe"
    for _ in range(5):
        session.undo()
    assert panel.category.currentText() == "vehicle.car" and panel.status.text().startswith("unreviewed")
    assert not panel.attribute_buttons["vehicle.parked"].isChecked()
    session.select(None)
    assert panel.track_id.text() == "-" and not panel.category.isEnabled()
    assert panel.category.currentText() == ""  # no track: no category shown
    assert session.doc.tracks["p0"].category == "vehicle.car"  # clearing the box changed nothing
    session.select("p0")
    assert panel.category.currentText() == "vehicle.car" and panel.category.isEnabled()
