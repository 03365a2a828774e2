"""Atomic file writes: temporary file in the same folder, fsync, rename, fsync of the folder.

A reader sees either the old file or the complete new one, never half of it;
an interrupted write (Ctrl-C, SIGKILL, a full disk) leaves at most a hidden
``.<name>.tmp-*`` file that the next write ignores.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from lidarlabel.errors import InputError

__all__ = ["atomic_open", "fsync_dir", "write_bytes_atomic", "write_json_atomic"]


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask).

    mkstemp creates 0o600 files; a label file must be as readable as any other.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# Read once at import: os.umask can only be read by setting it, which would race
# with other threads creating files.
_FILE_MODE = _default_file_mode()


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entry table to disk (no-op where the OS does not support it)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Open a binary temporary file that replaces ``path`` only if the block completes.

    With ``overwrite=False`` an existing ``path`` is never replaced (the rename
    uses a hard link, which fails if the target exists).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: the folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=folder)
    except OSError as exc:
        raise InputError(f"{path}: cannot write in {folder} ({exc.strerror or exc}); nothing was changed") from None
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(f"{path}: already exists and is never overwritten") from None
            os.unlink(tmp)
        fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(f"{path}: could not write ({exc.strerror or exc}); nothing was changed") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, overwrite=overwrite) as fh:
        fh.write(data)


def write_json_atomic(path: str | Path, obj: Any, overwrite: bool = True, indent: int | None = 1) -> None:
    """Serialise ``obj`` as UTF-8 JSON (NaN refused) and write it atomically."""
    data = json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False).encode("utf-8")
    write_bytes_atomic(path, data + b"\n", overwrite=overwrite)
