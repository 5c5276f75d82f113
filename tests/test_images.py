"""Image probe, decode, encode and metadata round trips (small synthetic files)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps, PngImagePlugin

from latentzip.codec.api.errors import ArchiveFormatError, ImageDecodeError
from latentzip.codec.images import (
    ImageMetadata,
    MetadataBlock,
    classify,
    classify_and_decode,
    decode_image,
    encode_image,
    upright_preview,
)
from latentzip.codec.images.metadata import (
    exif_orientation,
    parse_jpeg_segments,
    parse_png_chunks,
    parse_webp_chunks,
    png_chunk,
)
from latentzip.codec.metrics import psnr

PHOTOS = Path("/work/shared/data/photos")
W, H = 40, 24


def _rgb(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=2)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def _alpha(h: int = H, w: int = W) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) * 7 % 256).astype(np.uint8)


def _image(mode: str) -> Image.Image:
    rgb = Image.fromarray(_rgb())
    if mode == "RGB":
        return rgb
    if mode == "L":
        return rgb.convert("L")
    if mode == "RGBA":
        im = rgb.convert("RGBA")
        im.putalpha(Image.fromarray(_alpha()))
        return im
    if mode == "LA":
        return Image.merge("LA", [rgb.convert("L"), Image.fromarray(_alpha())])
    raise AssertionError(mode)


def _save(tmp_path: Path, name: str, im: Image.Image, fmt: str, **kw: object) -> Path:
    path = tmp_path / name
    im.save(path, fmt, **kw)
    return path


def _exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Latentzip Camera"
    exif[0x0110] = "Model 1"
    exif.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"
    return exif


ICC_BIG = bytes(np.random.default_rng(3).integers(0, 256, 70_000, dtype=np.uint8))  # two APP2 chunks
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


# --------------------------------------------------------------------------- classification

LOSSY_CASES = [
    ("rgb.jpg", "RGB", "JPEG", {}),
    ("gray.jpg", "L", "JPEG", {}),
    ("rgb.png", "RGB", "PNG", {}),
    ("gray.png", "L", "PNG", {}),
    ("rgba.png", "RGBA", "PNG", {}),
    ("la.png", "LA", "PNG", {}),
    ("rgb.webp", "RGB", "WEBP", {"quality": 90}),
    ("rgba.webp", "RGBA", "WEBP", {"lossless": True}),
    ("rgb.bmp", "RGB", "BMP", {}),
    ("gray.bmp", "L", "BMP", {}),
    ("rgb.tif", "RGB", "TIFF", {}),
    ("gray.tiff", "L", "TIFF", {"compression": "tiff_lzw"}),
    ("rgba.tif", "RGBA", "TIFF", {}),
]


@pytest.mark.parametrize("name,mode,fmt,kw", LOSSY_CASES, ids=[c[0] for c in LOSSY_CASES])
def test_lossy_eligible(tmp_path: Path, name: str, mode: str, fmt: str, kw: dict) -> None:
    path = _save(tmp_path, name, _image(mode), fmt, **kw)
    c = classify(path)
    assert c.lossy, c.reason
    assert (c.format, c.mode, c.width, c.height) == (fmt, mode, W, H)


def _png_bytes(width: int, height: int, depth: int, color_type: int, rows: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def _stored_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}
    rgb = _image("RGB")

    p = _save(tmp_path, "gray16.png", Image.fromarray(_rgb()[:, :, 0].astype(np.uint16) * 257), "PNG")
    cases["gray16"] = (p, "16-bit PNG stored losslessly")
    p = tmp_path / "rgb16.png"  # Pillow opens 16-bit RGB as 8-bit "RGB": caught through IHDR
    p.write_bytes(_png_bytes(2, 2, 16, 2, b"\x00" + bytes(12) + b"\x00" + bytes(range(12))))
    cases["rgb16"] = (p, "16-bit PNG stored losslessly")
    cases["palette"] = (
        _save(tmp_path, "pal.png", rgb.convert("P"), "PNG"),
        "palette image stored losslessly",
    )
    trns = rgb.copy()
    trns.info["transparency"] = (0, 0, 0)
    cases["trns"] = (
        _save(tmp_path, "trns.png", trns, "PNG", transparency=(0, 0, 0)),
        "transparent colour key",
    )
    cases["bilevel"] = (_save(tmp_path, "bw.png", rgb.convert("1"), "PNG"), "bilevel")
    cases["gif"] = (_save(tmp_path, "still.gif", rgb, "GIF"), "GIF image stored losslessly")
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    p = tmp_path / "anim.gif"
    frames[0].save(p, "GIF", save_all=True, append_images=frames[1:])
    cases["anim_gif"] = (p, "GIF image stored losslessly")
    p = tmp_path / "anim.webp"
    frames[0].save(p, "WEBP", save_all=True, append_images=frames[1:])
    cases["anim_webp"] = (p, "animated WEBP stored losslessly")
    p = tmp_path / "anim.png"
    frames[0].save(p, "PNG", save_all=True, append_images=frames[1:])
    cases["apng"] = (p, "animated PNG stored losslessly")
    p = tmp_path / "one_frame_apng.png"
    frames[0].save(p, "PNG", save_all=True, append_images=[], default_image=False)
    data = p.read_bytes()
    if b"acTL" not in data:  # Pillow wrote a plain PNG: splice an acTL chunk in
        data = data[:33] + png_chunk(b"acTL", struct.pack(">II", 1, 0)) + data[33:]
        p.write_bytes(data)
    cases["apng1"] = (p, "animated PNG stored losslessly")
    cases["cmyk"] = (_save(tmp_path, "cmyk.jpg", rgb.convert("CMYK"), "JPEG"), "CMYK JPEG stored losslessly")
    p = tmp_path / "pages.tif"
    frames[0].save(p, "TIFF", save_all=True, append_images=frames[1:])
    cases["multipage"] = (p, "multi-page TIFF stored losslessly")
    p = tmp_path / "mpo.jpg"
    frames[0].save(p, "MPO", save_all=True, append_images=frames[1:])
    cases["mpo"] = (p, "multi-picture JPEG (MPO) stored losslessly")
    good = _save(tmp_path, "good.jpg", rgb, "JPEG").read_bytes()
    # MPF APP2: TIFF header, one IFD entry NumberOfImages = 1, no next IFD
    mpf = (
        b"MPF\x00II*\x00\x08\x00\x00\x00" + b"\x01\x00" + b"\x01\xb0\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00" + bytes(4)
    )
    # one image plus an MPF segment, as in an Ultra HDR file whose gain map follows EOI
    (tmp_path / "mpf1.jpg").write_bytes(_insert_after_soi(good, 0xE2, mpf))
    cases["mpf_single"] = (tmp_path / "mpf1.jpg", "multi-picture JPEG (MPF) stored losslessly")
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) * 2 // 3])
    cases["truncated_jpeg"] = (tmp_path / "truncated.jpg", "does not decode")
    goodpng = _save(tmp_path, "good.png", rgb, "PNG").read_bytes()
    (tmp_path / "truncated.png").write_bytes(goodpng[: len(goodpng) // 2])
    cases["truncated_png"] = (tmp_path / "truncated.png", "does not decode")
    (tmp_path / "text.jpg").write_text("this is not a photo\n")
    cases["text_jpg"] = (tmp_path / "text.jpg", "does not decode")
    (tmp_path / "empty.png").write_bytes(b"")
    cases["empty_png"] = (tmp_path / "empty.png", "does not decode")
    (tmp_path / "notes.txt").write_text("hello")
    cases["txt"] = (tmp_path / "notes.txt", "not an image")
    (tmp_path / "x.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    cases["heic"] = (tmp_path / "x.heic", "HEIC image stored losslessly")
    p = _save(tmp_path, "float.tif", Image.fromarray(_rgb()[:, :, 0].astype(np.float32)), "TIFF")
    cases["float_tiff"] = (p, "floating-point TIFF stored losslessly")
    p = tmp_path / "huge.png"  # 20000 x 15000 = 300 MP declared; never allocated
    p.write_bytes(_png_bytes(20000, 15000, 8, 2, b""))
    cases["huge"] = (p, "too large")
    p = tmp_path / "bomb.png"  # 30000 x 30000 = 900 MP: Pillow's own DecompressionBombError
    p.write_bytes(_png_bytes(30000, 30000, 8, 0, b""))
    cases["bomb"] = (p, "too large")
    return cases


STORED_NAMES = [
    "gray16", "rgb16", "palette", "trns", "bilevel", "gif", "anim_gif", "anim_webp", "apng", "apng1",
    "cmyk", "multipage", "mpo", "mpf_single", "truncated_jpeg", "truncated_png", "text_jpg", "empty_png",
    "txt", "heic", "float_tiff", "huge", "bomb",
]  # fmt: skip


@pytest.mark.parametrize("case", STORED_NAMES)
def test_stored_with_reason(tmp_path: Path, case: str) -> None:
    path, reason = _stored_cases(tmp_path)[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)  # Pillow: "malformed MPO file"
        c = classify(path)
        _, decoded = classify_and_decode(path)
    assert not c.lossy
    assert reason in c.reason, c.reason
    if case.startswith(("truncated", "text", "empty")):
        assert c.reason.startswith("does not decode")
    assert decoded is None


def test_decode_image_raises_for_stored(tmp_path: Path) -> None:
    (tmp_path / "text.jpg").write_text("nope")
    with pytest.raises(ImageDecodeError, match="does not decode"):
        decode_image(tmp_path / "text.jpg")


# --------------------------------------------------------------------------- pixels


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA"])
def test_png_roundtrip_exact(tmp_path: Path, mode: str) -> None:
    src = _image(mode)
    d = decode_image(_save(tmp_path, "a.png", src, "PNG"))
    assert d.grayscale == (mode in ("L", "LA"))
    assert d.rgb.shape == (H, W, 3) and d.rgb.dtype == np.uint8
    assert (d.alpha is not None) == ("A" in mode)
    out = Image.open(io.BytesIO(encode_image(d.rgb, d.alpha, d.grayscale, d.format, d.metadata)))
    assert out.format == "PNG" and out.mode == mode
    assert np.array_equal(np.asarray(out), np.asarray(src))


@pytest.mark.parametrize(
    "fmt,mode,min_psnr",
    [("JPEG", "RGB", 38), ("JPEG", "L", 40), ("WEBP", "RGB", 26), ("WEBP", "RGBA", 26), ("BMP", "RGB", None),
     ("BMP", "L", None), ("TIFF", "RGB", None), ("TIFF", "LA", None)],
)  # fmt: skip
def test_other_formats_roundtrip(tmp_path: Path, fmt: str, mode: str, min_psnr: float | None) -> None:
    """Re-encoding adds little loss (none for lossless formats) and keeps mode and alpha.

    The noisy, saturated 40x24 test image is a worst case for WebP (always 4:2:0); photos get ~41 dB.
    """
    src = _image(mode)
    ext = {"JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}[fmt]
    d = decode_image(_save(tmp_path, f"a.{ext}", src, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    data = encode_image(d.rgb, d.alpha, d.grayscale, d.format, d.metadata)
    out = Image.open(io.BytesIO(data))
    assert out.format == fmt and out.mode == mode
    pixels = np.asarray(out)
    if "A" in mode:
        assert np.array_equal(pixels[:, :, -1], d.alpha)  # alpha exact
        pixels = pixels[:, :, :-1]
    expected = d.rgb[:, :, 0] if d.grayscale else d.rgb
    pixels = pixels.reshape(expected.shape)
    if min_psnr is None:
        assert np.array_equal(pixels, expected)
    else:
        assert psnr(pixels, expected) >= min_psnr


def test_grayscale_written_from_channel_mean() -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 11, 13
    out = Image.open(io.BytesIO(encode_image(rgb, None, True, "PNG", ImageMetadata("PNG"))))
    assert out.mode == "L" and np.all(np.asarray(out) == 11)


def test_encode_rejects_bad_input() -> None:
    rgb, meta = _rgb(), ImageMetadata("JPEG")
    with pytest.raises(ValueError):
        encode_image(rgb, _alpha(), False, "JPEG", meta)
    with pytest.raises(ValueError):
        encode_image(rgb.astype(np.float32), None, False, "JPEG", meta)
    with pytest.raises(ValueError):
        encode_image(rgb, _alpha()[:5], False, "PNG", ImageMetadata("PNG"))
    with pytest.raises(ValueError):
        encode_image(rgb, None, False, "GIF", meta)
    with pytest.raises(ValueError):
        encode_image(rgb, None, False, "JPEG", ImageMetadata("JPEG", (MetadataBlock("APP1", bytes(70_000)),)))


# --------------------------------------------------------------------------- JPEG metadata


def _app_segments(data: bytes) -> list[tuple[int, bytes]]:
    segments, _ = parse_jpeg_segments(data)
    return [(m, p) for m, p in segments if 0xE0 <= m <= 0xEF or m == 0xFE]


def _insert_after_soi(data: bytes, marker: int, payload: bytes) -> bytes:
    return data[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def test_jpeg_metadata_byte_exact(tmp_path: Path) -> None:
    path = _save(tmp_path, "meta.jpg", _image("RGB"), "JPEG", exif=_exif(6), icc_profile=ICC_BIG, xmp=XMP)
    raw = path.read_bytes()
    raw = _insert_after_soi(raw, 0xFE, b"a comment")  # COM
    raw = _insert_after_soi(raw, 0xED, b"Photoshop 3.0\x008BIM fake iptc")  # APP13
    raw += b"TRAILER-BYTES"  # e.g. a motion photo's video
    path.write_bytes(raw)
    original = _app_segments(raw)
    d = decode_image(path)
    assert d.metadata.orientation == 6
    assert d.metadata.icc_profile == ICC_BIG
    assert d.metadata.xmp == XMP
    out = encode_image(d.rgb, d.alpha, d.grayscale, d.format, d.metadata)
    assert _app_segments(out) == original  # APP0 JFIF, APP1 EXIF, APP2 ICC x2, APP1 XMP, APP13, COM
    assert sum(1 for m, p in original if m == 0xE2 and p.startswith(b"ICC_PROFILE")) == 2
    assert out.endswith(b"\xff\xd9TRAILER-BYTES")
    im = Image.open(io.BytesIO(out))
    assert im.getexif()[0x0112] == 6 and im.info["icc_profile"] == ICC_BIG
    assert im.size == (W, H)  # stored layout, not rotated


def test_jpeg_drops_adobe_and_adds_no_jfif(tmp_path: Path) -> None:
    raw = _save(tmp_path, "a.jpg", _image("RGB"), "JPEG", exif=_exif(1)).read_bytes()
    segments = [(m, p) for m, p in _app_segments(raw) if m != 0xE0]  # remove Pillow's JFIF
    body = raw[2:]
    while body[1] in range(0xE0, 0xF0):  # skip APPn at the start
        body = body[2 + struct.unpack(">H", body[2:4])[0] :]
    raw = b"\xff\xd8" + body
    for m, p in reversed(segments):
        raw = _insert_after_soi(raw, m, p)
    raw = raw[:2] + bytes([0xFF, 0xEE]) + struct.pack(">H", 14) + b"Adobe\x00\x64\x00\x00\x00\x00\x01" + raw[2:]
    (tmp_path / "b.jpg").write_bytes(raw)
    d = decode_image(tmp_path / "b.jpg")
    assert [b.kind for b in d.metadata.blocks] == ["APP1"]
    out = encode_image(d.rgb, None, False, "JPEG", d.metadata)
    assert [m for m, _ in _app_segments(out)] == [0xE1]  # no JFIF added, no Adobe
    assert out[2:4] == b"\xff\xe1"


def test_jpeg_gray_stays_gray_with_metadata(tmp_path: Path) -> None:
    d = decode_image(_save(tmp_path, "g.jpg", _image("L"), "JPEG", exif=_exif(3)))
    out = Image.open(io.BytesIO(encode_image(d.rgb, None, d.grayscale, d.format, d.metadata)))
    assert out.mode == "L" and out.getexif()[0x0112] == 3


def test_jpeg_as_png_carries_icc_exif_xmp(tmp_path: Path) -> None:
    d = decode_image(_save(tmp_path, "m.jpg", _image("RGB"), "JPEG", exif=_exif(6), icc_profile=ICC_BIG, xmp=XMP))
    data = encode_image(d.rgb, None, False, "JPEG", d.metadata, as_png=True)
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and im.mode == "RGB"
    assert im.info["icc_profile"] == ICC_BIG
    assert im.getexif()[0x0112] == 6
    assert im.info["xmp"] == XMP
    assert np.array_equal(np.asarray(im), d.rgb)
    chunks = dict(parse_png_chunks(data))
    assert chunks[b"eXIf"] == d.metadata.exif


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_kept_and_preview_upright(tmp_path: Path, orientation: int) -> None:
    src = _image("RGB")
    d = decode_image(_save(tmp_path, "o.jpg", src, "JPEG", exif=_exif(orientation), quality=100))
    plain = np.asarray(Image.open(tmp_path / "o.jpg"))
    assert np.array_equal(d.rgb, plain)  # pixels as stored, not rotated
    assert d.metadata.orientation == orientation
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.jpg")))
    assert np.array_equal(upright_preview(d.rgb, d.metadata), expected)


def test_exif_orientation_hostile() -> None:
    assert exif_orientation(b"") == 1
    assert exif_orientation(b"II*\x00\xff\xff\xff\x7f") == 1
    assert exif_orientation(b"MM\x00*\x00\x00\x00\x08\xff\xff") == 1


# --------------------------------------------------------------------------- PNG metadata


def test_png_chunks_byte_exact_with_placement(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "A title")
    info.add_text("Comment", "zipped " * 20, zip=True)
    info.add_itxt("Description", "ünïcode", lang="de", tkey="Beschreibung")
    info.add(b"gAMA", struct.pack(">I", 45455))
    info.add(b"pHYs", struct.pack(">IIB", 2835, 2835, 1))
    info.add(b"vpAg", b"safe-to-copy")  # unknown, safe to copy: kept
    info.add(b"iDOT", bytes(28))  # unknown, unsafe to copy: dropped
    path = _save(tmp_path, "c.png", _image("RGBA"), "PNG", pnginfo=info, icc_profile=ICC_BIG, exif=_exif(8))
    raw = path.read_bytes()
    tail = png_chunk(b"tEXt", b"After\x00after the image data") + png_chunk(b"tIME", bytes([7, 232, 1, 2, 3, 4, 5]))
    raw = raw[:-12] + tail + raw[-12:]  # before IEND
    path.write_bytes(raw)

    d = decode_image(path)
    kept = [(t, body) for t, body in parse_png_chunks(raw) if t not in (b"IHDR", b"IDAT", b"IEND", b"iDOT")]
    assert [(b.kind.encode(), b.data) for b in d.metadata.blocks] == kept
    assert [b.after_image for b in d.metadata.blocks][-2:] == [True, True]
    assert d.metadata.icc_profile == ICC_BIG and d.metadata.orientation == 8

    out = encode_image(d.rgb, d.alpha, d.grayscale, d.format, d.metadata)
    out_chunks = parse_png_chunks(out)  # also checks every CRC
    types = [t for t, _ in out_chunks]
    assert [(t, body) for t, body in out_chunks if t not in (b"IHDR", b"IDAT", b"IEND")] == kept
    first_idat, last_idat = types.index(b"IDAT"), len(types) - 1 - types[::-1].index(b"IDAT")
    assert types.index(b"tEXt") < first_idat and types.index(b"tIME") > last_idat
    assert b"iDOT" not in types
    im = Image.open(io.BytesIO(out))
    im.load()
    assert im.text["Title"] == "A title" and im.text["After"] == "after the image data"
    assert np.array_equal(np.asarray(im)[:, :, 3], d.alpha)


def test_png_bad_crc_does_not_decode(tmp_path: Path) -> None:
    raw = bytearray(_save(tmp_path, "a.png", _image("RGB"), "PNG", pnginfo=_text_info()).read_bytes())
    pos = raw.index(b"tEXt")
    raw[pos + 6] ^= 0xFF
    (tmp_path / "b.png").write_bytes(bytes(raw))
    c = classify(tmp_path / "b.png")
    assert not c.lossy and c.reason.startswith("does not decode")


def _text_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Key", "value")
    return info


# --------------------------------------------------------------------------- WebP, TIFF, BMP metadata


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_webp_metadata_byte_exact(tmp_path: Path, mode: str) -> None:
    exif = _exif(6).tobytes()
    path = _save(tmp_path, "m.webp", _image(mode), "WEBP", exif=exif, icc_profile=ICC_BIG, xmp=XMP, quality=90)
    src_chunks = {f: body for f, body in parse_webp_chunks(path.read_bytes()) if f in (b"ICCP", b"EXIF", b"XMP ")}
    assert len(src_chunks) == 3
    d = decode_image(path)
    out = encode_image(d.rgb, d.alpha, d.grayscale, d.format, d.metadata)
    chunks = parse_webp_chunks(out)
    assert [f for f, _ in chunks][0] == b"VP8X"
    assert {f: body for f, body in chunks if f in src_chunks} == src_chunks
    im = Image.open(io.BytesIO(out))
    assert im.mode == mode and im.info["icc_profile"] == ICC_BIG and im.getexif()[0x0112] == 6
    assert im.info["xmp"] == XMP
    if mode == "RGBA":
        assert np.array_equal(np.asarray(im)[:, :, 3], d.alpha)


def test_webp_without_metadata_is_plain(tmp_path: Path) -> None:
    d = decode_image(_save(tmp_path, "p.webp", _image("RGB"), "WEBP"))
    out = encode_image(d.rgb, None, False, "WEBP", d.metadata)
    assert [f for f, _ in parse_webp_chunks(out)] == [b"VP8 "]


def test_tiff_metadata(tmp_path: Path) -> None:
    exif = _exif(6)
    exif[0x8298] = "(c) someone"
    exif[700] = XMP
    path = _save(tmp_path, "m.tif", _image("RGB"), "TIFF", exif=exif.tobytes(), icc_profile=ICC_BIG[:3000])
    d = decode_image(path)
    assert d.metadata.orientation == 6 and d.metadata.icc_profile == ICC_BIG[:3000] and d.metadata.xmp == XMP
    assert np.array_equal(d.rgb, np.asarray(_image("RGB")))  # stored layout (Pillow would turn it upright)
    assert (d.width, d.height) == (W, H)
    restored = ImageMetadata.from_bytes(d.metadata.to_bytes())
    out_path = tmp_path / "out.tif"
    out_path.write_bytes(encode_image(d.rgb, None, False, "TIFF", restored))
    with Image.open(out_path) as out:
        assert out.info["icc_profile"] == ICC_BIG[:3000]
        tags = out.tag_v2
        assert tags[0x0112] == 6 and tags[0x010F] == "Latentzip Camera" and tags[0x8298] == "(c) someone"
        assert out.getexif().get_ifd(0x8769)[0x9003] == "2024:01:02 03:04:05"
        assert out.info["xmp"] == XMP
        assert tags[259] == 8  # Deflate
    again = decode_image(out_path)
    assert np.array_equal(again.rgb, d.rgb) and again.metadata.orientation == 6


def test_bmp_has_no_metadata(tmp_path: Path) -> None:
    d = decode_image(_save(tmp_path, "a.bmp", _image("RGB"), "BMP"))
    assert d.metadata == ImageMetadata("BMP")


# --------------------------------------------------------------------------- serialisation


def test_metadata_serialisation_roundtrip() -> None:
    meta = ImageMetadata(
        "PNG",
        (
            MetadataBlock("iCCP", b"x" * 1000),
            MetadataBlock("tEXt", b"", True),
            MetadataBlock("eXIf", b"\x00"),
        ),
    )
    data = meta.to_bytes()
    assert ImageMetadata.from_bytes(data) == meta
    assert ImageMetadata.from_bytes(ImageMetadata("BMP").to_bytes()) == ImageMetadata("BMP")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PICKLE",
        b"LZMD\x02\x03PNG\x00\x00\x00\x00",  # unknown version
        b"LZMD\x01\x03GIF\x00\x00\x00\x00",  # unknown format
        b"LZMD\x01\x03PNG\xff\xff\xff\xff",  # absurd block count
        b"LZMD\x01\x03PNG\x01\x00\x00\x00\x04tEXt\x00\xff\xff\xff\x7f",  # block longer than the data
        b"LZMD\x01\x03PNG\x00\x00\x00\x00extra",  # trailing bytes
        b"LZMD\x01\x03PNG\x01\x00\x00\x00\x04tEXt\x07\x00\x00\x00\x00",  # bad flags
    ],
)
def test_metadata_from_bytes_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ArchiveFormatError):
        ImageMetadata.from_bytes(data)


def test_hostile_structures_raise_value_error() -> None:
    with pytest.raises(ValueError):
        parse_jpeg_segments(b"\xff\xd8\xff\xe1\xff\xff" + bytes(10))  # segment longer than file
    with pytest.raises(ValueError):
        parse_jpeg_segments(b"\xff\xd8\xff\xda\x00\x02" + b"\x12" * 100)  # no EOI
    with pytest.raises(ValueError):
        parse_png_chunks(b"\x89PNG\r\n\x1a\n\xff\xff\xff\xf0IHDR" + bytes(20))
    with pytest.raises(ValueError):
        parse_webp_chunks(b"RIFF\xff\xff\xff\x7fWEBP")


# --------------------------------------------------------------------------- real photo


@pytest.mark.skipif(not (PHOTOS / "ColorfulCups.jpg").exists(), reason="real photos not available")
def test_real_photo_exif_and_icc_survive() -> None:
    path = PHOTOS / "ColorfulCups.jpg"  # EXIF, XMP, COM and an ICC profile
    original = _app_segments(path.read_bytes())
    assert any(p.startswith(b"Exif\x00\x00") for _, p in original)
    assert any(p.startswith(b"ICC_PROFILE\x00") for _, p in original)
    d = decode_image(path)
    out = encode_image(d.rgb, d.alpha, d.grayscale, d.format, d.metadata)
    assert _app_segments(out) == original
