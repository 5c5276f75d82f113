"""Extraction safety and damaged archives, through the engine (hostile archives have valid checksums)."""

from __future__ import annotations

import os
from pathlib import Path

import hostile
import pytest

from latentzip.codec import engine
from latentzip.codec.api.errors import ArchiveFormatError, ArchiveLimitError, ExistingFileError, UnsafePathError
from latentzip.codec.entries.image import ImagePayload
from latentzip.codec.runtime.image_codec import HEADER

pytestmark = pytest.mark.security


def small_archive(tmp_path: Path) -> Path:
    src = tmp_path / "docs"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}.txt").write_text(f"file number {i}\n" * (50 + i))
    archive = tmp_path / "docs.ltz"
    engine.compress([src], archive)
    return archive


def test_existing_files_are_not_overwritten_without_asking(tmp_path):
    archive = small_archive(tmp_path)
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    (out / "docs" / "f1.txt").write_text("mine")
    with pytest.raises(ExistingFileError):
        engine.extract(archive, out)
    assert (out / "docs" / "f1.txt").read_text() == "mine"
    engine.extract(archive, out, engine.ExtractOptions(overwrite=True))
    assert (out / "docs" / "f1.txt").read_text().startswith("file number 1")


def test_existing_archive_is_not_replaced_without_asking(tmp_path):
    archive = small_archive(tmp_path)
    before = archive.read_bytes()
    with pytest.raises(ExistingFileError):
        engine.compress([tmp_path / "docs"], archive)
    assert archive.read_bytes() == before


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/tmp/evil.txt", "a/../../evil.txt", "C:/evil.txt", "a\\..\\..\\evil.txt"]
)
def test_hostile_names_are_refused_and_nothing_is_written(tmp_path, name):
    archive = tmp_path / "hostile.ltz"
    archive.write_bytes(hostile.build([hostile.stored(name, b"gotcha")]))
    out = tmp_path / "deep" / "out"
    with pytest.raises((UnsafePathError, ArchiveFormatError)):
        engine.extract(archive, out)
    assert not list(tmp_path.rglob("evil.txt"))


def test_symlink_in_the_target_is_never_followed(tmp_path):
    archive = small_archive(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / "docs")
    rep = engine.extract(archive, out, engine.ExtractOptions(keep_going=True))
    assert rep.failed and not list(elsewhere.iterdir())
    # the destination's state, not damage: reported as a file that could not be written
    assert rep.issues and {i.code for i in rep.issues} == {engine.IssueCode.CANNOT_WRITE}


def test_link_pointing_out_is_refused(tmp_path):
    archive = tmp_path / "links.ltz"
    link = hostile.header("x/escape", kind=5, size=0, link="../../outside")
    archive.write_bytes(hostile.build([(hostile.header("x", kind=4), b""), (link, b"")]))
    with pytest.raises((UnsafePathError, ArchiveFormatError)):
        engine.extract(archive, tmp_path / "out")


def test_image_with_a_bomb_size_is_refused_before_allocation(tmp_path):
    bitstream = HEADER.pack(1, 1, 3, 0, 60_000, 60_000) + b"\0" * 16
    payload = ImagePayload(bitstream, b"", b"").to_bytes()
    head = hostile.header(
        "bomb.png",
        kind=3,
        size=10**6,
        width=60_000,
        height=60_000,
        model=engine.default_registry().default_hash(),
        format="PNG",
    )
    archive = tmp_path / "bomb.ltz"
    archive.write_bytes(hostile.build([(head, payload)]))
    with pytest.raises(ArchiveLimitError):
        engine.extract(archive, tmp_path / "out")
    report = engine.test_archive(archive)
    assert not report.ok and report.damaged[0][0] == "bomb.png"


def flip_payload_byte(archive: Path, entry_name: str) -> None:
    records = engine.list_entries(archive)
    i = next(i for i, e in enumerate(records) if e.path == entry_name)
    data = bytearray(archive.read_bytes())
    data[records[i + 1].offset - 5] ^= 0x10  # the entry's last payload byte (its crc follows)
    archive.write_bytes(bytes(data))


def test_damaged_entry_fails_alone_with_keep_going(tmp_path):
    archive = small_archive(tmp_path)
    flip_payload_byte(archive, "docs/f2.txt")
    assert not engine.test_archive(archive).ok
    with pytest.raises(ArchiveFormatError, match="f2.txt"):  # checksum or LZMA error, named
        engine.extract(archive, tmp_path / "out1")
    assert not (tmp_path / "out1" / "docs" / "f2.txt").exists()
    rep = engine.extract(archive, tmp_path / "out2", engine.ExtractOptions(keep_going=True))
    assert [name for name, _ in rep.failed] == ["docs/f2.txt"]
    assert sorted(p.name for p in (tmp_path / "out2" / "docs").iterdir()) == ["f0.txt", "f1.txt", "f3.txt"]


def test_truncated_archive_is_salvaged_with_keep_going(tmp_path):
    archive = small_archive(tmp_path)
    records = engine.list_entries(archive)
    last = records[-1]
    data = archive.read_bytes()
    archive.write_bytes(data[: last.offset + 10])  # index gone, last entry cut
    with pytest.raises(ArchiveFormatError):
        engine.extract(archive, tmp_path / "out1")
    rep = engine.extract(archive, tmp_path / "out2", engine.ExtractOptions(keep_going=True))
    assert rep.salvaged
    restored = sorted(p.name for p in (tmp_path / "out2" / "docs").iterdir())
    assert restored == ["f0.txt", "f1.txt", "f2.txt"]
    assert (tmp_path / "out2" / "docs" / "f0.txt").read_text() == (tmp_path / "docs" / "f0.txt").read_text()


def test_every_flipped_bit_is_caught_by_test(tmp_path):
    archive = small_archive(tmp_path)
    data = archive.read_bytes()
    step = max(1, len(data) // 150)
    for pos in range(0, len(data), step):
        damaged = bytearray(data)
        damaged[pos] ^= 0x04
        archive.write_bytes(bytes(damaged))
        assert not engine.test_archive(archive).ok, f"flip at byte {pos} went unnoticed"
