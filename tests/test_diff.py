"""The QA diff: version pairs with known changes, exact counts, the CLI and its HTML report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.io.labels import save_document
from lidarlabel.qa.diff import SUMMARY_KEYS, Tolerances, diff_documents

from .conftest import CHECKER

FRAMES = 10


def _track(doc, tid, cat, y, frames=range(FRAMES), source="human", attrs=None, size=(4.5, 1.9, 1.6)):
    """A track moving 1 m per frame along x on the lane y (lanes 10 m apart never overlap)."""
    doc.tracks[tid] = Track(tid, cat, {}, {
        f: Box(f, (float(f), float(y), 0.9), size, 0.0, 1_700_000_000_000_000 + f * 100_000, source,
               0.8 if source == "prelabel" else None, f == 0, dict(attrs or {}))
        for f in frames})  # fmt: skip


def known_pair() -> tuple[LabelDocument, LabelDocument]:
    old = LabelDocument.new("scene-k", "prelabel", "bot")
    _track(old, "A", "vehicle.car", 0, source="prelabel")
    _track(old, "B", "vehicle.car", 10, source="prelabel")
    _track(old, "C", "vehicle.truck", 20, size=(8.0, 2.5, 3.0))
    _track(old, "D", "human.pedestrian.adult", 30, attrs={"pedestrian.moving": True}, size=(0.7, 0.6, 1.7))
    _track(old, "E", "vehicle.car", 40)
    _track(old, "G", "vehicle.car", 50, frames=range(0, 5))
    _track(old, "H", "vehicle.car", 50, frames=range(5, 10))
    _track(old, "I", "vehicle.car", 60)
    _track(old, "K", "vehicle.car", 70, source="prelabel")
    _track(old, "M", "vehicle.car", 80)
    _track(old, "N", "vehicle.car", 90)
    _track(old, "O", "vehicle.car", 100)

    new = old.as_new_version("human", "ann1")
    t = new.tracks
    for f in range(5, 10):  # A: half accepted (prelabel -> human), half left as pre-labels
        t["A"].boxes[f] = t["A"].boxes[f].with_array(t["A"].boxes[f].as_array(), source="human")
    for f, b in list(t["B"].boxes.items()):  # B: accepted, frames 3 and 4 corrected by 0.5 m
        arr = b.as_array() + (np.r_[0.5, 0, 0, 0, 0, 0, 0] if f in (3, 4) else 0)
        t["B"].boxes[f] = b.with_array(arr, source="human")
    t["C"].category = "vehicle.bus.rigid"  # 10 category changes
    for f in range(5, 10):  # D: 5 attribute changes
        t["D"].boxes[f] = t["D"].boxes[f].with_array(
            t["D"].boxes[f].as_array(), attributes={"pedestrian.standing": True})
    e = t["E"]  # split: E keeps 0-4, F takes 5-9
    t["F"] = Track("F", "vehicle.car", {}, {f: e.boxes.pop(f) for f in range(5, 10)})
    g = t["G"]  # merge: G takes H's boxes
    g.boxes.update(t.pop("H").boxes)
    i = t.pop("I")  # relabel: I becomes J
    t["J"] = Track("J", i.category, {}, i.boxes)
    for f in range(7, 10):  # K: 3 pre-labels deleted, the rest accepted
        del t["K"].boxes[f]
    for f in range(7):
        t["K"].boxes[f] = t["K"].boxes[f].with_array(t["K"].boxes[f].as_array(), source="human")
    _track(new, "L", "vehicle.car", 110, frames=range(2, 6))  # 4 boxes added by hand
    t["M"].boxes[0] = t["M"].boxes[0].with_array(t["M"].boxes[0].as_array(), keyframe=False)
    for f, b in list(t["N"].boxes.items()):  # N: within tolerance (5 mm, 0.1 deg)
        t["N"].boxes[f] = b.with_array(b.as_array() + np.r_[0.005, 0, 0, 0.005, 0, 0, np.radians(0.1)])
    o = t["O"]  # O: frame 2 moved AND the whole track recategorised
    o.category = "vehicle.emergency.police"
    o.boxes[2] = o.boxes[2].with_array(o.boxes[2].as_array() + np.r_[0, 0.3, 0, 0, 0, 0, 0.1])
    return old, new


EXPECTED = {
    "unchanged": 10 + 8 + 5 + 5 + 5 + 7 + 10 + 10,  # A, B, D(0-4), E(0-4), G(0-4), K(0-6), M, N
    "added": 4, "removed": 3, "geometry_changed": 2 + 1, "category_changed": 10 + 10,
    "attributes_changed": 5, "track_id_changed": 5 + 5 + 10,
}  # fmt: skip
# boxes that are matched and changed: B 2, C 10, D 5, F 5, G(5-9) 5, J 10, O 10
MATCHED_CHANGED = 2 + 10 + 5 + 5 + 5 + 10 + 10


def test_every_known_change_is_reported_exactly():
    old, new = known_pair()
    res = diff_documents(old, new)
    assert res.summary == EXPECTED and tuple(res.summary) == SUMMARY_KEYS
    assert res.summary["unchanged"] + MATCHED_CHANGED + res.summary["removed"] == old.num_boxes()
    assert res.other_counts == {"keyframe_changed": 1, "source_changed": 5 + 10 + 7}
    events = {(e.kind, e.old_tracks, e.new_tracks): e.frames for e in res.track_events}
    assert events == {("split", ("E",), ("E", "F")): (5, 6, 7, 8, 9),
                      ("merge", ("G", "H"), ("G",)): (5, 6, 7, 8, 9),
                      ("relabel", ("I",), ("J",)): tuple(range(10))}  # fmt: skip
    rv = res.review
    assert (rv.total, rv.accepted, rv.kept_as_prelabel, rv.corrected, rv.deleted) == (30, 25, 5, 2, 3)
    assert rv.added_by_hand == 4 and rv.added_by_source == {"human": 4}
    assert rv.to_dict()["share_deleted"] == pytest.approx(0.1)


def test_changes_carry_what_the_app_needs():
    old, new = known_pair()
    res = diff_documents(old, new)
    geo = [c for c in res.changes if c.kind == "geometry_changed" and c.new_track == "B"]
    assert [c.frame for c in geo] == [3, 4]
    c = geo[0]
    assert c.old_track == "B" and c.category == "vehicle.car" and c.prelabel == "corrected"
    np.testing.assert_allclose(c.after - c.before, [0.5, 0, 0, 0, 0, 0, 0], atol=1e-12)
    assert c.details["center_m"] == pytest.approx(0.5) and 0 < c.iou < 1
    (o2,) = [c for c in res.changes if c.kind == "geometry_changed" and c.new_track == "O"]
    assert o2.details["yaw_deg"] == pytest.approx(np.degrees(0.1))
    assert o2.details["center_delta"] == pytest.approx([0, 0.3, 0])
    cat = [c for c in res.changes if c.kind == "category_changed" and c.old_track == "C"]
    assert len(cat) == 10 and cat[0].details == {"before": "vehicle.truck", "after": "vehicle.bus.rigid"}
    rem = [c for c in res.changes if c.kind == "removed"]
    assert {(c.old_track, c.frame, c.prelabel) for c in rem} == {("K", f, "deleted") for f in (7, 8, 9)}
    assert all(c.after is None and c.before.shape == (7,) for c in rem)
    add = [c for c in res.changes if c.kind == "added"]
    assert {(c.new_track, c.frame) for c in add} == {("L", f) for f in range(2, 6)}
    attr = [c for c in res.changes if c.kind == "attributes_changed"][0]
    assert attr.details == {"before": {"pedestrian.moving": True}, "after": {"pedestrian.standing": True}}
    assert {c.frame for c in res.changes_in_frame(7)} == {7}
    assert res.per_category["vehicle.bus.rigid"]["category_changed"] == 10
    assert res.per_track["K"]["removed"] == 3 and res.per_track["E"]["new_tracks"] == ["E", "F"]
    assert res.per_frame[9]["removed"] == 1


def test_a_version_diffed_with_itself_is_empty():
    old, new = known_pair()
    for doc in (old, new):
        res = diff_documents(doc, doc.as_new_version("qa", "lead"))
        assert res.is_empty and res.changes == [] and res.track_events == []
        assert res.summary == {**dict.fromkeys(SUMMARY_KEYS, 0), "unchanged": doc.num_boxes()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_edits_are_counted_exactly(seed):
    rng = np.random.default_rng(seed)
    old = LabelDocument.new("scene-r", "human", "a")
    n_obj, n_frames = int(rng.integers(5, 30)), int(rng.integers(3, 40))
    for k in range(n_obj):  # objects on a 15 m grid, random headings and sizes
        x, y = 15.0 * (k % 6), 15.0 * (k // 6)
        yaw, size = float(rng.uniform(-np.pi, np.pi)), tuple(rng.uniform(0.5, 6.0, 3))
        old.tracks[f"o{k}"] = Track(f"o{k}", "vehicle.car", {}, {
            f: Box(f, (x + 0.05 * f, y, 1.0), size, yaw) for f in range(n_frames)})  # fmt: skip
    new = old.as_new_version("human", "b")
    keys = [(tid, f) for tid, t in new.tracks.items() for f in t.boxes]
    pick = rng.permutation(len(keys))
    n_del, n_move, n_rename = (int(rng.integers(0, len(keys) // 5 + 1)) for _ in range(3))
    for idx in pick[:n_del]:
        tid, f = keys[idx]
        del new.tracks[tid].boxes[f]
    for idx in pick[n_del:n_del + n_move]:
        tid, f = keys[idx]
        b = new.tracks[tid].boxes[f]
        new.tracks[tid].boxes[f] = b.with_array(b.as_array() + np.r_[rng.uniform(0.05, 0.2), 0, 0, 0, 0, 0, 0])
    renamed = 0
    for tid in list(new.tracks)[:n_rename % n_obj]:
        t = new.tracks.pop(tid)
        renamed += len(t.boxes)
        new.tracks[tid + "x"] = Track(tid + "x", t.category, {}, t.boxes)
    n_add = int(rng.integers(0, 20))
    new.tracks["added"] = Track("added", "vehicle.car", {}, {
        f: Box(f, (-100.0 - 10 * f, -50.0, 1.0), (4, 2, 1.5), 0.0) for f in range(n_add)})  # fmt: skip
    res = diff_documents(old, new)
    assert res.summary["removed"] == n_del
    assert res.summary["added"] == n_add
    assert res.summary["geometry_changed"] == n_move
    assert res.summary["track_id_changed"] == renamed
    assert res.summary["category_changed"] == res.summary["attributes_changed"] == 0


def test_iou_threshold_decides_whether_a_re_identified_box_is_matched():
    old = LabelDocument.new("s", "human", "a")
    _track(old, "A", "vehicle.car", 0, frames=[0])
    new = LabelDocument.new("s", "human", "b")
    _track(new, "Z", "vehicle.car", 0.9, frames=[0])  # moved 0.9 m sideways: 3D IoU ~ 0.36
    strict = diff_documents(old, new, iou_threshold=0.5)
    assert (strict.summary["added"], strict.summary["removed"], strict.summary["track_id_changed"]) == (1, 1, 0)
    loose = diff_documents(old, new, iou_threshold=0.3)
    assert (loose.summary["added"], loose.summary["removed"]) == (0, 0)
    assert loose.summary["track_id_changed"] == loose.summary["geometry_changed"] == 1
    bev = diff_documents(old, new, iou_threshold=0.3, iou_kind="bev")
    assert bev.summary["track_id_changed"] == 1


def test_ignore_ids_matches_unrelated_documents_by_iou_only():
    old = LabelDocument.new("s", "prelabel", "run1")
    _track(old, "t1", "vehicle.car", 0)
    _track(old, "t2", "vehicle.car", 10)
    new = LabelDocument.new("s", "prelabel", "run2")  # a second run numbered its tracks the other way
    _track(new, "t1", "vehicle.car", 10)
    _track(new, "t2", "vehicle.car", 0)
    by_id = diff_documents(old, new)
    assert by_id.summary["geometry_changed"] == 20 and by_id.summary["unchanged"] == 0
    by_iou = diff_documents(old, new, use_ids=False)
    assert by_iou.summary["unchanged"] == 0 and by_iou.summary["geometry_changed"] == 0
    assert by_iou.summary["track_id_changed"] == 20
    assert {(e.kind, e.old_tracks, e.new_tracks) for e in by_iou.track_events} == {
        ("relabel", ("t1",), ("t2",)), ("relabel", ("t2",), ("t1",))}


def test_tolerances_are_configurable():
    old, new = known_pair()
    res = diff_documents(old, new, tolerances=Tolerances(center_m=0.001, size_m=0.001, yaw_deg=0.05))
    assert res.summary["geometry_changed"] == 3 + 10  # N's sub-centimetre nudges now count


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def pair_files(tmp_path):
    old, new = known_pair()
    return save_document(old, tmp_path / "old.json"), save_document(new, tmp_path / "new.json")


def test_cli_json_has_the_summary_contract(pair_files, capsys):
    po, pn = pair_files
    assert main(["diff", str(po), str(pn), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"] == EXPECTED and set(out["summary"]) == set(SUMMARY_KEYS)
    assert len(out["changes"]) == sum(EXPECTED[k] for k in SUMMARY_KEYS if k != "unchanged") + 23
    assert out["review"]["accepted_unchanged"] == 25 and out["review"]["added_by_hand"] == 4
    kinds = {c["kind"] for c in out["changes"]}
    assert {"geometry_changed", "keyframe_changed", "source_changed"} <= kinds


def test_cli_fail_on_is_a_ci_gate(pair_files, tmp_path, capsys):
    po, pn = pair_files
    assert main(["diff", str(po), str(pn), "--fail-on", "removed,category_changed"]) == 3
    assert "removed" in capsys.readouterr().err
    assert main(["diff", str(po), str(po), "--fail-on", "any"]) == 0
    same = tmp_path / "same.json"
    same.write_bytes(po.read_bytes())
    assert main(["diff", str(po), str(same), "--fail-on", "removed", "--json"]) == 0
    with pytest.raises(SystemExit) as exc:
        main(["diff", str(po), str(pn), "--fail-on", "removed,teleported"])
    assert exc.value.code == 2
    assert "teleported" in capsys.readouterr().err


def test_cli_bad_input_is_one_clear_message(pair_files, tmp_path, capsys):
    po, pn = pair_files
    trunc = tmp_path / "trunc.json"
    trunc.write_bytes(pn.read_bytes()[:200])
    assert main(["diff", str(po), str(trunc)]) == 1
    err = capsys.readouterr().err
    assert "trunc.json" in err and "Traceback" not in err
    other = LabelDocument.new("another-scene", "human", "x")
    po2 = save_document(other, tmp_path / "other.json")
    assert main(["diff", str(po), str(po2)]) == 1
    assert "another-scene" in capsys.readouterr().err
    assert main(["diff", str(po), str(pn), "--html", str(tmp_path / "no" / "r.html")]) == 1


def test_cli_html_report_is_self_contained(pair_files, tmp_path):
    po, pn = pair_files
    out = tmp_path / "report.html"
    res = subprocess.run([sys.executable, "-m", "lidarlabel.cli", "diff", str(po), str(pn),
                          "--html", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<svg") == 2 and "<script" not in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    assert "track_id_changed" in text and "merge" in text and "IoU" in text
    assert "geometry_changed" in res.stdout and "report:" in res.stdout
    chk = subprocess.run([sys.executable, str(CHECKER), str(po), str(pn)], capture_output=True, text=True)
    assert chk.returncode == 0, chk.stdout
