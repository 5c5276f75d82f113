"""TIFF structure walker (a TIFF file, or the EXIF block of a JPEG, PNG or WebP).

A classic TIFF structure is a byte-order mark (``II`` or ``MM``), 42, and the offset of
IFD0; each IFD is a 16-bit entry count, 12-byte entries (tag, type, count, value or
offset of the value) and the offset of the next IFD. ``TiffView`` reads such a
structure inside ``buf[start:end]`` (offsets count from ``start``), and every read is
bounds-checked: an offset outside the structure raises ``ValueError`` (never IndexError
or struct.error), so a rule can catch one exception type. ``append_sub_ifds`` is the one
IFD writer, used when writing TIFF files.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Entry", "TiffView", "append_sub_ifds", "is_tiff", "TYPE_SIZES", "MAX_IFD_ENTRIES"]

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
MAX_IFD_ENTRIES = 1000
MAX_IFD_CHAIN = 4


def is_tiff(data: bytes | bytearray) -> bool:
    return bytes(data[:4]) in (b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class Entry:
    """One IFD entry at ``offset``; ``value`` is the out-of-line value's offset, or -1 (inline, or out of range)."""

    offset: int
    tag: int
    type: int
    count: int
    value: int

    @property
    def nbytes(self) -> int:
        return TYPE_SIZES.get(self.type, 0) * self.count

    @property
    def value_span(self) -> tuple[int, int]:
        """Where the value lies: inline (in the entry), out of line, or (0, 0) when out of range."""
        if self.nbytes <= 4:
            return self.offset + 8, self.offset + 8 + self.nbytes
        return (self.value, self.value + self.nbytes) if self.value >= 0 else (0, 0)


class TiffView:
    """A TIFF structure inside ``buf[start:end]``; offsets are relative to ``start``.

    Raises ValueError when the header is not a TIFF one (``check_magic=False`` accepts
    any byte-order mark without checking the 42).
    """

    def __init__(
        self, buf: bytes | bytearray, start: int = 0, end: int | None = None, *, check_magic: bool = True
    ) -> None:
        end = len(buf) if end is None else end
        if end - start < 8 or bytes(buf[start : start + 2]) not in (b"II", b"MM"):
            raise ValueError("not a TIFF structure")
        self.buf, self.start, self.end = buf, start, end
        self.e = "<" if buf[start] == 0x49 else ">"
        if check_magic and self.u16(2) != 42:
            raise ValueError("not a classic TIFF structure")

    @property
    def size(self) -> int:
        return self.end - self.start

    def u16(self, off: int) -> int:
        if off < 0 or off + 2 > self.size:
            raise ValueError("TIFF offset out of range")
        return struct.unpack_from(self.e + "H", self.buf, self.start + off)[0]

    def u32(self, off: int) -> int:
        if off < 0 or off + 4 > self.size:
            raise ValueError("TIFF offset out of range")
        return struct.unpack_from(self.e + "I", self.buf, self.start + off)[0]

    def first_ifd(self) -> int:
        return self.u32(4)

    def _entry(self, at: int) -> Entry:
        tag, typ, count = struct.unpack_from(self.e + "HHI", self.buf, self.start + at)
        nbytes = TYPE_SIZES.get(typ, 0) * count
        value = self.u32(at + 8) if nbytes > 4 else -1
        if value >= 0 and value + nbytes > self.size:
            value = -1
        return Entry(at, tag, typ, count, value)

    def entries(self, ifd: int) -> list[Entry]:
        """The entries of a whole directory; ValueError when it does not fit (or is implausibly long)."""
        n = self.u16(ifd)
        if n > MAX_IFD_ENTRIES or ifd + 2 + 12 * n + 4 > self.size:
            raise ValueError("bad TIFF directory")
        return [self._entry(ifd + 2 + 12 * i) for i in range(n)]

    def iter_entries(self, ifd: int) -> Iterator[Entry]:
        """The entries of a directory as far as they fit (at most ``MAX_IFD_ENTRIES``); tolerant."""
        n = self.u16(ifd)
        for i in range(min(n, MAX_IFD_ENTRIES)):
            at = ifd + 2 + 12 * i
            if at + 12 > self.size:
                return
            yield self._entry(at)

    def next_ifd(self, ifd: int, count: int) -> int:
        """The offset of the directory after ``ifd`` (which has ``count`` entries)."""
        return self.u32(ifd + 2 + 12 * count)

    def chain(self) -> list[int]:
        """IFD0 and the IFDs after it (IFD1: the thumbnail), a few at most; tolerant."""
        ifds: list[int] = []
        ifd = self.first_ifd()
        while ifd and len(ifds) < MAX_IFD_CHAIN and ifd not in ifds:
            if ifd + 2 > self.size:
                break
            ifds.append(ifd)
            n = self.u16(ifd)
            if ifd + 2 + 12 * n + 4 > self.size:
                break
            ifd = self.next_ifd(ifd, n)
        return ifds


def append_sub_ifds(tiff: bytes, subs: dict[int, dict]) -> bytes:
    """Add sub-IFDs (Exif 0x8769, GPS 0x8825) to a TIFF file, which Pillow's libtiff writer cannot write.

    The sub-IFDs and a copy of IFD0 with pointers to them are appended, and the header
    is pointed at the new IFD0; IFD0's other entries are copied as raw 12-byte entries,
    so strips and other out-of-line values stay valid where they are.
    """
    from PIL import TiffImagePlugin  # local: only writing needs Pillow

    view = TiffView(tiff)
    e, ifd0 = view.e, view.first_ifd()
    count = view.u16(ifd0)
    entries = {}
    for i in range(count):
        raw = tiff[ifd0 + 2 + 12 * i : ifd0 + 14 + 12 * i]
        entries[struct.unpack(e + "H", raw[:2])[0]] = raw
    next_ifd = view.next_ifd(ifd0, count)
    out = bytearray(tiff)
    for tag, values in subs.items():
        if len(out) % 2:
            out += b"\x00"
        sub = TiffImagePlugin.ImageFileDirectory_v2(ifh=tiff[:8], group=tag)
        for key, value in values.items():
            sub[key] = value
        offset = len(out)
        out += sub.tobytes(offset)
        entries[tag] = struct.pack(e + "HHII", tag, 4, 1, offset)  # LONG pointer
    if len(out) % 2:
        out += b"\x00"
    new_ifd0 = len(out)
    out += struct.pack(e + "H", len(entries)) + b"".join(entries[t] for t in sorted(entries))
    out += struct.pack(e + "I", next_ifd)
    struct.pack_into(e + "I", out, 4, new_ifd0)
    return bytes(out)
