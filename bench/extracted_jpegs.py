"""What users get back from lossy-coded JPEGs: each extracted file's size against its original's.

    python bench/extracted_jpegs.py [--folder ../shared/data/photos] [--checkpoints A B C]

Compresses the folder at each checkpoint (floors off, so every photo is coded), extracts
it, and compares file by file: the original JPEG's bytes, the extracted JPEG's bytes
(written with the source's own quantisation tables and subsampling), and, for
comparison, the same pixels written the old way (quality 95, 4:4:4).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

from common import REPO, floor_options, folder_images, machine_line, warn_if_busy, write_report
from PIL import Image

from latentzip.codec import engine

DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "photos"


def fixed_quality_bytes(path: Path) -> int:
    """Bytes of the extracted pixels written at quality 95, 4:4:4 (the writer's setting before tables were kept)."""
    with Image.open(path) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=95, subsampling=0)
    return len(buf.getvalue())


def checkpoint_rows(folder: Path, checkpoint: str, work: Path) -> list[dict]:
    archive = work / f"{checkpoint}.ltz"
    out = work / f"out-{checkpoint}"
    engine.compress([folder], archive, engine.CompressOptions(checkpoint=checkpoint, **floor_options(0.0)))
    engine.extract(archive, out)
    rows = []
    for original in folder_images(folder):
        back = out / folder.name / original.name
        size, extracted = original.stat().st_size, back.stat().st_size
        rows.append(
            {
                "checkpoint": checkpoint,
                "file": original.name,
                "original_bytes": size,
                "extracted_bytes": extracted,
                "ratio": round(extracted / size, 3),
                "q95_444_ratio": round(fixed_quality_bytes(back) / size, 3),
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_PHOTOS)
    ap.add_argument("--checkpoints", nargs="+", default=["A", "B", "C"])
    ap.add_argument("--name", default="extracted-jpegs")
    args = ap.parse_args()
    if not args.folder.is_dir():
        print(f"no folder {args.folder}", file=sys.stderr)
        return 1
    machine = machine_line()
    warn_if_busy(machine)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for checkpoint in args.checkpoints:
            rows += checkpoint_rows(args.folder, checkpoint, Path(tmp))
    lines = [
        f"### Extracted JPEGs against their originals: {args.folder.name}",
        "",
        f"Command: `python bench/extracted_jpegs.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {machine}",
        "",
        "| checkpoint | file | original | extracted | extracted / original | at q95 4:4:4 / original |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['checkpoint']} | {r['file']} | {r['original_bytes'] / 1e6:.3f} MB | "
        f"{r['extracted_bytes'] / 1e6:.3f} MB | {r['ratio']:.3f} | {r['q95_444_ratio']:.3f} |"
        for r in rows
    ]
    lines.append("")
    for checkpoint in args.checkpoints:
        mine = [r for r in rows if r["checkpoint"] == checkpoint]
        total_o = sum(r["original_bytes"] for r in mine)
        total_e = sum(r["extracted_bytes"] for r in mine)
        worst = max(mine, key=lambda r: r["ratio"])
        lines.append(
            f"- {checkpoint}: {total_e / 1e6:.2f} MB back for {total_o / 1e6:.2f} MB of originals "
            f"({total_e / total_o:.3f}); largest ratio {worst['ratio']:.3f} ({worst['file']}); "
            f"{sum(r['ratio'] <= 1.10 for r in mine)}/{len(mine)} files within +10 %."
        )
    md = "\n".join(lines) + "\n"
    print(md)
    write_report(args.name, md, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
