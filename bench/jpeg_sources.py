"""What a folder of JPEGs gains: Latentzip against 7-Zip and tar+xz, ratio against the JPEG folder's bytes.

    python bench/jpeg_sources.py [--source ../shared/data/kodak] [--quality 90] [--folder JPEGS]

A folder of PNGs shrinks far more than a folder of JPEGs, whose pixels are already
lossily coded; README states the two ratios apart. Without ``--folder`` the Kodak
PNGs are saved as JPEG at ``--quality`` (Pillow, 4:2:0) into a temporary folder. MS-SSIM
and PSNR compare the extracted files with the JPEGs (the JPEG's pixels are the original
here). Latentzip extracts a coded JPEG as a JPEG at quality 95, 4:4:4.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import DEFAULT_FOLDER, command_line, folder_bytes, folder_images, report_head, start_run, write_report
from kodak_table import latentzip_rows
from peers import archiver_rows, table
from PIL import Image


def build_jpeg_folder(source: Path, out: Path, quality: int = 90) -> Path:
    """Every image of ``source`` saved as ``<stem>.jpg`` at ``quality`` (Pillow's default 4:2:0)."""
    out.mkdir(parents=True, exist_ok=True)
    for p in folder_images(source):
        with Image.open(p) as im:
            im.convert("RGB").save(out / f"{p.stem}.jpg", quality=quality)
    return out


def unified_latentzip(rows: list[dict]) -> list[dict]:
    """kodak_table rows -> the bench's row schema (codec "Latentzip (<entropy>)", setting = checkpoint)."""
    return [
        {
            "source": "measured",
            "codec": f"Latentzip ({r['entropy']})",
            "setting": r["checkpoint"],
            "bytes": r["archive_bytes"],
            "ratio": r["ratio"],
            "bpp": r["bpp"],
            "ms_ssim": r["ms_ssim"],
            "psnr": r["psnr"],
            "compress_s": r["compress_s"],
            "extract_s": r["extract_s"],
            "note": f"{r['coded']}/{r['images']} images coded",
        }
        for r in rows
    ]


def measure(
    folder: Path,
    checkpoints: str = "ABC",
    entropies: tuple[str, ...] = ("range",),
    install_7zz: bool = True,
    floor: float | None = None,
    log=print,
) -> list[dict]:
    rows = unified_latentzip(latentzip_rows(folder, checkpoints, entropies, floor, log=log))
    return rows + [r for r in archiver_rows(folder, install_7zz, log) if r["codec"] != "tar"]


def run(
    folder: Path | None,
    source: Path,
    quality: int,
    checkpoints: str,
    log=print,
    install_7zz: bool = True,
    floor: float | None = None,
) -> tuple[list[dict], str]:
    """(rows, a description of the folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            folder = build_jpeg_folder(source, Path(tmp) / f"{source.name}-jpeg{quality}", quality)
            what = f"{source.name} saved as JPEG quality {quality} (Pillow, 4:2:0)"
        else:
            what = str(folder)
        what += f", {len(folder_images(folder))} images, {folder_bytes(folder) / 1e6:.2f} MB"
        return measure(folder, checkpoints, install_7zz=install_7zz, floor=floor, log=log), what


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=None, help="a folder of JPEGs (default: generate from --source)")
    ap.add_argument("--source", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--checkpoints", default="ABC")
    ap.add_argument("--floor", type=float, default=None, help="override Latentzip's quality floor")
    ap.add_argument("--name", default="jpeg-sources")
    args = ap.parse_args()
    machine = start_run()
    rows, what = run(args.folder, args.source, args.quality, args.checkpoints, floor=args.floor)
    md = "\n".join(
        [*report_head(f"A folder of JPEGs: {what}", command_line("jpeg_sources.py"), machine), *table(rows), ""]
    )
    write_report(args.name, md, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
