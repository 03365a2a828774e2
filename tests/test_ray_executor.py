"""RayExecutor on a local 2-CPU Ray cluster: same outputs as a local run, retries after a worker dies."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.errors import InputError
from lidarlabel.io.scene import SceneReader
from lidarlabel.prelabel import ray_executor
from lidarlabel.prelabel.ray_executor import RayExecutor, SceneJob, TaskLostError
from tests.conftest import make_tiny_scene

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("scenes")
    return [make_tiny_scene(root / f"s{i}.h5", frames=3 + i % 3, points=800, seed=10 + i) for i in range(5)]


def summarise(scene: Path, out: Path) -> int:
    """A cheap deterministic per-scene workload: per-frame point counts and world centroids."""
    with SceneReader.open(scene) as r:
        frames = [{"frame": i, "points": r.num_points(i),
                   "centroid": np.round(r.points_world(i).mean(axis=0), 6).tolist()}
                  for i in range(r.num_frames)]
    out.write_text(json.dumps({"scene": r.scene_id, "frames": frames}))
    return len(frames)


@dataclass(frozen=True)
class DieOnceInWork:
    """Kills its worker process in the middle of the first attempt at each scene."""

    marker_dir: str

    def __call__(self, scene: Path, out: Path) -> int:
        marker = Path(self.marker_dir) / (scene.name + ".attempts")
        first = not marker.exists()
        with open(marker, "a") as fh:
            fh.write("attempt\n")
        if first:
            out.write_bytes(b'{"scene": "half-writ')  # a partial output the crash leaves behind
            os._exit(1)
        return summarise(scene, out)


@dataclass(frozen=True)
class DieOnceAfterPublish:
    """Runs the scene task, then kills the worker before it can report success (first attempt only)."""

    task: SceneJob
    marker_dir: str

    def __call__(self, scene: str) -> dict:
        result = self.task(scene)
        marker = Path(self.marker_dir) / (Path(scene).name + ".published")
        if not marker.exists():
            marker.write_text(str(os.stat(result["output"]).st_mtime_ns))
            os._exit(1)
        return result


_BUILDS: dict[int, int] = {}


def probe_cache(_item: int) -> tuple[int, int, int]:
    """(pid, object id of the per-process cached value, builds in this process)."""

    def build() -> object:
        _BUILDS[os.getpid()] = _BUILDS.get(os.getpid(), 0) + 1
        return object()

    value = ray_executor.per_process("probe", build)
    return os.getpid(), id(value), _BUILDS[os.getpid()]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_ray_outputs_identical_to_local_run(ray_cluster, scenes, tmp_path):
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local_out.mkdir()
    ray_out.mkdir()
    for s in scenes:
        SceneJob(summarise, str(local_out))(str(s))
    with RayExecutor(num_cpus_per_task=1) as ex:
        assert ex.workers == 2
        got = dict(ex.map(SceneJob(summarise, str(ray_out)), [str(s) for s in scenes]))
    assert sorted(got) == sorted(str(s) for s in scenes)
    for scene, res in got.items():
        assert not isinstance(res, BaseException), res
        assert res["skipped"] is False and res["result"] == SceneReader.open(scene).num_frames
    assert _files(ray_out) == _files(local_out) == [f"s{i}.json" for i in range(5)]
    for name in _files(local_out):
        assert (ray_out / name).read_bytes() == (local_out / name).read_bytes()


def test_rerun_skips_up_to_date_outputs_unless_forced(ray_cluster, scenes, tmp_path):
    items = [str(s) for s in scenes[:3]]
    with RayExecutor() as ex:
        first = dict(ex.map(SceneJob(summarise, str(tmp_path)), items))
        stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
        again = dict(ex.map(SceneJob(summarise, str(tmp_path)), items))
        assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps
        forced = dict(ex.map(SceneJob(summarise, str(tmp_path), skip_up_to_date=False), items))
    assert all(r["skipped"] is False for r in first.values())
    assert all(r["skipped"] is True for r in again.values())
    assert all(r["skipped"] is False for r in forced.values())
    assert all(p.stat().st_mtime_ns > stamps[p.name] for p in tmp_path.iterdir())


def test_worker_killed_mid_scene_is_retried_and_output_written_once(ray_cluster, scenes, tmp_path):
    out, markers = tmp_path / "out", tmp_path / "markers"
    out.mkdir()
    markers.mkdir()
    task = SceneJob(DieOnceInWork(str(markers)), str(out))
    worker_tmp = tmp_path / "worker-tmp"  # where the killed attempts leave their private temp folders
    worker_tmp.mkdir()
    with RayExecutor(max_retries=2, runtime_env={"env_vars": {"TMPDIR": str(worker_tmp)}}) as ex:
        got = dict(ex.map(task, [str(s) for s in scenes]))
    assert all(not isinstance(r, BaseException) and r["skipped"] is False for r in got.values()), got
    for s in scenes:
        assert (markers / (s.name + ".attempts")).read_text().count("attempt") == 2
        doc = json.loads((out / f"{s.stem}.json").read_text())  # complete, parseable output
        assert doc["scene"] == "tiny" and len(doc["frames"]) == SceneReader.open(s).num_frames
    assert _files(out) == [f"s{i}.json" for i in range(5)]  # no temp or partial file
    partial = sorted(p.name for p in worker_tmp.rglob("*.json"))
    assert partial == [f"s{i}.json" for i in range(5)]  # the crashes did happen mid-write, off to the side


def test_worker_killed_after_publishing_does_not_write_again(ray_cluster, scenes, tmp_path):
    out, markers = tmp_path / "out", tmp_path / "markers"
    out.mkdir()
    markers.mkdir()
    # skip_up_to_date=False (a forced re-run): only the run's own earlier publish may cause a skip
    fn = DieOnceAfterPublish(SceneJob(summarise, str(out), skip_up_to_date=False), str(markers))
    with RayExecutor(max_retries=2) as ex:
        got = dict(ex.map(fn, [str(s) for s in scenes[:3]]))
    for s in scenes[:3]:
        res = got[str(s)]
        assert not isinstance(res, BaseException), res
        assert res["skipped"] is True  # the retry found the first attempt's output
        first_mtime = int((markers / (s.name + ".published")).read_text())
        assert (out / f"{s.stem}.json").stat().st_mtime_ns == first_mtime  # never rewritten
    assert _files(out) == ["s0.json", "s1.json", "s2.json"]


def test_bad_scene_is_reported_not_retried(ray_cluster, scenes, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file")
    out = tmp_path / "out"
    out.mkdir()
    with RayExecutor(max_retries=3) as ex:
        got = dict(ex.map(SceneJob(summarise, str(out)), [str(bad), str(scenes[0])]))
    assert isinstance(got[str(bad)], InputError)
    assert str(got[str(bad)]).startswith(f"{bad}: not a readable HDF5 scene")
    assert got[str(scenes[0])]["skipped"] is False
    assert _files(out) == ["s0.json"]


def test_worker_that_always_dies_is_reported(ray_cluster):
    with RayExecutor(max_retries=1) as ex:
        (item, res), = list(ex.map(os._exit, [3]))
    assert item == 3 and isinstance(res, TaskLostError) and "all 2 attempts" in str(res)


def test_per_process_cache_builds_once_per_worker(ray_cluster):
    with RayExecutor() as ex:
        got = [r for _, r in ex.map(probe_cache, range(12))]
    by_pid: dict[int, set[int]] = {}
    for pid, obj, builds in got:
        assert builds == 1  # built once in each worker process, whatever the number of tasks
        by_pid.setdefault(pid, set()).add(obj)
    assert all(len(objs) == 1 for objs in by_pid.values())
    assert len(got) > len(by_pid)  # workers were reused across tasks


def test_without_ray_installed_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(InputError, match=r"pip install 'lidarlabel\[ray\]'"):
        RayExecutor()


def test_map_streams_completions_with_bounded_submission(ray_cluster):
    pulled: list[int] = []

    def items():
        for i in range(8):
            pulled.append(i)
            yield i

    with RayExecutor(max_in_flight=3) as ex:
        stream = ex.map(abs, items())
        first_item, first = next(stream)
        assert len(pulled) == 3  # a first result arrives while 5 scenes are not even submitted
        rest = dict(stream)
    assert first == abs(first_item) and {**rest, first_item: first} == {i: i for i in range(8)}
