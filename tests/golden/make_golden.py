"""How the golden pair golden-{range,lzma}.ltz was written (model set lz1-965bde60c9d0, now released).

    python tests/golden/make_golden.py

It refuses to overwrite them: golden archives are never regenerated. The archives of every
released model set, all format versions and entry kinds, come from make_released_golden.py.

Writes tests/golden/golden.ltz and golden.json: the entries, the stored files'
bytes hashes, and the sha256 of every image's integer latents (z_q and
symbols), which any machine must decode identically. Decoded pixels are never
checksummed (float synthesis differs across CPUs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from latentzip.codec import engine
from latentzip.codec.container import ArchiveReader, EntryKind
from latentzip.codec.entries.image import ImagePayload
from latentzip.codec.runtime.image_codec import decode_symbols

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "assets"


def latent_hash(payload: bytes, registry: engine.ModelRegistry, model_hash: str) -> str:
    z_q, symbols, *_ = decode_symbols(registry.get(model_hash), ImagePayload.from_bytes(payload).bitstream)
    return hashlib.sha256(z_q.astype("<i8").tobytes() + symbols.astype("<i8").tobytes()).hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "golden"
        (src / "sub").mkdir(parents=True)
        Image.open(ASSETS / "photo_crop.png").convert("RGB").crop((0, 0, 128, 96)).save(src / "sub" / "crop.png")
        (src / "readme.txt").write_text("Latentzip golden archive, format version 1.\n" * 20)
        os.symlink("readme.txt", src / "link")
        for p in [*src.rglob("*"), src]:
            os.utime(p, ns=(1_600_000_000_000_000_000,) * 2, follow_symlinks=False)
        for name in ("golden-range.ltz", "golden-lzma.ltz", "golden.json", "crop.png"):
            if (HERE / name).exists():
                raise SystemExit(f"{HERE / name} exists: golden archives are never regenerated")
        for entropy in ("range", "lzma"):
            target = HERE / f"golden-{entropy}.ltz"
            engine.compress([src], target, engine.CompressOptions(checkpoint="B", entropy=entropy, quality_floor=0.0))
        registry = engine.default_registry()
        expected = {}
        for entropy in ("range", "lzma"):
            target = HERE / f"golden-{entropy}.ltz"
            with ArchiveReader.open(target) as reader:
                entries = []
                for r in reader.entries:
                    item = {"path": r.path, "kind": int(r.kind), "size": r.size}
                    payload = reader.read_payload(r)
                    if r.kind == EntryKind.IMAGE:
                        item["latents_sha256"] = latent_hash(payload, registry, r.extra["model"])
                        item["ms_ssim"] = r.extra["ms_ssim"]
                    elif r.kind in (EntryKind.STORED, EntryKind.LZMA):
                        item["sha256"] = hashlib.sha256((src.parent / r.path).read_bytes()).hexdigest()
                    entries.append(item)
            expected[entropy] = entries
        shutil.copy(src / "sub" / "crop.png", HERE / "crop.png")
        (HERE / "golden.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
