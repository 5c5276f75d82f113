"""ArchiveWriter: streams entries into an open, seekable binary file, then the index and trailer.

The caller owns the file (temporary file, fsync, atomic rename, cleanup on
failure); the writer never closes it.
"""

from __future__ import annotations

import errno
import zlib
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, BinaryIO

from ..api.errors import ArchiveFormatError, ArchiveLimitError
from .crc import crc32_combine
from .format import (
    CRC,
    DEFAULT_LIMITS,
    END_MAGIC,
    ENTRY_MAGIC,
    ENTRY_PREFIX,
    FILE_HEADER,
    FORMAT_VERSION,
    INDEX_MAGIC,
    INDEX_PREFIX,
    MAGIC,
    PAYLOAD_LEN,
    TRAILER,
    EntryKind,
    Limits,
)
from .namespace import EntryNamespace
from .records import EntryRecord, check_duplicate, encode_index, encode_json, make_record, validate_header
from .safe_paths import normalize_archive_name

_OPEN, _CLOSED, _FAILED = "open", "closed", "failed"


class ArchiveWriteError(OSError):
    """Writing the archive file failed (a full disk...), as opposed to reading an input."""


class ArchiveWriter:
    """Writes one archive. Use as a context manager; ``close()`` writes the index and trailer.

    If the ``with`` block raises, or an ``add`` fails half-way, no index is
    written and the file is not a valid archive (the caller discards it).
    Headers must hold "path", "kind", "size", "mtime_ns", "mode" (and "link"
    for symlinks); other JSON-serialisable keys are kept for the engine.
    """

    def __init__(self, fileobj: BinaryIO, *, limits: Limits = DEFAULT_LIMITS) -> None:
        if fileobj.tell() != 0:
            raise ValueError("ArchiveWriter needs a file positioned at offset 0")
        self._f = fileobj
        self._limits = limits
        self._records: list[EntryRecord] = []
        self._by_path: dict[str, EntryRecord] = {}
        self._names = EntryNamespace()
        self._state = _FAILED
        self._write(FILE_HEADER.pack(MAGIC, FORMAT_VERSION, 0))
        self._pos = FILE_HEADER.size
        self._state = _OPEN

    @classmethod
    def resume(
        cls, fileobj: BinaryIO, records: Iterable[EntryRecord], *, limits: Limits = DEFAULT_LIMITS
    ) -> ArchiveWriter:
        """Continue an archive whose file header and entries ``records`` (checked, in file order, back
        to back) already fill ``fileobj`` up to its current position; new entries follow them."""
        self = cls.__new__(cls)
        self._f = fileobj
        self._limits = limits
        self._records, self._by_path, self._names = [], {}, EntryNamespace()
        for record in records:
            self._names.add(record.path, record.kind)
            self._records.append(record)
            self._by_path[record.path] = record
        self._pos = fileobj.tell()
        self._state = _OPEN
        return self

    @property
    def records(self) -> tuple[EntryRecord, ...]:
        """The entries written so far, in file order."""
        return tuple(self._records)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        elif self._state == _OPEN:
            self._state = _FAILED

    def add(self, header: Mapping[str, Any], payload: bytes = b"") -> EntryRecord:
        """Write one entry whose payload is in memory."""
        head, head_bytes = self._prepare(header)
        view = memoryview(payload).cast("B")
        length = PAYLOAD_LEN.pack(len(view))
        crc = zlib.crc32(view, zlib.crc32(length, zlib.crc32(head_bytes)))
        record = make_record(head, self._pos, len(view), crc)
        self._names.add(record.path, record.kind)
        self._state = _FAILED  # until the entry is completely written
        self._write(ENTRY_PREFIX.pack(ENTRY_MAGIC, len(head_bytes)) + head_bytes + length)
        self._write(view)
        self._write(CRC.pack(crc))
        return self._finish(
            record, self._pos + ENTRY_PREFIX.size + len(head_bytes) + len(length) + len(view) + CRC.size
        )

    def add_stream(self, header: Mapping[str, Any], chunks: Iterable[bytes | memoryview]) -> EntryRecord:
        """Write one entry whose payload comes as chunks, without holding it in memory."""
        head, head_bytes = self._prepare(header)
        self._names.add(head["path"], head["kind"])
        start = self._pos
        self._state = _FAILED  # until the entry is completely written
        self._write(ENTRY_PREFIX.pack(ENTRY_MAGIC, len(head_bytes)) + head_bytes)
        length_at = start + ENTRY_PREFIX.size + len(head_bytes)
        self._write(PAYLOAD_LEN.pack(0))  # placeholder, patched below
        payload_crc, total = 0, 0
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            self._write(view)
            payload_crc = zlib.crc32(view, payload_crc)
            total += len(view)
        length = PAYLOAD_LEN.pack(total)
        head_crc = zlib.crc32(length, zlib.crc32(head_bytes))
        record = make_record(head, start, total, crc32_combine(head_crc, payload_crc, total))
        end = length_at + PAYLOAD_LEN.size + total
        self._f.seek(length_at)
        self._write(length)
        self._f.seek(end)
        self._write(CRC.pack(record.crc))
        return self._finish(record, end + CRC.size)

    def close(self) -> None:
        """Write the index and the trailer, and flush. Idempotent once it succeeded."""
        if self._state == _CLOSED:
            return
        self._check_open()
        self._state = _FAILED
        index = encode_index(self._records, self._limits)
        index_offset = self._pos
        self._write(INDEX_PREFIX.pack(INDEX_MAGIC, len(index)))
        self._write(index)
        self._write(TRAILER.pack(index_offset, len(index), zlib.crc32(index), END_MAGIC))
        self._f.flush()
        self._state = _CLOSED

    def _check_open(self) -> None:
        if self._state == _CLOSED:
            raise ArchiveFormatError("archive writer is already closed")
        if self._state == _FAILED:
            raise ArchiveFormatError("archive writer failed earlier; the archive is incomplete")

    def _prepare(self, header: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Validate a header (normalizing its path) and encode it; nothing is written yet."""
        self._check_open()
        if not isinstance(header, Mapping):
            raise ArchiveFormatError("entry header must be a mapping")
        head = dict(header)
        if "path" not in head:
            raise ArchiveFormatError("entry header has no 'path'")
        head["path"] = normalize_archive_name(head["path"])
        if isinstance(head.get("kind"), EntryKind):
            head["kind"] = int(head["kind"])
        validate_header(head, head["path"])
        if head["kind"] == EntryKind.DUPLICATE:
            check_duplicate(head["path"], head["size"], head.get("sha256"), head.get("same_as"), self._by_path)
        head_bytes = encode_json(head, head["path"])
        if len(head_bytes) > self._limits.max_header_len:
            raise ArchiveLimitError(
                f"entry header of {len(head_bytes)} bytes is over {self._limits.max_header_len}", head["path"]
            )
        if len(self._records) >= self._limits.max_entries:
            raise ArchiveLimitError(f"more than {self._limits.max_entries} entries", head["path"])
        return head, head_bytes

    def _finish(self, record: EntryRecord, end: int) -> EntryRecord:
        self._pos = end
        self._records.append(record)
        self._by_path[record.path] = record
        self._state = _OPEN
        return record

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            try:
                written = self._f.write(view)
            except OSError as exc:
                raise ArchiveWriteError(exc.errno, exc.strerror or str(exc)) from exc
            if not written:
                raise ArchiveWriteError(errno.EIO, "could not write to the archive file")
            view = view[written:]
