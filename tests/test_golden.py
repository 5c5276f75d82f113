"""Golden archives written by an earlier build: they must keep decoding, identically.

If this fails, the archive format or the bitstream changed: bump the format
version and keep the old reader, do not regenerate the golden files. They are
regenerated (tests/golden/make_golden.py) only while the bundled model set has
not been released yet.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import engine, metrics
from latentzip.codec.container import ArchiveReader, EntryKind
from latentzip.codec.image_entry import ImagePayload
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.image_codec import decode_symbols

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
            (x["path"], x["kind"], x["size"]) for x in EXPECTED[entropy]]
        for entry, expected in zip(entries, EXPECTED[entropy]):
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
            (x["path"], x["kind"], x["size"]) for x in info["entries"]]
        images = [(e, x) for e, x in zip(entries, info["entries"]) if e.kind == EntryKind.IMAGE]
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
