"""The label document: round trips, the shared contract checker, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lidarlabel.core.labels import Box, LabelDocument, Track, parse_document
from lidarlabel.core.ontology import default_ontology
from lidarlabel.errors import InputError, SchemaError
from lidarlabel.io.labels import load_document, save_document

from .conftest import CHECKER


def sample_doc() -> LabelDocument:
    doc = LabelDocument.new("scene-1", source="human", author="ann1")
    doc.tracks["car-1"] = Track("car-1", "vehicle.car", {"vehicle.moving": True}, {
        0: Box(0, (1.0, 2.0, 0.9), (4.5, 1.9, 1.6), 0.25, 1_700_000_000_000_000, "prelabel", 0.91, False, {}, 120),
        3: Box(3, (4.0, 2.5, 0.9), (4.5, 1.9, 1.6), 0.30, 1_700_000_000_300_000, "human", None, True),
    })
    doc.tracks["ped-7"] = Track("ped-7", "human.pedestrian.adult", {}, {
        1: Box(1, (10.0, -3.0, 0.85), (0.7, 0.6, 1.7), -1.2, source="interpolated", attributes={"pedestrian.moving": True}),
    })
    return doc


def test_round_trip_is_exact_and_passes_the_contract_checker(tmp_path):
    doc = sample_doc()
    path = save_document(doc, tmp_path / "v.json")
    again = load_document(path)
    assert again.to_dict() == doc.to_dict()
    res = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_unknown_keys_survive_a_round_trip(tmp_path):
    d = sample_doc().to_dict()
    d["project"] = {"batch": 4}
    d["tracks"][0]["note"] = "check rear"
    d["tracks"][0]["boxes"][0]["visibility"] = "3"
    doc = parse_document(d)
    assert doc.to_dict() == d


def test_frame_boxes_gives_arrays_in_track_order():
    ids, arr = sample_doc().frame_boxes(0)
    assert ids == ["car-1"] and arr.shape == (1, 7) and arr[0, 3] == 4.5


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d.update(schema="lidarlabel/labels@2"), ["schema version '2'", "not supported"]),
        (lambda d: d.update(schema="something"), ["schema", "expected"]),
        (lambda d: d["tracks"][0]["boxes"][0].update(size=[4, -1, 2]), ["tracks[0].boxes[0].size", "positive"]),
        (lambda d: d["tracks"][0]["boxes"][0].update(center=[1, 2]), ["tracks[0].boxes[0].center", "3 finite"]),
        (lambda d: d["tracks"][0]["boxes"][0].update(yaw=float("nan")), ["yaw", "finite"]),
        (lambda d: d["tracks"][0]["boxes"][0].update(source="robot"), ["source", "one of"]),
        (lambda d: d["tracks"][0]["boxes"][1].update(frame=0), ["two boxes in frame 0"]),
        (lambda d: d["tracks"][1].update(id="car-1"), ["appears twice"]),
        (lambda d: d["version"].pop("parent"), ["version.parent"]),
        (lambda d: d.update(tracks={}), ["tracks", "a list"]),
    ],
)
def test_bad_documents_name_the_field(mutate, words):
    d = sample_doc().to_dict()
    mutate(d)
    with pytest.raises(SchemaError) as err:
        parse_document(d, "x.json")
    msg = str(err.value)
    assert msg.startswith("x.json: ")
    for w in words:
        assert w in msg


def test_unknown_category_is_refused_with_an_ontology():
    d = sample_doc().to_dict()
    d["tracks"][0]["category"] = "vehicle.spaceship"
    with pytest.raises(SchemaError, match="unknown category 'vehicle.spaceship'"):
        parse_document(d, "x.json", default_ontology())
    parse_document(d, "x.json")  # without an ontology it is accepted as data


def test_truncated_empty_and_missing_files(tmp_path):
    path = save_document(sample_doc(), tmp_path / "v.json")
    text = path.read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match=r"cut.json: not valid JSON at line \d+.*truncated"):
        load_document(tmp_path / "cut.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_document(tmp_path / "empty.json")
    with pytest.raises(InputError, match="no such label file"):
        load_document(tmp_path / "nope.json")


def test_save_never_overwrites_when_asked_and_leaves_no_temp_files(tmp_path):
    path = save_document(sample_doc(), tmp_path / "v.json", overwrite=False)
    before = path.read_text()
    with pytest.raises(InputError, match="never overwritten"):
        save_document(sample_doc(), path, overwrite=False)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json"]


def test_saved_files_get_the_usual_permissions_not_private_temp_ones(tmp_path):
    import os
    import stat

    path = save_document(sample_doc(), tmp_path / "v.json")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_nan_is_never_written(tmp_path):
    doc = sample_doc()
    t = doc.tracks["car-1"]
    t.boxes[0] = Box(0, (float("nan"), 0, 0), (1, 1, 1), 0.0)
    with pytest.raises(SchemaError, match="center"):
        save_document(doc, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_default_ontology_follows_nuscenes():
    onto = default_ontology()
    assert len(onto.categories) == 23
    assert onto.category("vehicle.car").detection_class == "car"
    assert "vehicle.parked" in onto.attribute_names("vehicle.car")
    assert "vehicle.parked" not in onto.attribute_names("human.pedestrian.adult")
    assert onto.group_of("cycle.with_rider").exclusive


def test_saved_json_is_human_readable(tmp_path):
    path = save_document(sample_doc(), tmp_path / "v.json")
    assert json.loads(path.read_text())["schema"] == "lidarlabel/labels@1"
    assert "\n" in path.read_text()
