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

import struct
import zlib
from dataclasses import dataclass

from ..api.errors import ArchiveFormatError
from .formats import jpeg, png, tiff, webp

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
PNG_SIGNATURE = png.SIGNATURE
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
    walked = jpeg.walk(data, max_segments=MAX_BLOCKS)
    if walked.stop is not jpeg.Stop.EOI:
        raise ValueError(walked.message)
    return [(seg.marker, data[seg.start : seg.end]) for seg in walked.segments], walked.end


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
    walked = png.walk(data, max_chunks=MAX_BLOCKS)
    if not walked.complete:
        raise ValueError(walked.message)
    view = memoryview(data)
    return [(c.type, view[c.start : c.end]) for c in walked.chunks]


png_chunk = png.chunk_bytes


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
    if not webp.is_webp(data):
        raise ValueError("not a WebP (no RIFF/WEBP header)")
    walked = webp.walk(data, max_chunks=MAX_BLOCKS)
    if not walked.complete:
        raise ValueError(walked.message)
    return [(c.fourcc, data[c.start : c.end]) for c in walked.chunks]


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
    try:
        view = tiff.TiffView(exif, check_magic=False)
        for entry in view.iter_entries(view.first_ifd()):
            if entry.tag == 0x0112 and entry.type == 3 and entry.count >= 1:
                value = view.u16(entry.offset + 8)
                return value if 1 <= value <= 8 else 1
    except ValueError:
        pass
    return 1
