"""Image metadata copied at the file-format level, and its serialisation for the archive.

What is kept, per format (everything else describes the pixel encoding of the
original file, or is not exposed):

* JPEG: every APPn and COM segment, payload bytes unchanged, in file order (segments
  found after the first SOS are kept too and written before the frame), and any bytes
  after EOI (``TRAILER``: e.g. the video of a motion photo, whose offsets count from
  the end of the file). APP0 (JFIF/JFXX) segments are kept as they were, so the DPI
  survives and a file without JFIF gets none. Dropped: APP14 "Adobe" (it describes the
  colour transform of the *original* encoding; kept with transform 0 it would make
  readers treat the new YCbCr data as RGB) and APP2 "MPF" (offsets into the original
  file; files with MPF are stored byte-exact by the probe anyway).
* PNG: every ancillary chunk except tRNS, sBIT, hIST, dSIG and the APNG chunks (acTL,
  fcTL, fdAT), plus unknown chunks only when marked safe-to-copy (so Apple's iDOT,
  which holds offsets into IDAT, is dropped). Chunk data is kept byte-exact with its
  place before or after the image data; CRCs are recomputed on writing. A PLTE in a
  truecolour file (a suggested palette) is dropped.
* WebP: the ICCP, EXIF and "XMP " chunks, byte-exact. Unknown chunks are dropped.
* TIFF: the ICC profile (tag 34675) and XMP (tag 700) as raw bytes, and an EXIF blob
  (TIFF structure) holding the IFD0 tags listed in ``TIFF_IFD0_TAGS`` plus the Exif
  and GPS sub-IFDs, as Pillow parses them. Re-written tag by tag, so the TIFF layout
  itself is not byte-exact; other IFD0 tags (private or maker tags, IPTC, Photoshop
  resources, page names...) are not preserved.
* BMP: nothing (an ICC profile embedded in a BMP v5 header is not preserved).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from ..errors import ArchiveFormatError

__all__ = [
    "MetadataBlock",
    "ImageMetadata",
    "extract_metadata",
    "parse_jpeg_segments",
    "parse_png_chunks",
    "parse_webp_chunks",
    "png_chunk",
    "jpeg_has_mpf",
    "exif_orientation",
    "TIFF_IFD0_TAGS",
]

MAX_BLOCKS = 4096
_MAX_KIND = 16
_MAX_DECOMPRESSED = 64 << 20  # bound on a zlib-compressed iCCP/iTXt payload

JPEG_EXIF_PREFIX = b"Exif\x00\x00"
JPEG_XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_ICC_PREFIX = b"ICC_PROFILE\x00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"

# PNG chunks that describe the pixel encoding of the original file (or sign it).
_PNG_DROP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"sBIT",
    b"hIST",
    b"dSIG",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
# Known metadata chunks kept even though some are marked unsafe-to-copy.
_PNG_KNOWN = {
    b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"cICP", b"mDCV", b"cLLI", b"pHYs", b"sPLT", b"bKGD",
    b"tIME", b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"oFFs", b"pCAL", b"sCAL", b"sTER",
}  # fmt: skip
WEBP_KEPT = (b"ICCP", b"EXIF", b"XMP ")
_JPEG_FILL = re.compile(rb"\xff+")
_JPEG_MARKER_IN_SCAN = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")

#: IFD0 tags copied from a TIFF (besides ICC 34675 and XMP 700, kept as raw bytes).
TIFF_IFD0_TAGS = (270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 33432)
TIFF_EXIF_IFD, TIFF_GPS_IFD = 0x8769, 0x8825

_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP")


@dataclass(frozen=True)
class MetadataBlock:
    """One piece of metadata.

    ``kind`` is the JPEG marker name ("APP1", "COM", "TRAILER"), the PNG chunk type
    ("iCCP"), the WebP chunk FourCC ("XMP ") or, for TIFF, "ICC", "EXIF" or "XMP".
    ``after_image`` is set for PNG chunks that followed the IDAT chunks.
    """

    kind: str
    data: bytes
    after_image: bool = False


@dataclass(frozen=True)
class ImageMetadata:
    """The metadata blocks of one image file, in file order."""

    format: str
    blocks: tuple[MetadataBlock, ...] = ()

    def of_kind(self, kind: str) -> list[MetadataBlock]:
        return [b for b in self.blocks if b.kind == kind]

    @property
    def icc_profile(self) -> bytes | None:
        """The ICC profile (JPEG APP2 chunks joined in sequence order), or None."""
        if self.format == "JPEG":
            parts = []
            for b in self.of_kind("APP2"):
                if b.data.startswith(JPEG_ICC_PREFIX) and len(b.data) >= 14:
                    parts.append((b.data[12], b.data[14:]))
            return b"".join(p for _, p in sorted(parts, key=lambda p: p[0])) if parts else None
        if self.format == "PNG":
            for b in self.of_kind("iCCP"):
                _, sep, rest = b.data.partition(b"\x00")
                if sep and rest[:1] == b"\x00":
                    try:
                        return _bounded_inflate(rest[1:])
                    except ValueError:
                        return None
            return None
        kind = {"WEBP": "ICCP", "TIFF": "ICC"}.get(self.format)
        found = self.of_kind(kind) if kind else []
        return found[0].data if found else None

    @property
    def exif(self) -> bytes | None:
        """EXIF as a TIFF structure (no "Exif\\0\\0" prefix), or None."""
        if self.format == "JPEG":
            raw = next((b.data for b in self.of_kind("APP1") if b.data.startswith(JPEG_EXIF_PREFIX)), None)
        else:
            kind = {"PNG": "eXIf", "WEBP": "EXIF", "TIFF": "EXIF"}.get(self.format)
            found = self.of_kind(kind) if kind else []
            raw = found[0].data if found else None
        if raw is not None and raw.startswith(JPEG_EXIF_PREFIX):
            raw = raw[len(JPEG_EXIF_PREFIX) :]
        return raw

    @property
    def xmp(self) -> bytes | None:
        """The XMP packet, or None (JPEG extended XMP is not joined)."""
        if self.format == "JPEG":
            for b in self.of_kind("APP1"):
                if b.data.startswith(JPEG_XMP_PREFIX):
                    return b.data[len(JPEG_XMP_PREFIX) :]
            return None
        if self.format == "PNG":
            for b in self.of_kind("iTXt"):
                text = _png_itxt_text(b.data, PNG_XMP_KEYWORD)
                if text is not None:
                    return text
            return None
        kind = {"WEBP": "XMP ", "TIFF": "XMP"}.get(self.format)
        found = self.of_kind(kind) if kind else []
        return found[0].data if found else None

    @property
    def orientation(self) -> int:
        """EXIF orientation 1..8 (1 when absent or invalid)."""
        exif = self.exif
        return exif_orientation(exif) if exif else 1

    def to_bytes(self) -> bytes:
        """Serialise: b"LZMD", version 1, format, block count, then (kind, flags, length, data) each."""
        fmt = self.format.encode("ascii")
        out = [b"LZMD\x01", bytes([len(fmt)]), fmt, struct.pack("<I", len(self.blocks))]
        for b in self.blocks:
            kind = b.kind.encode("ascii")
            out += [
                bytes([len(kind)]),
                kind,
                bytes([1 if b.after_image else 0]),
                struct.pack("<I", len(b.data)),
            ]
            out.append(b.data)
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageMetadata:
        """Parse ``to_bytes`` output; raises ArchiveFormatError on anything malformed."""
        r = _Reader(data)
        if r.take(5) != b"LZMD\x01":
            raise ArchiveFormatError("image metadata: bad magic or version")
        fmt = r.take(r.byte()).decode("ascii", "replace")
        if fmt not in _FORMATS:
            raise ArchiveFormatError(f"image metadata: unknown format {fmt!r}")
        count = r.u32()
        if count > MAX_BLOCKS:
            raise ArchiveFormatError(f"image metadata: {count} blocks (limit {MAX_BLOCKS})")
        blocks = []
        for _ in range(count):
            n = r.byte()
            if n == 0 or n > _MAX_KIND:
                raise ArchiveFormatError("image metadata: bad block kind")
            kind = r.take(n)
            if not kind.isascii():
                raise ArchiveFormatError("image metadata: bad block kind")
            flags = r.byte()
            if flags > 1:
                raise ArchiveFormatError("image metadata: bad block flags")
            blocks.append(MetadataBlock(kind.decode("ascii"), r.take(r.u32()), bool(flags)))
        if r.pos != len(data):
            raise ArchiveFormatError("image metadata: trailing bytes")
        return cls(fmt, tuple(blocks))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ArchiveFormatError("image metadata: truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]


def _bounded_inflate(data: bytes, limit: int = _MAX_DECOMPRESSED) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit)
    except zlib.error as e:
        raise ValueError(f"bad zlib data: {e}") from None
    if d.unconsumed_tail:
        raise ValueError("compressed metadata too large")
    return out


def _png_itxt_text(data: bytes, keyword: bytes) -> bytes | None:
    """Text of an iTXt chunk with this keyword, or None."""
    key, sep, rest = data.partition(b"\x00")
    if not sep or key != keyword or len(rest) < 2:
        return None
    compressed, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\x00", 2)  # language tag, translated keyword, text
    if len(parts) != 3:
        return None
    text = parts[2]
    if compressed:
        if method != 0:
            return None
        try:
            text = _bounded_inflate(text)
        except ValueError:
            return None
    return text


# --------------------------------------------------------------------------- JPEG


def parse_jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Walk a JPEG's markers.

    Returns ``(segments, eoi_end)``: every marker segment that has a length, as
    (marker byte, payload), up to EOI, and the offset just past EOI. Entropy-coded
    data is skipped. Raises ValueError on a malformed structure.
    """
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        raise ValueError("not a JPEG (no SOI)")
    pos = 2
    segments: list[tuple[int, bytes]] = []
    while True:
        fill = _JPEG_FILL.match(data, pos)
        if fill is None:
            raise ValueError("JPEG ends before EOI" if pos >= n else f"JPEG marker expected at offset {pos}")
        pos = fill.end()
        if pos >= n:
            raise ValueError("JPEG ends before EOI")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return segments, pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        if marker in (0x00, 0xD8):
            raise ValueError(f"unexpected JPEG marker 0x{marker:02x}")
        if pos + 2 > n:
            raise ValueError("JPEG segment length cut off")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > n:
            raise ValueError(f"bad JPEG segment length at offset {pos}")
        segments.append((marker, data[pos + 2 : pos + length]))
        if len(segments) > MAX_BLOCKS:
            raise ValueError("too many JPEG segments")
        pos += length
        if marker == 0xDA:  # entropy-coded data follows: find the next marker (not a stuffed 00 or RSTn)
            found = _JPEG_MARKER_IN_SCAN.search(data, pos)
            if found is None:
                raise ValueError("JPEG ends inside scan data")
            pos = found.start()


def _jpeg_metadata(data: bytes) -> ImageMetadata:
    segments, eoi_end = parse_jpeg_segments(data)
    blocks = []
    for marker, payload in segments:
        if marker == 0xFE:
            blocks.append(MetadataBlock("COM", payload))
        elif 0xE0 <= marker <= 0xEF:
            app = marker - 0xE0
            if app == 14 and payload.startswith(b"Adobe"):
                continue
            if app == 2 and payload.startswith(b"MPF\x00"):
                continue
            blocks.append(MetadataBlock(f"APP{app}", payload))
    if eoi_end < len(data):
        blocks.append(MetadataBlock("TRAILER", data[eoi_end:]))
    return ImageMetadata("JPEG", tuple(blocks))


def jpeg_has_mpf(data: bytes) -> bool:
    """Whether the JPEG carries an MPF (multi-picture) APP2 segment."""
    segments, _ = parse_jpeg_segments(data)
    return any(m == 0xE2 and p.startswith(b"MPF\x00") for m, p in segments)


# --------------------------------------------------------------------------- PNG


def parse_png_chunks(data: bytes) -> list[tuple[bytes, memoryview]]:
    """All chunks (type, data) of a PNG up to IEND, CRCs checked. Raises ValueError.

    Chunk data are zero-copy views into ``data``.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    view = memoryview(data)
    pos, n, others = len(PNG_SIGNATURE), len(data), 0
    chunks: list[tuple[bytes, memoryview]] = []
    while True:
        if pos + 12 > n:
            raise ValueError("PNG ends before IEND")
        length, ctype = struct.unpack(">I4s", view[pos : pos + 8])
        if length > 0x7FFFFFFF or pos + 12 + length > n:
            raise ValueError(f"bad PNG chunk length at offset {pos}")
        if not ctype.isalpha() or not ctype.isascii():
            raise ValueError(f"bad PNG chunk type at offset {pos}")
        body = view[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", view[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(body, zlib.crc32(ctype)) != crc:
            raise ValueError(f"PNG chunk {ctype.decode()} has a bad CRC")
        chunks.append((ctype, body))
        if ctype != b"IDAT":
            others += 1
            if others > MAX_BLOCKS:
                raise ValueError("too many PNG chunks")
        pos += 12 + length
        if ctype == b"IEND":
            return chunks


def png_chunk(ctype: bytes, body: bytes | memoryview) -> bytes:
    """One PNG chunk with its length and CRC."""
    crc = zlib.crc32(body, zlib.crc32(ctype))
    return b"".join((struct.pack(">I", len(body)), ctype, body, struct.pack(">I", crc)))


def _png_keep(ctype: bytes) -> bool:
    if ctype in _PNG_DROP or ctype[0:1].isupper():  # critical chunks belong to the encoding
        return False
    return ctype in _PNG_KNOWN or ctype[3:4].islower()  # unknown: only if safe-to-copy


def _png_metadata(data: bytes) -> ImageMetadata:
    blocks, seen_idat = [], False
    for ctype, body in parse_png_chunks(data):
        if ctype == b"IDAT":
            seen_idat = True
        elif _png_keep(ctype):
            blocks.append(MetadataBlock(ctype.decode("ascii"), bytes(body), seen_idat))
    return ImageMetadata("PNG", tuple(blocks))


# --------------------------------------------------------------------------- WebP


def parse_webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """All chunks (FourCC, data) of a RIFF WebP file. Raises ValueError."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP (no RIFF/WEBP header)")
    end = 8 + struct.unpack("<I", data[4:8])[0]
    if end > len(data):
        raise ValueError("WebP RIFF size beyond end of file")
    pos, chunks = 12, []
    while pos + 8 <= end:
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        if pos + 8 + size > end:
            raise ValueError(f"bad WebP chunk size at offset {pos}")
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        if len(chunks) > MAX_BLOCKS:
            raise ValueError("too many WebP chunks")
        pos += 8 + size + (size & 1)
    return chunks


def _webp_metadata(data: bytes) -> ImageMetadata:
    blocks = [MetadataBlock(f.decode("ascii"), body) for f, body in parse_webp_chunks(data) if f in WEBP_KEPT]
    return ImageMetadata("WEBP", tuple(blocks))


# --------------------------------------------------------------------------- TIFF


def _tiff_metadata(image: object) -> ImageMetadata:
    from PIL import Image  # local: only TIFF needs Pillow here

    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return ImageMetadata("TIFF")
    blocks = []
    icc = tags.get(34675)
    if isinstance(icc, (bytes, bytearray)) and icc:
        blocks.append(MetadataBlock("ICC", bytes(icc)))
    exif = Image.Exif()
    for tag in TIFF_IFD0_TAGS:
        if tag in tags:
            exif[tag] = tags[tag]
    source = image.getexif()  # type: ignore[attr-defined]
    for sub in (TIFF_EXIF_IFD, TIFF_GPS_IFD):
        if sub in tags:
            exif.get_ifd(sub).update(source.get_ifd(sub))
    if len(exif) or any(exif.get_ifd(sub) for sub in (TIFF_EXIF_IFD, TIFF_GPS_IFD)):
        blocks.append(MetadataBlock("EXIF", exif.tobytes()[len(JPEG_EXIF_PREFIX) :]))
    xmp = tags.get(700)
    if isinstance(xmp, tuple) and len(xmp) == 1:
        xmp = xmp[0]
    if isinstance(xmp, (bytes, bytearray)) and xmp:
        blocks.append(MetadataBlock("XMP", bytes(xmp)))
    return ImageMetadata("TIFF", tuple(blocks))


# --------------------------------------------------------------------------- common


def extract_metadata(data: bytes, fmt: str, image: object | None = None) -> ImageMetadata:
    """Metadata of a file's bytes in Pillow format ``fmt``; TIFF also needs the opened Pillow image.

    Raises ValueError when the file structure cannot be walked.
    """
    if fmt == "JPEG":
        return _jpeg_metadata(data)
    if fmt == "PNG":
        return _png_metadata(data)
    if fmt == "WEBP":
        return _webp_metadata(data)
    if fmt == "TIFF":
        return _tiff_metadata(image)
    if fmt == "BMP":
        return ImageMetadata("BMP")
    raise ValueError(f"no metadata support for format {fmt}")


def exif_orientation(exif: bytes) -> int:
    """The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF blob; 1 if absent or invalid."""
    if exif.startswith(JPEG_EXIF_PREFIX):
        exif = exif[len(JPEG_EXIF_PREFIX) :]
    if len(exif) < 8 or exif[:2] not in (b"II", b"MM"):
        return 1
    e = "<" if exif[:2] == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", exif[4:8])
    if ifd + 2 > len(exif):
        return 1
    (count,) = struct.unpack(e + "H", exif[ifd : ifd + 2])
    for i in range(min(count, 1000)):
        off = ifd + 2 + 12 * i
        if off + 12 > len(exif):
            break
        tag, typ, n = struct.unpack(e + "HHI", exif[off : off + 8])
        if tag == 0x0112 and typ == 3 and n >= 1:
            (value,) = struct.unpack(e + "H", exif[off + 8 : off + 10])
            return value if 1 <= value <= 8 else 1
    return 1
