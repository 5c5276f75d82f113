"""Issue 8, parts 1 and 3: format version 2, lossless JPEG re-packing, deduplication, ``add``."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
from pathlib import Path

import hostile
import numpy as np
import pytest
from PIL import Image

from latentzip.codec import cli, engine
from latentzip.codec.api.errors import (
    ArchiveFormatError,
    ArchiveLimitError,
    CancelledError,
    ContentHashError,
    LatentzipError,
)
from latentzip.codec.container import ArchiveReader, ArchiveWriter, EntryKind
from latentzip.codec.entries import jpeg_repack
from latentzip.codec.ops import compressor as compressor_module

SHA_A = hashlib.sha256(b"a").hexdigest()


def make_jpeg(path: Path, width: int = 96, height: int = 64, seed: int = 0, **save) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 3 + seed * 40) % 256, (y * 4) % 256, ((x + y) * 2) % 256], -1)
    img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, "JPEG", quality=save.pop("quality", 92), **save)
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def kinds(archive: Path) -> dict[str, EntryKind]:
    return {r.path: r.kind for r in engine.list_entries(archive)}


@pytest.fixture
def album(tmp_path: Path) -> Path:
    folder = tmp_path / "album"
    make_jpeg(folder / "a.jpg", seed=1)
    make_jpeg(
        folder / "b.jpg", 256, 192, seed=2, progressive=True, exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00"
    )
    shutil.copy(folder / "a.jpg", folder / "copy-of-a.jpg")
    (folder / "notes.txt").write_text("trip notes\n" * 50)
    (folder / "sub").mkdir()
    (folder / "sub" / "notes-again.txt").write_text("trip notes\n" * 50)
    return folder


# --- lossless JPEG re-packing ------------------------------------------------------------------------


def test_lossless_repacks_jpegs_and_rebuilds_them_bit_for_bit(album, tmp_path):
    out = tmp_path / "album.ltz"
    report = engine.compress([album], out, engine.CompressOptions(images="lossless"))
    by_kind = {o.name: o.kind for o in report.outcomes}
    assert by_kind["album/a.jpg"] == by_kind["album/b.jpg"] == "lossless-jpeg"
    assert by_kind["album/copy-of-a.jpg"] == by_kind["album/sub/notes-again.txt"] == "duplicate"
    entries = {r.path: r for r in engine.list_entries(out)}
    assert entries["album/a.jpg"].kind == EntryKind.JPEG_REPACK
    assert entries["album/a.jpg"].payload_len < entries["album/a.jpg"].size
    assert entries["album/copy-of-a.jpg"].same_as == "album/a.jpg"
    assert entries["album/sub/notes-again.txt"].same_as == "album/notes.txt"
    for r in entries.values():  # every file entry carries the content hash of the original
        if r.kind not in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
            assert r.sha256 == hashlib.sha256((album.parent / r.path).read_bytes()).hexdigest()
    assert out.read_bytes()[6:8] == struct.pack("<H", 2)
    assert engine.test_archive(out).ok
    engine.extract(out, tmp_path / "x")
    assert tree(tmp_path / "x" / "album") == tree(album)


def test_repack_that_does_not_verify_is_stored_plain(album, tmp_path, monkeypatch):
    real = jpeg_repack._decode
    monkeypatch.setattr(jpeg_repack, "_decode", lambda payload: real(payload) + b"\x00")
    out = tmp_path / "album.ltz"
    report = engine.compress([album], out, engine.CompressOptions(images="lossless"))
    outcome = next(o for o in report.outcomes if o.name == "album/a.jpg")
    assert outcome.kind == "stored" and "did not rebuild" in outcome.note
    assert any("did not rebuild" in w for _, w in report.warnings)
    assert kinds(out)["album/a.jpg"] == EntryKind.STORED
    monkeypatch.undo()
    engine.extract(out, tmp_path / "x")
    assert tree(tmp_path / "x" / "album") == tree(album)


def test_a_jpeg_that_cannot_be_repacked_is_stored(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "fake.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20)
    out = tmp_path / "odd.ltz"
    report = engine.compress([folder], out, engine.CompressOptions(images="lossless"))
    assert report.outcomes[-1].kind in ("stored", "lzma") and "stored byte-exact" in report.outcomes[-1].note
    engine.extract(out, tmp_path / "x")
    assert tree(tmp_path / "x" / "odd") == tree(folder)


@pytest.mark.slow
def test_shared_photos_rebuild_bit_exact(photos_dir, tmp_path):
    out = tmp_path / "photos.ltz"
    report = engine.compress([photos_dir], out, engine.CompressOptions(images="lossless"))
    jpegs = sorted(photos_dir.glob("*.jpg"))
    repacked = [o for o in report.outcomes if o.kind == "lossless-jpeg"]
    assert len(repacked) == len(jpegs)
    assert report.archive_size < 0.9 * sum(p.stat().st_size for p in jpegs)
    engine.extract(out, tmp_path / "x")
    for p in jpegs:
        assert (tmp_path / "x" / photos_dir.name / p.name).read_bytes() == p.read_bytes(), p.name


def test_lossy_mode_notes_the_second_generation_once(tmp_path, capsys):
    folder = tmp_path / "jp"
    folder.mkdir()
    with Image.open(Path(__file__).parent / "assets" / "photo_crop.png") as im:
        for i in range(2):
            im.convert("RGB").rotate(90 * i).save(folder / f"p{i}.jpg", quality=95)
    assert cli.main(["compress", str(folder), "-o", str(tmp_path / "jp.ltz")]) == 0
    out = capsys.readouterr().out
    assert list(kinds(tmp_path / "jp.ltz").values()).count(EntryKind.IMAGE) == 2
    assert out.count("second generation of loss") == 1 and "2 JPEG source(s)" in out
    assert "--images lossless" in out


def test_cli_lossless_summary(album, tmp_path, capsys):
    assert cli.main(["compress", str(album), "-o", str(tmp_path / "a.ltz"), "--images", "lossless"]) == 0
    out = capsys.readouterr().out
    assert "2 re-packed losslessly" in out and "duplicates: 2" in out and "second generation" not in out
    assert cli.main(["list", str(tmp_path / "a.ltz")]) == 0
    listing = capsys.readouterr().out
    assert "lossless jpeg" in listing and "= album/a.jpg" in listing


def test_duplicates_of_a_coded_image_decode_alike(tmp_path):
    folder = tmp_path / "pics"
    img = np.clip(np.random.default_rng(3).normal(128, 40, (64, 96, 3)), 0, 255).astype(np.uint8)
    folder.mkdir()
    Image.fromarray(img).save(folder / "one.png")
    shutil.copy(folder / "one.png", folder / "two.png")
    out = tmp_path / "pics.ltz"
    engine.compress([folder], out)
    assert kinds(out)["pics/two.png"] == EntryKind.DUPLICATE
    engine.extract(out, tmp_path / "x")
    assert (tmp_path / "x/pics/one.png").read_bytes() == (tmp_path / "x/pics/two.png").read_bytes()


# --- add ---------------------------------------------------------------------------------------------


def test_add_skips_replaces_and_deduplicates(album, tmp_path):
    out = tmp_path / "album.ltz"
    engine.compress([album], out, engine.CompressOptions(images="lossless"))
    before = {r.path: r for r in engine.list_entries(out)}
    (album / "notes.txt").write_text("new notes\n")  # changed: replaced; sub/notes-again.txt keeps the old text
    make_jpeg(album / "c.jpg", seed=9)  # new
    shutil.copy(album / "b.jpg", album / "b-again.jpg")  # new, identical to an archived file
    report = engine.add(out, [album])
    assert sorted(report.added) == ["album/b-again.jpg", "album/c.jpg"]
    assert report.replaced == ["album/notes.txt"]
    assert report.deduplicated == ["album/b-again.jpg"]
    assert sorted(report.skipped) == ["album/a.jpg", "album/b.jpg", "album/copy-of-a.jpg", "album/sub/notes-again.txt"]
    assert report.images == "lossless"
    after = {r.path: r for r in engine.list_entries(out)}
    assert after["album/c.jpg"].kind == EntryKind.JPEG_REPACK
    assert after["album/b-again.jpg"].same_as == "album/b.jpg"
    # the old notes.txt's duplicate took over its data; the archived JPEGs were copied, not recoded
    assert after["album/sub/notes-again.txt"].kind in (EntryKind.STORED, EntryKind.LZMA)
    for name in ("album/a.jpg", "album/b.jpg"):
        assert (after[name].crc, after[name].payload_len) == (before[name].crc, before[name].payload_len)
    assert engine.test_archive(out).ok
    engine.extract(out, tmp_path / "x")
    expected = tree(album)
    expected["sub/notes-again.txt"] = ("trip notes\n" * 50).encode()
    assert tree(tmp_path / "x" / "album") == expected


def test_add_with_nothing_new_leaves_the_archive_alone(album, tmp_path):
    out = tmp_path / "album.ltz"
    engine.compress([album], out, engine.CompressOptions(images="lossless"))
    stat = out.stat()
    report = engine.add(out, [album])
    assert not report.changed and len(report.skipped) == 5
    assert out.stat().st_mtime_ns == stat.st_mtime_ns


@pytest.mark.parametrize("how", ["error", "cancel"])
def test_interrupted_add_leaves_the_previous_archive(album, tmp_path, monkeypatch, how):
    out = tmp_path / "album.ltz"
    engine.compress([album], out, engine.CompressOptions(images="lossless"))
    original = out.read_bytes()
    for i in range(3):
        make_jpeg(album / f"new{i}.jpg", seed=20 + i)
    token = engine.CancelToken()
    calls = []
    real = compressor_module.prepare_member  # add prepares (hashes) each member in turn, as compress does

    def flaky(*args, **kwargs):
        calls.append(args[0].name)
        if len(calls) == 2:
            if how == "cancel":
                token.cancel()
            else:
                raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(compressor_module, "prepare_member", flaky)
    with pytest.raises(CancelledError if how == "cancel" else RuntimeError):
        engine.add(out, [album], cancel=token)
    assert out.read_bytes() == original
    assert engine.test_archive(out).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["album", "album.ltz"]  # no partial file left


def test_add_to_a_version_1_archive(tmp_path):
    old = tmp_path / "old.ltz"
    items = [hostile.stored("old/a.txt", b"first"), hostile.stored("old/b.bin", bytes(range(256)))]
    old.write_bytes(hostile.build(items, version=1))  # as version 1 wrote them: no sha256
    assert old.read_bytes()[6:8] == struct.pack("<H", 1)
    before = {r.path: (r.crc, r.payload_len) for r in engine.list_entries(old)}
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "readme.txt").write_text("added later\n")
    report = engine.add(old, [extra])
    assert report.added == ["more", "more/readme.txt"]
    assert old.read_bytes()[6:8] == struct.pack("<H", 2)
    after = {r.path: (r.crc, r.payload_len) for r in engine.list_entries(old)}
    assert {k: after[k] for k in before} == before
    assert engine.test_archive(old).ok


def test_cli_add(album, tmp_path, capsys):
    out = tmp_path / "album.ltz"
    assert cli.main(["compress", str(album), "-o", str(out), "--images", "lossless"]) == 0
    make_jpeg(album / "new.jpg", seed=5)
    capsys.readouterr()
    assert cli.main(["add", str(out), str(album)]) == 0
    text = capsys.readouterr().out
    assert "added 1, replaced 0, skipped 5 unchanged, 0 deduplicated" in text and "images lossless" in text
    assert cli.main(["add", str(out), str(album)]) == 0
    assert "nothing new" in capsys.readouterr().out
    assert cli.main(["add", str(tmp_path / "missing.ltz"), str(album)]) == 1


# --- hostile archives -------------------------------------------------------------------------------


def _dup(path: str, same_as: str, size: int = 1, sha: str = SHA_A) -> tuple[dict, bytes]:
    return hostile.header(path, 7, size, sha256=sha, same_as=same_as), b""


def _file(path: str, data: bytes = b"a") -> tuple[dict, bytes]:
    return hostile.header(path, 1, len(data), sha256=hashlib.sha256(data).hexdigest()), data


@pytest.mark.security
@pytest.mark.parametrize(
    "items, message",
    [
        ([_file("a"), _dup("b", "missing")], "not an earlier entry"),
        ([_dup("b", "a"), _file("a")], "not an earlier entry"),
        ([_file("a"), _dup("b", "a"), _dup("c", "b")], "itself a duplicate"),
        ([(hostile.header("d", 4), b""), _dup("b", "d")], "not a file"),
        ([_file("a", b"ab"), _dup("b", "a", size=1, sha=hashlib.sha256(b"ab").hexdigest())], "another size"),
        ([_file("a", b"b"), _dup("b", "a")], "content hash differs"),
        ([_file("a"), _dup("b", "b")], "refers to itself"),
        ([_file("a"), (hostile.header("b", 7, 1, sha256=SHA_A), b"")], "no string 'same_as'"),
        ([_file("a"), (hostile.header("b", 7, 1, same_as="a"), b"")], "sha256"),
        ([hostile.header("a", 1, 1, sha256="XYZ"), b"a"], "sha256"),
        ([(hostile.header("a", 1, 1, same_as="b"), b"a")], "only duplicate entries"),
        ([_file("a"), (hostile.header("b", 7, 1, sha256=SHA_A, same_as="a"), b"x")], "with a payload"),
    ],
)
def test_hostile_duplicates_are_refused(items, message, tmp_path):
    if isinstance(items[0], dict):  # a single (header, payload) pair
        items = [tuple(items)]
    data = hostile.build(items, version=2)
    with pytest.raises(ArchiveFormatError, match=message):
        ArchiveReader(io.BytesIO(data))
    path = tmp_path / "h.ltz"
    path.write_bytes(data)
    with pytest.raises(ArchiveFormatError):
        engine.extract(path, tmp_path / "x")


@pytest.mark.security
@pytest.mark.parametrize("kind", [6, 7])
def test_new_kinds_are_refused_in_a_version_1_archive(kind):
    items = (
        [_file("a"), (hostile.header("b", kind, 1, sha256=SHA_A, same_as="a"), b"")]
        if kind == 7
        else [(hostile.header("b", 6, 1, sha256=SHA_A), b"jxl")]
    )
    with pytest.raises(ArchiveFormatError, match="version 1 archive"):
        ArchiveReader(io.BytesIO(hostile.build(items, version=1)))
    ArchiveReader(io.BytesIO(hostile.build(items, version=2)))  # fine in version 2


def test_version_1_archives_without_hashes_still_read(tmp_path):
    path = tmp_path / "v1.ltz"
    path.write_bytes(hostile.build([hostile.stored("a.txt", b"hello")], version=1))
    assert engine.test_archive(path).ok
    engine.extract(path, tmp_path / "x")
    assert (tmp_path / "x" / "a.txt").read_bytes() == b"hello"


@pytest.mark.security
def test_repacked_jpeg_with_the_wrong_hash_names_the_file(tmp_path):
    jpeg = make_jpeg(tmp_path / "p.jpg").read_bytes()
    payload, _ = jpeg_repack.repack(jpeg)
    wrong = hashlib.sha256(jpeg + b"!").hexdigest()
    path = tmp_path / "h.ltz"
    path.write_bytes(hostile.build([(hostile.header("p.jpg", 6, len(jpeg), sha256=wrong), payload)], version=2))
    with pytest.raises(ContentHashError, match="p.jpg"):
        engine.extract(path, tmp_path / "x")
    assert not (tmp_path / "x" / "p.jpg").exists()
    report = engine.test_archive(path)
    assert not report.ok and report.damaged[0][0] == "p.jpg"


@pytest.mark.security
def test_stored_entry_with_the_wrong_hash_is_caught(tmp_path):
    path = tmp_path / "h.ltz"
    path.write_bytes(hostile.build([(hostile.header("a.txt", 1, 5, sha256=SHA_A), b"hello")], version=2))
    with pytest.raises(ContentHashError, match="a.txt"):
        engine.extract(path, tmp_path / "x")
    assert not engine.test_archive(path).ok


def _jxl_header(height: int, ratio: int = 1) -> bytes:
    """A bare JPEG XL codestream start: signature and a size header (not small, 30-bit height)."""
    bits = 0 | (3 << 1) | ((height - 1) << 3) | (ratio << 33)
    return b"\xff\x0a" + bits.to_bytes(8, "little") + b"\x00" * 24


@pytest.mark.security
@pytest.mark.parametrize(
    "payload, error, message",
    [
        (b"garbage" * 10, ArchiveFormatError, "not a JPEG XL"),
        (_jxl_header(100_000), ArchiveLimitError, "100000x100000"),
        (_jxl_header(1000) + b"\x00" * 100, ArchiveFormatError, "does not decode|no JPEG reconstruction"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n" + b"\x00\x00\x00\x40jxlc", ArchiveFormatError, "damaged JPEG XL box"),
    ],
)
def test_hostile_repack_payloads(payload, error, message, tmp_path):
    path = tmp_path / "h.ltz"
    path.write_bytes(hostile.build([(hostile.header("p.jpg", 6, 10, sha256=SHA_A), payload)], version=2))
    with pytest.raises(error, match=message):
        engine.extract(path, tmp_path / "x")


def test_jxl_size_reads_the_real_header(tmp_path):
    jpeg = make_jpeg(tmp_path / "p.jpg", 96, 64).read_bytes()
    payload, note = jpeg_repack.repack(jpeg)
    assert payload is not None, note
    assert jpeg_repack.jxl_size(payload) == (96, 64)


def test_writer_refuses_a_dangling_duplicate():
    with pytest.raises(ArchiveFormatError, match="not an earlier entry"):
        with ArchiveWriter(io.BytesIO()) as writer:
            writer.add(
                {
                    "path": "b",
                    "kind": EntryKind.DUPLICATE,
                    "size": 1,
                    "mtime_ns": 0,
                    "mode": 0o644,
                    "sha256": SHA_A,
                    "same_as": "a",
                }
            )


def test_salvage_keeps_duplicates_of_intact_entries(tmp_path):
    data = hostile.build([_file("a"), _dup("b", "a")], version=2, with_index=False)
    path = tmp_path / "s.ltz"
    path.write_bytes(data)
    report = engine.extract(path, tmp_path / "x", engine.ExtractOptions(keep_going=True))
    assert report.salvaged and sorted(report.written) == ["a", "b"]
    assert (tmp_path / "x" / "b").read_bytes() == b"a"


def test_add_error_names_the_archive(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    bad = tmp_path / "bad.ltz"
    bad.write_bytes(b"not an archive at all, just some text" * 3)
    with pytest.raises(LatentzipError):
        engine.add(bad, [folder])
    assert bad.read_bytes().startswith(b"not an archive") and sorted(os.listdir(tmp_path)) == ["bad.ltz", "f"]


def test_list_details_reads_a_repacked_jpeg_without_decoding_pixels(album, tmp_path, capsys):
    out = tmp_path / "album.ltz"
    engine.compress([album], out, engine.CompressOptions(images="lossless"))
    assert kinds(out)["album/b.jpg"] == EntryKind.JPEG_REPACK
    assert cli.main(["list", "--details", str(out)]) == 0
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "JPEG: EXIF" in lines["album/b.jpg"]


def test_lossless_estimate_counts_jpegs_at_the_repack_ratio():
    assert engine.estimated_lossless_size("a/photo.JPG", 1000) == int(1000 * jpeg_repack.TYPICAL_RATIO)
    assert engine.estimated_lossless_size("a/photo.png", 1000) == 1000
    assert engine.estimated_lossless_size("README", 1000) == 1000
