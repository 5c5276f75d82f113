"""Byte-level constants of the Latentzip archive format (see docs/FORMAT.md).

Every number here is part of the on-disk format: change none of them without
bumping ``FORMAT_VERSION``, and never reuse an ``EntryKind`` id.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

FORMAT_VERSION = 2
"""The newest format version this code writes and reads (readers accept 1..FORMAT_VERSION)."""

MAGIC = b"LTZ\x89\r\n"
ENTRY_MAGIC = b"LTZE"
INDEX_MAGIC = b"LTZI"
END_MAGIC = b"LTZEND\r\n"

FILE_HEADER = struct.Struct("<6sHH")  # magic, version, flags
ENTRY_PREFIX = struct.Struct("<4sI")  # b"LTZE", header_len
PAYLOAD_LEN = struct.Struct("<Q")  # payload_len (covered by the entry crc)
CRC = struct.Struct("<I")  # crc32
INDEX_PREFIX = struct.Struct("<4sI")  # b"LTZI", index_len
TRAILER = struct.Struct("<QII8s")  # index_offset, index_len, index_crc32, END_MAGIC

FILE_HEADER_LEN = FILE_HEADER.size  # 10
TRAILER_LEN = TRAILER.size  # 24
ENTRY_OVERHEAD = ENTRY_PREFIX.size + PAYLOAD_LEN.size + CRC.size  # 20 bytes around header + payload
KNOWN_FLAGS = 0  # no file-header flag is defined in versions 1 and 2

MAX_HEADER_LEN = 1 << 20  # 1 MiB of entry-header JSON
MAX_INDEX_LEN = 256 << 20  # 256 MiB of compressed index
MAX_INDEX_RAW_LEN = 1 << 30  # 1 GiB of decompressed index JSON
MAX_ENTRIES = 10_000_000

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


class EntryKind(IntEnum):
    """What an entry's payload holds. The ids are part of the format: never renumber or reuse one."""

    STORED = 1  # the file's bytes as they are
    LZMA = 2  # the file's bytes, lzma FORMAT_XZ
    IMAGE = 3  # a lossy-coded image; payload defined by the engine
    DIRECTORY = 4  # no payload
    SYMLINK = 5  # no payload; the header's "link" is the target
    JPEG_REPACK = 6  # version 2: a JPEG XL file that rebuilds the original JPEG bit for bit
    DUPLICATE = 7  # version 2: no payload; the header's "same_as" names an earlier file entry


FIRST_VERSION = {EntryKind.JPEG_REPACK: 2, EntryKind.DUPLICATE: 2}
"""Kinds that a version-1 archive may not hold (the version that introduced each)."""
FILE_KINDS = frozenset({1, 2, 3, 6, 7})
"""Kinds whose entry is a regular file when extracted (a DUPLICATE's target is one of the others)."""


@dataclass(frozen=True)
class Limits:
    """Reader/writer caps; anything beyond them raises ArchiveLimitError."""

    max_header_len: int = MAX_HEADER_LEN
    max_index_len: int = MAX_INDEX_LEN
    max_index_raw_len: int = MAX_INDEX_RAW_LEN
    max_entries: int = MAX_ENTRIES


DEFAULT_LIMITS = Limits()
