"""JPEG marker walker: the segments of a JPEG file as byte spans, tolerant of damage.

A JPEG is SOI, then marker segments (``FF xx`` + a big-endian length that counts
itself), any number of ``FF`` fill bytes before a marker, standalone markers without a
length (RSTn, TEM), entropy-coded data after each SOS (where ``FF 00`` is a stuffed
byte and ``FF D0..D7`` a restart marker), and EOI. ``walk`` never raises: it returns
the segments it could read and why it stopped (``Stop``), with a message for people.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["Segment", "Stop", "JpegWalk", "walk", "SOS", "EOI", "COM"]

SOI, SOS, EOI, COM = 0xD8, 0xDA, 0xD9, 0xFE
_FILL = re.compile(rb"\xff+")
_MARKER_IN_SCAN = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")


class Stop(enum.Enum):
    """Why a walk ended."""

    EOI = "eoi"  # the end-of-image marker: the structure is whole
    SCAN = "scan"  # the first SOS (``until_scan``): the metadata part is whole
    NOT_JPEG = "not a JPEG"
    TRUNCATED = "truncated"  # the data ends inside the structure
    GARBAGE = "garbage"  # something other than a marker where one belongs
    BAD_LENGTH = "bad length"  # a segment length below 2 or past the end
    TOO_MANY = "too many segments"

    @property
    def complete(self) -> bool:
        return self in (Stop.EOI, Stop.SCAN)


@dataclass(frozen=True)
class Segment:
    """One marker segment: ``data[offset:end]`` is the whole segment, ``data[start:end]`` its payload."""

    marker: int
    offset: int  # the FF just before the marker byte
    start: int
    end: int

    @property
    def is_app(self) -> bool:
        return 0xE0 <= self.marker <= 0xEF

    @property
    def name(self) -> str:
        """ "APPn", "COM" or the marker in hex."""
        if self.is_app:
            return f"APP{self.marker - 0xE0}"
        return "COM" if self.marker == COM else f"0x{self.marker:02X}"


@dataclass(frozen=True)
class JpegWalk:
    """The segments read, in file order; ``end`` is just past EOI, or the SOS marker's offset with ``Stop.SCAN``."""

    segments: tuple[Segment, ...]
    stop: Stop
    end: int
    message: str = ""

    @property
    def complete(self) -> bool:
        return self.stop.complete


def walk(data: bytes | bytearray, *, until_scan: bool = False, max_segments: int | None = None) -> JpegWalk:
    """Walk the markers of ``data``; with ``until_scan``, stop at the first SOS (not included).

    Otherwise the SOS segments are included and their entropy-coded data skipped, up to
    EOI. ``max_segments`` bounds the number of segments (``Stop.TOO_MANY`` past it).
    """
    n = len(data)
    segments: list[Segment] = []

    def done(stop: Stop, end: int, message: str = "") -> JpegWalk:
        return JpegWalk(tuple(segments), stop, end, message)

    if n < 4 or data[0] != 0xFF or data[1] != SOI:
        return done(Stop.NOT_JPEG, 0, "not a JPEG (no SOI)")
    pos = 2
    while True:
        fill = _FILL.match(data, pos)
        if fill is None:
            if pos >= n:
                return done(Stop.TRUNCATED, pos, "JPEG ends before EOI")
            return done(Stop.GARBAGE, pos, f"JPEG marker expected at offset {pos}")
        pos = fill.end()
        if pos >= n:
            return done(Stop.TRUNCATED, pos, "JPEG ends before EOI")
        marker, offset = data[pos], pos - 1
        pos += 1
        if marker == EOI:
            return done(Stop.EOI, pos)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            continue
        if marker in (0x00, SOI):
            return done(Stop.GARBAGE, offset, f"unexpected JPEG marker 0x{marker:02x}")
        if marker == SOS and until_scan:
            return done(Stop.SCAN, offset)
        if pos + 2 > n:
            return done(Stop.TRUNCATED, offset, "JPEG segment length cut off")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > n:
            return done(Stop.BAD_LENGTH, offset, f"bad JPEG segment length at offset {pos}")
        segments.append(Segment(marker, offset, pos + 2, pos + length))
        if max_segments is not None and len(segments) > max_segments:
            segments.pop()
            return done(Stop.TOO_MANY, offset, "too many JPEG segments")
        pos += length
        if marker == SOS:  # entropy-coded data follows: find the next marker (not a stuffed 00 or RSTn)
            found = _MARKER_IN_SCAN.search(data, pos)
            if found is None:
                return done(Stop.TRUNCATED, pos, "JPEG ends inside scan data")
            pos = found.start()
