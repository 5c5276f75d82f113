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
