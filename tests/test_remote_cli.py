"""The command line on object-store paths (moto S3 on loopback) and with --executor ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lidarlabel.cli import main
from tests.conftest import CHECKER, make_tiny_scene
from tests.test_remote import BUCKET, moto_endpoint, s3  # noqa: F401, F811 - fixtures

pytestmark = [pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def sim_scene(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cli") / "street.h5"
    assert main(["sample", str(p), "--frames", "3", "--beams", "32", "--no-cameras", "--seed", "31"]) == 0
    return p


def _keys(client, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def _check(path: Path) -> None:
    proc = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_info_on_s3(s3, sim_scene, capsys):  # noqa: F811
    s3.upload_file(str(sim_scene), BUCKET, "scenes/street.h5")
    assert main(["info", f"s3://{BUCKET}/scenes/street.h5", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["path"] == f"s3://{BUCKET}/scenes/street.h5" and info["frames"] == 3
    assert main(["info", "s3://no-such-bucket-h8/street.h5"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bucket 'no-such-bucket-h8' does not exist" in err


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_prelabel_s3_prefix_to_s3_and_rerun_skips(s3, sim_scene, tmp_path, capsys, executor):  # noqa: F811
    s3.upload_file(str(sim_scene), BUCKET, "scenes/a.h5")
    s3.upload_file(str(sim_scene), BUCKET, "scenes/b.h5")
    argv = ["prelabel", f"s3://{BUCKET}/scenes/", "--out", f"s3://{BUCKET}/labels", "--json",
            "--executor", executor, "--workers", "2"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == 2 and summary["failed"] == 0
    assert _keys(s3, "labels/") == ["labels/a.json", "labels/b.json"]
    for k in ("a", "b"):
        s3.download_file(BUCKET, f"labels/{k}.json", str(tmp_path / f"{k}.json"))
        _check(tmp_path / f"{k}.json")
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["skipped"] == 2 and again["done"] == 0


def test_prelabel_ray_missing_object_is_one_failure(s3, sim_scene, tmp_path, capsys):  # noqa: F811
    s3.upload_file(str(sim_scene), BUCKET, "scenes/a.h5")
    code = main(["prelabel", f"s3://{BUCKET}/scenes/a.h5", f"s3://{BUCKET}/scenes/gone.h5",
                 "--out", str(tmp_path / "out"), "--executor", "ray", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1 and summary["failed"] == 1 and summary["done"] == 1
    (bad,) = [r for r in summary["scenes"] if not r["ok"]]
    assert bad["error"] == f"s3://{BUCKET}/scenes/gone.h5: no such scene file"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json"]


def test_prelabel_ray_usage(tmp_path, monkeypatch, capsys):
    scene = make_tiny_scene(tmp_path / "t.h5")
    assert main(["prelabel", str(scene), "--out", str(tmp_path), "--ray-address", "auto"]) == 1
    assert "--ray-address: only with --executor ray" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["prelabel", str(scene), "--out", str(tmp_path), "--executor", "ray"]) == 1
    assert "pip install 'lidarlabel[ray]'" in capsys.readouterr().err


def test_export_and_import_through_s3(s3, sim_scene, tmp_path, capsys):  # noqa: F811
    s3.upload_file(str(sim_scene), BUCKET, "scenes/street.h5")
    s3.upload_file(str(sim_scene.with_name("street.gt.json")), BUCKET, "labels/street.gt.json")
    assert main(["export", "kitti", f"s3://{BUCKET}/scenes/street.h5", "--labels",
                 f"s3://{BUCKET}/labels/street.gt.json", "--out", f"s3://{BUCKET}/export/kitti"]) == 0
    exported = _keys(s3, "export/kitti/")
    assert exported and any(k.endswith(".txt") for k in exported)
    capsys.readouterr()
    assert main(["import", "kitti", f"s3://{BUCKET}/export/kitti", "--out", str(tmp_path / "x.h5")]) == 1
    assert "reads a local folder" in capsys.readouterr().err
    # a round trip of a scene: KITTI from a local copy of the exported folder, written to S3
    local = tmp_path / "kitti"
    for k in exported:
        dest = local / k[len("export/kitti/"):]
        dest.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(BUCKET, k, str(dest))
    assert main(["import", "kitti", str(local), "--out", f"s3://{BUCKET}/imported/street.h5"]) == 0
    assert _keys(s3, "imported/") == ["imported/street.h5", "imported/street.labels.json"]
    assert main(["info", f"s3://{BUCKET}/imported/street.h5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["frames"] == 3
    assert main(["import", "kitti", str(local), "--out", f"s3://{BUCKET}/imported/street.h5"]) == 1
    assert "already exists" in capsys.readouterr().err
