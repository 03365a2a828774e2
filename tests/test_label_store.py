"""The label store: immutable versions, drafts, the edit lock, crash safety, ``lidarlabel history``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.cli import main
from lidarlabel.core.labels import Box, LabelDocument, Track
from lidarlabel.errors import InputError
from lidarlabel.io.label_store import LabelStore, LockError, labels_dir_for

from .conftest import CHECKER, ROOT


def make_doc(n_tracks: int = 3, n_frames: int = 4, seed: int = 0) -> LabelDocument:
    rng = np.random.default_rng(seed)
    doc = LabelDocument.new("scene-a", source="prelabel", author="bot")
    for i in range(n_tracks):
        boxes = {
            f: Box(f, tuple(rng.uniform(-40, 40, 3)), (4.5, 1.9, 1.6), float(rng.uniform(-3, 3)),
                   1_700_000_000_000_000 + f * 100_000, "prelabel", 0.8, f == 0)
            for f in range(n_frames)
        }  # fmt: skip
        doc.tracks[f"t{i}"] = Track(f"t{i}", "vehicle.car", {}, boxes)
    return doc


def test_save_writes_new_immutable_versions_with_parents(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    assert store.root == tmp_path / "scene.labels"
    assert store.versions() == [] and store.latest() is None
    doc = make_doc()
    p1 = store.save(doc, author="ann1", source="human")
    v1 = store.latest()
    assert v1.version.parent == doc.version.id and v1.version.author == "ann1"
    v1.tracks["t0"].boxes.pop(0)
    p2 = store.save(v1, author="qa1", source="qa")
    assert p1 != p2 and p1.exists() and p2.exists()
    entries = store.versions()
    assert [e.path for e in entries] == [p1, p2]
    assert entries[1].parent == entries[0].id
    assert (entries[0].num_tracks, entries[0].num_boxes) == (3, 12)
    assert (entries[1].author, entries[1].source, entries[1].num_boxes) == ("qa1", "qa", 11)
    first = store.load(entries[0].id)
    assert first.to_dict()["tracks"] == doc.to_dict()["tracks"]  # the first version is untouched
    res = subprocess.run([sys.executable, str(CHECKER), str(p1), str(p2)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_an_existing_version_file_is_never_replaced(tmp_path, monkeypatch):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    path = store.save(make_doc(), author="a")
    before = path.read_bytes()
    vid = path.stem
    # force the next save to produce the same version id
    import lidarlabel.core.labels as labels_mod
    monkeypatch.setattr(labels_mod, "new_version_id", lambda: vid)
    with pytest.raises(InputError, match="never overwritten"):
        store.save(make_doc(seed=5), author="b")
    assert path.read_bytes() == before


def test_load_of_unknown_or_unsafe_ids_names_the_problem(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    store.save(make_doc(), author="a")
    with pytest.raises(InputError, match="no version 'nope'"):
        store.load("nope")
    with pytest.raises(InputError, match="not a valid version id"):
        store.load("../../etc/passwd")


def test_a_corrupt_version_file_is_reported_by_name(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    store.save(make_doc(), author="a")
    bad = store.versions_dir / "broken.json"
    bad.write_text('{"schema": "lidarlabel/labels@1", "tracks": [')
    with pytest.raises(InputError, match="broken.json"):
        store.versions()


def test_drafts_are_kept_apart_and_offered_for_recovery(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    assert store.load_draft() is None and not store.has_newer_draft()
    doc = make_doc()
    store.save_draft(doc)
    assert store.has_newer_draft()  # nothing saved yet: the draft is all there is
    assert store.versions() == []
    store.save(doc, author="a")
    assert not store.has_newer_draft()  # saved after the draft
    latest = store.latest()
    latest.tracks["t1"].boxes.pop(2)
    time.sleep(0.01)
    store.save_draft(latest)
    assert store.has_newer_draft()
    draft = store.load_draft()
    assert draft.num_boxes() == 11 and "lidarlabel_draft" not in draft.to_dict()
    assert len(store.versions()) == 1  # a draft is never a version
    store.discard_draft()
    assert store.load_draft() is None and not store.has_newer_draft()
    store.discard_draft()  # idempotent


def test_a_recovered_draft_saves_as_a_clean_version(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    base = store.load(store.save(make_doc(), author="a").stem)
    store.save_draft(base)
    from lidarlabel.io.labels import load_document

    recovered = load_document(store.draft_path)  # how the app opens a draft: as a plain file
    path = store.save(recovered, author="a")
    saved = json.loads(path.read_text())
    assert "lidarlabel_draft" not in saved and saved["version"]["parent"] == base.version.id


def test_an_invalid_document_writes_nothing(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    doc = make_doc()
    b = doc.tracks["t0"].boxes[0]
    doc.tracks["t0"].boxes[0] = b.with_array(np.r_[np.nan, 0, 0, 4, 2, 1.5, 0])
    with pytest.raises(InputError, match="center"):
        store.save(doc, author="a")
    assert store.versions() == [] and not any(store.root.rglob("*.json"))


def test_an_unchanged_draft_is_not_offered(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    store.save(make_doc(), author="a")
    time.sleep(0.01)
    store.save_draft(store.latest())
    assert not store.has_newer_draft()


def test_second_lock_holder_gets_lock_error_and_release_frees_it(tmp_path):
    scene = tmp_path / "scene.h5"
    a, b = LabelStore.for_scene(scene), LabelStore.for_scene(scene)
    lock = a.acquire_lock(owner="ann1")
    with pytest.raises(LockError, match=r"edited by ann1 \(pid \d+ on host .+\) since .+; opened read-only"):
        b.acquire_lock(owner="ann2")
    lock.release()
    assert not lock.held
    with b.acquire_lock(owner="ann2") as lock2:
        assert lock2.held and json.loads(b.lock_path.read_text())["owner"] == "ann2"
    assert not b.lock_path.exists()


HOLDER = textwrap.dedent("""
    import sys, time
    from lidarlabel.io.label_store import LabelStore
    lock = LabelStore.for_scene(sys.argv[1]).acquire_lock(owner="other")
    print("locked", flush=True)
    time.sleep(60)
""")


def _start_holder(scene: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(scene)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_another_process_holding_the_lock_blocks_lock_save_and_draft(tmp_path):
    scene = tmp_path / "scene.h5"
    proc = _start_holder(scene)
    try:
        store = LabelStore.for_scene(scene)
        with pytest.raises(LockError, match=f"edited by other \\(pid {proc.pid} "):
            store.acquire_lock(owner="me")
        assert store.lock_holder()["pid"] == proc.pid
        with pytest.raises(LockError, match="not saved"):
            store.save(make_doc(), author="me")
        with pytest.raises(LockError):
            store.save_draft(make_doc())
        assert store.versions() == [] and store.load_draft() is None
    finally:
        proc.kill()
        proc.wait()
    # the holder died without releasing: its lock is stale and is taken over
    store = LabelStore.for_scene(scene)
    assert json.loads(store.lock_path.read_text())["pid"] == proc.pid
    with store.acquire_lock(owner="me") as lock:
        assert lock.info["pid"] == os.getpid()
        store.save(make_doc(), author="me")  # the holder may save
    assert len(store.versions()) == 1


def test_a_stale_lock_file_with_a_dead_pid_is_taken_over(tmp_path):
    store = LabelStore.for_scene(tmp_path / "scene.h5")
    store.root.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket
    store.lock_path.write_text(json.dumps({"owner": "ghost", "pid": int(dead),
                                           "host": socket.gethostname(), "since": "earlier"}))
    assert store.lock_holder() is None
    lock = store.acquire_lock(owner="ann1")
    assert json.loads(store.lock_path.read_text())["owner"] == "ann1"
    lock.release()


SAVER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from lidarlabel.core.labels import Box, LabelDocument, Track
    from lidarlabel.io.label_store import LabelStore
    real_fsync = os.fsync
    def slow_fsync(fd):  # a slow disk: keeps the write window wide enough to be hit
        time.sleep(0.05)
        real_fsync(fd)
    os.fsync = slow_fsync
    store = LabelStore.for_scene(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    doc = store.latest() or LabelDocument.new("big", "prelabel", "bot")
    print("ready", flush=True)
    while True:
        for i in range(20):
            tid = doc.new_track_id()
            doc.tracks[tid] = Track(tid, "vehicle.car", {}, {
                f: Box(f, tuple(rng.uniform(-50, 50, 3)), (4.5, 1.9, 1.6), 0.1, None, "human")
                for f in range(100)})
        store.save(doc, author="w")
        doc = store.latest()
""")


def _tmp_files(store: LabelStore) -> list[Path]:
    return list(store.versions_dir.glob(".*.tmp-*")) if store.versions_dir.is_dir() else []


def test_sigkill_during_save_leaves_previous_versions_intact(tmp_path):
    scene = tmp_path / "big.h5"
    store = LabelStore.for_scene(scene)
    rng = np.random.default_rng(7)
    hit_mid_write = 0
    for run in range(6):
        before = {e.id: e.num_boxes for e in store.versions()}
        old_tmp = set(_tmp_files(store))
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(scene), str(run)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout.readline().strip() == "ready"
        if run % 2:  # at a random moment
            time.sleep(float(rng.uniform(0.05, 1.5)))
        else:  # once a temporary file is being written, after a random delay
            deadline = time.monotonic() + 20
            while not _tmp_files(store) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(float(rng.uniform(0.0, 0.04)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        hit_mid_write += bool(set(_tmp_files(store)) - old_tmp)  # a killed write leaves its tmp file
        entries = store.versions()
        for vid, n in before.items():  # nothing saved earlier changed or vanished
            assert {e.id: e.num_boxes for e in entries}[vid] == n
        for e in entries:  # and every visible version is complete and loadable
            doc = store.load(e.id)
            assert doc.num_boxes() == e.num_boxes
    assert len(store.versions()) >= 1
    assert hit_mid_write >= 1, "no kill landed inside a write; the test did not exercise the crash"
    latest = store.latest()
    assert latest.num_boxes() == store.versions()[-1].num_boxes


def test_history_command_lists_versions(tmp_path, capsys):
    scene = tmp_path / "scene.h5"
    scene.write_bytes(b"")
    store = LabelStore.for_scene(scene)
    store.save(make_doc(), author="ann1", source="human")
    store.save(store.latest(), author="qa1", source="qa")
    assert main(["history", str(scene), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [v["author"] for v in out["versions"]] == ["ann1", "qa1"]
    assert out["versions"][1]["parent"] == out["versions"][0]["id"]
    assert out["versions"][0]["tracks"] == 3 and out["versions"][0]["boxes"] == 12
    assert main(["history", str(scene)]) == 0
    text = capsys.readouterr().out
    assert "ann1" in text and "qa1" in text and "human" in text


def test_history_of_a_missing_scene_is_bad_input(tmp_path, capsys):
    assert main(["history", str(tmp_path / "nope.h5")]) == 1
    assert "nope.h5" in capsys.readouterr().err
    assert labels_dir_for("a/b/c.h5") == Path("a/b/c.labels")
