"""Low-level reading: the file header, one entry at an offset, and its payload with crc check.

Every declared length is checked against the end of the data before anything
of that size is read or allocated.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..api.errors import (
    ArchiveFormatError,
    ArchiveLimitError,
    ChecksumError,
    TruncatedArchiveError,
    UnsupportedVersionError,
)
from .format import (
    CRC,
    ENTRY_MAGIC,
    ENTRY_PREFIX,
    FILE_HEADER,
    FILE_HEADER_LEN,
    FORMAT_VERSION,
    KNOWN_FLAGS,
    MAGIC,
    PAYLOAD_LEN,
    Limits,
)
from .records import EntryRecord, decode_json, validate_header

DEFAULT_CHUNK = 1 << 20


def file_size(f: BinaryIO) -> int:
    """The size of a seekable file object."""
    return f.seek(0, 2)


def read_exact(f: BinaryIO, offset: int, n: int, where: str | None) -> bytes:
    """Exactly ``n`` bytes at ``offset`` (callers have bounded ``n`` by the file size)."""
    f.seek(offset)
    data = f.read(n)
    if len(data) != n:
        raise TruncatedArchiveError(f"archive ends early (wanted {n} bytes at offset {offset})", where)
    return data


def read_file_header(f: BinaryIO, size: int, where: str | None) -> int:
    """Check magic, version and flags; return the format version."""
    f.seek(0)
    head = f.read(FILE_HEADER_LEN)
    if len(head) < FILE_HEADER_LEN or size < FILE_HEADER_LEN:
        if MAGIC.startswith(head[: len(MAGIC)]) and head:
            raise TruncatedArchiveError("archive ends inside its file header", where)
        raise ArchiveFormatError("not a Latentzip archive (file too short)", where)
    magic, version, flags = FILE_HEADER.unpack(head)
    if magic != MAGIC:
        raise ArchiveFormatError("not a Latentzip archive (bad magic)", where)
    if version > FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"written by a newer Latentzip, format version {version} (this one reads versions 1 to "
            f"{FORMAT_VERSION}); please update Latentzip",
            where,
        )
    if version < 1:
        raise ArchiveFormatError(f"invalid archive format version {version}", where)
    if flags & ~KNOWN_FLAGS:
        raise ArchiveFormatError(f"unknown file-header flags 0x{flags:04x}", where)
    return version


@dataclass(frozen=True)
class EntryHead:
    """An entry's framing and validated header, as found on disk."""

    offset: int
    header_bytes: bytes
    header: dict[str, Any]
    payload_offset: int
    payload_len: int

    @property
    def path(self) -> str:
        return self.header["path"]

    @property
    def end(self) -> int:
        """Offset just after the entry's crc."""
        return self.payload_offset + self.payload_len + CRC.size


def read_head(f: BinaryIO, offset: int, data_end: int, limits: Limits, version: int = FORMAT_VERSION) -> EntryHead:
    """Read and validate the entry starting at ``offset``; the entry must end by ``data_end``."""
    where = f"entry at offset {offset}"
    if offset + ENTRY_PREFIX.size > data_end:
        raise TruncatedArchiveError("archive ends inside an entry marker", where)
    magic, header_len = ENTRY_PREFIX.unpack(read_exact(f, offset, ENTRY_PREFIX.size, where))
    if magic != ENTRY_MAGIC:
        raise ArchiveFormatError("no entry marker (LTZE) where an entry should start", where)
    if header_len > limits.max_header_len:
        raise ArchiveLimitError(f"entry header of {header_len} bytes is over {limits.max_header_len}", where)
    start = offset + ENTRY_PREFIX.size
    if start + header_len + PAYLOAD_LEN.size > data_end:
        raise TruncatedArchiveError("archive ends inside an entry header", where)
    raw = read_exact(f, start, header_len + PAYLOAD_LEN.size, where)
    header_bytes = raw[:header_len]
    (payload_len,) = PAYLOAD_LEN.unpack(raw[header_len:])
    header = validate_header(decode_json(header_bytes, where), where, version)
    payload_offset = start + header_len + PAYLOAD_LEN.size
    if payload_len > data_end - payload_offset - CRC.size:
        raise TruncatedArchiveError(
            f"declared payload length {payload_len} runs past the end of the archive data", header["path"]
        )
    return EntryHead(offset, header_bytes, header, payload_offset, payload_len)


def iter_checked(
    f: BinaryIO, head: EntryHead, chunk_size: int = DEFAULT_CHUNK, expected_crc: int | None = None
) -> Iterator[bytes]:
    """Yield the payload in chunks; after the last one, raise ChecksumError if the crc is wrong."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    crc = zlib.crc32(PAYLOAD_LEN.pack(head.payload_len), zlib.crc32(head.header_bytes))
    pos, left = head.payload_offset, head.payload_len
    while left:
        chunk = read_exact(f, pos, min(chunk_size, left), head.path)
        crc = zlib.crc32(chunk, crc)
        pos += len(chunk)
        left -= len(chunk)
        yield chunk
    (stored,) = CRC.unpack(read_exact(f, pos, CRC.size, head.path))
    if stored != crc:
        raise ChecksumError(head.path, stored, crc)
    if expected_crc is not None and stored != expected_crc:
        raise ArchiveFormatError("the entry's checksum differs from the index's", head.path)


def check_head(f: BinaryIO, record: EntryRecord, data_end: int, limits: Limits) -> EntryHead:
    """The on-disk head of ``record``'s entry; ArchiveFormatError if it differs from the record."""
    head = read_head(f, record.offset, data_end, limits)
    if head.header != record.header() or head.payload_len != record.payload_len:
        raise ArchiveFormatError("entry on disk does not match the index (tampered or damaged index)", record.path)
    return head
