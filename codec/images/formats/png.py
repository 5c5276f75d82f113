"""PNG chunk walker: the chunks of a PNG file as byte spans, tolerant of damage.

A PNG is an 8-byte signature, then chunks of (big-endian length, 4-letter type, data,
CRC-32 over type and data), up to IEND. ``walk`` never raises: it returns the chunks it
could read and why it stopped (``Stop``), with a message for people.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

__all__ = ["SIGNATURE", "Chunk", "Stop", "PngWalk", "walk", "chunk_bytes"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_LENGTH = 0x7FFFFFFF
MAX_IDAT_CHUNKS = 1 << 20  # encoders write 8-64 kB IDATs: a million is an 8 GB image; more is hostile


class Stop(enum.Enum):
    """Why a walk ended."""

    IEND = "iend"  # the structure is whole
    NOT_PNG = "not a PNG"
    TRUNCATED = "truncated"
    BAD_LENGTH = "bad length"
    BAD_TYPE = "bad type"
    BAD_CRC = "bad CRC"
    TOO_MANY = "too many chunks"


@dataclass(frozen=True)
class Chunk:
    """One chunk: ``data[offset:end + 4]`` is the whole chunk, ``data[start:end]`` its data."""

    type: bytes
    offset: int
    start: int
    end: int


@dataclass(frozen=True)
class PngWalk:
    """The chunks read, in file order (IEND included when reached)."""

    chunks: tuple[Chunk, ...]
    stop: Stop
    message: str = ""

    @property
    def complete(self) -> bool:
        return self.stop is Stop.IEND


def walk(data: bytes | bytearray | memoryview, *, check_crc: bool = True, max_chunks: int | None = None) -> PngWalk:
    """Walk the chunks of ``data`` up to IEND.

    ``check_crc`` stops at the first chunk whose CRC does not match (``Stop.BAD_CRC``);
    ``max_chunks`` bounds the number of chunks other than IDAT; IDAT chunks are bounded by
    ``MAX_IDAT_CHUNKS`` (each costs a ``Chunk`` in memory, and a file of empty IDATs is 12 bytes each).
    """
    view = memoryview(data)
    chunks: list[Chunk] = []

    def done(stop: Stop, message: str = "") -> PngWalk:
        return PngWalk(tuple(chunks), stop, message)

    if bytes(view[: len(SIGNATURE)]) != SIGNATURE:
        return done(Stop.NOT_PNG, "not a PNG (bad signature)")
    pos, n, others = len(SIGNATURE), len(view), 0
    while True:
        if pos + 12 > n:
            return done(Stop.TRUNCATED, "PNG ends before IEND")
        length, ctype = struct.unpack(">I4s", view[pos : pos + 8])
        if length > _MAX_LENGTH or pos + 12 + length > n:
            return done(Stop.BAD_LENGTH, f"bad PNG chunk length at offset {pos}")
        if not ctype.isalpha() or not ctype.isascii():
            return done(Stop.BAD_TYPE, f"bad PNG chunk type at offset {pos}")
        start, end = pos + 8, pos + 8 + length
        if check_crc:
            (crc,) = struct.unpack(">I", view[end : end + 4])
            if zlib.crc32(view[start:end], zlib.crc32(ctype)) != crc:
                return done(Stop.BAD_CRC, f"PNG chunk {ctype.decode()} has a bad CRC")
        chunks.append(Chunk(ctype, pos, start, end))
        if ctype != b"IDAT":
            others += 1
            if max_chunks is not None and others > max_chunks:
                chunks.pop()
                return done(Stop.TOO_MANY, "too many PNG chunks")
        elif len(chunks) - others > MAX_IDAT_CHUNKS:
            chunks.pop()
            return done(Stop.TOO_MANY, "too many PNG image data chunks")
        pos = end + 4
        if ctype == b"IEND":
            return done(Stop.IEND)


def chunk_bytes(ctype: bytes, body: bytes | memoryview) -> bytes:
    """One PNG chunk with its length and CRC."""
    crc = zlib.crc32(body, zlib.crc32(ctype))
    return b"".join((struct.pack(">I", len(body)), ctype, body, struct.pack(">I", crc)))
