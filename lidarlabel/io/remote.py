"""Scene inputs and label outputs on object storage (``s3://``, ``gs://``, any fsspec URL).

Local paths pass through every function here untouched, so a command can call
them on whatever the user typed. Remote objects are read through a local copy
(HDF5 needs a seekable file), optionally cached under a key of URL + size +
ETag + mtime. Credentials and endpoints come only from the standard
environment (``AWS_*`` for botocore, ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` for a non-AWS S3 API, fsspec's ``FSSPEC_*``), never from
the command line; the exact list and the atomicity rules are in docs/scale.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from lidarlabel.errors import InputError
from lidarlabel.io.atomic import atomic_open, write_bytes_atomic

__all__ = [
    "cache_dir",
    "is_remote",
    "join_url",
    "list_scenes",
    "modified_times",
    "local_copy",
    "output_is_up_to_date",
    "output_modified",
    "staged_output",
    "staged_output_dir",
    "upload_file_atomic",
    "write_output_atomic",
]

# Backends whose single PUT (or completed multipart upload) makes an object appear
# whole or not at all: written directly, no temporary key (see write_output_atomic).
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
_GLOB_CHARS = set("*?[")
_COPY_BLOCK = 8 << 20


def is_remote(path_or_url: str | os.PathLike[str]) -> bool:
    """True for a URL with a non-local protocol (``s3://b/k``); False for paths and ``file://``."""
    s = os.fspath(path_or_url)
    if "://" not in s:
        return False
    protocol = s.split("://", 1)[0].lower()
    return protocol not in ("file", "local")


def _local_path(url: str | os.PathLike[str]) -> Path:
    s = os.fspath(url)
    for prefix in ("file://", "local://"):
        if s.startswith(prefix):
            return Path(s[len(prefix):])
    return Path(s)


def _storage_options(protocol: str) -> dict[str, Any]:
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"endpoint_url": endpoint} if endpoint else {}
    return {}


def _fs(url: str) -> tuple[Any, str]:
    """(filesystem, path inside it) for a remote URL; fresh per environment (tests switch credentials)."""
    import fsspec

    protocol = url.split("://", 1)[0].lower()
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("AWS_", "FSSPEC_", "GOOGLE_"))))
    key = (protocol, env)
    fs = _FS_CACHE.get(key)
    if fs is None:
        try:
            fs = fsspec.filesystem(protocol, skip_instance_cache=True, **_storage_options(protocol))
        except ImportError as exc:
            raise InputError(
                f"{url}: reading {protocol}:// URLs needs an extra package ({exc}); "
                f"for S3: pip install 'lidarlabel[s3]'"
            ) from None
        except ValueError as exc:
            raise InputError(f"{url}: unknown storage protocol {protocol!r} ({exc})") from None
        _FS_CACHE.clear()  # one live configuration at a time; old clients are dropped
        _FS_CACHE[key] = fs
    return fs, fs._strip_protocol(url)


_FS_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
# async clients (s3fs) are not fork-safe: a forked worker (process pool) builds its own
os.register_at_fork(after_in_child=_FS_CACHE.clear)


def _explain(url: str, exc: BaseException, expected: str) -> InputError:
    """One clear sentence for a storage error: what is missing or refused, and what was expected."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        if "bucket" in text.lower() or not _bucket_exists(url):
            bucket = url.split("://", 1)[1].split("/", 1)[0]
            return InputError(f"{url}: the bucket {bucket!r} does not exist; expected {expected}")
        return InputError(f"{url}: no such object; expected {expected}")
    if isinstance(exc, PermissionError):
        return InputError(
            f"{url}: access denied ({text}); expected {expected} readable with the credentials "
            f"in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE)"
        )
    return InputError(f"{url}: storage error {type(exc).__name__}: {text}; expected {expected}")


def _bucket_exists(url: str) -> bool:
    """Whether the bucket/container of ``url`` exists (True when the store cannot tell)."""
    bucket = url.split("://", 1)[1].split("/", 1)[0]
    try:
        fs, _ = _fs(url)
        return bool(fs.exists(bucket))
    except Exception:  # noqa: BLE001 - only refines an error message
        return True


def _info(url: str, expected: str) -> dict[str, Any]:
    fs, path = _fs(url)
    with contextlib.suppress(Exception):
        fs.invalidate_cache(path)
    try:
        info = fs.info(path)
    except Exception as exc:  # noqa: BLE001 - every backend raises its own types; all become one sentence
        raise _explain(url, exc, expected) from None
    if info.get("type") == "directory":
        raise InputError(f"{url}: is a folder/prefix; expected {expected}")
    return info


def _modified(info: dict[str, Any]) -> float | None:
    """POSIX seconds of an fsspec ``info()`` record, whatever the backend calls the field."""
    for key in ("LastModified", "mtime", "updated", "last_modified", "modified", "created"):
        v = info.get(key)
        if v is None:
            continue
        if isinstance(v, datetime):
            return v.timestamp()
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    return None


def cache_dir() -> Path:
    """The download cache folder: ``$LIDARLABEL_CACHE_DIR`` or ``$XDG_CACHE_HOME/lidarlabel/remote``."""
    if os.environ.get("LIDARLABEL_CACHE_DIR"):
        return Path(os.environ["LIDARLABEL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lidarlabel" / "remote"


def _download(url: str, info: dict[str, Any], dest: Path) -> None:
    """Stream the object into ``dest`` (atomically) and check that every byte arrived."""
    fs, path = _fs(url)
    expected_size = int(info["size"])
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.part-", dir=dest.parent)
    try:
        got = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with fs.open(path, "rb", block_size=_COPY_BLOCK) as src:
                    while True:
                        block = src.read(_COPY_BLOCK)
                        if not block:
                            break
                        out.write(block)
                        got += len(block)
            except Exception as exc:  # noqa: BLE001 - backend-specific errors become one sentence
                raise _explain(url, exc, f"an object of {expected_size} bytes") from None
            out.flush()
            os.fsync(out.fileno())
        if got != expected_size:
            raise InputError(
                f"{url}: truncated download: expected {expected_size} bytes (the object's size), "
                f"got {got}; nothing was kept, try again"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def local_copy(url: str | os.PathLike[str], cache: bool = True) -> Iterator[Path]:
    """A local file with the content of ``url``, for readers that need a seekable file.

    Local paths (and ``file://``) are yielded as they are. A remote object is
    downloaded once into :func:`cache_dir` under a key of URL + size + ETag +
    modified time (a changed object is downloaded again); ``cache=False`` uses
    a temporary folder removed on exit instead. An :class:`InputError` raised
    inside the block that names the local copy is re-raised naming the URL.
    """
    s = os.fspath(url)
    if not is_remote(s):
        yield _local_path(s)
        return
    info = _info(s, "an existing object")
    ident = f"{s}\0{info.get('size')}\0{info.get('ETag') or info.get('etag') or ''}\0{_modified(info)}"
    name = Path(s.rstrip("/").rsplit("/", 1)[-1]).name or "object"
    with contextlib.ExitStack() as stack:
        if cache:
            folder = cache_dir() / hashlib.sha256(ident.encode()).hexdigest()[:32]
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lidarlabel-remote-")))
        local = folder / name
        if not (local.is_file() and local.stat().st_size == int(info["size"])):
            _download(s, info, local)
        try:
            yield local
        except InputError as exc:
            msg = str(exc)
            if str(local) in msg:
                raise InputError(msg.replace(str(local), s)) from None
            raise


def _publish(url: str, put: Callable[[Any, str], None], size: int) -> None:
    """``put(fs, key)`` the object to ``url`` atomically (see write_output_atomic); check its size."""
    fs, path = _fs(url)
    try:
        if url.split("://", 1)[0].lower() in ATOMIC_PUT_PROTOCOLS:
            put(fs, path)
        else:
            tmp = f"{path}.tmp-{uuid.uuid4().hex}"
            try:
                put(fs, tmp)
                fs.mv(tmp, path)
            except BaseException:
                with contextlib.suppress(Exception):
                    fs.rm_file(tmp)
                raise
    except Exception as exc:  # noqa: BLE001 - backend-specific errors become one sentence
        raise _explain(url, exc, "a writable location") from None
    got = int(_info(url, f"the object just written ({size} bytes)")["size"])
    if got != size:
        raise InputError(f"{url}: wrote {size} bytes but the store reports {got}")


def write_output_atomic(url: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``url`` so a reader sees the old object/file or the complete new one.

    Local: :func:`lidarlabel.io.atomic.write_bytes_atomic` (temp file, fsync,
    rename). Object stores with atomic PUT (S3, GCS, Azure): one PUT straight
    to the final key; S3 makes an object visible only when its PUT (or
    multipart upload) completes, so a temp key + server-side copy would cost
    two more requests and add nothing. Other fsspec backends: write
    ``<url>.tmp-<uuid>``, move it over the final name, delete the temp on
    failure. The size is checked afterwards.
    """
    s = os.fspath(url)
    if not is_remote(s):
        write_bytes_atomic(_local_path(s), data)
        return
    _publish(s, lambda fs, key: fs.pipe_file(key, data), len(data))


def upload_file_atomic(local: str | os.PathLike[str], url: str | os.PathLike[str]) -> None:
    """Copy a local file to ``url``, streamed (multipart on S3), as atomically as :func:`write_output_atomic`."""
    s, local = os.fspath(url), Path(local)
    if not is_remote(s):
        with open(local, "rb") as src, atomic_open(_local_path(s)) as dst:
            shutil.copyfileobj(src, dst, _COPY_BLOCK)
        return
    _publish(s, lambda fs, key: fs.put_file(str(local), key), local.stat().st_size)


@contextlib.contextmanager
def staged_output(url: str | os.PathLike[str]) -> Iterator[Path]:
    """A local path to write an output to; for a URL, uploaded atomically when the block succeeds.

    Local paths are yielded as they are (the writers are already atomic). For a
    remote ``url`` the path is in a temporary folder; if the block raises, or
    writes nothing, nothing is uploaded.
    """
    s = os.fspath(url)
    if not is_remote(s):
        yield _local_path(s)
        return
    with tempfile.TemporaryDirectory(prefix="lidarlabel-out-") as tmp:
        local = Path(tmp) / (s.rstrip("/").rsplit("/", 1)[-1] or "output")
        yield local
        if local.is_file():
            upload_file_atomic(local, s)


@contextlib.contextmanager
def staged_output_dir(url: str | os.PathLike[str]) -> Iterator[Path]:
    """A local folder for a multi-file output; for a URL, every file is uploaded when the block succeeds.

    Each file is uploaded atomically under ``url/<relative path>``; if the block
    raises, nothing is uploaded. Local folders are yielded as they are.
    """
    s = os.fspath(url)
    if not is_remote(s):
        yield _local_path(s)
        return
    with tempfile.TemporaryDirectory(prefix="lidarlabel-outdir-") as tmp:
        yield Path(tmp)
        for f in sorted(Path(tmp).rglob("*")):
            if f.is_file():
                upload_file_atomic(f, join_url(s, *f.relative_to(tmp).parts))


def output_modified(url: str | os.PathLike[str]) -> float | None:
    """POSIX modified time of an output file/object, or None when it does not exist (or has none)."""
    s = os.fspath(url)
    if not is_remote(s):
        p = _local_path(s)
        return p.stat().st_mtime if p.is_file() else None
    fs, path = _fs(s)
    with contextlib.suppress(Exception):
        fs.invalidate_cache(path)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - backend-specific errors become one sentence
        raise _explain(s, exc, "a readable output location") from None
    return None if info.get("type") == "directory" else _modified(info)


def modified_times(urls: list[str]) -> list[float | None]:
    """Modified times (POSIX s) of many files/objects, None where missing; one listing per folder/prefix.

    For deciding which of thousands of scenes are up to date without one
    request per object. Local paths are stat'ed.
    """
    found: dict[str, float | None] = {}
    groups: dict[str, list[str]] = {}
    for u in urls:
        s = os.fspath(u)
        if is_remote(s):
            groups.setdefault(s.rsplit("/", 1)[0], []).append(s)
        else:
            p = _local_path(s)
            found[s] = p.stat().st_mtime if p.is_file() else None
    for parent, members in groups.items():
        fs, path = _fs(parent)
        protocol = parent.split("://", 1)[0]
        with contextlib.suppress(Exception):
            fs.invalidate_cache(path)
        try:
            listing = {f"{protocol}://{e['name'].lstrip('/')}": _modified(e)
                       for e in fs.ls(path, detail=True) if e.get("type") == "file"}
        except FileNotFoundError:
            listing = {}
        except Exception as exc:  # noqa: BLE001 - backend-specific errors become one sentence
            raise _explain(parent, exc, "a readable folder/prefix") from None
        for m in members:
            found[m] = listing.get(m)
    return [found[os.fspath(u)] for u in urls]


def output_is_up_to_date(input_url: str | os.PathLike[str], output_url: str | os.PathLike[str]) -> bool:
    """True when the output exists and was modified no earlier than the input.

    Modified times come from fsspec ``info()`` (S3 ``LastModified``, 1 s
    resolution; local ``mtime``); a store that reports none counts as stale.
    A missing input is an :class:`InputError`.
    """
    i = os.fspath(input_url)
    if is_remote(i):
        t_in = _modified(_info(i, "an existing scene object"))
    else:
        try:
            t_in = _local_path(i).stat().st_mtime
        except OSError:
            raise InputError(f"{i}: no such file; expected an existing scene") from None
    t_out = output_modified(output_url)
    return t_in is not None and t_out is not None and t_out >= t_in


def join_url(base: str | os.PathLike[str], *parts: str) -> str:
    """``base`` with ``parts`` appended: ``/`` for URLs, the OS separator for local paths."""
    s = os.fspath(base)
    if is_remote(s):
        return "/".join([s.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(_local_path(s).joinpath(*parts))


def list_scenes(url_or_glob: str | os.PathLike[str], suffix: str = ".h5") -> list[str]:
    """Scene files named by a file, a folder/prefix (its ``*.h5``, not recursive) or a glob; sorted.

    Remote results keep their protocol (``s3://bucket/key.h5``). Nothing found
    is an :class:`InputError`.
    """
    s = os.fspath(url_or_glob)
    if not is_remote(s):
        p = _local_path(s)
        if _GLOB_CHARS & set(s):
            import glob

            found = sorted(f for f in glob.glob(str(p)) if Path(f).is_file())
        elif p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.is_file() and f.name.endswith(suffix))
        elif p.is_file():
            found = [str(p)]
        else:
            raise InputError(f"{s}: no such file or folder; expected a scene file, a folder or a glob")
        if not found:
            raise InputError(f"{s}: matched no scene files (*{suffix})")
        return found
    fs, path = _fs(s)
    protocol = s.split("://", 1)[0]
    with contextlib.suppress(Exception):
        fs.invalidate_cache()
    try:
        if _GLOB_CHARS & set(path):
            found = [k for k, v in fs.glob(path, detail=True).items() if v.get("type") == "file"]
        elif fs.isdir(path):
            found = [e["name"] for e in fs.ls(path, detail=True)
                     if e.get("type") == "file" and e["name"].endswith(suffix)]
        else:
            found = [_info(s, "a scene object, a prefix or a glob")["name"]]
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _explain(s, exc, "a scene object, a prefix or a glob") from None
    if not found:
        raise InputError(f"{s}: matched no scene objects (*{suffix})")
    return sorted(f"{protocol}://{f.lstrip('/')}" for f in found)
