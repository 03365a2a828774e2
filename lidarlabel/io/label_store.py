"""The label store: a scene's immutable label versions, its autosave draft and its edit lock.

Layout, beside the scene ``path/scene.h5`` (documented in docs/label-versions.md)::

    path/scene.labels/
        versions/<version id>.json   one immutable label document per saved version
        drafts/draft.json            the autosave draft (replaced atomically, never a version)
        lock.json                    who edits the scene now (held with an OS file lock)

Saving writes ``doc.as_new_version(...)`` to a new file (temporary file, fsync,
hard-link into place so an existing file is never replaced, fsync of the
folder): a crash at any point leaves the previous versions intact. The lock
is an advisory ``fcntl.flock`` on ``lock.json``; the kernel drops it when its
process dies, so a lock left by a crashed app (dead pid on this host) is taken
over by the next :meth:`LabelStore.acquire_lock`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from lidarlabel.core.labels import LabelDocument, parse_document
from lidarlabel.errors import InputError, LidarLabelError
from lidarlabel.io.atomic import write_json_atomic
from lidarlabel.io.labels import load_document

try:  # POSIX only; on other systems the lock degrades to the pid/host record alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["LabelStore", "LockError", "StoreLock", "VersionEntry", "labels_dir_for"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_DRAFT_KEY = "lidarlabel_draft"


class LockError(LidarLabelError):
    """Another live process edits the scene's labels; open read-only instead."""


@dataclass(frozen=True)
class VersionEntry:
    """One saved version: its record, file and size (oldest first in :meth:`LabelStore.versions`)."""

    id: str
    parent: str | None
    author: str
    created: str
    source: str
    path: Path
    num_tracks: int
    num_boxes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (path as a string)."""
        return {
            "id": self.id, "parent": self.parent, "author": self.author, "created": self.created,
            "source": self.source, "path": str(self.path), "tracks": self.num_tracks,
            "boxes": self.num_boxes,
        }  # fmt: skip


def labels_dir_for(scene_path: str | Path) -> Path:
    """The label folder of a scene: ``path/scene.h5`` -> ``path/scene.labels``."""
    p = Path(scene_path)
    return p.parent / f"{p.stem}.labels"


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create the label folder ({exc.strerror or exc})") from None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _created_key(created: str) -> float:
    try:
        dt = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _flock_briefly(fd: int, tries: int = 5) -> bool:
    # A reader probing with lock_holder() holds a shared lock for microseconds: retry briefly.
    for i in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if i + 1 < tries:
                time.sleep(0.02)
    return False


# Locks this process holds, by resolved lock path: saving from any LabelStore object of
# this process is allowed while one of them holds the lock.
_HELD: weakref.WeakValueDictionary[str, StoreLock] = weakref.WeakValueDictionary()


class StoreLock:
    """A held edit lock on a scene's labels; :meth:`release` it or use it as a context manager."""

    def __init__(self, path: Path, fd: int, info: dict[str, Any]) -> None:
        self.path = path
        self.info = info
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file and drop the OS lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding the flock: no one can race us here
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None
        _HELD.pop(str(self.path.resolve()), None)

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock must not outlive its object
        with contextlib.suppress(Exception):
            self.release()


class LabelStore:
    """Immutable label versions, one autosave draft and an edit lock for one scene."""

    def __init__(self, root: str | Path, scene_name: str | None = None) -> None:
        self.root = Path(root)
        self.scene_name = scene_name or self.root.name
        self._cache: dict[str, tuple[tuple[int, int], VersionEntry]] = {}

    @classmethod
    def for_scene(cls, scene_path: str | Path) -> LabelStore:
        """The store beside ``scene_path`` (``scene.h5`` -> ``scene.labels/``, created on first save)."""
        return cls(labels_dir_for(scene_path), str(scene_path))

    @property
    def versions_dir(self) -> Path:
        """Folder of the immutable version files."""
        return self.root / "versions"

    @property
    def draft_path(self) -> Path:
        """The autosave draft file (may not exist)."""
        return self.root / "drafts" / "draft.json"

    @property
    def lock_path(self) -> Path:
        """The lock file (exists while someone holds or last crashed holding the lock)."""
        return self.root / "lock.json"

    # ------------------------------------------------------------------ versions

    def save(self, doc: LabelDocument, author: str, source: str = "human") -> Path:
        """Write ``doc`` as a new immutable version (parent ``doc.version.id``); returns its path.

        Raises :class:`LockError` if another process holds the edit lock.
        """
        self._check_not_locked_by_other()
        new = doc.as_new_version(source, author)
        new.extra.pop(_DRAFT_KEY, None)  # a draft loaded as a plain document carries its record
        vid = new.version.id
        if not _SAFE_ID.match(vid):  # new_version_id() always matches; guard the file name anyway
            raise InputError(f"{self.root}: version id {vid!r} is not a safe file name")
        data = new.to_dict()
        parse_document(data, f"{self.root}/versions/{vid}.json")  # never write what we cannot read
        _mkdir(self.versions_dir)
        path = self.versions_dir / f"{vid}.json"
        write_json_atomic(path, data, overwrite=False)
        return path

    def _entry(self, path: Path) -> VersionEntry:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(path.name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            v = data["version"]
            tracks = data["tracks"]
            entry = VersionEntry(
                str(v["id"]), v.get("parent"), str(v["author"]), str(v["created"]),
                str(v["source"]), path, len(tracks), sum(len(t.get("boxes", [])) for t in tracks),
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{path}: expected a lidarlabel/labels@1 version document ({type(exc).__name__}: {exc})"
            ) from None
        self._cache[path.name] = (stamp, entry)
        return entry

    def versions(self) -> list[VersionEntry]:
        """Every saved version, oldest first (by ``created``, then file time, then id)."""
        if not self.versions_dir.is_dir():
            return []
        files = [p for p in self.versions_dir.glob("*.json") if not p.name.startswith(".")]
        keyed = []
        for p in files:
            e = self._entry(p)
            keyed.append(((_created_key(e.created), p.stat().st_mtime_ns, e.id), e))
        keyed.sort(key=lambda kv: kv[0])
        return [e for _, e in keyed]

    def load(self, version_id: str) -> LabelDocument:
        """The saved version ``version_id``; InputError naming the known ids if absent."""
        if not isinstance(version_id, str) or not _SAFE_ID.match(version_id):
            raise InputError(f"{self.root}: version id {version_id!r} is not a valid version id")
        path = self.versions_dir / f"{version_id}.json"
        if not path.is_file():
            known = [e.id for e in self.versions()]
            shown = ", ".join(known[-5:]) or "none saved yet"
            raise InputError(f"{self.root}: no version {version_id!r} (latest: {shown})")
        return load_document(path)

    def latest(self) -> LabelDocument | None:
        """The newest saved version, or None when nothing was saved yet."""
        vs = self.versions()
        return load_document(vs[-1].path) if vs else None

    # ------------------------------------------------------------------ drafts

    def save_draft(self, doc: LabelDocument) -> Path:
        """Autosave ``doc`` to ``drafts/draft.json`` (atomic replace); never creates a version."""
        self._check_not_locked_by_other()
        data = doc.to_dict()
        data[_DRAFT_KEY] = {"saved_ns": time.time_ns(), "base_version": doc.version.id}
        _mkdir(self.draft_path.parent)
        write_json_atomic(self.draft_path, data, overwrite=True)
        return self.draft_path

    def load_draft(self) -> LabelDocument | None:
        """The autosave draft, or None when there is none."""
        if not self.draft_path.is_file():
            return None
        doc = load_document(self.draft_path)
        doc.extra.pop(_DRAFT_KEY, None)
        return doc

    def discard_draft(self) -> None:
        """Delete the autosave draft (no-op if there is none)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.draft_path)

    def has_newer_draft(self) -> bool:
        """True when a draft exists, was written after the latest version and differs from it."""
        if not self.draft_path.is_file():
            return False
        vs = self.versions()
        if not vs:
            return True
        latest = vs[-1]
        try:
            raw = json.loads(self.draft_path.read_text(encoding="utf-8"))
            saved_ns = int(raw[_DRAFT_KEY]["saved_ns"])
        except (OSError, ValueError, KeyError, TypeError):
            saved_ns = self.draft_path.stat().st_mtime_ns
        if saved_ns <= latest.path.stat().st_mtime_ns:
            return False
        draft = self.load_draft()
        current = load_document(latest.path)
        assert draft is not None
        return [t.to_dict() for t in draft.tracks.values()] != [
            t.to_dict() for t in current.tracks.values()
        ]

    # ------------------------------------------------------------------ lock

    def _holder_message(self, info: dict[str, Any]) -> str:
        return (
            f"{self.scene_name}: labels are being edited by {info.get('owner', '?')} "
            f"(pid {info.get('pid', '?')} on host {info.get('host', '?')}) since "
            f"{info.get('since', '?')}; opened read-only"
        )

    def _read_lock_info(self) -> dict[str, Any]:
        try:
            info = json.loads(self.lock_path.read_text(encoding="utf-8"))
            return info if isinstance(info, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire_lock(self, owner: str) -> StoreLock:
        """Take the edit lock; raises :class:`LockError` if another live process holds it.

        A lock left by a dead process on this host is taken over. A lock file
        written on another host is respected until that host removes it.
        """
        _mkdir(self.root)
        path = self.lock_path
        for _ in range(20):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise InputError(f"{path}: cannot open the lock file ({exc.strerror or exc})") from None
            if fcntl is not None and not _flock_briefly(fd):
                os.close(fd)
                raise LockError(self._holder_message(self._read_lock_info()))
            # The holder may have unlinked the file between our open and flock: retry on the new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            old = self._read_lock_info()
            here = socket.gethostname()
            if old.get("host") not in (None, here):
                os.close(fd)
                raise LockError(self._holder_message(old) + f" (remove {path} if that app is gone)")
            if fcntl is None and old.get("host") == here and _pid_alive(int(old.get("pid", -1))):
                os.close(fd)  # pragma: no cover
                raise LockError(self._holder_message(old))
            info = {
                "owner": owner, "pid": os.getpid(), "host": here,
                "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }  # fmt: skip
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
            os.fsync(fd)
            lock = StoreLock(path, fd, info)
            _HELD[str(path.resolve())] = lock
            return lock
        raise LockError(f"{self.scene_name}: could not take the label lock at {path}; try again")

    def lock_holder(self) -> dict[str, Any] | None:
        """Who holds the edit lock (owner, pid, host, since), or None if it is free or ours."""
        path = self.lock_path
        if not path.is_file():
            return None
        held = _HELD.get(str(path.resolve()))
        if held is not None and held.held:
            return None
        if fcntl is None:  # pragma: no cover
            info = self._read_lock_info()
            return info if _pid_alive(int(info.get("pid", -1))) else None
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._read_lock_info() or {"owner": "?"}
        finally:
            os.close(fd)  # closing drops our probe lock
        info = self._read_lock_info()
        if info.get("host") not in (None, socket.gethostname()):
            return info
        return None

    def _check_not_locked_by_other(self) -> None:
        holder = self.lock_holder()
        if holder is not None:
            msg = self._holder_message(holder).replace("opened read-only", "not saved")
            raise LockError(msg)
