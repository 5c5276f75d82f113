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
import csv
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from latentzip.codec import engine, metrics

REPO = Path(__file__).resolve().parent.parent
PAPER = {"A": (0.583, 0.975, 27.17), "B": (0.965, 0.987, 28.77), "C": (1.376, 0.991, 30.14)}


def machine_line() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, load {load:.2f} at start"


def reference_msssim(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    try:
        import torch
        from pytorch_msssim import ms_ssim
    except ImportError:
        return None
    vals = []
    for a, b in pairs:
        ta = torch.from_numpy(a).permute(2, 0, 1)[None].double()
        tb = torch.from_numpy(b).permute(2, 0, 1)[None].double()
        vals.append(float(ms_ssim(ta, tb, data_range=255)))
    return float(np.mean(vals))


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


def run_one(folder: Path, work: Path, checkpoint: str, entropy: str, floor: float | None) -> dict:
    archive = work / f"{checkpoint}-{entropy}.ltz"
    options = engine.CompressOptions(checkpoint=checkpoint, entropy=entropy, quality_floor=floor)
    t0 = time.perf_counter()
    report = engine.compress([folder], archive, options)
    t1 = time.perf_counter()
    out = work / f"out-{checkpoint}-{entropy}"
    engine.extract(archive, out)
    t2 = time.perf_counter()
    pairs, pixels = [], 0
    for src in sorted(folder.glob("*.png")):
        a = np.asarray(Image.open(src).convert("RGB"))
        b = np.asarray(Image.open(out / folder.name / src.name).convert("RGB"))
        pairs.append((a, b))
        pixels += a.shape[0] * a.shape[1]
    size = archive.stat().st_size
    shutil.rmtree(out)
    return {
        "checkpoint": checkpoint, "entropy": entropy, "archive_bytes": size,
        "ratio": report.original_size / size, "bpp": size * 8 / pixels,
        "ms_ssim": float(np.mean([metrics.ms_ssim(a, b) for a, b in pairs])),
        "ms_ssim_ref": reference_msssim(pairs),
        "psnr": float(np.mean([metrics.psnr(a, b) for a, b in pairs])),
        "compress_s": t1 - t0, "extract_s": t2 - t1,
        "coded": sum(o.kind == "lossy" for o in report.outcomes), "images": len(pairs),
    }


def markdown(rows: list[dict], title: str, machine: str, command: str) -> str:
    lines = [f"### {title}", "", f"Command: `{command}`  ", f"Machine: {machine}", "",
             "| checkpoint | entropy | archive | ratio | bpp | MS-SSIM | PSNR (dB) | compress (s) | extract (s) | coded images |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['checkpoint']} | {r['entropy']} | {r['archive_bytes'] / 1e6:.3f} MB | {r['ratio']:.1f} | "
                     f"{r['bpp']:.3f} | {r['ms_ssim']:.4f} | {r['psnr']:.2f} | {r['compress_s']:.1f} | "
                     f"{r['extract_s']:.1f} | {r['coded']}/{r['images']} |")
    lines += ["", "Paper (Johnson and Avasthi, LZMA on Mentzer et al.), quoted, not measured: " +
              "; ".join(f"{k} {v[0]} bpp, MS-SSIM {v[1]}, {v[2]} dB" for k, v in PAPER.items())]
    refs = [r for r in rows if r["ms_ssim_ref"] is not None]
    if refs:
        lines.append("pytorch_msssim means for the same rows: " +
                     ", ".join(f"{r['checkpoint']}/{r['entropy']} {r['ms_ssim_ref']:.4f}" for r in refs))
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=REPO.parent / "shared" / "data" / "kodak")
    ap.add_argument("--heldout", action="store_true", help="run on the held-out training images instead")
    ap.add_argument("--checkpoints", default="ABC")
    ap.add_argument("--entropy", nargs="+", default=["range", "lzma"])
    ap.add_argument("--floor", type=float, default=None, help="override the quality floor (default: the product's)")
    ap.add_argument("--name", default=None, help="result file name (default: the folder's name)")
    args = ap.parse_args()
    machine = machine_line()
    if os.getloadavg()[0] > 0.5:
        print(f"warning: the machine is busy ({machine}); times are not figures", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        folder = heldout_folder(Path(tmp)) if args.heldout else args.folder
        rows = []
        for cp in args.checkpoints:
            for entropy in args.entropy:
                rows.append(run_one(folder, Path(tmp), cp, entropy, args.floor))
                r = rows[-1]
                print(f"{cp} {entropy}: {r['bpp']:.3f} bpp, MS-SSIM {r['ms_ssim']:.4f}, {r['psnr']:.2f} dB, "
                      f"{r['compress_s']:.1f} + {r['extract_s']:.1f} s", flush=True)
    name = args.name or ("heldout" if args.heldout else folder.name)
    command = "python bench/kodak_table.py " + " ".join(sys.argv[1:])
    md = markdown(rows, f"Latentzip on {name}", machine, command.strip())
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.md").write_text(md)
    with open(results / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
