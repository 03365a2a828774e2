"""The QA panel on a real EditSession with two saved versions (pytest-qt, Xvfb)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402
from PyQt6.QtGui import QTextDocument  # noqa: E402

from lidarlabel.edit import EditSession  # noqa: E402
from lidarlabel.io.label_store import LabelStore  # noqa: E402
from lidarlabel.viewer.qa_panel import QAPanel  # noqa: E402
from tests.test_qa_mode import _make_one_change_of_each_kind, _old_doc  # noqa: E402


@pytest.fixture
def two_versions(tiny_scene):
    """(session on the newer of two saved versions, id of the older, the older document)."""
    old = _old_doc()
    store = LabelStore.for_scene(tiny_scene)
    v1 = store.save(old, author="ann1", source="human").stem
    s = EditSession.open(tiny_scene, author="qa-lead")
    _make_one_change_of_each_kind(s)
    s.save()
    s2 = EditSession.open(tiny_scene, author="qa-lead")  # what the app opens: the latest version
    s.close()
    yield s2, v1, store.load(v1)
    s2.close()


@pytest.fixture
def panel(qtbot, two_versions):
    s, v1, _ = two_versions
    p = QAPanel(s)
    qtbot.addWidget(p)
    p.resize(640, 420)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.close()


def _choose_version(panel: QAPanel, vid: str) -> None:
    idx = panel.versions.findData(vid)
    assert idx > 0, "the older version is listed"
    panel.versions.setCurrentIndex(idx)
    panel.versions.activated.emit(idx)


def _row_of(panel: QAPanel, kind: str):
    for r in range(panel.proxy.rowCount()):
        idx = panel.proxy.index(r, 1)
        if panel.model.rows[panel.proxy.mapToSource(idx).row()].kind == kind:
            return idx
    raise AssertionError(kind)


def _summary(panel: QAPanel) -> str:
    """The summary line as the user reads it (no markup, plain spaces)."""
    doc = QTextDocument()
    doc.setHtml(panel.summary.text())
    return doc.toPlainText().replace("\xa0", " ")


def _click(qtbot, panel: QAPanel, idx) -> None:
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=panel.table.visualRect(idx).center())


def test_choosing_a_version_lists_its_changes_and_a_click_jumps(qtbot, panel, two_versions):
    s, v1, _ = two_versions
    assert panel.versions.count() == 3  # the prompt + two versions, newest first
    with qtbot.waitSignal(panel.styles_changed, timeout=2000):
        _choose_version(panel, v1)
    kinds = sorted(c.kind for c in panel.model.rows)
    assert kinds == sorted(["removed", "geometry_changed", "track_id_changed", "category_changed",
                            "keyframe_changed", "attributes_changed", "added"])  # fmt: skip
    assert "geometry 1" in _summary(panel) and "unchanged 5" in _summary(panel)
    assert panel.review.box_styles(1)["a"][0] == "geometry_changed"
    assert not panel.revert_button.isEnabled()
    _click(qtbot, panel, _row_of(panel, "track_id_changed"))
    assert (s.frame, s.selection) == (1, "g")
    _click(qtbot, panel, _row_of(panel, "removed"))
    assert (s.frame, s.selection) == (0, None)
    panel.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # by track, as a header click does
    tracks = [panel.proxy.index(r, 3).data() for r in range(panel.proxy.rowCount())]
    assert tracks == sorted(tracks, reverse=True) and tracks[0] == "g"
    panel.kind_filter.setCurrentIndex(panel.kind_filter.findData("geometry_changed"))
    assert panel.proxy.rowCount() == 1


def test_revert_changes_the_model_by_one_undo_step(qtbot, panel, two_versions):
    s, v1, old = two_versions
    _choose_version(panel, v1)
    _click(qtbot, panel, _row_of(panel, "geometry_changed"))
    assert panel.revert_button.isEnabled()
    before = s.document()
    with qtbot.waitSignal(panel.styles_changed, timeout=2000):
        qtbot.mouseClick(panel.revert_button, Qt.MouseButton.LeftButton)
    np.testing.assert_allclose(s.doc.tracks["a"].boxes[1].as_array(), old.tracks["a"].boxes[1].as_array())
    assert panel.review.box_styles(1)["a"][0] == "unchanged"
    assert len(panel.model.rows) == 6 and "geometry" not in {c.kind for c in panel.model.rows}
    assert s.undo_label.startswith("Revert geometry")
    s.undo()
    assert s.document() == before
    qtbot.waitUntil(lambda: len(panel.model.rows) == 7, timeout=2000)


def test_accept_ticks_and_save_writes_a_qa_version(qtbot, panel, two_versions):
    s, v1, _ = two_versions
    _choose_version(panel, v1)
    _click(qtbot, panel, _row_of(panel, "category_changed"))
    before = s.document()
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "reviewed (accepted) 1" in _summary(panel), timeout=2000)
    assert s.document() == before
    assert panel.proxy.rowCount() == 6  # annotation changes: the keyframe flag is listed under "all changes"
    panel.hide_accepted.setChecked(True)
    assert panel.proxy.rowCount() == 5
    panel.kind_filter.setCurrentIndex(panel.kind_filter.findData(""))
    assert panel.proxy.rowCount() == 6
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    store = LabelStore.for_scene(s.scene_path)
    assert [e.source for e in store.versions()] == ["human", "human", "qa"]
    assert panel.versions.count() == 4 and "source qa" in panel.status.text()
    s.move_box("a", 0, center=(0.0, 3.0, -0.5))
    s.save()  # saved from the main window: the chooser lists it too
    assert panel.versions.count() == 5


def test_open_file_compares_and_a_bad_file_gets_one_clear_message(qtbot, panel, two_versions, tmp_path):
    s, v1, _ = two_versions
    bad = tmp_path / "broken.json"
    bad.write_text('{"schema": "lidarlabel/labels@1", "scene": "tiny"')
    panel.compare_with_file(bad)
    assert "broken.json" in panel.status.text() and panel.review is None
    panel.compare_with_file(LabelStore.for_scene(s.scene_path).versions_dir / f"{v1}.json")
    assert panel.review is not None and len(panel.model.rows) == 7
