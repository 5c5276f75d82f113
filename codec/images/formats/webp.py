"""RIFF/WebP chunk walker: the chunks of a WebP file as byte spans, tolerant of damage.

A WebP is ``RIFF`` + a little-endian size (counted from byte 8) + ``WEBP``, then chunks
of (FourCC, little-endian size, data, one pad byte when the size is odd). ``walk`` never
raises: it walks the chunks inside both the RIFF size and the file, and says what was
wrong with either.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Chunk", "WebpWalk", "walk", "is_webp"]


@dataclass(frozen=True)
class Chunk:
    """One chunk: ``data[offset:end]`` is the chunk without its pad byte, ``data[start:end]`` its data."""

    fourcc: bytes
    offset: int
    start: int
    end: int


@dataclass(frozen=True)
class WebpWalk:
    """The chunks read, in file order.

    ``riff_end`` is where the RIFF size says the file ends; ``truncated`` is set when that
    is past the end of the data; ``chunk_problem`` names a chunk that runs past
    ``min(riff_end, len(data))`` (the walk stops there).
    """

    chunks: tuple[Chunk, ...]
    riff_end: int
    truncated: bool = False
    chunk_problem: str = ""
    too_many: bool = False

    @property
    def complete(self) -> bool:
        return not (self.truncated or self.chunk_problem or self.too_many)

    @property
    def message(self) -> str:
        """The first problem for people ("" when complete)."""
        if self.truncated:
            return "WebP RIFF size beyond end of file"
        if self.too_many:
            return "too many WebP chunks"
        return self.chunk_problem


def is_webp(data: bytes | bytearray) -> bool:
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def walk(data: bytes | bytearray, *, max_chunks: int | None = None) -> WebpWalk:
    """Walk the chunks of a RIFF/WebP file (``is_webp(data)`` must hold)."""
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    limit = min(riff_end, len(data))
    pos = 12
    chunks: list[Chunk] = []
    while pos + 8 <= limit:
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + size > limit:
            return WebpWalk(tuple(chunks), riff_end, riff_end > len(data), f"bad WebP chunk size at offset {pos}")
        chunks.append(Chunk(bytes(fourcc), pos, pos + 8, pos + 8 + size))
        if max_chunks is not None and len(chunks) > max_chunks:
            chunks.pop()
            return WebpWalk(tuple(chunks), riff_end, riff_end > len(data), too_many=True)
        pos += 8 + size + (size & 1)
    return WebpWalk(tuple(chunks), riff_end, riff_end > len(data))
