"""Write the golden archive of a raised image (bitstream version 2) for a model set with a rate ladder.

    python tests/golden/make_golden_raised.py [--model CONTENT_HASH]

Run once per released set with a ladder (default: the bundled default set). It codes
``photo_crop.png`` at checkpoint B with a floor between what the image scores at B's own
level and at the top of the rate axis, so the engine must raise it, and writes:

- ``golden-raised-<set id>.ltz``: the archive;
- ``golden-raised-<set id>.json``: the set, the floor used, and per image entry its level
  step, MS-SSIM and the sha256 of its integer latents (z_q and symbols), which any
  machine must decode identically (test_golden.py checks every such file);
- ``raised.png``: the source image (written once, shared by every set's raised golden).

It refuses to overwrite any of them, and refuses a set without a ladder: existing
goldens are never regenerated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from latentzip.codec import engine, metrics
from latentzip.codec.container import ArchiveReader, EntryKind
from latentzip.codec.entries.image import ImagePayload
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import ModelRegistry, ModelSet

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "assets" / "photo_crop.png"
CHECKPOINT = "B"


def golden_paths(out_dir: Path, set_id: str) -> tuple[Path, Path]:
    return out_dir / f"golden-raised-{set_id}.ltz", out_dir / f"golden-raised-{set_id}.json"


def latent_hash(model: ModelSet, bitstream: bytes) -> str:
    z_q, symbols, *_ = image_codec.decode_symbols(model, bitstream)
    return hashlib.sha256(z_q.astype("<i8").tobytes() + symbols.astype("<i8").tobytes()).hexdigest()


def _score(model: ModelSet, rgb: np.ndarray, step: int | None) -> float:
    encoded = image_codec.encode_image(model, rgb, CHECKPOINT, keep_latents=True, level_step=step)
    return metrics.ms_ssim(image_codec.reconstruct(model, encoded, precision="auto"), rgb)


def write_golden(registry: ModelRegistry, model_hash: str | None, out_dir: Path) -> Path:
    """Write the raised golden of one set into ``out_dir``; returns the archive's path."""
    model = registry.get(model_hash)
    if model.ladder is None:
        raise SystemExit(f"model set {model.id} has no rate ladder: it cannot raise an image")
    archive, expected = golden_paths(out_dir, model.id)
    source_copy = out_dir / "raised.png"
    for path in (archive, expected):
        if path.exists():
            raise SystemExit(f"{path} exists: goldens are never regenerated")
    rgb = np.asarray(Image.open(SOURCE).convert("RGB"))
    if source_copy.exists() and not np.array_equal(np.asarray(Image.open(source_copy).convert("RGB")), rgb):
        raise SystemExit(f"{source_copy} exists and differs from {SOURCE}")
    low, high = _score(model, rgb, None), _score(model, rgb, model.ladder.top_step)
    if high <= low + 0.001:
        raise SystemExit(f"the top level does not improve the image enough ({low:.4f} -> {high:.4f})")
    floor = round((low + high) / 2, 4)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "golden-raised"
        src.mkdir()
        Image.fromarray(rgb).save(src / "raised.png")
        partial = Path(tmp) / "out.ltz"
        report = engine.compress(
            [src],
            partial,
            engine.CompressOptions(checkpoint=CHECKPOINT, quality_floor=floor, model_hash=model.content_hash),
            registry=registry,
        )
        (outcome,) = [o for o in report.outcomes if o.name.endswith("raised.png")]
        if outcome.kind != "lossy" or not outcome.raised:
            raise SystemExit(f"the image was not raised ({outcome.kind}: {outcome.note})")
        entries = []
        with ArchiveReader.open(partial) as reader:
            for r in reader.entries:
                item = {"path": r.path, "kind": int(r.kind), "size": r.size}
                if r.kind == EntryKind.IMAGE:
                    bitstream = ImagePayload.from_bytes(reader.read_payload(r)).bitstream
                    head = image_codec.read_stream_header(bitstream)
                    item.update(
                        latents_sha256=latent_hash(model, bitstream),
                        ms_ssim=r.extra["ms_ssim"],
                        checkpoint=r.extra["checkpoint"],
                        level_step=head.level_step,
                        bitstream_version=head.version,
                        precision=r.extra["precision"],
                    )
                entries.append(item)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(partial, archive)
    if not source_copy.exists():
        shutil.copyfile(SOURCE, source_copy)
    info = {
        "model": model.content_hash,
        "set_id": model.id,
        "floor": floor,
        "nominal_level_step": model.checkpoint(CHECKPOINT).level_step,
        "entries": entries,
    }
    expected.write_text(json.dumps(info, indent=2) + "\n")
    return archive


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="content hash of the set (default: the bundled default set)")
    ap.add_argument("--out", type=Path, default=HERE, help="folder of the golden files (default: tests/golden)")
    args = ap.parse_args(argv)
    path = write_golden(engine.default_registry(), args.model, args.out)
    print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
