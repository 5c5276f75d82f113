"""Where a photo was taken: find it and remove it, at the file-format level.

``has_location(data)`` and ``strip_location_bytes(data)`` work on the bytes of a JPEG,
PNG, WebP or TIFF file. What counts as a location, and what stripping does:

* EXIF GPS directory (the 0x8825 pointer in IFD0 or IFD1 of the TIFF structure of the
  EXIF block, or of a TIFF file itself), when it holds anything besides GPSVersionID.
  The pointer entry is removed from its IFD (the entries after it move up by one slot,
  inside the same directory, so the IFD itself does not move), and the GPS directory
  and its out-of-line values are overwritten with zeros. Nothing else moves: every
  other tag, the MakerNote, the thumbnail and all offsets stay valid. Byte ranges that
  overlap the directory being rewritten are never zeroed (hostile files).
* XMP location properties: ``exif:GPS*``, ``photoshop:City/State/Country``,
  ``Iptc4xmpCore:Location/CountryCode``, ``Iptc4xmpExt:LocationCreated/LocationShown``,
  DJI's ``drone-dji:Gps*`` (prefixes are resolved through the packet's ``xmlns``
  declarations), as attributes or as elements. They are overwritten with spaces, which
  XML ignores between attributes and elements, so the packet keeps its length. JPEG
  extended XMP (split over several APP1 segments) is joined, blanked and split back.
* IPTC IIM in a JPEG's Photoshop APP13 segment: the city, sub-location, province/state,
  country code and country name datasets (2:90, 2:92, 2:95, 2:100, 2:101) and the
  content location datasets (2:26, 2:27) are filled with spaces.

Every container keeps its size and layout (a PNG's changed chunks get a fresh CRC; a
compressed XMP iTXt chunk is deflated again, the only case where a length changes),
and the image data is untouched. What is not handled:
locations inside maker notes, PNG "Raw profile" text chunks, TIFF IPTC (tag 33723).
"""

from __future__ import annotations

import re
import struct
import zlib

from .formats import jpeg, png, tiff, webp
from .metadata import (
    JPEG_EXIF_PREFIX,
    JPEG_XMP_PREFIX,
    PNG_XMP_KEYWORD,
    parse_png_chunks,
    png_chunk,
)

__all__ = [
    "has_location",
    "strip_location_bytes",
    "exif_location",
    "xmp_has_location",
    "iptc_has_location",
    "file_format",
    "PHOTOSHOP_PREFIX",
    "JPEG_XMP_EXT_PREFIX",
]

GPS_POINTER = 0x8825
XMP_TIFF_TAG = 700
JPEG_XMP_EXT_PREFIX = b"http://ns.adobe.com/xmp/extension/\x00"
PHOTOSHOP_PREFIX = b"Photoshop 3.0\x00"
_IPTC_LOCATION_DATASETS = {26, 27, 90, 92, 95, 100, 101}

# XMP namespaces and the local names that hold a place (a regex on the local name).
_XMP_LOCATION = {
    b"http://ns.adobe.com/exif/1.0/": (b"exif", rb"GPS[A-Za-z0-9_]*"),
    b"http://ns.adobe.com/photoshop/1.0/": (b"photoshop", rb"(?:City|State|Country)"),
    b"http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": (b"Iptc4xmpCore", rb"(?:Location|CountryCode)"),
    b"http://iptc.org/std/Iptc4xmpExt/2008-02-29/": (b"Iptc4xmpExt", rb"(?:LocationCreated|LocationShown)"),
    b"http://www.dji.com/drone-dji/1.0/": (b"drone-dji", rb"Gps[A-Za-z0-9_]*"),
}
_XMLNS = re.compile(rb"""xmlns:([A-Za-z_][\w.\-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TAG = re.compile(rb"<[^<>]*>")


def file_format(data: bytes | bytearray) -> str | None:
    """ "JPEG", "PNG", "WEBP" or "TIFF" from the file's signature, or None."""
    if data[:2] == b"\xff\xd8":
        return "JPEG"
    if data.startswith(png.SIGNATURE):
        return "PNG"
    if webp.is_webp(data):
        return "WEBP"
    if tiff.is_tiff(data):
        return "TIFF"
    return None


def has_location(data: bytes) -> bool:
    """Whether the file carries a location (EXIF GPS, XMP or IPTC location fields)."""
    try:
        return _process(bytearray(data), strip=False) is not None
    except (ValueError, struct.error, IndexError, zlib.error):
        return False


def strip_location_bytes(data: bytes) -> bytes | None:
    """The file with its location removed (metadata only); None when there is none or the format is unknown."""
    try:
        return _process(bytearray(data), strip=True)
    except (ValueError, struct.error, IndexError, zlib.error):
        return None


def _process(buf: bytearray, strip: bool) -> bytes | None:
    """Find (and with ``strip``, remove) the location; None when nothing was found."""
    fmt = file_format(buf)
    if fmt == "JPEG":
        found = _jpeg(buf, strip)
    elif fmt == "PNG":
        return _png(bytes(buf), strip)
    elif fmt == "WEBP":
        found = _webp(buf, strip)
    elif fmt == "TIFF":
        found = _tiff_file(buf, strip)
    else:
        return None
    if not found:
        return None
    return bytes(buf) if strip else b""


# --------------------------------------------------------------------------- EXIF (TIFF structure)


def _writable(t: tiff.TiffView) -> bytearray:
    if not isinstance(t.buf, bytearray):
        raise TypeError("stripping needs the TIFF structure in a bytearray")
    return t.buf


def _zero(t: tiff.TiffView, lo: int, hi: int, keep: tuple[int, int]) -> None:
    """Zero ``[lo, hi)`` of the structure (clipped to it), leaving the ``keep`` range alone."""
    lo, hi = max(lo, 0), min(hi, t.size)
    for a, b in ((lo, min(hi, keep[0])), (max(lo, keep[1]), hi)):
        if a < b:
            _writable(t)[t.start + a : t.start + b] = bytes(b - a)


def _gps_has_position(t: tiff.TiffView, gps: int) -> bool:
    try:
        return any(entry.tag != 0 for entry in t.entries(gps))
    except ValueError:
        return False


def _tiff_gps(t: tiff.TiffView, strip: bool) -> bool:
    """Find (and remove) the GPS directories of the IFD chain."""
    found = False
    for ifd in t.chain():
        try:
            entries = t.entries(ifd)
        except ValueError:
            continue
        for index, entry in enumerate(entries):
            if entry.tag != GPS_POINTER or entry.type not in (4, 13) or entry.count != 1:
                continue
            gps = t.u32(entry.offset + 8)
            if not _gps_has_position(t, gps):
                continue
            found = True
            if strip:
                _remove_gps(t, ifd, len(entries), index, gps)
            break  # one pointer per directory
    return found


def _remove_gps(t: tiff.TiffView, ifd: int, n: int, index: int, gps: int) -> None:
    keep = (ifd, ifd + 2 + 12 * n + 4)  # the directory holding the pointer is rewritten, never zeroed
    gps_entries = t.entries(gps)
    for entry in gps_entries:
        if entry.value >= 0:  # out-of-line value
            _zero(t, *entry.value_span, keep)
    _zero(t, gps, gps + 2 + 12 * len(gps_entries) + 4, keep)
    buf, base = _writable(t), t.start + ifd
    nxt = t.next_ifd(ifd, n)
    tail = bytes(buf[base + 2 + 12 * (index + 1) : base + 2 + 12 * n])
    buf[base + 2 + 12 * index : base + 2 + 12 * index + len(tail)] = tail
    struct.pack_into(t.e + "H", buf, base, n - 1)
    struct.pack_into(t.e + "I", buf, base + 2 + 12 * (n - 1), nxt)
    buf[base + 2 + 12 * (n - 1) + 4 : base + 2 + 12 * n + 4] = bytes(12)


def exif_location(exif: bytes) -> bool:
    """Whether a TIFF-structured EXIF blob (with or without "Exif\\0\\0") has a GPS position."""
    if exif.startswith(JPEG_EXIF_PREFIX):
        exif = exif[len(JPEG_EXIF_PREFIX) :]
    try:
        buf = bytearray(exif)
        return _tiff_gps(tiff.TiffView(buf, 0, len(buf)), strip=False)
    except (ValueError, struct.error):
        return False


def _exif_region(buf: bytearray, start: int, end: int, strip: bool) -> bool:
    try:
        return _tiff_gps(tiff.TiffView(buf, start, end), strip)
    except ValueError:
        return False


# --------------------------------------------------------------------------- XMP


def _xmp_names(xmp: bytes) -> re.Pattern[bytes]:
    """A pattern for the qualified names of location properties in this packet."""
    prefixes: dict[bytes, set[bytes]] = {}
    for default, local in _XMP_LOCATION.values():
        prefixes.setdefault(local, set()).add(default)
    for m in _XMLNS.finditer(xmp):
        uri = m.group(2) if m.group(2) is not None else m.group(3)
        if uri in _XMP_LOCATION:
            prefixes[_XMP_LOCATION[uri][1]].add(m.group(1))
    alts = [rb"(?:%s):%s" % (b"|".join(re.escape(p) for p in sorted(ps)), local) for local, ps in prefixes.items()]
    return re.compile(rb"(?:%s)(?![\w.\-])" % b"|".join(alts))


def _xmp_spans(xmp: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the packet to blank: location attributes and elements."""
    if (
        b"GPS" not in xmp
        and b"Gps" not in xmp
        and b"Location" not in xmp
        and b"City" not in xmp
        and b"State" not in xmp
        and b"Country" not in xmp
    ):
        return []
    names = _xmp_names(xmp)
    spans: list[tuple[int, int]] = []
    # elements: <name ...>...</name> or <name .../>
    element = re.compile(rb"<(%s)(?:\s[^<>]*?)?(?:/>|>.*?</\1\s*>)" % names.pattern, re.S)
    for m in element.finditer(xmp):
        spans.append(m.span())
    # attributes inside start tags: name="..." or name='...'
    attribute = re.compile(rb"""(?<=\s)(%s)\s*=\s*(?:"[^"]*"|'[^']*')""" % names.pattern)
    for tag in _TAG.finditer(xmp):
        if tag.group().startswith((b"</", b"<?", b"<!")):
            continue
        for m in attribute.finditer(xmp, tag.start(), tag.end()):
            if not any(a <= m.start() < b for a, b in spans):
                spans.append(m.span())
    return spans


def xmp_has_location(xmp: bytes) -> bool:
    return bool(_xmp_spans(xmp))


def _blank(buf: bytearray, start: int, spans: list[tuple[int, int]]) -> None:
    for a, b in spans:
        buf[start + a : start + b] = b" " * (b - a)


def _xmp_region(buf: bytearray, start: int, end: int, strip: bool) -> bool:
    spans = _xmp_spans(bytes(buf[start:end]))
    if spans and strip:
        _blank(buf, start, spans)
    return bool(spans)


# --------------------------------------------------------------------------- IPTC (Photoshop APP13)


def _iptc_spans(buf: bytearray, start: int, end: int) -> list[tuple[int, int]]:
    """Absolute ranges of IPTC location dataset values in an IIM block."""
    spans, pos = [], start
    while pos + 5 <= end and buf[pos] == 0x1C:
        record, dataset, length = buf[pos + 1], buf[pos + 2], struct.unpack_from(">H", buf, pos + 3)[0]
        if length & 0x8000:  # extended length: not used for text datasets
            break
        if pos + 5 + length > end:
            break
        if record == 2 and dataset in _IPTC_LOCATION_DATASETS and length:
            spans.append((pos + 5, pos + 5 + length))
        pos += 5 + length
    return spans


def iptc_has_location(app13: bytes) -> bool:
    """Whether a JPEG APP13 payload ("Photoshop 3.0" resources) holds IPTC location datasets."""
    try:
        return _photoshop_region(bytearray(app13), 0, len(app13), strip=False)
    except (ValueError, struct.error, IndexError):
        return False


def _photoshop_region(buf: bytearray, start: int, end: int, strip: bool) -> bool:
    """Walk the 8BIM resources of an APP13 payload; blank the IPTC location datasets."""
    pos, found = start + len(PHOTOSHOP_PREFIX), False
    while pos + 12 <= end and buf[pos : pos + 4] == b"8BIM":
        rid = struct.unpack_from(">H", buf, pos + 4)[0]
        name_len = buf[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal string padded to even length
        if pos + 4 > end:
            break
        size = struct.unpack_from(">I", buf, pos)[0]
        pos += 4
        if pos + size > end:
            break
        if rid == 0x0404:
            spans = _iptc_spans(buf, pos, pos + size)
            if spans:
                found = True
                if strip:
                    for a, b in spans:
                        buf[a:b] = b" " * (b - a)
        pos += size + (size & 1)
    return found


# --------------------------------------------------------------------------- formats


def _jpeg_segments(buf: bytearray) -> list[tuple[int, int, int]]:
    """(marker, payload start, payload end) of the segments before the first SOS.

    A damaged structure ends the list, except a segment length that runs past the file,
    which raises ValueError (the file is left alone).
    """
    walked = jpeg.walk(buf, until_scan=True)
    if walked.stop is jpeg.Stop.BAD_LENGTH:
        raise ValueError("bad JPEG segment length")
    return [(seg.marker, seg.start, seg.end) for seg in walked.segments]


def _jpeg(buf: bytearray, strip: bool) -> bool:
    found = False
    extended: dict[bytes, list[tuple[int, int, int]]] = {}  # GUID -> (offset in packet, start, end)
    for marker, start, end in _jpeg_segments(buf):
        head = bytes(buf[start : start + 40])
        if marker == 0xE1 and head.startswith(JPEG_EXIF_PREFIX):
            found |= _exif_region(buf, start + len(JPEG_EXIF_PREFIX), end, strip)
        elif marker == 0xE1 and head.startswith(JPEG_XMP_PREFIX):
            found |= _xmp_region(buf, start + len(JPEG_XMP_PREFIX), end, strip)
        elif marker == 0xE1 and head.startswith(JPEG_XMP_EXT_PREFIX):
            p = start + len(JPEG_XMP_EXT_PREFIX)
            if p + 40 <= end:
                guid = bytes(buf[p : p + 32])
                offset = struct.unpack_from(">I", buf, p + 36)[0]
                extended.setdefault(guid, []).append((offset, p + 40, end))
        elif marker == 0xED and head.startswith(PHOTOSHOP_PREFIX):
            found |= _photoshop_region(buf, start, end, strip)
    for parts in extended.values():
        parts.sort()
        joined = b"".join(bytes(buf[a:b]) for _, a, b in parts)
        spans = _xmp_spans(joined)
        if not spans:
            continue
        found = True
        if strip:
            blanked = bytearray(joined)
            _blank(blanked, 0, spans)
            pos = 0
            for _, a, b in parts:
                buf[a:b] = blanked[pos : pos + (b - a)]
                pos += b - a
    return found


def _png(data: bytes, strip: bool) -> bytes | None:
    chunks = parse_png_chunks(data)
    out, found, changed = [png.SIGNATURE], False, False
    for ctype, body in chunks:
        new = None
        if ctype == b"eXIf":
            buf = bytearray(body)
            start = len(JPEG_EXIF_PREFIX) if buf.startswith(JPEG_EXIF_PREFIX) else 0
            if _exif_region(buf, start, len(buf), strip):
                found, new = True, bytes(buf)
        elif ctype == b"iTXt" and bytes(body[: len(PNG_XMP_KEYWORD) + 1]) == PNG_XMP_KEYWORD + b"\x00":
            new_body = _png_xmp(bytes(body), strip)
            if new_body is not None:
                found, new = True, new_body
        if new is not None and strip:
            out.append(png_chunk(ctype, new))
            changed = True
        else:
            out.append(png_chunk(ctype, body))
    if not found:
        return None
    if not strip:
        return b""
    return b"".join(out) if changed else None


def _png_xmp(body: bytes, strip: bool) -> bytes | None:
    """An XMP iTXt chunk's new body (location blanked), or None when it has none."""
    head_end = len(PNG_XMP_KEYWORD) + 1
    if len(body) < head_end + 2:
        return None
    compressed, method = body[head_end], body[head_end + 1]
    parts = body[head_end + 2 :].split(b"\x00", 2)
    if len(parts) != 3:
        return None
    lang, translated, text = parts
    prefix = body[: head_end + 2] + lang + b"\x00" + translated + b"\x00"
    if compressed:
        if method != 0:
            return None
        d = zlib.decompressobj()
        text = d.decompress(text, 64 << 20)
        if d.unconsumed_tail:
            return None
    spans = _xmp_spans(text)
    if not spans:
        return None
    if not strip:
        return body
    blanked = bytearray(text)
    _blank(blanked, 0, spans)
    return prefix + (zlib.compress(bytes(blanked)) if compressed else bytes(blanked))


def _webp(buf: bytearray, strip: bool) -> bool:
    walked = webp.walk(buf)
    if walked.chunk_problem:
        raise ValueError(walked.chunk_problem)
    found = False
    for chunk in walked.chunks:
        start, stop = chunk.start, chunk.end
        if chunk.fourcc == b"EXIF":
            skip = len(JPEG_EXIF_PREFIX) if bytes(buf[start : start + 6]) == JPEG_EXIF_PREFIX else 0
            found |= _exif_region(buf, start + skip, stop, strip)
        elif chunk.fourcc == b"XMP ":
            found |= _xmp_region(buf, start, stop, strip)
    return found


def _tiff_file(buf: bytearray, strip: bool) -> bool:
    t = tiff.TiffView(buf, 0, len(buf))
    found = False
    for ifd in t.chain()[:1]:  # XMP lives in IFD0
        for entry in t.entries(ifd):
            if entry.tag == XMP_TIFF_TAG and entry.type in (1, 7):
                lo, hi = entry.value_span
                if hi > lo:
                    found |= _xmp_region(buf, lo, hi, strip)
    found |= _tiff_gps(t, strip)
    return found
