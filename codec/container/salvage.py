"""Salvage: walk the entries from the start without the index, checking each one's crc.

Used when the index or trailer is missing or damaged (an interrupted write,
a truncated download). Good entries come out as records; damage comes out as
errors, and the scan resynchronises on the next entry marker after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from ..api.errors import (
    ArchiveFormatError,
    ArchiveLimitError,
    LatentzipError,
    TruncatedArchiveError,
    UnsupportedVersionError,
)
from .entries import DEFAULT_CHUNK, EntryHead, check_head, file_size, iter_checked, read_file_header, read_head
from .format import DEFAULT_LIMITS, ENTRY_MAGIC, FILE_HEADER_LEN, FORMAT_VERSION, INDEX_MAGIC, EntryKind, Limits
from .namespace import EntryNamespace
from .records import EntryRecord, check_duplicate, make_record

ScanItem = tuple[EntryRecord | None, LatentzipError | None]


def _find(f: BinaryIO, start: int, size: int, magic: bytes) -> int | None:
    """Offset of the next ``magic`` at or after ``start``, reading in bounded chunks."""
    pos = start
    while pos < size:
        f.seek(pos)
        block = f.read(DEFAULT_CHUNK + len(magic) - 1)
        hit = block.find(magic)
        if hit >= 0:
            return pos + hit
        if len(block) < len(magic):
            return None
        pos += DEFAULT_CHUNK
    return None


def _peek(f: BinaryIO, pos: int, n: int) -> bytes:
    f.seek(pos)
    return f.read(n)


def _checked_record(f: BinaryIO, head: EntryHead, chunk_size: int) -> EntryRecord:
    for _ in iter_checked(f, head, chunk_size):
        pass
    crc = int.from_bytes(_peek(f, head.end - 4, 4), "little")
    return make_record(head.header, head.offset, head.payload_len, crc)


def scan_entries(
    path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[ScanItem]:
    """Yield ``(record, None)`` for each intact entry and ``(None, error)`` for each damaged stretch.

    Stops at the index marker, or at the end of the file (one TruncatedArchiveError
    when the archive ends without an index). A newer format version yields one
    UnsupportedVersionError and stops. Duplicate or conflicting paths are
    yielded as errors and their entries skipped.
    """
    with open(path, "rb") as f:
        size = file_size(f)
        name = os.fspath(path)
        version = FORMAT_VERSION  # a damaged file header: accept what this version knows
        try:
            version = read_file_header(f, size, name)
        except UnsupportedVersionError as exc:
            yield None, exc
            return
        except ArchiveFormatError as exc:
            yield None, exc
            if size <= FILE_HEADER_LEN:
                return
        yield from _walk(f, size, limits, chunk_size, name, version)


def _walk(f: BinaryIO, size: int, limits: Limits, chunk_size: int, name: str, version: int) -> Iterator[ScanItem]:
    names = EntryNamespace()
    earlier: dict[str, EntryRecord] = {}
    count = 0
    pos: int | None = FILE_HEADER_LEN
    resync = False
    while pos is not None:
        if resync:
            pos = _find(f, pos, size, ENTRY_MAGIC)
            if pos is None:
                return
        else:
            marker = _peek(f, pos, 4)
            if marker == INDEX_MAGIC:
                return
            if len(marker) < 4 and INDEX_MAGIC.startswith(marker):
                yield None, TruncatedArchiveError(f"archive ends at offset {pos} without an index", name)
                return
        try:
            head = read_head(f, pos, size, limits, version)
        except LatentzipError as exc:
            if not resync:
                yield None, exc
            pos, resync = pos + 1, True
            continue
        try:
            record = _checked_record(f, head, chunk_size)
            if record.kind == EntryKind.DUPLICATE:
                check_duplicate(record.path, record.size, record.sha256, record.same_as, earlier)
            names.add(record.path, record.kind)
        except LatentzipError as exc:
            yield None, exc
            following = _peek(f, head.end, 4)
            pos, resync = (head.end, False) if following in (ENTRY_MAGIC, INDEX_MAGIC, b"") else (pos + 1, True)
            continue
        count += 1
        if count > limits.max_entries:
            yield None, ArchiveLimitError(f"more than {limits.max_entries} entries", name)
            return
        earlier[record.path] = record
        yield record, None
        pos, resync = head.end, False


def iter_salvaged_payload(
    path: str | os.PathLike[str],
    record: EntryRecord,
    *,
    limits: Limits = DEFAULT_LIMITS,
    chunk_size: int = DEFAULT_CHUNK,
) -> Iterator[bytes]:
    """Yield a salvaged record's verified payload (re-read from ``path``; crc checked at the end)."""
    with open(path, "rb") as f:
        head = check_head(f, record, file_size(f), limits)
        yield from iter_checked(f, head, chunk_size, record.crc)
