"""Archive integrity, second pass (issue 15): ``test`` judges as ``extract`` does, no decode bombs,
``--keep-going`` skips and names, links and conflicts under ``--overwrite``. Hostile archives are
written byte by byte with valid checksums (tests/hostile.py)."""

from __future__ import annotations

import errno
import os
import shlex
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import hostile
import numpy as np
import pytest
from PIL import Image

from latentzip.codec import cli, engine
from latentzip.codec.api.errors import (
    ArchiveFormatError,
    ArchiveLimitError,
    ExistingFileError,
    InputError,
    LatentzipError,
    UnsafePathError,
    UnsupportedVersionError,
)
from latentzip.codec.container import ArchiveWriter, EntryKind
from latentzip.codec.entries import image as image_entry
from latentzip.codec.entries.image import MAX_PIXELS_PER_BYTE, ImagePayload, encode_alpha
from latentzip.codec.images import ImageMetadata
from latentzip.codec.ops import extractor, partial_file, resume
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.image_codec import HEADER

pytestmark = pytest.mark.security
ASSETS = Path(__file__).parent / "assets"


def model():
    registry = engine.default_registry()
    return registry.get(registry.default_hash())


def coded_image(size: int = 64) -> tuple[bytes, int, int]:
    """A real image bitstream (and its width, height)."""
    rgb = np.asarray(Image.open(ASSETS / "photo_crop.png").convert("RGB"))[:size, :size]
    return image_codec.encode_image(model(), np.ascontiguousarray(rgb), "B").data, size, size


def image_item(path: str, bitstream: bytes, width: int, height: int, alpha: bytes = b"", **extra) -> tuple[dict, bytes]:
    payload = ImagePayload(bitstream, ImageMetadata("PNG").to_bytes(), alpha).to_bytes()
    keys = dict(
        width=width,
        height=height,
        model=model().content_hash,
        format="PNG",
        alpha=bool(alpha),
        grayscale=False,
        checkpoint="B",
        entropy="range",
    )
    keys.update(extra)
    return hostile.header(path, kind=3, size=10**6, **keys), payload


def write(tmp_path: Path, items, **kw) -> Path:
    archive = tmp_path / "a.ltz"
    archive.write_bytes(hostile.build(items, **kw))
    return archive


def test_damage(archive: Path) -> list[str]:
    report = engine.test_archive(archive)
    assert not report.ok
    return [name for name, _ in report.damaged]


test_damage.__test__ = False  # a helper, not a test


def refused_by_both(archive: Path, tmp_path: Path, name: str, why: str) -> None:
    """``test`` names the entry and says ``why``; ``extract`` refuses the archive and writes nothing."""
    report = engine.test_archive(archive)
    assert not report.ok and any(name == n and why in reason for n, reason in report.damaged), report.damaged
    out = tmp_path / "out"
    with pytest.raises(ArchiveFormatError, match=f"{name}.*{why}"):
        engine.extract(archive, out)
    assert not out.exists() or not any(out.rglob("*"))


# 1. `test` checks what `extract` checks


def test_unaccounted_bytes_between_entries_fail_test_and_extract(tmp_path):
    items = [hostile.stored("one.txt", b"one"), hostile.stored("two.txt", b"two")]
    archive = write(tmp_path, items, gaps={1: b"hidden bytes"})
    refused_by_both(archive, tmp_path, "two.txt", "unaccounted bytes")


def test_index_that_drops_an_entry_fails_test_and_extract(tmp_path):
    items = [hostile.stored("one.txt", b"one"), hostile.stored("secret.txt", b"s"), hostile.stored("three.txt", b"3")]
    archive = write(tmp_path, items, edit_index=lambda objs: [objs[0], objs[2]])
    refused_by_both(archive, tmp_path, "three.txt", "unaccounted bytes")
    rep = engine.extract(archive, tmp_path / "kept", engine.ExtractOptions(keep_going=True))
    assert sorted(rep.written) == ["one.txt", "secret.txt", "three.txt"] and rep.salvaged


def test_decoded_size_differing_from_the_header_fails_test_and_extract(tmp_path):
    bitstream, w, h = coded_image()
    archive = write(tmp_path, [image_item("wrong.png", bitstream, w + 1, h)])
    refused_by_both(archive, tmp_path, "wrong.png", "image size differs")


def test_alpha_plane_not_matching_the_image_fails_test_and_extract(tmp_path):
    bitstream, w, h = coded_image()
    alpha = encode_alpha(np.zeros((h // 2, w), dtype=np.uint8))
    archive = write(tmp_path, [image_item("cutout.png", bitstream, w, h, alpha)])
    refused_by_both(archive, tmp_path, "cutout.png", "alpha plane does not match")


def test_unknown_format_key_fails_test_and_extract_and_is_skipped_with_keep_going(tmp_path):
    bitstream, w, h = coded_image()
    items = [
        hostile.stored("a.txt", b"a"),
        image_item("odd.img", bitstream, w, h, format="XCF"),
        hostile.stored("z.txt", b"z"),
    ]
    archive = write(tmp_path, items)
    refused_by_both(archive, tmp_path, "odd.img", "format 'XCF' cannot be written")
    rep = engine.extract(archive, tmp_path / "kg", engine.ExtractOptions(keep_going=True))
    assert sorted(rep.written) == ["a.txt", "z.txt"] and [n for n, _ in rep.failed] == ["odd.img"]


def test_damaged_folder_entry_is_judged_alike_by_test_and_extract(tmp_path):
    items = [(hostile.header("d", kind=4), b""), hostile.stored("d/f.txt", b"data")]
    data = bytearray(hostile.build(items))
    at = data.index(b'"mtime_ns":0')
    data[at + len('"mtime_ns":')] = ord("5")  # the folder's own header, on disk only: crc and index disagree
    archive = tmp_path / "a.ltz"
    archive.write_bytes(bytes(data))
    assert "d" in test_damage(archive)
    with pytest.raises(ArchiveFormatError):
        engine.extract(archive, tmp_path / "out")
    rep = engine.extract(archive, tmp_path / "kg", engine.ExtractOptions(keep_going=True))
    assert [n for n, _ in rep.failed] == ["d"] and rep.written == ["d/f.txt"]


def test_test_decodes_every_coded_image_to_pixels(tmp_path, monkeypatch):
    bitstream, w, h = coded_image()
    archive = write(tmp_path, [image_item("ok.png", bitstream, w, h)])
    calls = []
    real = image_codec.synthesis
    monkeypatch.setattr(image_codec, "synthesis", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert engine.test_archive(archive).ok
    assert calls, "test did not run the synthesis transform"


# 2. Decode bombs


def bomb(tmp_path: Path) -> Path:
    """796 bytes declaring a 20000x20000 coded image whose range-coded stream is empty."""
    bitstream = HEADER.pack(1, 1, 2, 0, 20_000, 20_000) + struct.pack("<II", 0, 0)
    return write(tmp_path, [image_item("bomb.png", bitstream, 20_000, 20_000)])


def test_decode_bomb_is_refused_at_once_with_little_memory(tmp_path):
    archive = bomb(tmp_path)
    assert archive.stat().st_size < 1000
    tracemalloc.start()
    start = time.monotonic()
    try:
        assert test_damage(archive) == ["bomb.png"]
        with pytest.raises(ArchiveLimitError, match="pixels per byte"):
            engine.extract(archive, tmp_path / "out")
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0 and peak < 100 << 20
    assert not (tmp_path / "out" / "bomb.png").exists()


def test_reading_past_the_end_of_a_range_coded_stream_is_an_error():
    empty = HEADER.pack(1, 1, 2, 0, 256, 256) + struct.pack("<II", 0, 0)
    with pytest.raises(ArchiveFormatError, match="past the end"):
        image_codec.decode_latents(model(), empty)
    bitstream, _, _ = coded_image(128)
    n_words, n_esc = struct.unpack_from("<II", bitstream, HEADER.size)
    words = bitstream[HEADER.size + 8 : HEADER.size + 8 + n_words]
    cut = (
        HEADER.pack(*HEADER.unpack_from(bitstream))
        + struct.pack("<II", n_words // 8 * 4, n_esc)
        + words[: n_words // 8 * 4]
        + bitstream[HEADER.size + 8 + n_words :]
    )
    with pytest.raises(ArchiveFormatError):
        image_codec.decode_latents(model(), cut)


def test_writer_stores_an_image_over_the_pixels_per_byte_limit_losslessly(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (256, 256), (90, 120, 150)).save(src / "flat.png")
    opts = engine.CompressOptions(checkpoint="A", quality_floor=0.0)
    engine.compress([src], tmp_path / "coded.ltz", opts)
    coded = {r.path: r for r in engine.list_entries(tmp_path / "coded.ltz")}["in/flat.png"]
    assert coded.kind == EntryKind.IMAGE and 256 * 256 <= MAX_PIXELS_PER_BYTE * coded.payload_len
    limit = 256 * 256 // coded.payload_len - 1  # just under what this image codes to
    monkeypatch.setattr(image_entry, "MAX_PIXELS_PER_BYTE", limit)
    engine.compress([src], tmp_path / "stored.ltz", opts)
    stored = {r.path: r for r in engine.list_entries(tmp_path / "stored.ltz")}["in/flat.png"]
    assert stored.kind in (EntryKind.STORED, EntryKind.LZMA) and "pixels per byte" in stored.extra["note"]
    engine.extract(tmp_path / "stored.ltz", tmp_path / "out")
    assert (tmp_path / "out" / "in" / "flat.png").read_bytes() == (src / "flat.png").read_bytes()


def test_a_jpeg_over_the_pixels_per_byte_limit_is_kept_as_its_repack(tmp_path, monkeypatch):
    """The limit's fallback is the shared one: a JPEG is re-packed (never stored raw), and counted."""
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (256, 256), (90, 120, 150)).save(src / "flat.jpg", quality=95)
    monkeypatch.setattr(image_entry, "MAX_PIXELS_PER_BYTE", 1)  # every coding is over it
    report = engine.compress([src], tmp_path / "a.ltz", engine.CompressOptions(checkpoint="A", quality_floor=0.0))
    record = {r.path: r for r in engine.list_entries(tmp_path / "a.ltz")}["in/flat.jpg"]
    assert record.kind == EntryKind.JPEG_REPACK and record.extra["fallback"] == "limit"
    assert report.floors["A"].stored_limit == 1
    engine.extract(tmp_path / "a.ltz", tmp_path / "out")
    assert (tmp_path / "out" / "in" / "flat.jpg").read_bytes() == (src / "flat.jpg").read_bytes()


@pytest.mark.slow
def test_20_megapixel_solid_colour_image_is_written_and_extracted(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (5472, 3648), (200, 30, 30)).save(src / "red.png")
    engine.compress([src], tmp_path / "red.ltz", engine.CompressOptions(checkpoint="A"))
    (record,) = [r for r in engine.list_entries(tmp_path / "red.ltz") if r.path == "in/red.png"]
    assert record.kind != EntryKind.IMAGE or 5472 * 3648 <= MAX_PIXELS_PER_BYTE * record.payload_len
    assert engine.test_archive(tmp_path / "red.ltz").ok
    engine.extract(tmp_path / "red.ltz", tmp_path / "out")
    with Image.open(tmp_path / "out" / "in" / "red.png") as im:
        assert im.size == (5472, 3648)


# 3. --keep-going keeps its promise


@pytest.mark.parametrize(
    "bad",
    [
        hostile.stored("../evil.txt", b"gotcha"),
        hostile.stored("/tmp/evil.txt", b"gotcha"),
        hostile.stored("C:/evil.txt", b"gotcha"),
        (hostile.header("escape", kind=5, link="../../evil.txt"), b""),
    ],
    ids=["dotdot", "absolute", "drive", "link-out"],
)
def test_keep_going_skips_and_names_unsafe_entries(tmp_path, bad, capsys):
    archive = write(
        tmp_path, [hostile.stored("good.txt", b"good"), bad, hostile.stored("later.txt", b"later")], version=2
    )
    out = tmp_path / "deep" / "out"
    with pytest.raises((UnsafePathError, ArchiveFormatError)):
        engine.extract(archive, out)
    assert not out.exists()
    rep = engine.extract(archive, out, engine.ExtractOptions(keep_going=True))
    assert sorted(rep.written) == ["good.txt", "later.txt"]
    assert [name for name, _ in rep.failed] == [bad[0]["path"]]
    assert not list(tmp_path.rglob("evil.txt"))
    assert cli.main(["extract", str(archive), "-o", str(tmp_path / "cli"), "--keep-going"]) == 2
    assert bad[0]["path"] in capsys.readouterr().err


def test_very_deep_path_is_refused_cleanly_and_keep_going_extracts_the_rest(tmp_path):
    deep = "/".join(["d"] * 2039 + ["f.txt"])
    assert len(deep.encode()) <= 4096
    archive = write(
        tmp_path, [hostile.stored("a.txt", b"a"), hostile.stored(deep, b"x"), hostile.stored("z.txt", b"z")]
    )
    with pytest.raises(UnsafePathError, match="deep"):
        engine.extract(archive, tmp_path / "out")
    rep = engine.extract(archive, tmp_path / "kg", engine.ExtractOptions(keep_going=True))
    assert sorted(rep.written) == ["a.txt", "z.txt"] and len(rep.failed) == 1
    assert not engine.test_archive(archive).ok


def small_archive(tmp_path: Path) -> Path:
    src = tmp_path / "docs"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}.txt").write_text(f"file number {i}\n" * (50 + i))
    archive = tmp_path / "docs.ltz"
    engine.compress([src], archive)
    return archive


def test_salvage_names_every_entry_it_lost(tmp_path, capsys):
    archive = small_archive(tmp_path)
    last = engine.list_entries(archive)[-1]
    index_offset = int.from_bytes(archive.read_bytes()[-24:-16], "little")
    archive.write_bytes(archive.read_bytes()[: index_offset - 10])  # index gone, last entry's payload cut
    rep = engine.extract(archive, tmp_path / "out", engine.ExtractOptions(keep_going=True))
    assert rep.salvaged and [name for name, _ in rep.failed] == [last.path]
    assert cli.main(["extract", str(archive), "-o", str(tmp_path / "cli"), "--keep-going"]) == 2
    assert last.path in capsys.readouterr().err


def test_salvage_names_by_the_index_what_the_scan_cannot_name(tmp_path):
    items = [hostile.stored("one.txt", b"one"), hostile.stored("two.txt", b"two"), hostile.stored("three.txt", b"3")]
    data = bytearray(hostile.build(items, gaps={1: b"junk"}))  # the gap sends extract to salvage
    two = data.index(b'{"kind":1,"mode":420,"mtime_ns":0,"path":"two.txt"')
    data[two] = ord("x")  # two's header no longer parses: the scan cannot tell its name
    archive = tmp_path / "a.ltz"
    archive.write_bytes(bytes(data))
    rep = engine.extract(archive, tmp_path / "out", engine.ExtractOptions(keep_going=True))
    assert rep.salvaged and sorted(rep.written) == ["one.txt", "three.txt"]
    lost = [name for name, _ in rep.failed]
    assert "two.txt" in lost and not {"one.txt", "three.txt"} & set(lost)  # (and the junk, by its offset)


def test_newer_format_version_says_so_even_with_keep_going(tmp_path, capsys):
    archive = write(tmp_path, [hostile.stored("a.txt", b"a")], version=7)
    with pytest.raises(UnsupportedVersionError, match="written by a newer Latentzip, format version 7"):
        engine.extract(archive, tmp_path / "out", engine.ExtractOptions(keep_going=True))
    assert cli.main(["extract", str(archive), "-o", str(tmp_path / "cli"), "--keep-going"]) == 1
    assert "format version 7" in capsys.readouterr().err


def test_exit_code_is_1_when_nothing_at_all_could_be_written(tmp_path, capsys):
    bitstream, w, h = coded_image()
    archive = write(
        tmp_path,
        [image_item("x.img", bitstream, w, h, format="XCF"), image_item("y.img", bitstream, w, h, format="XCF")],
    )
    assert cli.main(["extract", str(archive), "-o", str(tmp_path / "out"), "--keep-going"]) == 1
    assert "nothing could be extracted" in capsys.readouterr().err


# 4. Links and overwrite


def test_overwrite_replaces_links_the_archive_holds(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("notes")
    os.symlink("notes.txt", src / "link")
    archive = tmp_path / "l.ltz"
    engine.compress([src], archive)
    out = tmp_path / "out"
    engine.extract(archive, out)
    rep = engine.extract(archive, out, engine.ExtractOptions(overwrite=True))
    assert sorted(rep.written) == ["src", "src/link", "src/notes.txt"]
    assert os.readlink(out / "src" / "link") == "notes.txt"


def test_overwrite_replaces_a_link_with_a_file_without_writing_through_it(tmp_path):
    archive = small_archive(tmp_path)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("mine")
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    os.symlink(elsewhere, out / "docs" / "f1.txt")
    engine.extract(archive, out, engine.ExtractOptions(overwrite=True))
    assert not (out / "docs" / "f1.txt").is_symlink()
    assert (out / "docs" / "f1.txt").read_text().startswith("file number 1")
    assert elsewhere.read_text() == "mine"


def test_conflict_refuses_before_writing_anything(tmp_path):
    archive = small_archive(tmp_path)
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    (out / "docs" / "f3.txt").write_text("mine")
    with pytest.raises(ExistingFileError, match="f3.txt"):
        engine.extract(archive, out)
    assert sorted(p.name for p in (out / "docs").iterdir()) == ["f3.txt"]
    assert (out / "docs" / "f3.txt").read_text() == "mine"


# 5. Errors that help


class FullDisk:
    """A file whose writes fail with ENOSPC once ``room`` bytes are written (a full-disk simulation)."""

    def __init__(self, raw, room: int) -> None:
        self._raw, self._room = raw, room

    def write(self, data) -> int:
        n = len(memoryview(data).cast("B"))
        if n > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= n
        return self._raw.write(data)

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._raw.close()


def fill_disk_after(monkeypatch, room: int) -> None:
    """Every archive written from now on meets a full disk after ``room`` bytes."""
    real_init = ArchiveWriter.__init__
    monkeypatch.setattr(
        ArchiveWriter, "__init__", lambda self, fileobj, **kw: real_init(self, FullDisk(fileobj, room), **kw)
    )


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".partial")]


def test_full_disk_while_compressing_says_so_and_writes_nothing(tmp_path, monkeypatch):
    src = tmp_path / "docs"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.bin").write_bytes(os.urandom(5000))
    fill_disk_after(monkeypatch, 6000)
    output = tmp_path / "docs.ltz"
    with pytest.raises(LatentzipError) as info:
        engine.compress([src], output)
    message = str(info.value)
    assert "the disk is full; no archive was written" in message and str(output) in message
    assert "cannot read" not in message and ".partial" not in message
    assert not output.exists() and not partials(tmp_path)


def test_full_disk_while_adding_leaves_the_archive_as_it_was(tmp_path, monkeypatch):
    archive = small_archive(tmp_path)
    before = archive.read_bytes()
    more = tmp_path / "more"
    more.mkdir()
    (more / "big.bin").write_bytes(os.urandom(20_000))
    fill_disk_after(monkeypatch, len(before) + 1000)
    with pytest.raises(LatentzipError, match="the disk is full; the archive was left as it was") as info:
        engine.add(archive, [more])
    assert "cannot read" not in str(info.value) and str(archive) in str(info.value)
    assert archive.read_bytes() == before and not partials(tmp_path)


def test_full_disk_while_extracting_names_the_file_being_written(tmp_path, monkeypatch):
    archive = small_archive(tmp_path)

    def full_open(path, mode="r", *args, **kw):
        fh = open(path, mode, *args, **kw)
        return FullDisk(fh, 100) if str(path).endswith(".partial") else fh

    monkeypatch.setattr(extractor, "open", full_open, raising=False)
    with pytest.raises(LatentzipError, match="disk is full") as info:
        engine.extract(archive, tmp_path / "out")
    assert str(tmp_path / "out" / "docs" / "f0.txt") in str(info.value)
    assert not partials(tmp_path / "out")


def test_unwritable_folder_names_the_archive_asked_for(tmp_path, monkeypatch):
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.txt").write_text("a")
    real_open = open

    def refusing_open(path, mode="r", *args, **kw):
        if str(path).endswith(".partial"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, mode, *args, **kw)

    monkeypatch.setattr(partial_file, "open", refusing_open, raising=False)
    output = tmp_path / "docs.ltz"
    with pytest.raises(LatentzipError) as info:
        engine.compress([src], output)
    message = str(info.value)
    assert str(output) in message and ".partial" not in message and "Choose a folder" in message


def test_extract_into_an_existing_file_says_the_destination_is_a_file(tmp_path, capsys):
    archive = small_archive(tmp_path)
    target = tmp_path / "taken"
    target.write_text("mine")
    with pytest.raises(ExistingFileError, match="the destination is a file"):
        engine.extract(archive, target)
    assert cli.main(["extract", str(archive), "-o", str(target)]) == 1
    assert "the destination is a file" in capsys.readouterr().err and target.read_text() == "mine"


def test_patterns_may_follow_the_options(tmp_path):
    archive = small_archive(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["extract", str(archive), "-o", str(out), "docs/f1*", "--overwrite", "docs/f3*"]) == 0
    assert sorted(p.name for p in (out / "docs").iterdir()) == ["f1.txt", "f3.txt"]


def readme_examples() -> list[list[str]]:
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("Examples (run by tests/test_integrity.py):\n\n```\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("latentzip ")]


def test_readme_cli_examples_run(tmp_path, monkeypatch):
    examples = readme_examples()
    assert len(examples) >= 5
    monkeypatch.chdir(tmp_path)
    for folder in ("PHOTOS", "MORE"):
        Path(folder).mkdir()
        Image.open(ASSETS / "photo_crop.png").save(f"{folder}/scene.png")
        (Path(folder) / "notes.txt").write_text(f"{folder} notes\n" * 40)
    for argv in examples:
        assert cli.main(argv) == 0, argv


# 6. Left behind and reproducible

KILLER = """
import os, signal, sys
from pathlib import Path
from latentzip.codec import engine

class KillMidway:
    def progress(self, event):
        if event.operation == "compress" and event.files_done >= 4:
            os.kill(os.getpid(), signal.SIGKILL)

    def warning(self, name, message):
        pass

options = engine.CompressOptions(images="lossless")
engine.compress([Path(sys.argv[1])], Path(sys.argv[2]), options, KillMidway())
"""


def test_killed_compression_is_named_and_resumed_to_the_same_archive(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(1)
    for i in range(8):
        (src / f"f{i}.bin").write_bytes(rng.bytes(60_000))
    (src / "notes.txt").write_text("notes\n" * 3000)
    output = tmp_path / "photos.ltz"
    done = subprocess.run([sys.executable, "-c", KILLER, str(src), str(output)], timeout=120)
    assert done.returncode == -signal.SIGKILL and not output.exists()
    (stale,) = partials(tmp_path)
    kept = resume.good_prefix(stale).records
    assert 0 < len(kept) < 10  # some finished entries, not all

    uninterrupted = engine.compress([src], output, engine.CompressOptions(images="lossless"))
    assert any(str(stale) in note and "--resume" in note for _, note in uninterrupted.warnings)
    assert stale.exists()  # named, not deleted
    expected = output.read_bytes()
    output.unlink()

    report = engine.compress([src], output, engine.CompressOptions(images="lossless", resume=True))
    assert output.read_bytes() == expected
    assert not stale.exists() and len(report.outcomes) == 10 and not report.failed
    assert engine.test_archive(output).ok


def test_resume_without_a_partial_archive_says_there_is_nothing_to_resume(tmp_path):
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.txt").write_text("a")
    with pytest.raises(InputError, match="nothing to resume"):
        engine.compress([src], tmp_path / "docs.ltz", engine.CompressOptions(resume=True))


# --- review fixes: the LZMA-mode limit, exclusive temporary files, resume that checks its inputs -----------


def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1


def _lossless_folder(tmp_path: Path) -> Path:
    src = tmp_path / "docs"
    src.mkdir()
    rng = np.random.default_rng(2)
    for i in range(4):
        (src / f"f{i}.bin").write_bytes(rng.bytes(30_000))
    return src


def test_an_empty_partial_archive_resumes_as_a_fresh_start(tmp_path):
    src = _lossless_folder(tmp_path)
    output = tmp_path / "docs.ltz"
    engine.compress([src], output, engine.CompressOptions(images="lossless"))
    expected = output.read_bytes()
    output.unlink()
    stale = tmp_path / f".docs.ltz.{_dead_pid()}.partial"
    stale.write_bytes(b"")  # killed before the file header reached the disk
    engine.compress([src], output, engine.CompressOptions(images="lossless", resume=True))
    assert output.read_bytes() == expected and not stale.exists()


def test_resume_refuses_when_a_kept_input_changed(tmp_path):
    src = _lossless_folder(tmp_path)
    output = tmp_path / "docs.ltz"
    engine.compress([src], output, engine.CompressOptions(images="lossless"))
    records = sorted(engine.list_entries(output), key=lambda r: r.offset)
    cut = records[2].offset + records[2].payload_len + 200  # past the third entry, inside the fourth
    stale = tmp_path / f".docs.ltz.{_dead_pid()}.partial"
    stale.write_bytes(output.read_bytes()[:cut])
    output.unlink()
    kept = resume.good_prefix(stale).records
    assert kept
    changed = src / kept[-1].path.split("/", 1)[1]
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    with pytest.raises(InputError, match="cannot resume: the file changed"):
        engine.compress([src], output, engine.CompressOptions(images="lossless", resume=True))
    assert stale.exists() and not output.exists()  # nothing lost, nothing half-written


def test_extraction_never_writes_through_a_link_at_its_temporary_name(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("the user's file")
    (out / f".b.txt.{os.getpid()}.partial").symlink_to(out / "a.txt")  # planted by a hostile link entry
    with pytest.raises(LatentzipError):
        extractor._write_atomically(out / "b.txt", [b"archive data"], overwrite=False)
    assert (out / "a.txt").read_text() == "the user's file"


def test_lzma_coded_entries_have_their_own_pixels_per_byte_limit():
    from latentzip.codec.container import EntryRecord
    from latentzip.codec.entries.image import MAX_PIXELS_PER_BYTE_LZMA
    from latentzip.codec.ops.entry_check import check_entry_header

    def record(entropy: str) -> EntryRecord:
        extra = {"width": 2048, "height": 2048, "format": "PNG", "entropy": entropy}
        return EntryRecord("flat.png", EntryKind.IMAGE, 1, 0, 0o644, None, 0, 2048 * 2048 // 2000, 0, extra)

    assert MAX_PIXELS_PER_BYTE < 2000 < MAX_PIXELS_PER_BYTE_LZMA
    check_entry_header(record("lzma"))  # a large flat frame in LZMA mode, as earlier writers made them
    with pytest.raises(ArchiveLimitError):
        check_entry_header(record("range"))


def test_a_killed_add_is_never_offered_for_compress_resume(tmp_path, monkeypatch):
    src = _lossless_folder(tmp_path)
    output = tmp_path / "docs.ltz"
    engine.compress([src], output, engine.CompressOptions(images="lossless"))
    tags: list[str] = []
    real_writing = partial_file.writing

    def recording(final, left, tag=""):
        tags.append(tag)
        return real_writing(final, left, tag)

    monkeypatch.setattr(partial_file, "writing", recording)
    (src / "new.txt").write_text("new")
    engine.add(output, [src])
    assert tags == [partial_file.ADD_TAG]
    left_by_add = partial_file.partial_path(output, _dead_pid(), partial_file.ADD_TAG)
    left_by_add.write_bytes(output.read_bytes())  # what a killed add leaves: a copy of the whole archive
    assert engine.stale_partials(output) == []
