"""The real pre-labeler on Ray: same documents as a local run, S3 inputs/outputs, clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lidarlabel.cli import main
from lidarlabel.io.labels import load_document
from lidarlabel.prelabel.batch import prelabel_scene
from lidarlabel.prelabel.executors import SceneTask as Task
from lidarlabel.prelabel.ray_executor import RayExecutor
from tests.conftest import CHECKER
from tests.test_remote import BUCKET, moto_endpoint, s3  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sim_scenes(tmp_path_factory) -> list[Path]:
    """Three small synthetic street scenes (different seeds, so different layouts)."""
    root = tmp_path_factory.mktemp("sim")
    paths = []
    for seed in (21, 22, 23):
        p = root / f"street{seed}.h5"
        assert main(["sample", str(p), "--frames", "4", "--beams", "32", "--no-cameras",
                     "--seed", str(seed)]) == 0
        paths.append(p)
    return paths


def _tracks(path: Path) -> dict:
    return load_document(path).to_dict()["tracks"]


def _check(path: Path) -> None:
    proc = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ray_prelabel_identical_to_local(ray_cluster, sim_scenes, tmp_path):
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    local_dir.mkdir()
    ray_dir.mkdir()
    local = {str(s): prelabel_scene(s, local_dir / f"{s.stem}.json") for s in sim_scenes}
    seen: list[tuple[str, int, int]] = []
    tasks = [Task(str(s), str(ray_dir / f"{s.stem}.json")) for s in sim_scenes]
    with RayExecutor(num_cpus_per_task=1) as ex:
        results = list(ex.run(tasks, progress=lambda sc, d, n: seen.append((sc, d, n))))
    assert sorted(r.scene for r in results) == sorted(local)
    for r in results:
        ref = local[r.scene]
        assert r.ok and ref.ok, (r.error, ref.error)
        assert (r.frames, r.tracks, r.boxes) == (ref.frames, ref.tracks, ref.boxes)
        assert r.out == str(ray_dir / f"{Path(r.scene).stem}.json")
        assert _tracks(Path(r.out)) == _tracks(Path(ref.out))
        assert ref.tracks > 0  # a real workload: the scenes have objects to find
        _check(Path(r.out))
    assert sorted(seen) == sorted((r.scene, 4, 4) for r in results)
    assert sorted(p.name for p in ray_dir.iterdir()) == sorted(f"{s.stem}.json" for s in sim_scenes)


def test_ray_prelabel_bad_scene_is_a_failed_result(ray_cluster, sim_scenes, tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(sim_scenes[0].read_bytes()[:5000])  # truncated scene file
    tasks = [Task(str(bad), str(tmp_path / "broken.json")), Task(str(sim_scenes[1]), str(tmp_path / "ok.json"))]
    with RayExecutor() as ex:
        results = {Path(r.scene).name: r for r in ex.run(tasks)}
    assert not results["broken.h5"].ok and results["broken.h5"].error.startswith(str(bad))
    assert results[sim_scenes[1].name].ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.h5", "ok.json"]


def test_ray_prelabel_s3_in_and_out(ray_cluster, sim_scenes, s3, moto_endpoint, tmp_path):  # noqa: F811
    for p in sim_scenes[:2]:
        s3.upload_file(str(p), BUCKET, f"scenes/{p.name}")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_endpoint,
           "LIDARLABEL_CACHE_DIR": str(tmp_path / "worker-cache")}
    tasks = [Task(f"s3://{BUCKET}/scenes/{p.name}", f"s3://{BUCKET}/labels/{p.stem}.json") for p in sim_scenes[:2]]
    tasks.append(Task(f"s3://{BUCKET}/scenes/missing.h5", f"s3://{BUCKET}/labels/missing.json"))
    tasks.append(Task(f"s3://{BUCKET}/scenes/{sim_scenes[0].name}", "s3://no-such-bucket-h8/x.json"))
    with RayExecutor(runtime_env={"env_vars": env}) as ex:
        results = list(ex.run(tasks))
    by_out = {r.out: r for r in results}
    for p in sim_scenes[:2]:
        r = by_out[f"s3://{BUCKET}/labels/{p.stem}.json"]
        assert r.ok and r.scene == f"s3://{BUCKET}/scenes/{p.name}", r.error
        got = tmp_path / f"{p.stem}.json"
        s3.download_file(BUCKET, f"labels/{p.stem}.json", str(got))
        ref = prelabel_scene(p, tmp_path / f"{p.stem}.local.json")
        assert _tracks(got) == _tracks(tmp_path / f"{p.stem}.local.json") and ref.tracks == r.tracks
        _check(got)
    missing = by_out[f"s3://{BUCKET}/labels/missing.json"]
    assert not missing.ok and missing.error.startswith(f"s3://{BUCKET}/scenes/missing.h5: no such object")
    nobucket = by_out["s3://no-such-bucket-h8/x.json"]
    assert not nobucket.ok and "bucket 'no-such-bucket-h8' does not exist" in nobucket.error
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == sorted([f"scenes/{p.name}" for p in sim_scenes[:2]] +
                          [f"labels/{p.stem}.json" for p in sim_scenes[:2]])  # nothing partial, no temp key
    assert json.loads(got.read_text())["schema"] == "lidarlabel/labels@1"
    # a batch reads each scene once: workers do not fill their disks with a download cache
    assert not (tmp_path / "worker-cache").exists()
