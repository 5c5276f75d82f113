"""Write the golden archives of a released model set, once: they are never regenerated.

    python tests/golden/make_released_golden.py [--set lz1-965bde60c9d0]

Writes ``tests/golden/<set id>/``: one archive per format version, entropy mode and image mode,
holding every entry kind its version allows, plus ``expected.json`` (what test_golden.py checks)
and ``pixels/`` (the decoded pixels of every coded image, as PNG). Refuses to run if the set is
not marked released in its manifest, or if the folder or any file it would write already exists:
a new format version or model set adds a folder, never replaces one.

The archives (all inputs are made here, deterministically):

- ``v2-range-B.ltz``, ``v2-lzma-C.ltz``: format 2, lossy images; kinds 1-5 and 7.
- ``v2-lossless.ltz``: format 2, ``--images lossless``; kinds 1, 2, 4, 5, 6 and 7.
- ``v1-range-A.ltz``, ``v1-lzma-B.ltz``: format 1, kinds 1-5. Version 1 differs from version 2
  only by the version field and by having no ``sha256`` header key (docs/FORMAT.md), so a
  version-1 archive is the version-2 writer's output of the same inputs with ``sha256`` dropped
  from every header and the file header's version set to 1 (the file header is outside every
  crc; each entry's crc is recomputed by the writer).

Coded images are recorded by the sha256 of their integer latents (identical on every machine) and
by their decoded pixels (float synthesis may differ by a few levels across CPUs: the test allows
that, and no more).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from latentzip.codec import engine
from latentzip.codec.container import ArchiveReader, ArchiveWriter, EntryKind
from latentzip.codec.entries.image import ImagePayload
from latentzip.codec.runtime.image_codec import decode_symbols
from latentzip.codec.runtime.model_set import models_root

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "assets"
DEFAULT_SET = "lz1-965bde60c9d0"
MTIME_NS = 1_600_000_000_000_000_000
VERSION_FIELD = slice(6, 8)  # the u16 format version in the file header (docs/FORMAT.md)

# name -> (format version, entropy, checkpoint, image mode)
ARCHIVES = {
    "v2-range-B": (2, "range", "B", "lossy"),
    "v2-lzma-C": (2, "lzma", "C", "lossy"),
    "v2-lossless": (2, "range", "B", "lossless"),
    "v1-range-A": (1, "range", "A", "lossy"),
    "v1-lzma-B": (1, "lzma", "B", "lossy"),
}


def make_inputs(root: Path, duplicates: bool) -> Path:
    """The folder every golden archive holds: text, noise, a link, RGB, grey, RGBA and JPEG images."""
    src = root / "golden"
    (src / "sub").mkdir(parents=True)
    photo = Image.open(ASSETS / "photo_crop.png").convert("RGB")
    photo.crop((0, 0, 128, 96)).save(src / "sub" / "crop.png")
    photo.crop((40, 30, 136, 94)).convert("L").save(src / "sub" / "gray.png")
    rgba = photo.crop((100, 60, 164, 108)).convert("RGBA")
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    rgba.putalpha(Image.fromarray(ramp, mode="L"))
    rgba.save(src / "sub" / "alpha.png")
    exif = Image.Exif()
    exif[0x010F] = "Latentzip golden"  # Make
    exif[0x0132] = "2020:09:13 12:26:40"  # DateTime
    photo.crop((60, 10, 172, 90)).save(src / "sub" / "photo.jpg", "JPEG", quality=90, exif=exif.tobytes())
    (src / "readme.txt").write_text("Latentzip golden archive of a released model set.\n" * 20)
    noise = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(10))  # 320 bytes
    (src / "noise.bin").write_bytes(noise)
    os.symlink("readme.txt", src / "link")
    if duplicates:
        (src / "readme-copy.txt").write_bytes((src / "readme.txt").read_bytes())
        (src / "sub" / "photo-copy.jpg").write_bytes((src / "sub" / "photo.jpg").read_bytes())
    for p in [*src.rglob("*"), src]:
        os.utime(p, ns=(MTIME_NS, MTIME_NS), follow_symlinks=False)
    return src


def as_version_1(v2_archive: Path, target: Path) -> None:
    """Rewrite a version-2 archive without kinds 6, 7 and ``sha256`` keys, as version 1 wrote it."""
    buf = io.BytesIO()
    with ArchiveReader.open(v2_archive) as reader, ArchiveWriter(buf) as writer:
        for record in reader.entries:
            if record.kind in (EntryKind.JPEG_REPACK, EntryKind.DUPLICATE):
                raise SystemExit(f"{record.path}: kind {int(record.kind)} does not exist in version 1")
            header = {k: v for k, v in record.header().items() if k != "sha256"}
            writer.add(header, reader.read_payload(record))
    data = bytearray(buf.getvalue())
    data[VERSION_FIELD] = struct.pack("<H", 1)
    target.write_bytes(bytes(data))


def latent_hash(payload: bytes, registry: engine.ModelRegistry, model_hash: str) -> str:
    """sha256 of an image entry's integer latents (z_q, then the y symbols), as int64 LE."""
    z_q, symbols, *_ = decode_symbols(registry.get(model_hash), ImagePayload.from_bytes(payload).bitstream)
    return hashlib.sha256(z_q.astype("<i8").tobytes() + symbols.astype("<i8").tobytes()).hexdigest()


def pixel_hash(path: Path) -> str:
    """sha256 of an image file's decoded pixels (mode, size and bytes)."""
    with Image.open(path) as im:
        return hashlib.sha256(f"{im.mode} {im.size}".encode() + im.tobytes()).hexdigest()


def describe(name: str, archive: Path, src_parent: Path, out: Path, registry: engine.ModelRegistry) -> list[dict]:
    """The expected entries of one archive; decoded pixels are saved to ``out/pixels``."""
    with tempfile.TemporaryDirectory() as tmp:
        as_png = Path(tmp) / "png"
        engine.extract(archive, as_png, engine.ExtractOptions(as_png=True))
        entries = []
        with ArchiveReader.open(archive) as reader:
            for r in reader.entries:
                item: dict = {
                    "path": r.path,
                    "kind": int(r.kind),
                    "size": r.size,
                    "mtime_ns": r.mtime_ns,
                    "mode": r.mode,
                }
                if r.kind == EntryKind.IMAGE:
                    item["latents_sha256"] = latent_hash(reader.read_payload(r), registry, r.extra["model"])
                    decoded = as_png / engine.output_name(r, as_png=True)
                    stored = Path("pixels") / f"{name}--{r.path.replace('/', '--')}.png"
                    with Image.open(decoded) as im:
                        item["pixels"] = {
                            "file": stored.as_posix(),
                            "mode": im.mode,
                            "size": list(im.size),
                            "sha256": pixel_hash(decoded),
                        }
                        im.save(out / stored)
                    item["format"] = r.extra.get("format")
                    item["grayscale"] = bool(r.extra.get("grayscale", False))
                elif r.kind in (EntryKind.STORED, EntryKind.LZMA, EntryKind.JPEG_REPACK, EntryKind.DUPLICATE):
                    item["sha256"] = hashlib.sha256((src_parent / r.path).read_bytes()).hexdigest()
                elif r.kind == EntryKind.SYMLINK:
                    item["link"] = r.link
                entries.append(item)
    return entries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default=DEFAULT_SET, help="the released model set's id (default: %(default)s)")
    args = ap.parse_args(argv)
    manifest = json.loads((models_root() / args.set / "manifest.json").read_text())
    if manifest.get("released") is not True:
        raise SystemExit(f"model set {args.set} is not released: its golden archives would not stay valid")
    out = HERE / args.set
    if out.exists():
        raise SystemExit(f"{out} exists: golden archives are never regenerated (a new set or version adds a folder)")
    registry = engine.default_registry()
    model_hash = str(manifest["content_hash"])
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / args.set
        (staging / "pixels").mkdir(parents=True)
        expected: dict = {"model_set": args.set, "content_hash": model_hash, "archives": {}}
        for name, (version, entropy, checkpoint, images) in ARCHIVES.items():
            inputs = make_inputs(Path(tmp) / name, duplicates=version >= 2)
            options = engine.CompressOptions(
                checkpoint=checkpoint, entropy=entropy, images=images, quality_floor=0.0, model_hash=model_hash
            )
            archive = staging / f"{name}.ltz"
            written = Path(tmp) / f"{name}.v2.ltz"
            engine.compress([inputs], written, options)
            if version == 1:
                as_version_1(written, archive)
            else:
                archive.write_bytes(written.read_bytes())
            expected["archives"][name] = {
                "format_version": version,
                "entropy": entropy,
                "checkpoint": checkpoint,
                "images": images,
                "entries": describe(name, archive, inputs.parent, staging, registry),
            }
            print(f"{name}: {archive.stat().st_size} bytes, {len(expected['archives'][name]['entries'])} entries")
        (staging / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
        if out.exists():
            raise SystemExit(f"{out} appeared while writing: not replaced")
        _copy_tree(staging, out)
    print(f"wrote {out}")
    return 0


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy the staged folder, refusing any existing file or folder."""
    dst.mkdir(exist_ok=False)
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=False)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as fh:
                fh.write(path.read_bytes())


if __name__ == "__main__":
    sys.exit(main())
