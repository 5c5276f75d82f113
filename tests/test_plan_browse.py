"""The engine's per-file plan, typed extraction failures, one entry's bytes, and the salvage listing."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest
from gui_support import make_folder, make_png
from PIL import Image

from latentzip.codec import engine
from latentzip.codec.api.errors import ArchiveFormatError, InputError, OutputWriteError
from latentzip.codec.container import EntryKind
from latentzip.codec.engine import PlanAction
from latentzip.codec.estimate import planner
from latentzip.codec.ops import extractor


def _jpeg(path: Path) -> Path:
    buf = io.BytesIO()
    Image.open(make_png(path.with_suffix(".tmp.png"), 80, 60, seed=3)).save(buf, "JPEG", quality=90)
    path.with_suffix(".tmp.png").unlink()
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def mixed(tmp_path) -> Path:
    folder = make_folder(tmp_path, "mixed", images=2)
    (folder / "copy.png").write_bytes((folder / "img0.png").read_bytes())
    _jpeg(folder / "photo.jpg")
    Image.new("P", (40, 30)).save(folder / "palette.png")  # the probe stores palette images exactly
    (folder / "random.bin").write_bytes(os.urandom(5000))  # LZMA would not pay
    return folder


def test_plan_follows_the_compressors_rules(mixed):
    rows = {r.name: r for r in engine.plan_inputs([mixed], engine.CompressOptions(checkpoint="A"))}
    assert rows["mixed"].action is PlanAction.FOLDER and rows["mixed/sub"].action is PlanAction.FOLDER
    coded = {n for n, r in rows.items() if r.action is PlanAction.CODE}
    assert coded == {"mixed/copy.png", "mixed/sub/img1.png", "mixed/photo.jpg"}
    assert all(rows[n].checkpoint == "A" and rows[n].estimated is None for n in coded)
    assert rows["mixed/img0.png"].action is PlanAction.DUPLICATE  # same bytes as copy.png, met first
    assert rows["mixed/palette.png"].action in (PlanAction.STORE, PlanAction.LZMA)
    assert "palette" in rows["mixed/palette.png"].reason
    assert rows["mixed/notes.txt"].action is PlanAction.LZMA
    assert 0 < rows["mixed/notes.txt"].estimated < rows["mixed/notes.txt"].size
    assert rows["mixed/random.bin"].action is PlanAction.STORE and rows["mixed/random.bin"].estimated == 5000
    # what compress then does agrees, file by file
    report = engine.compress([mixed], mixed.parent / "m.ltz", engine.CompressOptions(checkpoint="A"))
    kinds = {o.name: o.kind for o in report.outcomes}
    expected = {
        PlanAction.FOLDER: "directory",
        PlanAction.DUPLICATE: "duplicate",
        PlanAction.STORE: "stored",
        PlanAction.LZMA: "lzma",
    }
    for name, row in rows.items():
        if row.action is PlanAction.CODE:
            # kept exactly when coding would not pay or misses the floor (a JPEG as its lossless re-pack)
            assert kinds[name] in ("lossy", "stored", "lzma", "lossless-jpeg")
        else:
            assert kinds[name] == expected[row.action], name


def test_plan_in_lossless_mode_repacks_jpegs(mixed):
    rows = {r.name: r for r in engine.plan_inputs([mixed], engine.CompressOptions(images="lossless"))}
    assert rows["mixed/photo.jpg"].action is PlanAction.REPACK
    assert rows["mixed/photo.jpg"].estimated < rows["mixed/photo.jpg"].size
    assert not any(r.action is PlanAction.CODE for r in rows.values())


def test_plan_with_a_target_leaves_the_checkpoint_to_it(mixed):
    rows = engine.plan_inputs([mixed], engine.CompressOptions(target_size=10_000))
    coded = [r for r in rows if r.action is PlanAction.CODE]
    assert coded and all(r.checkpoint is None for r in coded)


def test_store_or_code_rule_is_the_engines():
    assert planner.stored_instead(900, 0.96, 1000, 0.97)  # under the floor
    assert planner.stored_instead(1000, 0.99, 1000, 0.97)  # not smaller
    assert not planner.stored_instead(999, 0.97, 1000, 0.97)
    item = planner.image_options(
        "x", {"A": planner.CheckpointEstimate(500, 0.94), "B": planner.CheckpointEstimate(600, 0.98)}, 1000, 1000, 0, 0
    )
    assert [o.choice for o in item.options] == ["B", planner.EXACT]


def test_counts_files_and_folders_the_same_way():
    assert engine.count_files_and_folders([True, False, False, True, False]) == (3, 2)


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    folder = make_folder(tmp_path / "src", "trip", images=2)
    out = tmp_path / "trip.ltz"
    engine.compress([folder], out, engine.CompressOptions(checkpoint="A"))
    return folder, out


def test_a_refusing_destination_is_not_damage(archive, tmp_path, monkeypatch):
    _, out = archive
    target = tmp_path / "readonly"
    real_replace = os.replace

    def read_only(src, dst, *args, **kwargs):
        if str(dst).startswith(str(target)):
            raise OSError(errno.EROFS, "Read-only file system", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(extractor.os, "replace", read_only)
    report = engine.extract(out, target, engine.ExtractOptions(keep_going=True))
    files = {r.path for r in engine.list_entries(out) if r.kind != EntryKind.DIRECTORY}
    assert {p for p, _ in report.unwritten} == files and report.damaged == []
    assert all(i.code is engine.IssueCode.CANNOT_WRITE for i in report.issues)
    assert not any(p.name.endswith(".partial") for p in target.rglob("*"))  # nothing half-written left
    with pytest.raises(OutputWriteError):
        engine.extract(out, target, engine.ExtractOptions())  # without keep_going: the typed error


def test_a_damaged_entry_is_damage(archive, tmp_path):
    _, out = archive
    rec = next(r for r in engine.list_entries(out) if r.path == "trip/notes.txt")
    data = bytearray(out.read_bytes())
    data[rec.offset + rec.payload_len // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    report = engine.extract(out, tmp_path / "x", engine.ExtractOptions(keep_going=True))
    assert [p for p, _ in report.damaged] == ["trip/notes.txt"] and report.unwritten == []


def test_entry_bytes_match_what_extract_writes(archive, tmp_path):
    folder, out = archive
    engine.extract(out, tmp_path / "x")
    for rec in engine.list_entries(out):
        if rec.kind == EntryKind.DIRECTORY:
            continue
        data = engine.entry_bytes(out, rec.path)
        if rec.kind == EntryKind.IMAGE:  # decoded as PNG: the same pixels as the extracted file
            assert Image.open(io.BytesIO(data)).tobytes() == Image.open(tmp_path / "x" / rec.path).tobytes()
        else:
            assert data == (tmp_path / "x" / rec.path).read_bytes()
    with pytest.raises(InputError):
        engine.entry_bytes(out, "trip/nothing.png")


def test_salvage_listing_of_an_archive_without_its_index(archive, tmp_path):
    _, out = archive
    records = engine.list_entries(out)
    last = max(records, key=lambda r: r.offset)
    cut = tmp_path / "cut.ltz"
    cut.write_bytes(out.read_bytes()[: last.offset + last.payload_len // 2])  # the index and half an entry gone
    with pytest.raises(ArchiveFormatError):
        engine.list_entries(cut)
    listing = engine.salvage_listing(cut)
    assert {r.path for r in listing.recovered} == {r.path for r in records} - {last.path}
    assert listing.lost
