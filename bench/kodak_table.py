"""Latentzip on an image folder: size, bpp, MS-SSIM, PSNR and times per checkpoint and entropy mode.

    python bench/kodak_table.py --folder ../shared/data/kodak [--heldout] [--floor 0]

Runs the real engine (what ``latentzip compress`` / ``extract`` run) for A, B
and C with ``--entropy range`` and ``--entropy lzma``. bpp counts every byte
of the archive (headers and index included) over all pixels of the folder's
images. MS-SSIM is Latentzip's numpy implementation (tested against
pytorch_msssim to 1e-4); when pytorch_msssim is installed the same mean is
also computed with it. Writes bench/results/<name>.md and .csv.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import paper
from common import (
    DEFAULT_FOLDER,
    REPO,
    RESULTS,
    command_line,
    floor_options,
    folder_images,
    load_rgb,
    reference_msssim,
    report_head,
    start_run,
    write_csv,
)
from PIL import Image

from latentzip.codec import engine, metrics


def heldout_folder(tmp: Path) -> Path:
    """The training set's held-out images (never trained on), as PNGs."""
    sys.path.append(str(REPO))
    from training.data import split

    _, held = split(REPO.parent / "shared" / "data" / "train")
    out = tmp / "heldout"
    out.mkdir()
    for p in held:
        Image.open(p).convert("RGB").save(out / (p.stem + ".png"))
    return out


def warm_up(work: Path, checkpoints: str, precision: str = "auto") -> None:
    """Load the models (ONNX sessions) before anything is timed, so that no row pays for it."""
    src = work / "warmup"
    src.mkdir(exist_ok=True)
    y, x = np.mgrid[0:64, 0:64]
    Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], -1).astype(np.uint8)).save(src / "w.png")
    for cp in checkpoints:
        archive = work / f"warmup-{cp}.ltz"
        engine.compress(
            [src],
            archive,
            engine.CompressOptions(checkpoint=cp, precision=precision, **floor_options(0.0)),
        )
        engine.extract(archive, work / f"warmup-{cp}", engine.ExtractOptions(precision=precision))
        archive.unlink()
        shutil.rmtree(work / f"warmup-{cp}")
    shutil.rmtree(src)


def run_one(
    folder: Path, work: Path, checkpoint: str, entropy: str, floor: float | None, precision: str = "auto"
) -> dict:
    """Compress ``folder`` into one archive and extract it: sizes, mean quality and times.

    Works on PNG and JPEG folders alike: each original is compared with the file that
    extraction writes under the same name (a JPEG comes back as a JPEG, quality 95).
    """
    archive = work / f"{checkpoint}-{entropy}.ltz"
    options = engine.CompressOptions(
        checkpoint=checkpoint, entropy=entropy, precision=precision, **floor_options(floor)
    )
    t0 = time.perf_counter()
    report = engine.compress([folder], archive, options)
    t1 = time.perf_counter()
    out = work / f"out-{checkpoint}-{entropy}"
    engine.extract(archive, out, engine.ExtractOptions(precision=precision))
    t2 = time.perf_counter()
    pairs, pixels = [], 0
    for src in folder_images(folder):
        a = load_rgb(src)
        b = load_rgb(out / folder.name / src.name)
        pairs.append((a, b))
        pixels += a.shape[0] * a.shape[1]
    size = archive.stat().st_size
    shutil.rmtree(out)
    archive.unlink()
    return {
        "checkpoint": checkpoint,
        "entropy": entropy,
        "archive_bytes": size,
        "ratio": report.original_size / size,
        "bpp": size * 8 / pixels,
        "ms_ssim": float(np.mean([metrics.ms_ssim(a, b) for a, b in pairs])),
        "ms_ssim_ref": reference_msssim(pairs),
        "psnr": float(np.mean([metrics.psnr(a, b) for a, b in pairs])),
        "compress_s": t1 - t0,
        "extract_s": t2 - t1,
        "coded": sum(o.kind == "lossy" for o in report.outcomes),
        "images": len(pairs),
    }


def latentzip_rows(
    folder: Path,
    checkpoints: str = "ABC",
    entropies: tuple[str, ...] = ("range", "lzma"),
    floor: float | None = None,
    log=print,
    precision: str = "auto",
) -> list[dict]:
    """``run_one`` for every checkpoint and entropy mode (models loaded before timing)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(Path(tmp), checkpoints, precision)
        for cp in checkpoints:
            for entropy in entropies:
                r = run_one(Path(folder), Path(tmp), cp, entropy, floor, precision)
                rows.append(r)
                log(
                    f"Latentzip {cp} {entropy}: {r['bpp']:.3f} bpp, MS-SSIM {r['ms_ssim']:.4f}, "
                    f"{r['psnr']:.2f} dB, {r['compress_s']:.1f} + {r['extract_s']:.1f} s"
                )
    return rows


def markdown(rows: list[dict], title: str, machine: str, command: str) -> str:
    lines = [
        *report_head(title, command, machine),
        "| checkpoint | entropy | archive | ratio | bpp | MS-SSIM | PSNR (dB) | compress (s) | extract (s) "
        "| coded images |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['checkpoint']} | {r['entropy']} | {r['archive_bytes'] / 1e6:.3f} MB | {r['ratio']:.1f} | "
            f"{r['bpp']:.3f} | {r['ms_ssim']:.4f} | {r['psnr']:.2f} | {r['compress_s']:.1f} | "
            f"{r['extract_s']:.1f} | {r['coded']}/{r['images']} |"
        )
    lines += [
        "",
        "Models are loaded before timing. Paper (Johnson and Avasthi, LZMA on Mentzer et al.), "
        "quoted, not measured: "
        + "; ".join(f"{k} {v[0]} bpp, MS-SSIM {v[1]}, {v[2]} dB, {v[3]:.0f} s" for k, v in paper.CHECKPOINTS.items()),
    ]
    refs = [r for r in rows if r["ms_ssim_ref"] is not None]
    if refs:
        lines.append(
            "pytorch_msssim means for the same rows: "
            + ", ".join(f"{r['checkpoint']}/{r['entropy']} {r['ms_ssim_ref']:.4f}" for r in refs)
        )
    return "\n".join(lines) + "\n"


def write_results(rows: list[dict], name: str, md: str) -> Path:
    """bench/results/<name>.md and .csv (the CSV is what peers.py reads its targets from)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(md)
    write_csv(RESULTS / f"{name}.csv", rows)
    return RESULTS / f"{name}.csv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--heldout", action="store_true", help="run on the held-out training images instead")
    ap.add_argument("--checkpoints", default="ABC")
    ap.add_argument("--entropy", nargs="+", default=["range", "lzma"])
    ap.add_argument("--floor", type=float, default=None, help="override the quality floor (default: the product's)")
    ap.add_argument("--name", default=None, help="result file name (default: the folder's name)")
    ap.add_argument(
        "--precision",
        choices=("auto", "fp32", "int8"),
        default="auto",
        help="network precision, as the app's setting (auto: the model set's default per checkpoint)",
    )
    args = ap.parse_args()
    machine = start_run()
    with tempfile.TemporaryDirectory() as tmp:
        folder = heldout_folder(Path(tmp)) if args.heldout else args.folder
        rows = latentzip_rows(folder, args.checkpoints, tuple(args.entropy), args.floor, precision=args.precision)
        name = args.name or ("heldout" if args.heldout else folder.name)
    md = markdown(rows, f"Latentzip on {name}", machine, command_line("kodak_table.py"))
    write_results(rows, name, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
