"""Location privacy: has_location / strip_location_bytes, --strip-location, list --details."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from latentzip.codec import cli, engine
from latentzip.codec.images import ImageMetadata, MetadataBlock, encode_image
from latentzip.codec.images.details import summarize_file
from latentzip.codec.images.location import has_location, strip_location_bytes
from latentzip.codec.ops.archive_details import entry_details

ICC = bytes(np.random.default_rng(5).integers(0, 256, 3000, dtype=np.uint8))
DATE = "2021:06:01 12:34:56"
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "ps": "http://ns.adobe.com/photoshop/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "ext": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}
# photoshop bound to "ps" (not its usual prefix): names are resolved through xmlns.
XMP = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{NS["rdf"]}">
<rdf:Description rdf:about="" xmlns:exif="{NS["exif"]}" xmlns:ps="{NS["ps"]}" xmlns:xmp="{NS["xmp"]}"
  xmlns:Iptc4xmpExt="{NS["ext"]}" exif:GPSLatitude="48,51.48N" ps:City='Paris'
  xmp:CreateDate="2021-06-01T12:34:56" ps:Headline="Hello">
 <exif:GPSLongitude>2,17.67E</exif:GPSLongitude>
 <exif:GPSLongitudeRef>E</exif:GPSLongitudeRef>
 <ps:Country>France</ps:Country>
 <Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li rdf:parseType="Resource">
  <Iptc4xmpExt:City>Paris</Iptc4xmpExt:City></rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown>
 <exif:DateTimeOriginal>2021-06-01T12:34:56</exif:DateTimeOriginal>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>""".encode()


def _exif(gps: bool = True) -> Image.Exif:
    exif = Image.Exif()
    exif[271], exif[272], exif[274] = "Maker", "Model X", 6
    exif.get_ifd(0x8769)[0x9003] = DATE
    if gps:
        g = exif.get_ifd(0x8825)
        g[0], g[1], g[2], g[3], g[4] = b"\x02\x03\x00\x00", "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    return exif


def _pixels() -> Image.Image:
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _jpeg(gps: bool = True, xmp: bytes = XMP) -> bytes:
    buf = io.BytesIO()
    _pixels().save(buf, "JPEG", quality=90, exif=_exif(gps), icc_profile=ICC, xmp=xmp)
    return buf.getvalue()


def _png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)
    info.add_text("Comment", "hello")
    buf = io.BytesIO()
    _pixels().save(buf, "PNG", exif=_exif(), icc_profile=ICC, pnginfo=info)
    return buf.getvalue()


def _webp() -> bytes:
    buf = io.BytesIO()
    _pixels().save(buf, "WEBP", exif=_exif(), icc_profile=ICC, xmp=XMP, quality=90)
    return buf.getvalue()


def _tiff() -> bytes:
    rgb = np.asarray(_pixels())
    meta = ImageMetadata(
        "TIFF", (MetadataBlock("ICC", ICC), MetadataBlock("EXIF", _exif().tobytes()[6:]), MetadataBlock("XMP", XMP))
    )
    return encode_image(rgb, None, False, "TIFF", meta)


def _check_kept(data: bytes, original: bytes) -> None:
    """No GPS; date taken, make, model, orientation, ICC and the other XMP kept; pixels equal."""
    with Image.open(io.BytesIO(data)) as im, Image.open(io.BytesIO(original)) as im0:
        exif, exif0 = im.getexif(), im0.getexif()
        assert 0x8825 not in exif and 0x8825 in exif0
        for tag in (271, 272, 274):
            assert exif.get(tag) == exif0.get(tag)
        assert exif.get_ifd(0x8769).get(0x9003) == DATE
        assert im.info.get("icc_profile") == ICC
        assert np.array_equal(np.asarray(im), np.asarray(im0))
        xmp = im.info.get("xmp") or (im.getxmp() and None)
    if xmp is None:  # PNG: Pillow exposes the iTXt as text
        xmp = im.info.get("XML:com.adobe.xmp", "")
    _check_xmp(xmp.encode() if isinstance(xmp, str) else xmp)


def _check_xmp(xmp: bytes) -> None:
    root = ET.fromstring(xmp.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    desc = root.find(".//rdf:Description", NS)
    names = set(desc.attrib) | {child.tag for child in desc}
    for gone in (
        f"{{{NS['exif']}}}GPSLatitude",
        f"{{{NS['exif']}}}GPSLongitude",
        f"{{{NS['ps']}}}City",
        f"{{{NS['ps']}}}Country",
        f"{{{NS['ext']}}}LocationShown",
    ):
        assert gone not in names
    for kept in (f"{{{NS['xmp']}}}CreateDate", f"{{{NS['ps']}}}Headline", f"{{{NS['exif']}}}DateTimeOriginal"):
        assert kept in names
    assert b"Paris" not in xmp and b"48,51" not in xmp


@pytest.mark.parametrize("make", [_jpeg, _png, _webp, _tiff], ids=["jpeg", "png", "webp", "tiff"])
def test_strip_removes_location_keeps_the_rest(make) -> None:
    original = make()
    assert has_location(original)
    stripped = strip_location_bytes(original)
    assert stripped is not None and not has_location(stripped)
    assert strip_location_bytes(stripped) is None  # idempotent
    if make is not _png:  # in place: same size (PNG's compressed XMP chunk is re-deflated)
        assert len(stripped) == len(original)
    _check_kept(stripped, original)


def test_jpeg_image_data_untouched_and_offsets_kept() -> None:
    original = _jpeg()
    stripped = strip_location_bytes(original)
    sos = original.index(b"\xff\xda")
    assert stripped[sos:] == original[sos:]
    changed = [i for i in range(len(original)) if original[i] != stripped[i]]
    assert changed and changed[-1] < sos


def test_nothing_to_strip() -> None:
    plain = _jpeg(gps=False, xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    assert not has_location(plain) and strip_location_bytes(plain) is None
    for data in (b"", b"hello", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00\xff\xff\xff\xff", b"GIF89a..."):
        assert not has_location(data) and strip_location_bytes(data) is None


def test_gps_version_only_is_not_a_location() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8825)[0] = b"\x02\x03\x00\x00"
    buf = io.BytesIO()
    _pixels().save(buf, "JPEG", exif=exif)
    assert not has_location(buf.getvalue())


def test_hostile_exif_does_not_crash() -> None:
    original = _jpeg()
    rng = np.random.default_rng(0)
    start = original.index(b"Exif\x00\x00") + 6
    for _ in range(200):
        data = bytearray(original)
        for pos in rng.integers(start, start + 200, 4):
            data[pos] = int(rng.integers(0, 256))
        out = strip_location_bytes(bytes(data))
        assert out is None or len(out) == len(data)


def test_real_photos(photos_dir: Path) -> None:
    located = [p for p in sorted(photos_dir.glob("*.jpg")) if has_location(p.read_bytes())]
    assert [p.name for p in located] == ["ColorfulCups.jpg"]
    original = located[0].read_bytes()
    stripped = strip_location_bytes(original)
    with Image.open(io.BytesIO(stripped)) as im, Image.open(io.BytesIO(original)) as im0:
        exif, exif0 = im.getexif(), im0.getexif()
        assert 0x8825 not in exif
        assert {k: v for k, v in exif0.items() if k != 0x8825} == dict(exif)
        assert dict(exif.get_ifd(0x8769)) == dict(exif0.get_ifd(0x8769))  # date taken, MakerNote...
        assert im.info["icc_profile"] == im0.info["icc_profile"]
        assert b"GPS" not in im.info["xmp"] and b"digiKam" in im.info["xmp"]
    summary = summarize_file(stripped)
    assert summary.exif and not summary.gps and summary.date_taken and summary.icc and summary.xmp
    assert not summary.has_location


def test_summaries() -> None:
    for make, fmt in ((_jpeg, "JPEG"), (_png, "PNG"), (_webp, "WEBP"), (_tiff, "TIFF")):
        s = summarize_file(make())
        assert (s.format, s.exif, s.gps, s.date_taken, s.icc, s.xmp, s.xmp_location) == (
            fmt,
            True,
            True,
            DATE,
            True,
            True,
            True,
        ), make.__name__
        assert "GPS" in s.describe() and DATE in s.describe()
    assert summarize_file(b"not an image") is None
    head = summarize_file(_jpeg()[:400], complete=False)
    assert head is not None and head.partial


@pytest.fixture()
def album(tmp_path: Path) -> Path:
    src = tmp_path / "ALBUM"
    src.mkdir()
    (src / "here.jpg").write_bytes(_jpeg())
    (src / "plain.jpg").write_bytes(_jpeg(gps=False, xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'))
    (src / "here.png").write_bytes(_png())
    (src / "notes.txt").write_text("GPS 48.85 N")
    return src


@pytest.mark.parametrize("images", ["lossless", "lossy"])
def test_archive_round_trip_strips_location(album: Path, tmp_path: Path, images: str) -> None:
    archive = tmp_path / f"{images}.ltz"
    report = engine.compress(
        [album], archive, engine.CompressOptions(images=images, checkpoint="C", strip_location=True)
    )
    assert report.locations_removed == 2 and not report.failed
    out = tmp_path / f"out-{images}"
    engine.extract(archive, out)
    for name in ("here.jpg", "here.png"):
        restored = (out / "ALBUM" / name).read_bytes()
        assert not has_location(restored)
        with Image.open(io.BytesIO(restored)) as im:
            exif = im.getexif()
            assert exif.get(271) == "Maker" and exif.get(274) == 6
            assert exif.get_ifd(0x8769).get(0x9003) == DATE
            assert im.info.get("icc_profile") == ICC
    if images == "lossless":
        assert (out / "ALBUM" / "here.jpg").read_bytes() == strip_location_bytes((album / "here.jpg").read_bytes())
    assert (out / "ALBUM" / "plain.jpg").read_bytes() == (album / "plain.jpg").read_bytes() or images == "lossy"
    assert (out / "ALBUM" / "notes.txt").read_text() == "GPS 48.85 N"
    details = {r.path: s for r, s, _ in entry_details(archive)}
    assert details["ALBUM/here.jpg"].exif and not details["ALBUM/here.jpg"].has_location
    assert details["ALBUM/here.jpg"].date_taken == DATE
    assert details["ALBUM/notes.txt"] is None


def test_default_keeps_location(album: Path, tmp_path: Path) -> None:
    archive = tmp_path / "keep.ltz"
    report = engine.compress([album], archive, engine.CompressOptions(images="lossless"))
    assert report.locations_removed == 0
    engine.extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "ALBUM" / "here.jpg").read_bytes() == (album / "here.jpg").read_bytes()


def test_cli_flag_and_list_details(album: Path, tmp_path: Path, capsys) -> None:
    archive = tmp_path / "a.ltz"
    assert cli.main(["compress", str(album), "-o", str(archive), "--images", "lossless", "--strip-location"]) == 0
    assert "location removed from 2 files" in capsys.readouterr().out
    assert cli.main(["list", "--details", str(archive)]) == 0
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"JPEG: EXIF (date taken {DATE}, no GPS) · ICC profile · XMP" in lines["ALBUM/here.jpg"]
    assert "PNG: EXIF" in lines["ALBUM/here.png"] and "with location" not in lines["ALBUM/here.png"]
    assert lines["ALBUM/notes.txt"].endswith("no image metadata")
    assert cli.main(["list", str(archive)]) == 0
    assert "EXIF" not in capsys.readouterr().out

    keep = tmp_path / "k.ltz"
    assert cli.main(["compress", str(album), "-o", str(keep), "--images", "lossless", "--quiet"]) == 0
    assert cli.main(["list", "--details", str(keep)]) == 0
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert (
        f"EXIF (date taken {DATE}, GPS)" in lines["ALBUM/here.jpg"] and "XMP (with location)" in lines["ALBUM/here.jpg"]
    )


def test_plan_deduplicates_what_compress_stores_with_strip_location(tmp_path: Path) -> None:
    """Two files that differ only in their location are one content once it is removed: the plan says so."""
    from latentzip.codec.ops.plan import PlanAction, plan_inputs

    src = tmp_path / "TWO"
    src.mkdir()
    (src / "a.jpg").write_bytes(_jpeg())
    (src / "b.jpg").write_bytes(strip_location_bytes(_jpeg()))
    for strip, expected in ((True, PlanAction.DUPLICATE), (False, PlanAction.CODE)):
        options = engine.CompressOptions(checkpoint="C", strip_location=strip)
        rows = {r.name: r for r in plan_inputs([src], options)}
        assert rows["TWO/b.jpg"].action is expected, strip
    report = engine.compress([src], tmp_path / "two.ltz", engine.CompressOptions(checkpoint="C", strip_location=True))
    kinds = {o.name: o.kind for o in report.outcomes}
    assert kinds["TWO/b.jpg"] is engine.OutcomeKind.DUPLICATE


def test_a_copy_held_back_without_its_bytes_is_stripped_when_its_first_copy_fails(tmp_path, monkeypatch) -> None:
    """Likely copies wait without their rewritten bytes; when the first copy fails after all, the copy is
    prepared again and stored without its location, as if it had been the first."""
    from latentzip.codec.entries.entry import EncodedEntry
    from latentzip.codec.ops import pipeline

    src = tmp_path / "TWO"
    src.mkdir()
    (src / "a.jpg").write_bytes(_jpeg())
    (src / "b.jpg").write_bytes(_jpeg())
    real = pipeline.encode_member

    def first_fails(prepared, *args, **kwargs):
        if prepared.member.name == "TWO/a.jpg":
            return EncodedEntry.failure(prepared.member.name, "cannot read: gone")
        return real(prepared, *args, **kwargs)

    monkeypatch.setattr(pipeline, "encode_member", first_fails)
    options = engine.CompressOptions(images="lossless", strip_location=True, threads=1)
    report = engine.compress([src], tmp_path / "two.ltz", options)
    assert [name for name, _ in report.failed] == ["TWO/a.jpg"]
    engine.extract(tmp_path / "two.ltz", tmp_path / "out")
    restored = (tmp_path / "out" / "TWO" / "b.jpg").read_bytes()
    assert restored == strip_location_bytes(_jpeg()) and not has_location(restored)
