"""TFRecord framing: ``uint64 length | masked crc32c(length) | data | masked crc32c(data)``.

All integers little-endian; CRC-32C (Castagnoli) masked as
``((crc >> 15) | (crc << 17)) + 0xA282EAD8`` (uint32). Reading verifies both CRCs
of every record; a damaged or truncated file raises :class:`InputError` naming
the file and the record index.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import google_crc32c

from lidarlabel.errors import InputError
from lidarlabel.io.atomic import atomic_open

__all__ = ["masked_crc32c", "read_records", "write_records", "frame_record"]

_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    """Masked CRC-32C of ``data`` as TFRecord stores it (uint32)."""
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One framed record: header, ``data``, trailer."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def read_records(path: str | Path) -> Iterator[bytes]:
    """Yield the payload of every record of a TFRecord file, checking both CRCs.

    Raises InputError("<file>: record <i>: ...") on a truncated record or a CRC mismatch.
    """
    path = Path(path)
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in finally
    except OSError as exc:
        raise InputError(f"{path}: cannot open TFRecord ({exc.strerror or exc})") from None
    try:
        index = 0
        while True:
            head = fh.read(12)
            if not head:
                return
            if len(head) < 12:
                raise InputError(
                    f"{path}: record {index}: truncated header (expected 12 bytes, got {len(head)})"
                )
            (length,) = struct.unpack("<Q", head[:8])
            (crc,) = struct.unpack("<I", head[8:])
            if crc != masked_crc32c(head[:8]):
                raise InputError(
                    f"{path}: record {index}: length CRC mismatch (expected {masked_crc32c(head[:8]):#010x}, "
                    f"got {crc:#010x}); not a TFRecord file or the file is damaged"
                )
            data = fh.read(length)
            tail = fh.read(4)
            if len(data) < length or len(tail) < 4:
                raise InputError(
                    f"{path}: record {index}: truncated (expected {length} data bytes and a 4-byte CRC, "
                    f"got {len(data)} and {len(tail)})"
                )
            (dcrc,) = struct.unpack("<I", tail)
            if dcrc != masked_crc32c(data):
                raise InputError(
                    f"{path}: record {index}: data CRC mismatch (expected {masked_crc32c(data):#010x}, "
                    f"got {dcrc:#010x}); the file is damaged"
                )
            yield data
            index += 1
    finally:
        fh.close()


def write_records(path: str | Path, records: Iterable[bytes]) -> int:
    """Write ``records`` as one TFRecord file atomically; returns the number written."""
    n = 0
    with atomic_open(path) as fh:
        for data in records:
            fh.write(frame_record(data))
            n += 1
    return n
