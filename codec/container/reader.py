"""ArchiveReader: opens an archive through its index and reads verified payloads.

Opening checks the file header, the trailer, the index crc and every index
item (types, kinds, portable path rules, symlink targets, ordering, bounds).
Payload reads re-check each entry against the index and its crc.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from ..api.errors import ArchiveFormatError, ArchiveLimitError, ChecksumError, LatentzipError, TruncatedArchiveError
from .entries import DEFAULT_CHUNK, check_head, file_size, iter_checked, read_exact, read_file_header
from .format import (
    DEFAULT_LIMITS,
    END_MAGIC,
    ENTRY_OVERHEAD,
    FILE_HEADER_LEN,
    INDEX_MAGIC,
    INDEX_PREFIX,
    TRAILER,
    TRAILER_LEN,
    EntryKind,
    Limits,
)
from .namespace import EntryNamespace
from .records import EntryRecord, check_duplicate, decode_index
from .salvage import iter_salvaged_payload, scan_entries

__all__ = ["ArchiveReader", "scan_entries", "iter_salvaged_payload"]

_MIN_SIZE = FILE_HEADER_LEN + INDEX_PREFIX.size + TRAILER_LEN


class ArchiveReader:
    """A validated, open archive. Use ``ArchiveReader.open(path)`` as a context manager."""

    def __init__(self, fileobj: BinaryIO, *, name: str = "archive", limits: Limits = DEFAULT_LIMITS) -> None:
        """Validate the archive in ``fileobj`` (seekable, binary; not closed by the reader)."""
        self._f = fileobj
        self._owns = False
        self.name = name
        self._limits = limits
        self._size = file_size(fileobj)
        self.version = read_file_header(fileobj, self._size, name)
        self._index_offset, index_len, index_crc = self._read_trailer()
        self._entries = self._read_index(index_len, index_crc)
        self._by_path: dict[str, EntryRecord] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> ArchiveReader:
        """Open and validate the archive at ``path``; the reader closes the file."""
        f = open(path, "rb")
        try:
            reader = cls(f, name=os.fspath(path), limits=limits)
        except BaseException:
            f.close()
            raise
        reader._owns = True
        return reader

    def close(self) -> None:
        if self._owns:
            self._f.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def entries(self) -> tuple[EntryRecord, ...]:
        """All entries, in file order."""
        return self._entries

    def __iter__(self) -> Iterator[EntryRecord]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, path: str) -> EntryRecord | None:
        """The entry named ``path``, or None."""
        if self._by_path is None:
            self._by_path = {r.path: r for r in self._entries}
        return self._by_path.get(path)

    def read_payload(self, record: EntryRecord) -> bytes:
        """The whole verified payload of ``record`` (bounded by the file size)."""
        return b"".join(self.iter_payload(record, max(record.payload_len, 1)))

    def iter_payload(self, record: EntryRecord, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
        """Yield the payload in chunks; the checksum error, if any, comes after the last chunk.

        Do not finalize anything (rename a file, show an image) before the loop ends.
        """
        head = check_head(self._f, record, self._index_offset, self._limits)
        yield from iter_checked(self._f, head, chunk_size, record.crc)

    def verify_entry(self, record: EntryRecord) -> int:
        """Check one entry completely; return the offset just after it."""
        head = check_head(self._f, record, self._index_offset, self._limits)
        for _ in iter_checked(self._f, head, DEFAULT_CHUNK, record.crc):
            pass
        return head.end

    def verify_all(self) -> None:
        """Check every entry and that the entries exactly fill the space before the index."""
        for record in self._entries:
            self.verify_entry(record)
        self.check_layout()

    def check_layout(self) -> None:
        """Check, from the entries' framing alone (no payload is read), that the entries fill the
        space between the file header and the index exactly: no unaccounted bytes between them, and
        so no entry that the index leaves out. Raises ArchiveFormatError naming the entry after the gap.
        An entry whose own framing is damaged is left to its own read (the gap after it is unknown)."""
        expected: int | None = FILE_HEADER_LEN
        for record in self._entries:
            if expected is not None and record.offset != expected:
                raise ArchiveFormatError(
                    f"{record.offset - expected} unaccounted bytes at offset {expected}, before this entry "
                    "(damage, or an entry the index leaves out)",
                    record.path,
                )
            try:
                expected = check_head(self._f, record, self._index_offset, self._limits).end
            except LatentzipError:
                expected = None  # damaged: reported when the entry itself is read
        if expected is not None and expected != self._index_offset:
            raise ArchiveFormatError(
                f"{self._index_offset - expected} unaccounted bytes at offset {expected}, before the index "
                "(damage, or an entry the index leaves out)",
                self.name,
            )

    def _read_trailer(self) -> tuple[int, int, int]:
        """(index_offset, index_len, index_crc), checked against the file size."""
        if self._size < _MIN_SIZE:
            raise TruncatedArchiveError("archive is too short to hold an index", self.name)
        trailer = read_exact(self._f, self._size - TRAILER_LEN, TRAILER_LEN, self.name)
        index_offset, index_len, index_crc, end_magic = TRAILER.unpack(trailer)
        if end_magic != END_MAGIC:
            raise TruncatedArchiveError(
                "no end marker: the archive is truncated or damaged (salvage may recover its entries)", self.name
            )
        if index_len > self._limits.max_index_len:
            raise ArchiveLimitError(f"index of {index_len} bytes is over {self._limits.max_index_len}", self.name)
        if index_offset < FILE_HEADER_LEN or index_offset + INDEX_PREFIX.size + index_len + TRAILER_LEN != self._size:
            raise ArchiveFormatError("trailer does not describe the index position", self.name)
        return index_offset, index_len, index_crc

    def _read_index(self, index_len: int, index_crc: int) -> tuple[EntryRecord, ...]:
        """Check and decode the index, then the placement and names of its entries."""
        where = f"{self.name} (index)"
        magic, section_len = INDEX_PREFIX.unpack(read_exact(self._f, self._index_offset, INDEX_PREFIX.size, where))
        if magic != INDEX_MAGIC or section_len != index_len:
            raise ArchiveFormatError("no index marker (LTZI) where the trailer says", where)
        data = read_exact(self._f, self._index_offset + INDEX_PREFIX.size, index_len, where)
        actual = zlib.crc32(data)
        if actual != index_crc:
            raise ChecksumError(where, index_crc, actual)
        records = decode_index(data, self._limits, where, self.version)
        del data
        names = EntryNamespace()
        earlier: dict[str, EntryRecord] = {}
        floor = FILE_HEADER_LEN
        for record in records:
            names.add(record.path, record.kind)
            if record.kind == EntryKind.DUPLICATE:
                check_duplicate(record.path, record.size, record.sha256, record.same_as, earlier)
            earlier[record.path] = record
            if record.offset < floor or record.payload_len > self._index_offset - record.offset - ENTRY_OVERHEAD:
                raise ArchiveFormatError(
                    f"index gives an impossible position (offset {record.offset}, payload length {record.payload_len})",
                    record.path,
                )
            floor = record.offset + ENTRY_OVERHEAD + record.payload_len
        return tuple(records)
