"""The export and import commands: usage, one-line errors, --json, default paths, no overwrites."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lidarlabel.cli import main
from lidarlabel.cli.commands.import_ import default_labels_path
from tests.test_formats_nuscenes import labelled_scene


def test_help_and_usage_errors(capsys):
    for cmd in ("export", "import"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
    assert "--labels" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["export", "nuscenes", "x.h5", "--out", "o"])  # --labels missing
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["import", "shapefile", "x", "--out", "o.h5"])
    assert e.value.code == 2


def test_export_json_prints_one_object_and_default_import_labels_path(tmp_path):
    scene, labels, doc = labelled_scene(tmp_path, frames=3)
    proc = subprocess.run([sys.executable, "-m", "lidarlabel.cli", "export", "nuscenes", str(scene), "--labels",
                           str(labels), "--out", str(tmp_path / "nu"), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["boxes"] == doc.num_boxes() and info["frames"] == 3 and info["out"] == str(tmp_path / "nu")
    out = tmp_path / "back.h5"
    proc = subprocess.run([sys.executable, "-m", "lidarlabel.cli", "import", "nuscenes", str(tmp_path / "nu"),
                           "--out", str(out), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["labels"] == str(tmp_path / "back.labels.json") == str(default_labels_path(out))
    assert info["boxes"] == doc.num_boxes()


def test_import_never_overwrites_without_flag(tmp_path, capsys):
    scene, labels, _ = labelled_scene(tmp_path, frames=2)
    assert main(["export", "nuscenes", str(scene), "--labels", str(labels), "--out", str(tmp_path / "nu")]) == 0
    target = tmp_path / "t.h5"
    target.write_bytes(b"precious")
    assert main(["import", "nuscenes", str(tmp_path / "nu"), "--out", str(target)]) == 1
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"precious"
    assert main(["import", "nuscenes", str(tmp_path / "nu"), "--out", str(target), "--overwrite"]) == 0
    assert target.read_bytes() != b"precious"


@pytest.mark.parametrize("argv, message", [
    (["export", "nuscenes", "{d}/missing.h5", "--labels", "{d}/labels.json", "--out", "{d}/o"], "no such scene file"),
    (["export", "kitti", "{d}/tiny.h5", "--labels", "{d}/nope.json", "--out", "{d}/o"], "no such label file"),
    (["export", "kitti", "{d}/tiny.h5", "--labels", "{d}/labels.json", "--out", "{d}/o", "--results",
      "{d}/labels.json"], "only the nuscenes export"),
    (["export", "nuscenes", "{d}/tiny.h5", "--labels", "{d}/labels.json", "--out", "{d}/labels.json"],
     "expected a folder"),
    (["import", "kitti", "{d}/nowhere", "--out", "{d}/x.h5"], "no such file or folder"),
    (["import", "kitti", "{d}", "--out", "{d}/x.h5"], "expected a KITTI object folder"),
    (["import", "nuscenes", "{d}", "--out", "{d}/x.h5"], "expected exactly one version folder"),
    (["import", "kitti", "{d}", "{d}", "--out", "{d}/x.h5"], "expected one source"),
    (["import", "kitti", "{d}", "--out", "{d}/no/x.h5"], "does not exist"),
])  # fmt: skip
def test_bad_input_is_one_line_exit_1(tmp_path, capsys, argv, message):
    labelled_scene(tmp_path, frames=2)
    capsys.readouterr()
    assert main([a.format(d=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
