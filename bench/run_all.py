"""The whole benchmark in one run: Latentzip, its peers, the paper's rows, charts, JPEG sources, large photos.

    python bench/run_all.py [--folder ../shared/data/kodak] [--no-jpeg] [--no-hires]

(``make bench`` installs the ``bench`` extra and runs this.) Steps, all on this machine:

1. Latentzip A/B/C x range/lzma on the folder (kodak_table.py; ``--reuse-latentzip``
   reads bench/results/<name>.csv from an earlier run instead);
2. 7-Zip, tar, tar+xz on the folder, and JPEG/WebP/AVIF/JPEG XL at the quality whose
   mean MS-SSIM matches each checkpoint's (peers.py);
3. the paper's rows, quoted (paper.py; on a folder named kodak, or with ``--paper``);
4. charts: bubble (ratio vs MS-SSIM, area = time) and rate-distortion (charts.py);
5. a folder of JPEGs (Kodak at JPEG quality 90): Latentzip against 7-Zip (jpeg_sources.py);
6. large photos (3 mosaics of 24 MP): time and peak memory per image (hires.py).

Writes bench/results/<name>-bench.md (everything), <name>-bench.csv (the folder's
rows), <name>-rd.csv, <name>-bubble.png, <name>-rd.png, plus each step's own files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import charts
import hires
import jpeg_sources
import kodak_table
import paper
import peers
from common import DEFAULT_FOLDER, RESULTS, folder_bytes, folder_images, load_rgb, read_csv, start_run, write_csv


def log(msg: str) -> None:
    print(msg, flush=True)


def folder_line(folder: Path) -> str:
    images = folder_images(folder)
    pixels = sum(int(a.shape[0] * a.shape[1]) for a in map(load_rgb, images))
    return f"`{folder}`: {len(images)} images, {folder_bytes(folder) / 1e6:.2f} MB, {pixels / 1e6:.2f} MP in all"


def latentzip_curve(name: str) -> list[dict]:
    """Latentzip's rate-distortion curve over its rate levels (training/calibration-<name>.json), if measured.

    Those bpp count the image bitstreams only (no archive headers), as the peers' bpp do.
    """
    path = Path(__file__).resolve().parent.parent / "training" / f"calibration-{name}.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    return [
        {
            "codec": "Latentzip (range)",
            "quality": row["level"],
            "bpp": row["bpp"],
            "ms_ssim": row["ms_ssim"],
            "psnr": row["psnr"],
        }
        for row in data["curve"]
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--name", default=None, help="result file prefix (default: the folder's name)")
    ap.add_argument("--checkpoints", default="ABC")
    ap.add_argument("--entropy", nargs="+", default=["range", "lzma"])
    ap.add_argument(
        "--floor",
        type=float,
        default=None,
        help="override Latentzip's quality floor (default: the product's; 0 codes every image)",
    )
    ap.add_argument(
        "--reuse-latentzip",
        action="store_true",
        help="read the Latentzip rows from bench/results/<name>.csv instead of running them",
    )
    ap.add_argument("--codecs", nargs="+", default=list(peers.CODECS), choices=list(peers.CODECS))
    ap.add_argument("--tolerance", type=float, default=peers.TOLERANCE)
    ap.add_argument(
        "--paper",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include the paper's quoted rows (default: when the folder is named kodak)",
    )
    ap.add_argument("--jpeg", action=argparse.BooleanOptionalAction, default=True, help="the JPEG-source folder")
    ap.add_argument(
        "--jpeg-folder", type=Path, default=None, help="a folder of JPEGs (default: Kodak at --jpeg-quality)"
    )
    ap.add_argument("--jpeg-quality", type=int, default=90)
    ap.add_argument("--hires", action=argparse.BooleanOptionalAction, default=True, help="the large-photo set")
    ap.add_argument("--hires-folder", type=Path, default=None, help="large photos (default: generated mosaics)")
    ap.add_argument("--hires-count", type=int, default=3)
    ap.add_argument("--hires-megapixels", type=float, default=24.0)
    ap.add_argument("--hires-checkpoint", default="B")
    ap.add_argument("--no-install", action="store_true", help="never install 7zz")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    folder = args.folder.resolve()
    name = args.name or folder.name
    with_paper = args.paper if args.paper is not None else folder.name.lower() == "kodak"
    machine = start_run()
    log(f"Machine: {machine}")
    seven_zip = peers.ensure_7zz(install=not args.no_install)
    command = "python bench/run_all.py " + " ".join(sys.argv[1:] if argv is None else argv)

    # 1. Latentzip
    if args.reuse_latentzip:
        lz = read_csv(RESULTS / f"{name}.csv")
        log(f"Latentzip rows read from {RESULTS / f'{name}.csv'}")
    else:
        lz = kodak_table.latentzip_rows(folder, args.checkpoints, tuple(args.entropy), args.floor, log=log)
        kodak_table.write_results(lz, name, kodak_table.markdown(lz, f"Latentzip on {name}", machine, command))
    targets = {}
    for r in lz:
        targets.setdefault(str(r["checkpoint"]), []).append(float(r["ms_ssim"]))
    targets = {cp: sum(v) / len(v) for cp, v in targets.items()}

    # 2. peers
    rows = jpeg_sources.unified_latentzip(lz)
    rows += peers.archiver_rows(folder, install_7zz=False, log=log)
    codec_rows, curve = peers.codec_rows(folder, targets, args.codecs, args.tolerance, log=log)
    curve += latentzip_curve(name)
    rows += codec_rows
    # 3. the paper
    if with_paper:
        rows += paper.rows()
    write_csv(RESULTS / f"{name}-bench.csv", rows)
    write_csv(RESULTS / f"{name}-rd.csv", curve)

    # 4. charts
    bubble = charts.bubble_chart(
        rows, RESULTS / f"{name}-bubble.png", f"{name}: compression ratio against MS-SSIM (bubble area = time)"
    )
    rd = charts.rd_chart(rows, curve, RESULTS / f"{name}-rd.png", f"{name}: rate-distortion (bpp against MS-SSIM)")

    md = [
        f"## Benchmark on {name}",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {machine}  ",
        f"Folder: {folder_line(folder)}  ",
        "Targets (Latentzip's mean MS-SSIM per checkpoint): " + ", ".join(f"{cp} {t:.4f}" for cp, t in targets.items()),
        "",
        *peers.table(rows),
        "",
        "Ratio: the folder's bytes over the archive's (for image codecs, over the sum of the coded images). "
        "bpp: archive (or coded) bits over all pixels. Latentzip times: `compress` and `extract` of the folder, "
        "files read and written, models loaded before timing. Image codecs: encode and decode in memory, summed "
        f"over the images, at the integer quality whose mean MS-SSIM is within {args.tolerance} of the target "
        "(or interpolated between the two neighbouring qualities, as noted). "
        + ("" if seven_zip else "7-Zip was not available: its row is missing. "),
    ]
    if with_paper:
        md += [
            "",
            f"Quoted rows: {paper.SOURCE}. {paper.SEVEN_ZIP_NOTE} Their times are the paper's machine's.  ",
            f"[1] {paper.MENTZER_FOOTNOTE}",
        ]
    md += ["", f"![bubble chart]({bubble.name})", "", f"![rate-distortion chart]({rd.name})", ""]

    # 5. JPEG sources
    if args.jpeg:
        log("JPEG sources ...")
        jrows, what = jpeg_sources.run(
            args.jpeg_folder, folder, args.jpeg_quality, args.checkpoints, log=log, install_7zz=False, floor=args.floor
        )
        write_csv(RESULTS / f"{name}-jpeg-sources.csv", jrows)
        md += [
            "### A folder of JPEGs",
            "",
            (f"Folder: {what}. Ratios against the JPEG folder's bytes; MS-SSIM against the JPEGs' pixels."),
            "",
            *peers.table(jrows),
            "",
        ]
    # 6. large photos
    if args.hires:
        log("Large photos ...")
        hrows, what = hires.run(
            args.hires_folder,
            folder,
            args.hires_count,
            args.hires_megapixels,
            args.hires_checkpoint,
            "range",
            args.floor,
            log=log,
        )
        write_csv(RESULTS / f"{name}-hires.csv", hrows)
        md += [
            f"### Large photos (Latentzip {args.hires_checkpoint}, range)",
            "",
            (
                f"Set: {what}. Each step runs in a child process of its own: its time includes loading the "
                "models, and its peak memory is that process's peak resident set (VmHWM)."
            ),
            "",
            *hires.table(hrows),
            "",
        ]
    md += [f"Whole run: {(time.perf_counter() - start) / 60:.1f} min."]
    out = RESULTS / f"{name}-bench.md"
    out.write_text("\n".join(md) + "\n")
    log("\n".join(md))
    log(f"wrote {out}, {bubble}, {rd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
