"""Which metadata an image file carries, summed up for ``latentzip list --details``.

``summarize_metadata`` reads an ``ImageMetadata`` (the blob a lossy entry stores);
``summarize_file`` reads the bytes of an image file, possibly only its first part
(a stored entry's header bytes): JPEG segments up to the first scan, PNG chunks,
WebP chunks and TIFF IFD0, as far as the bytes go. No pixels are decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .formats import jpeg, png, webp
from .location import (
    JPEG_XMP_EXT_PREFIX,
    PHOTOSHOP_PREFIX,
    exif_location,
    file_format,
    iptc_has_location,
    xmp_has_location,
)
from .metadata import (
    JPEG_EXIF_PREFIX,
    JPEG_ICC_PREFIX,
    JPEG_XMP_PREFIX,
    PNG_XMP_KEYWORD,
    ImageMetadata,
    MetadataBlock,
)

__all__ = ["MetadataSummary", "summarize_metadata", "summarize_file"]

_DATE_TAKEN, _DATE_TIME, _EXIF_IFD = 0x9003, 0x0132, 0x8769
_PNG_COLOUR = {"sRGB", "gAMA", "cHRM", "cICP", "pHYs"}


@dataclass(frozen=True)
class MetadataSummary:
    format: str
    exif: bool = False
    gps: bool = False  # the EXIF holds a GPS position
    date_taken: str | None = None  # EXIF DateTimeOriginal (or DateTime)
    icc: bool = False
    xmp: bool = False
    xmp_location: bool = False
    iptc: bool = False
    iptc_location: bool = False
    comments: int = 0
    other: tuple[str, ...] = ()  # other segments or chunks, by kind
    partial: bool = False  # only the start of the file was read

    @property
    def has_location(self) -> bool:
        return self.gps or self.xmp_location or self.iptc_location

    def describe(self) -> str:
        """One line, e.g. ``EXIF (date taken 2015:09:06 18:46:00, GPS) · ICC profile · XMP · 1 comment``."""
        parts = []
        if self.exif:
            inner = [
                f"date taken {self.date_taken}" if self.date_taken else "no date taken",
                "GPS" if self.gps else "no GPS",
            ]
            parts.append(f"EXIF ({', '.join(inner)})")
        if self.icc:
            parts.append("ICC profile")
        if self.xmp:
            parts.append("XMP (with location)" if self.xmp_location else "XMP")
        if self.iptc:
            parts.append("IPTC (with location)" if self.iptc_location else "IPTC")
        if self.comments:
            parts.append(f"{self.comments} comment{'s' if self.comments != 1 else ''}")
        if self.other:
            parts.append("other: " + ", ".join(self.other))
        text = " · ".join(parts) if parts else "no metadata"
        return f"{self.format}: {text}" + (" (file start only)" if self.partial else "")


def _exif_fields(exif: bytes) -> tuple[bool, str | None]:
    """(GPS position, date taken) of a TIFF-structured EXIF blob."""
    from PIL import Image  # local: Pillow's tag parser, on metadata bytes only

    date = None
    try:
        ex = Image.Exif()
        ex.load(exif if exif.startswith(JPEG_EXIF_PREFIX) else JPEG_EXIF_PREFIX + exif)
        value = ex.get_ifd(_EXIF_IFD).get(_DATE_TAKEN) or ex.get(_DATE_TIME)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        date = str(value).strip("\x00 ") or None if value else None
    except Exception:  # noqa: BLE001 - hostile tags: the summary just has no date
        date = None
    return exif_location(exif), date


def _counts(others: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    for kind in others:
        seen[kind] = seen.get(kind, 0) + 1
    return tuple(k if n == 1 else f"{k} x{n}" for k, n in seen.items())


def summarize_metadata(meta: ImageMetadata, partial: bool = False) -> MetadataSummary:
    """Summarise the metadata blocks of one image."""
    exif = meta.exif
    gps, date = _exif_fields(exif) if exif else (False, None)
    xmp = meta.xmp
    comments, others, iptc, iptc_location = 0, [], False, False
    for b in meta.blocks:
        kind, data = b.kind, b.data
        if meta.format == "JPEG":
            if kind == "COM":
                comments += 1
            elif kind == "APP1" and (data.startswith(JPEG_EXIF_PREFIX) or data.startswith(JPEG_XMP_PREFIX)):
                continue
            elif kind == "APP2" and data.startswith(JPEG_ICC_PREFIX):
                continue
            elif kind == "APP13" and data.startswith(PHOTOSHOP_PREFIX):
                iptc = True
                iptc_location = iptc_location or iptc_has_location(data)
            elif kind == "APP0" and data.startswith(b"JFIF\x00"):
                others.append("JFIF")
            elif kind == "APP1" and data.startswith(JPEG_XMP_EXT_PREFIX):
                others.append("extended XMP")
            elif kind == "TRAILER":
                others.append(f"{len(data)} bytes after the image")
            else:
                others.append(kind)
        elif meta.format == "PNG":
            if kind in ("iCCP", "eXIf"):
                continue
            if kind == "iTXt" and data.startswith(PNG_XMP_KEYWORD + b"\x00"):
                continue
            if kind in ("tEXt", "zTXt", "iTXt"):
                comments += 1
            elif kind in _PNG_COLOUR:
                others.append(kind)
            else:
                others.append(kind)
        elif meta.format == "WEBP":
            if kind not in ("ICCP", "EXIF", "XMP "):
                others.append(kind.strip())
        elif meta.format == "TIFF" and kind not in ("ICC", "EXIF", "XMP"):
            others.append(kind)
    return MetadataSummary(
        meta.format,
        exif=exif is not None,
        gps=gps,
        date_taken=date,
        icc=meta.icc_profile is not None,
        xmp=xmp is not None,
        xmp_location=xmp_has_location(xmp) if xmp else False,
        iptc=iptc,
        iptc_location=iptc_location,
        comments=comments,
        other=_counts(others),
        partial=partial,
    )


def _jpeg_blocks(data: bytes) -> tuple[list[MetadataBlock], bool]:
    """APPn and COM segments up to the first scan; (blocks, reached the scan)."""
    walked = jpeg.walk(data, until_scan=True)
    blocks = [
        MetadataBlock(seg.name, data[seg.start : seg.end])
        for seg in walked.segments
        if seg.is_app or seg.marker == jpeg.COM
    ]
    return blocks, walked.complete


def _png_blocks(data: bytes) -> tuple[list[MetadataBlock], bool]:
    """Ancillary chunks (CRCs not checked); (blocks, reached IEND)."""
    walked = png.walk(data, check_crc=False)
    blocks, after = [], False
    for chunk in walked.chunks:
        if chunk.type == b"IDAT":
            after = True
        elif chunk.type[:1].islower():
            blocks.append(MetadataBlock(chunk.type.decode("ascii"), data[chunk.start : chunk.end], after))
    return blocks, walked.complete


def _webp_blocks(data: bytes) -> tuple[list[MetadataBlock], bool]:
    """Chunks other than the image's own; (blocks, the whole RIFF was there)."""
    walked = webp.walk(data)
    image_chunks = (b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF")
    blocks = [
        MetadataBlock(c.fourcc.decode("latin-1"), data[c.start : c.end])
        for c in walked.chunks
        if c.fourcc not in image_chunks
    ]
    return blocks, walked.complete


def _tiff_summary(data: bytes, partial: bool) -> MetadataSummary:
    from PIL import Image

    try:
        ex = Image.Exif()
        ex.load(JPEG_EXIF_PREFIX + data)
        ifd0 = dict(ex)
    except Exception:  # noqa: BLE001
        ifd0 = {}
    xmp = ifd0.get(700)
    if isinstance(xmp, tuple):
        xmp = bytes(xmp)
    gps, date = _exif_fields(data)
    has_exif = _EXIF_IFD in ifd0 or 0x8825 in ifd0
    return MetadataSummary(
        "TIFF",
        exif=has_exif,
        gps=gps,
        date_taken=date if has_exif else None,
        icc=34675 in ifd0,
        xmp=isinstance(xmp, (bytes, str)) and bool(xmp),
        xmp_location=isinstance(xmp, bytes) and xmp_has_location(xmp),
        iptc=33723 in ifd0,
        partial=partial,
    )


def summarize_file(data: bytes, complete: bool = True) -> MetadataSummary | None:
    """Summarise an image file from its bytes (``complete``: all of them); None if not JPEG/PNG/WebP/TIFF."""
    fmt = file_format(data)
    if fmt is None:
        return None
    if fmt == "TIFF":
        return _tiff_summary(data, not complete)
    walker = {"JPEG": _jpeg_blocks, "PNG": _png_blocks, "WEBP": _webp_blocks}[fmt]
    try:
        blocks, reached_end = walker(data)
    except (struct.error, ValueError, IndexError):
        blocks, reached_end = [], False
    return summarize_metadata(ImageMetadata(fmt, tuple(blocks)), partial=not reached_end and not complete)


def file_has_location(path, head_bytes: int = 256 << 10, whole_limit: int = 16 << 20) -> bool:
    """Whether an image file on disk carries a location, reading as little of it as needed.

    A JPEG's metadata comes before its image data, so its first ``head_bytes`` usually
    suffice; other formats up to ``whole_limit`` bytes are read whole. False when the
    file cannot be read or is not a JPEG, PNG, WebP or TIFF.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(head_bytes)
            fmt = file_format(data)
            if fmt is None:
                return False
            complete = len(data) < head_bytes
            if not complete and fmt == "JPEG":
                blocks, reached_scan = _jpeg_blocks(data)
                if not reached_scan:  # metadata larger than the head: read on
                    data += fh.read(whole_limit)
                    complete = len(data) < head_bytes + whole_limit
            elif not complete:
                data += fh.read(whole_limit)
                complete = len(data) < head_bytes + whole_limit
    except OSError:
        return False
    summary = summarize_file(data, complete)
    return summary is not None and summary.has_location
