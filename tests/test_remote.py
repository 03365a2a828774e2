"""Object-store paths (lidarlabel.io.remote) against a real S3 API on loopback (moto server)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from lidarlabel.errors import InputError
from lidarlabel.io import remote
from lidarlabel.io.scene import SceneReader
from tests.conftest import make_tiny_scene

BUCKET = "fleet-scenes"


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto S3 server on 127.0.0.1 (a free port) for this module."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch, tmp_path):
    """A boto3 client on a fresh bucket; dummy credentials and the endpoint in the environment."""
    import boto3

    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("LIDARLABEL_CACHE_DIR", str(tmp_path / "cache"))
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if BUCKET in existing:
        for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    else:
        client.create_bucket(Bucket=BUCKET)
    return client


def _keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_is_remote_and_local_passthrough(tmp_path):
    assert remote.is_remote("s3://b/k.h5") and remote.is_remote("gs://b/k")
    assert not remote.is_remote("/data/x.h5") and not remote.is_remote("rel/x.h5")
    assert not remote.is_remote("file:///data/x.h5")
    p = tmp_path / "missing-is-fine.h5"
    with remote.local_copy(p) as local:
        assert local == p
    with remote.local_copy(f"file://{p}") as local:
        assert local == p


def test_scene_round_trip_through_s3(s3, tmp_path, monkeypatch):
    scene = make_tiny_scene(tmp_path / "a.h5", frames=3, points=500, seed=4)
    s3.upload_file(str(scene), BUCKET, "drive1/a.h5")
    url = f"s3://{BUCKET}/drive1/a.h5"
    with remote.local_copy(url) as local, SceneReader.open(local) as r, SceneReader.open(scene) as ref:
        assert local.read_bytes() == scene.read_bytes()
        assert r.num_frames == 3
        np.testing.assert_array_equal(r.points(2), ref.points(2))
    # a second read comes from the cache: no download at all
    monkeypatch.setattr(remote, "_download", lambda *a: pytest.fail("downloaded twice"))
    with remote.local_copy(url) as local:
        assert local.read_bytes() == scene.read_bytes()

    out = f"s3://{BUCKET}/labels/a.json"
    doc = json.dumps({"schema": "lidarlabel/labels@1", "n": 1}).encode()
    remote.write_output_atomic(out, doc)
    assert s3.get_object(Bucket=BUCKET, Key="labels/a.json")["Body"].read() == doc
    assert _keys(s3) == ["drive1/a.h5", "labels/a.json"]  # no temp key left behind


def test_changed_object_is_downloaded_again(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="x.bin", Body=b"first version")
    with remote.local_copy(f"s3://{BUCKET}/x.bin") as local:
        assert local.read_bytes() == b"first version"
    s3.put_object(Bucket=BUCKET, Key="x.bin", Body=b"second, longer version")
    with remote.local_copy(f"s3://{BUCKET}/x.bin") as local:
        assert local.read_bytes() == b"second, longer version"


def test_missing_bucket_and_object_are_clear_errors(s3):
    url = "s3://no-such-bucket-h8/a.h5"
    with pytest.raises(InputError, match=r"s3://no-such-bucket-h8/a.h5: the bucket .no-such-bucket-h8. does not exist"):
        with remote.local_copy(url):
            pass
    with pytest.raises(InputError, match="no-such-bucket-h8.*bucket .no-such-bucket-h8. does not exist"):
        remote.write_output_atomic("s3://no-such-bucket-h8/out.json", b"{}")
    with pytest.raises(InputError, match=rf"s3://{BUCKET}/nope.h5: no such object"):
        with remote.local_copy(f"s3://{BUCKET}/nope.h5"):
            pass
    with pytest.raises(InputError, match="bucket .no-such-bucket-h8. does not exist"):
        remote.list_scenes("s3://no-such-bucket-h8/")


def test_truncated_scene_object_names_the_url(s3, tmp_path):
    scene = make_tiny_scene(tmp_path / "t.h5", frames=3, points=500)
    data = scene.read_bytes()
    s3.put_object(Bucket=BUCKET, Key="t.h5", Body=data[: len(data) // 2])
    url = f"s3://{BUCKET}/t.h5"
    with pytest.raises(InputError) as err:
        with remote.local_copy(url) as local:
            SceneReader.open(local)
    msg = str(err.value)
    assert msg.startswith(f"{url}: ") and "truncated" in msg
    assert str(tmp_path / "cache") not in msg  # the user sees the URL, not the cache path


def test_download_cut_short_is_refused_and_not_cached(s3, tmp_path, monkeypatch):
    """A connection that ends early without an error must not leave a short file behind."""
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=bytes(range(256)) * 4096)
    url = f"s3://{BUCKET}/big.bin"
    fs, _ = remote._fs(url)
    real_open = fs.open

    class ShortReads:
        def __init__(self, fh):
            self.fh, self.left = fh, 1000

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def read(self, n):
            block = self.fh.read(min(n, self.left))
            self.left -= len(block)
            return block

    monkeypatch.setattr(fs, "open", lambda *a, **k: ShortReads(real_open(*a, **k)))
    with pytest.raises(InputError, match=r"big.bin: truncated download: expected 1048576 bytes.*got 1000"):
        with remote.local_copy(url):
            pass
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []
    monkeypatch.setattr(fs, "open", real_open)
    with remote.local_copy(url) as local:
        assert local.stat().st_size == 1048576


def test_output_up_to_date_on_s3(s3, tmp_path):
    src, out = f"s3://{BUCKET}/in/s.h5", f"s3://{BUCKET}/out/s.json"
    s3.put_object(Bucket=BUCKET, Key="in/s.h5", Body=b"scene")
    assert not remote.output_is_up_to_date(src, out)  # no output yet
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    remote.write_output_atomic(out, b"labels")
    assert remote.output_is_up_to_date(src, out)
    time.sleep(1.1)
    s3.put_object(Bucket=BUCKET, Key="in/s.h5", Body=b"scene, re-uploaded")
    assert not remote.output_is_up_to_date(src, out)
    with pytest.raises(InputError, match="no such object"):
        remote.output_is_up_to_date(f"s3://{BUCKET}/in/none.h5", out)


def test_output_up_to_date_mixed_local_input_remote_output(s3, tmp_path):
    src = tmp_path / "s.h5"
    src.write_bytes(b"scene")
    out = f"s3://{BUCKET}/mixed/s.json"
    assert not remote.output_is_up_to_date(src, out)
    time.sleep(1.1)
    remote.write_output_atomic(out, b"labels")
    assert remote.output_is_up_to_date(src, out)


def test_list_scenes_prefix_glob_and_single(s3):
    for k in ("d/a.h5", "d/b.h5", "d/a.gt.json", "d/sub/c.h5", "e/x.h5"):
        s3.put_object(Bucket=BUCKET, Key=k, Body=b"x")
    assert remote.list_scenes(f"s3://{BUCKET}/d/") == [f"s3://{BUCKET}/d/a.h5", f"s3://{BUCKET}/d/b.h5"]
    assert remote.list_scenes(f"s3://{BUCKET}/d") == [f"s3://{BUCKET}/d/a.h5", f"s3://{BUCKET}/d/b.h5"]
    assert remote.list_scenes(f"s3://{BUCKET}/*/*.h5") == [
        f"s3://{BUCKET}/d/a.h5", f"s3://{BUCKET}/d/b.h5", f"s3://{BUCKET}/e/x.h5"]
    assert remote.list_scenes(f"s3://{BUCKET}/e/x.h5") == [f"s3://{BUCKET}/e/x.h5"]
    with pytest.raises(InputError, match="matched no scene objects"):
        remote.list_scenes(f"s3://{BUCKET}/zzz*.h5")


def test_local_write_list_and_up_to_date(tmp_path):
    out = tmp_path / "o" / "x.json"
    with pytest.raises(InputError, match="does not exist"):
        remote.write_output_atomic(out, b"{}")
    out.parent.mkdir()
    remote.write_output_atomic(out, b"{}")
    assert out.read_bytes() == b"{}" and [p.name for p in out.parent.iterdir()] == ["x.json"]
    src = tmp_path / "a.h5"
    src.write_bytes(b"1")
    (tmp_path / "b.h5").write_bytes(b"1")
    (tmp_path / "a.gt.json").write_bytes(b"1")
    assert remote.list_scenes(tmp_path) == [str(tmp_path / "a.h5"), str(tmp_path / "b.h5")]
    assert remote.list_scenes(str(tmp_path / "b*")) == [str(tmp_path / "b.h5")]
    with pytest.raises(InputError, match="no such file or folder"):
        remote.list_scenes(tmp_path / "nothing")
    import os

    os.utime(src, (time.time() - 100, time.time() - 100))
    assert remote.output_is_up_to_date(src, out)
    os.utime(src, None)
    os.utime(out, (time.time() - 100, time.time() - 100))
    assert not remote.output_is_up_to_date(src, out)
    assert not remote.output_is_up_to_date(src, tmp_path / "missing.json")
    assert remote.join_url("s3://b/out/", "x.json") == "s3://b/out/x.json"
    assert remote.join_url(tmp_path, "x.json") == str(Path(tmp_path) / "x.json")


def test_staged_scene_output_uploads_only_on_success(s3, tmp_path):
    url = f"s3://{BUCKET}/imported/scene.h5"
    with remote.staged_output(url) as local:
        assert local.name == "scene.h5" and not str(local).startswith("s3:")
        make_tiny_scene(local, frames=2, points=300, seed=9)
    with remote.local_copy(url) as back, SceneReader.open(back) as r:
        assert r.num_frames == 2
    with pytest.raises(RuntimeError):
        with remote.staged_output(f"s3://{BUCKET}/imported/failed.h5") as local:
            local.write_bytes(b"half a scene")
            raise RuntimeError("importer crashed")
    assert _keys(s3) == ["imported/scene.h5"]
    with remote.staged_output(tmp_path / "x.h5") as local:
        assert local == tmp_path / "x.h5"  # local outputs are written in place by atomic writers


def test_staged_output_dir_uploads_every_file_or_none(s3, tmp_path):
    url = f"s3://{BUCKET}/export/kitti"
    with remote.staged_output_dir(url) as folder:
        (folder / "label_2").mkdir()
        (folder / "label_2" / "000000.txt").write_text("Car 0 0 0\n")
        (folder / "calib.txt").write_text("P2: 1\n")
    assert _keys(s3) == ["export/kitti/calib.txt", "export/kitti/label_2/000000.txt"]
    assert s3.get_object(Bucket=BUCKET, Key="export/kitti/calib.txt")["Body"].read() == b"P2: 1\n"
    with pytest.raises(InputError):
        with remote.staged_output_dir(f"s3://{BUCKET}/export/broken") as folder:
            (folder / "a.txt").write_text("a")
            raise InputError("exporter refused the labels")
    assert not [k for k in _keys(s3) if k.startswith("export/broken")]
    local = tmp_path / "copy.bin"
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 10_000)
    remote.upload_file_atomic(src, local)
    assert local.read_bytes() == src.read_bytes()


def test_modified_times_in_bulk(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="m/a.h5", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key="m/b.h5", Body=b"2")
    local = tmp_path / "c.h5"
    local.write_bytes(b"3")
    urls = [f"s3://{BUCKET}/m/a.h5", f"s3://{BUCKET}/m/gone.h5", str(local), str(tmp_path / "gone.h5"),
            f"s3://{BUCKET}/m/b.h5", f"s3://{BUCKET}/elsewhere/x.h5"]
    got = remote.modified_times(urls)
    assert [t is None for t in got] == [False, True, False, True, False, True]
    assert abs(got[0] - time.time()) < 60 and got[2] == local.stat().st_mtime
    assert got[0] == remote.output_modified(urls[0])


def test_backend_without_atomic_put_goes_through_a_temporary_name(s3, monkeypatch):
    """The temp-name + move path (for fsspec backends whose writes are not atomic), exercised on S3."""
    monkeypatch.setattr(remote, "ATOMIC_PUT_PROTOCOLS", frozenset())
    fs, _ = remote._fs(f"s3://{BUCKET}/x")
    moves: list[tuple[str, str]] = []
    real_mv = fs.mv
    monkeypatch.setattr(fs, "mv", lambda a, b, **k: (moves.append((a, b)), real_mv(a, b, **k))[1])
    remote.write_output_atomic(f"s3://{BUCKET}/slow/out.json", b'{"a": 1}')
    assert len(moves) == 1 and moves[0][1] == f"{BUCKET}/slow/out.json" and ".tmp-" in moves[0][0]
    assert _keys(s3) == ["slow/out.json"]
    monkeypatch.setattr(fs, "mv", lambda *a, **k: (_ for _ in ()).throw(OSError("connection reset")))
    with pytest.raises(InputError, match=r"slow/b.json: storage error OSError: connection reset"):
        remote.write_output_atomic(f"s3://{BUCKET}/slow/b.json", b"{}")
    assert _keys(s3) == ["slow/out.json"]  # the temporary object was removed, nothing under the final name
