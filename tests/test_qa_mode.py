"""QA mode without Qt: styles, ghosts and per-frame changes of a known version pair; revert and undo."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.edit import EditSession
from lidarlabel.edit.qa_mode import KIND_COLOURS, QAReview
from lidarlabel.errors import InputError
from lidarlabel.io.label_store import LabelStore
from lidarlabel.io.scene import SceneReader
from lidarlabel.qa.diff import diff_documents
from tests.conftest import CHECKER

GREEN, RED, ORANGE, PURPLE, BLUE, CYAN, GREY = (
    KIND_COLOURS[k] for k in ("added", "removed", "geometry_changed", "category_changed",
                              "attributes_changed", "track_id_changed", "unchanged"))  # fmt: skip

# track -> (category, frames, centre at frame 0); tracks sit 10 m apart so only f/g overlap
LAYOUT = {
    "a": ("vehicle.car", range(5), (0.0, 0.0)),
    "b": ("vehicle.car", [2], (10.0, 0.0)),
    "c": ("vehicle.car", [3], (20.0, 0.0)),
    "d": ("vehicle.car", [0], (30.0, 0.0)),
    "f": ("vehicle.car", [1], (40.0, 0.0)),
    "h": ("vehicle.car", [2], (50.0, 0.0)),
}


def _old_doc() -> LabelDocument:
    doc = LabelDocument.new("tiny", source="human", author="ann1")
    for tid, (cat, frames, (x, y)) in LAYOUT.items():
        boxes = {f: Box(f, (x + 0.5 * f, y, -0.5), (4.0, 2.0, 1.5), 0.3, source="human", keyframe=True)
                 for f in frames}  # fmt: skip
        doc.tracks[tid] = Track(tid, cat, {}, boxes)
    return doc


def _make_one_change_of_each_kind(s: EditSession) -> None:
    s.move_box("a", 1, center=(1.0, 0.8, -0.5))  # geometry_changed, frame 1
    s.set_category("b", "vehicle.truck")  # category_changed, frame 2
    s.set_attribute("c", "vehicle.moving", True, frame=3)  # attributes_changed, frame 3
    s.delete("d")  # removed, frame 0
    s.create_box(4, (-20.0, 5.0, -0.5), (4.0, 2.0, 1.5), 0.0, "vehicle.car", track_id="e")  # added, frame 4
    f_box = s.doc.tracks["f"].boxes[1]
    s.delete("f")
    s.create_box(1, f_box.center, f_box.size, f_box.yaw, "vehicle.car", track_id="g")  # track_id_changed
    s.set_keyframe("h", 2, False)  # keyframe_changed, frame 2


@pytest.fixture
def pair(tiny_scene):
    """(session holding the NEW version, the OLD document) with one change of every kind."""
    old = _old_doc()
    s = EditSession(SceneReader.open(tiny_scene), old.copy(), scene_path=tiny_scene)
    _make_one_change_of_each_kind(s)
    yield s, old
    s.close()


def test_styles_ghosts_and_changes_are_exactly_the_known_ones(pair):
    s, old = pair
    r = QAReview(s, old)
    got = {f: sorted((c.kind, c.track) for c in r.changes_in_frame(f)) for f in range(5)}
    assert got == {
        0: [("removed", "d")],
        1: [("geometry_changed", "a"), ("track_id_changed", "g")],
        2: [("category_changed", "b"), ("keyframe_changed", "h")],
        3: [("attributes_changed", "c")],
        4: [("added", "e")],
    }
    assert r.box_styles(0) == {"a": ("unchanged", GREY)}
    assert r.box_styles(1) == {"a": ("geometry_changed", ORANGE), "g": ("track_id_changed", CYAN)}
    assert r.box_styles(2) == {"a": ("unchanged", GREY), "b": ("category_changed", PURPLE),
                               "h": ("keyframe_changed", KIND_COLOURS["keyframe_changed"])}  # fmt: skip
    assert r.box_styles(3) == {"a": ("unchanged", GREY), "c": ("attributes_changed", BLUE)}
    assert r.box_styles(4) == {"a": ("unchanged", GREY), "e": ("added", GREEN)}
    (ghost,) = r.ghost_boxes(0)
    assert ghost[0] == "removed" and ghost[2] == RED
    np.testing.assert_allclose(ghost[1], old.tracks["d"].boxes[0].as_array())
    assert all(r.ghost_boxes(f) == [] for f in range(1, 5))
    (idc,) = [c for c in r.changes if c.kind == "track_id_changed"]
    assert idc.details["event"] == "relabel" and (idc.old_track, idc.new_track) == ("f", "g")
    # h counts as unchanged: a keyframe flag is provenance, not annotation
    assert r.result.summary == {"unchanged": 5, "added": 1, "removed": 1, "geometry_changed": 1,
                                "category_changed": 1, "attributes_changed": 1, "track_id_changed": 1}


def test_other_version_as_new_colours_the_session_by_old_ids(pair):
    s, old = pair
    new = s.doc.copy()
    s2 = EditSession(None, old.copy())
    r = QAReview(s2, new, other_is="new")
    assert r.box_styles(1) == {"a": ("geometry_changed", ORANGE), "f": ("track_id_changed", CYAN)}
    assert r.box_styles(0) == {"a": ("unchanged", GREY), "d": ("removed", RED)}
    assert [(k, c) for k, _, c in r.ghost_boxes(4)] == [("added", GREEN)]
    (added,) = [c for c in r.changes if c.kind == "added"]
    r.revert(added)  # "revert" = take the other version's state: the box comes into the session
    assert "e" in s2.doc.tracks and r.changes_in_frame(4) == []


def _state(s: EditSession, old: LabelDocument, kind: str):
    """What a revert of ``kind`` must give back, read from the session, and the old truth."""
    d = s.doc.tracks
    if kind == "geometry_changed":
        return d["a"].boxes[1].as_array().tolist(), old.tracks["a"].boxes[1].as_array().tolist()
    if kind == "category_changed":
        return d["b"].category, old.tracks["b"].category
    if kind == "attributes_changed":
        return d["c"].boxes[3].attributes, old.tracks["c"].boxes[3].attributes
    if kind == "removed":
        return d["d"].boxes[0].as_array().tolist() if "d" in d else None, old.tracks["d"].boxes[0].as_array().tolist()
    if kind == "added":
        return "e" in d, False
    if kind == "track_id_changed":
        return ("f" in d, "g" in d), (True, False)
    if kind == "keyframe_changed":
        return d["h"].boxes[2].keyframe, True
    raise AssertionError(kind)


KINDS = ("geometry_changed", "category_changed", "attributes_changed", "removed", "added",
         "track_id_changed", "keyframe_changed")  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_revert_gives_back_the_old_state_and_one_undo_restores_the_change(pair, kind):
    s, old = pair
    r = QAReview(s, old)
    (change,) = [c for c in r.changes if c.kind == kind]
    before_doc, before_changes = s.document(), [c.to_dict() for c in r.changes]
    signals = []
    r.changed.connect(lambda: signals.append(1))
    r.revert(change)
    now, want = _state(s, old, kind)
    if isinstance(want, list):
        np.testing.assert_allclose(now, want, atol=1e-9)
    else:
        assert now == want
    assert [c.kind for c in r.changes if c.kind == kind] == []
    assert len(r.changes) == len(before_changes) - 1
    assert signals and s.undo_label.startswith("Revert")
    assert s.undo()
    assert s.document() == before_doc
    assert [c.to_dict() for c in r.changes] == before_changes


def test_reverting_everything_leaves_an_empty_diff(pair):
    s, old = pair
    r = QAReview(s, old)
    for _ in range(20):
        if not r.changes:
            break
        r.revert(r.changes[0])
    assert r.changes == [] and r.result.is_empty
    assert diff_documents(old, s.doc).is_empty


def test_source_changes_cannot_be_reverted_and_say_why(tiny_scene):
    old = _old_doc()
    old.tracks["a"].boxes[0] = Box(0, (0.0, 0.0, -0.5), (4.0, 2.0, 1.5), 0.3, source="prelabel", score=0.8)
    s = EditSession(SceneReader.open(tiny_scene), old.copy())
    s.accept("a")
    r = QAReview(s, old)
    (c,) = r.changes
    assert c.kind == "source_changed" and r.result.review.accepted == 1
    assert r.can_revert(c)[0] is False
    with pytest.raises(InputError, match="source"):
        r.revert(c)
    assert not s.can_undo or s.undo_label == "Accept pre-label"


def test_reverting_a_corrected_prelabel_restores_its_provenance_too(tiny_scene):
    """A corrected pre-label box goes back exactly: geometry, source and score (no source_changed left)."""
    old = _old_doc()
    old.tracks["a"].boxes[0] = Box(0, (0.0, 0.0, -0.5), (4.0, 2.0, 1.5), 0.3, source="prelabel", score=0.8)
    s = EditSession(SceneReader.open(tiny_scene), old.copy())
    s.move_box("a", 0, center=(0.5, 0.2, -0.5))
    r = QAReview(s, old)
    (geometry,) = [c for c in r.changes if c.kind == "geometry_changed" and c.frame == 0]
    r.revert(geometry)
    assert s.doc.tracks["a"].boxes[0] == old.tracks["a"].boxes[0]
    assert diff_documents(old, s.doc).is_empty


def test_jump_to_moves_the_frame_and_selects_the_track(pair):
    s, old = pair
    r = QAReview(s, old)
    (geo,) = [c for c in r.changes if c.kind == "geometry_changed"]
    (gone,) = [c for c in r.changes if c.kind == "removed"]
    r.jump_to(geo)
    assert (s.frame, s.selection) == (1, "a")
    r.jump_to(gone)
    assert (s.frame, s.selection) == (0, None)


def test_accept_marks_the_change_without_editing(pair):
    s, old = pair
    r = QAReview(s, old)
    before = s.document()
    c = r.changes[0]
    r.accept(c)
    assert r.is_accepted(c) and s.document() == before
    s.move_box("a", 4, center=(9.0, 9.0, -0.5))  # an unrelated edit keeps the mark
    assert r.is_accepted(next(x for x in r.changes if x.kind == c.kind and x.frame == c.frame))
    r.accept(c, accepted=False)
    assert not r.accepted


def test_another_scene_is_refused(pair):
    s, old = pair
    other = LabelDocument.new("not-tiny", "human", "x")
    with pytest.raises(InputError, match="scene: expected 'tiny'"):
        QAReview(s, other)


def test_save_reviewed_writes_a_qa_version(pair):
    s, old = pair
    store = LabelStore.for_scene(s.scene_path)
    v0 = store.save(old, author="ann1", source="human")
    r = QAReview.for_version(s, store.versions()[0].id)
    assert store.load(v0.stem).version.id == r.other.version.id
    path = r.save_reviewed("qa-lead")
    saved = store.load(path.stem)
    assert saved.version.source == "qa" and saved.version.author == "qa-lead"
    assert diff_documents(saved, s.doc).is_empty
    assert subprocess.run([sys.executable, str(CHECKER), str(path)]).returncode == 0


def _random_doc(rng, frames=40, objects=25) -> LabelDocument:
    doc = LabelDocument.new("rand", "prelabel", "bot")
    cats = ["vehicle.car", "vehicle.truck", "human.pedestrian.adult"]
    for k in range(objects):
        f0 = int(rng.integers(0, frames - 8))
        xy = rng.uniform(-40, 40, 2)
        yaw = float(rng.uniform(-np.pi, np.pi))
        src = "prelabel" if k % 2 else "human"
        boxes = {f: Box(f, (xy[0] + 0.3 * (f - f0), xy[1], 0.8), (4.2, 1.9, 1.6), yaw, source=src,
                        score=0.7 if src == "prelabel" else None, keyframe=src == "human")
                 for f in range(f0, f0 + int(rng.integers(3, 9)))}  # fmt: skip
        doc.tracks[f"t{k}"] = Track(f"t{k}", cats[k % 3], {}, boxes)
    return doc


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_updates_equal_a_full_diff_after_every_edit(seed):
    rng = np.random.default_rng(seed)
    old = _random_doc(rng)
    s = EditSession(None, old.copy())
    r = QAReview(s, old)
    for step in range(60):
        tids = list(s.doc.tracks)
        tid = tids[int(rng.integers(len(tids)))]
        frames = s.doc.tracks[tid].frames()
        f = frames[int(rng.integers(len(frames)))]
        op = int(rng.integers(8))
        if op == 0:
            s.move_box(tid, f, center=np.add(s.doc.tracks[tid].boxes[f].center, rng.normal(0, 0.3, 3)))
        elif op == 1:
            s.set_category(tid, ["vehicle.car", "vehicle.bus.rigid"][step % 2])
        elif op == 2:
            s.delete(tid, f)
        elif op == 3 and len(frames) > 1:
            s.split(tid, frames[len(frames) // 2])
        elif op == 4:
            b = s.doc.tracks[tid].boxes[f]
            s.create_box(f, b.center, b.size, b.yaw, "vehicle.car")  # a duplicate: IoU re-identification
        elif op == 5:
            s.set_attribute(tid, "vehicle.parked", True, frame=f if step % 2 else None)
        elif op == 6:
            s.accept(tid)
        else:
            s.undo()
        full = diff_documents(old, s.doc)
        assert [c.to_dict() for c in r.changes] == [c.to_dict() for c in full.changes], step
    assert r.result.summary == diff_documents(old, s.doc).summary
