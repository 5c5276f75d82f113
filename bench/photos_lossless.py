"""Real JPEG photos kept exactly: Latentzip's lossless re-packing against 7-Zip and tar+xz.

    python bench/photos_lossless.py [--folder ../shared/data/photos]

Runs ``latentzip compress --images lossless`` (each JPEG re-packed with JPEG XL's
lossless JPEG transcoding, rebuilt bit for bit on extract; every other file
byte-exact) and ``latentzip extract`` through the engine, checks that every
extracted file equals its original byte for byte, and puts 7-Zip (``-mx=9``),
tar and tar+xz beside it. Sizes count every byte of each archive. Writes
bench/results/<name>.md and .csv.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, command_line, folder_bytes, report_head, start_run, write_report
from peers import archiver_rows, table

DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "photos"


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def latentzip_lossless_row(folder: Path, log=print) -> dict:
    """Compress and extract ``folder`` losslessly with the engine; size, times and a bit-exact check."""
    from latentzip.codec import engine

    folder = folder.resolve()
    original = folder_bytes(folder)
    with tempfile.TemporaryDirectory() as tmp:
        archive, out = Path(tmp) / "photos.ltz", Path(tmp) / "out"
        t0 = time.perf_counter()
        report = engine.compress([folder], archive, engine.CompressOptions(images="lossless"))
        t1 = time.perf_counter()
        engine.extract(archive, out)
        t2 = time.perf_counter()
        same = tree_bytes(out / folder.name) == tree_bytes(folder)
        size = archive.stat().st_size
    repacked = sum(1 for o in report.outcomes if o.kind == "lossless-jpeg")
    files = sum(1 for o in report.outcomes if o.kind not in ("directory", "symlink"))
    log(
        f"Latentzip lossless: {original} -> {size} bytes, {t1 - t0:.2f} + {t2 - t1:.2f} s, "
        f"{'bit-exact' if same else 'NOT bit-exact'}"
    )
    return {
        "source": "measured",
        "codec": "Latentzip",
        "setting": "--images lossless",
        "bytes": size,
        "ratio": original / size,
        "ms_ssim": 1.0,
        "compress_s": t1 - t0,
        "extract_s": t2 - t1,
        "note": f"{repacked}/{files} files re-packed (JPEG XL); "
        + ("every file back bit for bit" if same else "MISMATCH after extract"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_PHOTOS)
    ap.add_argument("--name", default="photos-lossless")
    ap.add_argument("--no-install", action="store_true", help="do not install 7zz when it is missing")
    args = ap.parse_args()
    if not args.folder.is_dir():
        print(f"no folder {args.folder}", file=sys.stderr)
        return 1
    machine = start_run()
    original = folder_bytes(args.folder)
    rows = [latentzip_lossless_row(args.folder)] + archiver_rows(args.folder, not args.no_install)
    best = min((r for r in rows if r["codec"] != "Latentzip"), key=lambda r: r["bytes"])
    gain = 1 - rows[0]["bytes"] / best["bytes"]
    md = "\n".join(
        [
            *report_head(
                f"Photos kept exactly: {args.folder.name} ({original / 1e6:.2f} MB)",
                command_line("photos_lossless.py"),
                machine,
            ),
            *table(rows),
            "",
            f"Latentzip's lossless archive is {100 * (1 - rows[0]['bytes'] / original):.1f} % smaller than the "
            f"folder and {100 * gain:.1f} % smaller than the best general-purpose archiver ({best['codec']}, "
            f"{best['bytes'] / 1e6:.2f} MB).",
            "",
        ]
    )
    write_report(args.name, md, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
