"""The format walkers (codec/images/formats): spans of whole files, and damaged ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from latentzip.codec.images.formats import jpeg, png, tiff, webp


def _image() -> Image.Image:
    y, x = np.mgrid[0:24, 0:32]
    return Image.fromarray(np.stack([x * 8, y * 10, (x + y) * 4], axis=2).astype(np.uint8), "RGB")


def _saved(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    _image().save(buf, fmt, **kw)
    return buf.getvalue()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


# --------------------------------------------------------------------------- JPEG


def test_jpeg_whole_file_spans() -> None:
    data = _saved("JPEG", quality=90)
    data = data[:2] + _segment(0xFE, b"hello") + data[2:] + b"TRAILER"
    walked = jpeg.walk(data)
    assert walked.stop is jpeg.Stop.EOI and walked.complete
    assert data[walked.end :] == b"TRAILER"
    com = walked.segments[0]
    assert (com.name, data[com.start : com.end], data[com.offset : com.offset + 2]) == ("COM", b"hello", b"\xff\xfe")
    assert any(s.marker == jpeg.SOS for s in walked.segments)
    head = jpeg.walk(data, until_scan=True)
    assert head.stop is jpeg.Stop.SCAN and data[head.end : head.end + 2] == b"\xff\xda"
    assert all(s.marker != jpeg.SOS for s in head.segments)


def test_jpeg_fill_bytes_are_skipped() -> None:
    data = _saved("JPEG")
    filled = data[:2] + b"\xff\xff\xff" + _segment(0xE5, b"x") + b"\xff\xff" + data[2:]
    walked = jpeg.walk(filled)
    assert walked.complete
    app5 = walked.segments[0]
    assert app5.name == "APP5" and filled[app5.start : app5.end] == b"x" and app5.offset == 5
    assert [s.marker for s in walked.segments[1:]] == [s.marker for s in jpeg.walk(data).segments]


@pytest.mark.parametrize(
    "data, stop",
    [
        (b"\x89PNG", jpeg.Stop.NOT_JPEG),
        (b"\xff\xd8\xff\xe1\xff\xff" + bytes(10), jpeg.Stop.BAD_LENGTH),  # length past the end
        (b"\xff\xd8\xff\xe1\x00\x01" + bytes(10), jpeg.Stop.BAD_LENGTH),  # length below 2
        (b"\xff\xd8" + _segment(0xE0, b"ok") + b"garbage", jpeg.Stop.GARBAGE),
        (b"\xff\xd8\xff\x00\x00\x04", jpeg.Stop.GARBAGE),
        (b"\xff\xd8" + _segment(0xE0, b"ok") + b"\xff", jpeg.Stop.TRUNCATED),
        (b"\xff\xd8" + _segment(0xE0, b"ok") + b"\xff\xe1\x00", jpeg.Stop.TRUNCATED),
        (b"\xff\xd8" + _segment(0xDA, b"\x01") + b"\x12\xff\x00" * 30, jpeg.Stop.TRUNCATED),  # no EOI
    ],
)
def test_jpeg_damage_is_reported_not_raised(data: bytes, stop: jpeg.Stop) -> None:
    walked = jpeg.walk(data)
    assert walked.stop is stop and not walked.complete and walked.message
    if stop is jpeg.Stop.GARBAGE and data.endswith(b"garbage"):
        assert [s.name for s in walked.segments] == ["APP0"]  # what came before the damage is kept


def test_jpeg_segment_limit() -> None:
    data = b"\xff\xd8" + _segment(0xFE, b"") * 5 + b"\xff\xd9"
    assert jpeg.walk(data).complete
    walked = jpeg.walk(data, max_segments=3)
    assert walked.stop is jpeg.Stop.TOO_MANY and len(walked.segments) == 3


def test_jpeg_every_truncation_is_tolerated() -> None:
    data = _saved("JPEG", quality=50)
    for cut in range(len(data)):
        walked = jpeg.walk(data[:cut])
        assert not walked.complete
        assert all(s.end <= cut for s in walked.segments)


# --------------------------------------------------------------------------- PNG


def test_png_whole_file_spans() -> None:
    data = _saved("PNG")
    walked = png.walk(data)
    assert walked.complete and [c.type for c in walked.chunks][0] == b"IHDR"
    assert walked.chunks[-1].type == b"IEND"
    ihdr = walked.chunks[0]
    assert struct.unpack(">II", data[ihdr.start : ihdr.start + 8]) == (32, 24)
    assert png.chunk_bytes(b"IHDR", data[ihdr.start : ihdr.end]) == data[ihdr.offset : ihdr.end + 4]


def test_png_damage() -> None:
    data = _saved("PNG")
    bad_crc = bytearray(data)
    bad_crc[33 - 1] ^= 0xFF  # last CRC byte of IHDR
    assert png.walk(bytes(bad_crc)).stop is png.Stop.BAD_CRC
    unchecked = png.walk(bytes(bad_crc), check_crc=False)
    assert unchecked.complete  # the structure itself is whole
    assert png.walk(data[:-6]).stop is png.Stop.TRUNCATED
    assert png.walk(b"GIF89a").stop is png.Stop.NOT_PNG
    long = data[:8] + b"\xff\xff\xff\xf0" + data[12:]
    assert png.walk(long).stop is png.Stop.BAD_LENGTH
    bad_type = data[:12] + b"IH\x00R" + data[16:]
    assert png.walk(bad_type, check_crc=False).stop is png.Stop.BAD_TYPE
    for cut in range(len(data)):
        walked = png.walk(data[:cut])
        assert not walked.complete and all(c.end <= cut for c in walked.chunks)


def test_png_chunk_limit_ignores_idat() -> None:
    text = png.chunk_bytes(b"tEXt", b"k\x00v")
    data = _saved("PNG")
    walked = png.walk(data)
    idat = next(c for c in walked.chunks if c.type == b"IDAT")
    many = data[: idat.offset] + text * 3 + data[idat.offset :]
    assert png.walk(many, max_chunks=5).complete  # IHDR, 3 tEXt, IEND
    assert png.walk(many, max_chunks=3).stop is png.Stop.TOO_MANY


def test_png_walk_bounds_image_data_chunks(monkeypatch) -> None:
    """A file of empty IDAT chunks (12 bytes each) cannot make the walk hold a chunk per 12 bytes."""
    data = _saved("PNG")
    walked = png.walk(data)
    idat = next(c for c in walked.chunks if c.type == b"IDAT")
    empties = png.chunk_bytes(b"IDAT", b"") * 50
    padded = data[: idat.offset] + empties + data[idat.offset :]
    assert png.walk(padded).complete
    monkeypatch.setattr(png, "MAX_IDAT_CHUNKS", 20)
    stopped = png.walk(padded)
    assert stopped.stop is png.Stop.TOO_MANY and sum(c.type == b"IDAT" for c in stopped.chunks) == 20


# --------------------------------------------------------------------------- WebP


def test_webp_whole_file_spans() -> None:
    data = _saved("WEBP", quality=80, exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00")
    assert webp.is_webp(data)
    walked = webp.walk(data)
    assert walked.complete and walked.riff_end == len(data)
    fourccs = [c.fourcc for c in walked.chunks]
    assert fourccs[0] == b"VP8X" and b"EXIF" in fourccs
    exif = next(c for c in walked.chunks if c.fourcc == b"EXIF")
    assert data[exif.start : exif.end].endswith(bytes(8))


def test_webp_damage() -> None:
    data = _saved("WEBP", quality=80)
    cut = webp.walk(data[:-10])
    assert cut.truncated and not cut.complete and "RIFF size" in cut.message
    oversize = bytearray(data)
    struct.pack_into("<I", oversize, 16, 1 << 20)  # first chunk claims more than the file
    walked = webp.walk(bytes(oversize))
    assert walked.chunk_problem and walked.chunks == () and not walked.complete
    short_riff = bytearray(data)
    struct.pack_into("<I", short_riff, 4, 4)  # RIFF ends right after "WEBP": nothing to walk
    assert webp.walk(bytes(short_riff)).complete and webp.walk(bytes(short_riff)).chunks == ()
    for n in range(12, len(data)):
        walked = webp.walk(data[:n])
        assert not walked.complete and all(c.end <= n for c in walked.chunks)


# --------------------------------------------------------------------------- TIFF


def _tiff_with_gps() -> bytes:
    exif = Image.Exif()
    exif[271] = "Maker"
    exif.get_ifd(0x8825)[1] = "N"
    return exif.tobytes()[6:]


def test_tiff_view_entries_and_values() -> None:
    data = _tiff_with_gps()
    view = tiff.TiffView(data)
    (ifd0,) = view.chain()
    tags = {e.tag: e for e in view.entries(ifd0)}
    assert set(tags) == {271, 0x8825}
    lo, hi = tags[271].value_span
    assert data[lo:hi] == b"Maker\x00"
    gps = view.u32(tags[0x8825].offset + 8)
    assert [e.tag for e in view.entries(gps)] == [1]
    assert list(view.iter_entries(ifd0)) == view.entries(ifd0)


def test_tiff_view_damage() -> None:
    data = _tiff_with_gps()
    with pytest.raises(ValueError):
        tiff.TiffView(b"XX*\x00" + bytes(8))
    with pytest.raises(ValueError):
        tiff.TiffView(b"II\x2b\x00" + bytes(8))  # BigTIFF: not a classic structure
    view = tiff.TiffView(data[:22])  # the directory is cut after one entry
    (ifd0,) = view.chain()
    with pytest.raises(ValueError):
        view.entries(ifd0)
    assert [e.tag for e in view.iter_entries(ifd0)] == [271]
    with pytest.raises(ValueError):
        view.u32(len(data))
    looped = bytearray(data)
    struct.pack_into("<I", looped, 8 + 2 + 12 * 2, 8)  # IFD0's next pointer points at itself
    assert tiff.TiffView(bytes(looped)).chain() == [8]


def test_append_sub_ifds_is_readable_back() -> None:
    plain = _saved("TIFF")
    out = tiff.append_sub_ifds(plain, {0x8769: {0x9003: "2021:06:01 12:34:56"}})
    assert out.startswith(plain[:4]) and out[8 : len(plain)] == plain[8:]
    back = Image.open(io.BytesIO(out))
    assert back.getexif().get_ifd(0x8769)[0x9003] == "2021:06:01 12:34:56"
    assert np.array_equal(np.asarray(back), np.asarray(_image()))


def test_png_chunk_bytes_crc() -> None:
    chunk = png.chunk_bytes(b"tEXt", b"a\x00b")
    assert chunk[:8] == b"\x00\x00\x00\x03tEXt" and chunk[-4:] == struct.pack(">I", zlib.crc32(b"tEXta\x00b"))
