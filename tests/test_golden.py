"""Golden archives written by an earlier build: they must keep decoding, identically.

If this fails, the archive format or the bitstream changed: bump the format
version and keep the old reader, do not regenerate the golden files.

``tests/golden/<model set id>/`` (tests/golden/make_released_golden.py) holds the archives of a
released model set, one per format version and entropy mode, every entry kind included: they are
never regenerated; a new format version or model set adds a folder. The older pair
``golden-{range,lzma}.ltz`` (tests/golden/make_golden.py) is kept as it is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import engine, metrics
from latentzip.codec.container import ArchiveReader, EntryKind
from latentzip.codec.container.format import FIRST_VERSION, FORMAT_VERSION
from latentzip.codec.entries.image import ImagePayload
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.image_codec import decode_symbols
from latentzip.codec.runtime.model_set import models_root

GOLDEN = Path(__file__).parent / "golden"
EXPECTED = json.loads((GOLDEN / "golden.json").read_text())


@pytest.mark.parametrize("entropy", ["range", "lzma"])
def test_golden_archive_decodes_identically(entropy, tmp_path):
    archive = GOLDEN / f"golden-{entropy}.ltz"
    assert engine.test_archive(archive).ok
    registry = engine.default_registry()
    with ArchiveReader.open(archive) as reader:
        entries = list(reader.entries)
        assert [(e.path, int(e.kind), e.size) for e in entries] == [
            (x["path"], x["kind"], x["size"]) for x in EXPECTED[entropy]
        ]
        for entry, expected in zip(entries, EXPECTED[entropy], strict=False):
            if entry.kind == EntryKind.IMAGE:
                image = ImagePayload.from_bytes(reader.read_payload(entry))
                z_q, symbols, *_ = decode_symbols(registry.get(entry.extra["model"]), image.bitstream)
                digest = hashlib.sha256(z_q.astype("<i8").tobytes() + symbols.astype("<i8").tobytes()).hexdigest()
                assert digest == expected["latents_sha256"]
    out = tmp_path / "out"
    engine.extract(archive, out)
    for expected in EXPECTED[entropy]:
        path = out / expected["path"]
        if expected["kind"] in (1, 2):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == expected["sha256"]
        elif expected["kind"] == 3:
            a = np.asarray(Image.open(GOLDEN / "crop.png").convert("RGB"))
            b = np.asarray(Image.open(path).convert("RGB"))
            assert a.shape == b.shape
            assert metrics.ms_ssim(a, b) >= expected["ms_ssim"] - 0.01
        elif expected["kind"] == 5:
            assert path.is_symlink()


# --- the golden archives of released model sets: never regenerated ---------------------------------

RELEASED = {
    folder.name: json.loads((folder / "expected.json").read_text())
    for folder in sorted(GOLDEN.iterdir())
    if (folder / "expected.json").is_file()
}
CASES = [(set_id, name) for set_id, expected in RELEASED.items() for name in expected["archives"]]
# Float synthesis (and the int8 decoder) may round differently on another CPU; the integer latents
# may not differ at all. A decoder change beyond rounding moves pixels far more than this.
MAX_PIXEL_DIFF = 6
MAX_MEAN_PIXEL_DIFF = 0.25


def _latents_sha256(payload: bytes, registry: engine.ModelRegistry, model_hash: str) -> str:
    z_q, symbols, *_ = decode_symbols(registry.get(model_hash), ImagePayload.from_bytes(payload).bitstream)
    return hashlib.sha256(z_q.astype("<i8").tobytes() + symbols.astype("<i8").tobytes()).hexdigest()


def _released_sets() -> set[str]:
    return {
        folder.name
        for folder in models_root().iterdir()
        if (folder / "manifest.json").is_file()
        and json.loads((folder / "manifest.json").read_text()).get("released") is True
    }


def test_every_released_model_set_has_golden_archives():
    assert CASES, "no golden archives of a released model set"
    assert _released_sets() <= set(RELEASED)
    for set_id, expected in RELEASED.items():
        manifest = json.loads((models_root() / set_id / "manifest.json").read_text())
        assert manifest["released"] is True and manifest["content_hash"] == expected["content_hash"]


@pytest.mark.parametrize("set_id", sorted(RELEASED))
def test_golden_archives_hold_every_entry_kind_of_every_version(set_id):
    archives = RELEASED[set_id]["archives"].values()
    for version in range(1, FORMAT_VERSION + 1):
        allowed = {int(k) for k in EntryKind if FIRST_VERSION.get(k, 1) <= version}
        held = {e["kind"] for a in archives if a["format_version"] == version for e in a["entries"]}
        assert held == allowed, f"version {version}"
    for entropy in ("range", "lzma"):
        assert any(a["entropy"] == entropy and a["images"] == "lossy" for a in archives)


@pytest.mark.parametrize("set_id, name", CASES)
def test_released_golden_archive_decodes(set_id, name, tmp_path):
    folder = GOLDEN / set_id
    expected = RELEASED[set_id]["archives"][name]
    archive = folder / f"{name}.ltz"
    assert archive.read_bytes()[6:8] == expected["format_version"].to_bytes(2, "little")
    assert engine.test_archive(archive).ok
    registry = engine.default_registry()
    with ArchiveReader.open(archive) as reader:
        entries = list(reader.entries)
        assert [(e.path, int(e.kind), e.size, e.mtime_ns) for e in entries] == [
            (x["path"], x["kind"], x["size"], x["mtime_ns"]) for x in expected["entries"]
        ]
        kinds = {e.path: e.kind for e in entries}
        same_as = {e.path: e.same_as for e in entries if e.kind == EntryKind.DUPLICATE}
        for entry, item in zip(entries, expected["entries"], strict=True):
            if entry.kind == EntryKind.IMAGE:
                assert entry.extra["model"] == RELEASED[set_id]["content_hash"]
                assert (
                    _latents_sha256(reader.read_payload(entry), registry, entry.extra["model"])
                    == item["latents_sha256"]
                ), entry.path
    as_png, original = tmp_path / "png", tmp_path / "original"
    assert not engine.extract(archive, as_png, engine.ExtractOptions(as_png=True)).failed
    assert not engine.extract(archive, original).failed
    for item in expected["entries"]:
        path = original / item["path"]
        if item["kind"] == EntryKind.DIRECTORY:
            assert path.is_dir() and not path.is_symlink()
        elif item["kind"] == EntryKind.SYMLINK:
            assert os.readlink(path) == item["link"]
        elif item["kind"] == EntryKind.IMAGE:
            with (
                Image.open(folder / item["pixels"]["file"]) as ref,
                Image.open(as_png / (item["path"].rpartition(".")[0] + ".png")) as got,
            ):
                assert (
                    (got.mode, list(got.size))
                    == (ref.mode, item["pixels"]["size"])
                    == (item["pixels"]["mode"], item["pixels"]["size"])
                )
                diff = np.abs(np.asarray(got, np.int16) - np.asarray(ref, np.int16))
            assert diff.max() <= MAX_PIXEL_DIFF and diff.mean() <= MAX_MEAN_PIXEL_DIFF, (item["path"], diff.max())
            with Image.open(path) as restored:
                assert restored.format == item["format"] and list(restored.size) == item["pixels"]["size"]
                if restored.format == "JPEG":
                    assert restored.getexif().get(0x010F) == "Latentzip golden"  # EXIF kept
            assert path.stat().st_mtime_ns == item["mtime_ns"]
        elif item["kind"] == EntryKind.DUPLICATE and kinds[same_as[item["path"]]] == EntryKind.IMAGE:
            assert path.read_bytes() == (original / same_as[item["path"]]).read_bytes()  # the decoded image
            assert path.stat().st_mtime_ns == item["mtime_ns"]
        else:  # the original bytes, kept exactly (stored, lzma, JPEG re-pack, a duplicate of one of them)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == item["sha256"]
            assert path.stat().st_mtime_ns == item["mtime_ns"]


def test_released_golden_generator_never_overwrites(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_released_golden", GOLDEN / "make_released_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = {p: p.stat().st_mtime_ns for p in GOLDEN.rglob("*")}
    for set_id in RELEASED:
        with pytest.raises(SystemExit, match="never regenerated"):
            module.main(["--set", set_id])
    (tmp_path / "lz1-new").mkdir()
    (tmp_path / "lz1-new" / "manifest.json").write_text(json.dumps({"released": False}))
    monkeypatch.setattr(module, "models_root", lambda: tmp_path)
    with pytest.raises(SystemExit, match="not released"):
        module.main(["--set", "lz1-new"])
    assert {p: p.stat().st_mtime_ns for p in GOLDEN.rglob("*")} == before


def check_raised_golden(expected_path: Path, registry: engine.ModelRegistry, tmp_path: Path) -> None:
    """A raised golden (tests/golden/make_golden_raised.py): bitstream version 2 at a level above its
    checkpoint's, the same integer latents, and an extraction that scores what the header says."""
    info = json.loads(expected_path.read_text())
    archive = expected_path.with_suffix(".ltz")
    assert engine.test_archive(archive, registry=registry).ok
    model = registry.get(info["model"])
    with ArchiveReader.open(archive) as reader:
        entries = list(reader.entries)
        assert [(e.path, int(e.kind), e.size) for e in entries] == [
            (x["path"], x["kind"], x["size"]) for x in info["entries"]
        ]
        images = [(e, x) for e, x in zip(entries, info["entries"], strict=False) if e.kind == EntryKind.IMAGE]
        assert images
        for entry, expected in images:
            bitstream = ImagePayload.from_bytes(reader.read_payload(entry)).bitstream
            head = image_codec.read_stream_header(bitstream)
            assert head.version == 2 and head.level_step == expected["level_step"] > info["nominal_level_step"]
            assert entry.extra["raised"] is True
            z_q, symbols, *_ = decode_symbols(model, bitstream)
            digest = hashlib.sha256(z_q.astype("<i8").tobytes() + symbols.astype("<i8").tobytes()).hexdigest()
            assert digest == expected["latents_sha256"]
    out = tmp_path / "raised-out"
    engine.extract(archive, out, registry=registry)
    source = np.asarray(Image.open(expected_path.parent / "raised.png").convert("RGB"))
    for entry, expected in images:
        restored = np.asarray(Image.open(out / entry.path).convert("RGB"))
        assert restored.shape == source.shape
        assert metrics.ms_ssim(restored, source) >= expected["ms_ssim"] - 0.01


RAISED = sorted(GOLDEN.glob("golden-raised-*.json"))


@pytest.mark.parametrize("expected_path", RAISED, ids=[p.stem for p in RAISED])
def test_raised_golden_archive_decodes_identically(expected_path, tmp_path):
    check_raised_golden(expected_path, engine.default_registry(), tmp_path)
