"""Large libraries: N small photos compressed and extracted, files per second and peak memory.

    python bench/many_files.py                      # 10,000 files, lossy at checkpoint A
    python bench/many_files.py --count 1000 --images lossless

Generates ``--count`` small photos (64x48 gradients with noise; three JPEGs for every
PNG, 500 per sub-folder) in a temporary folder, then runs ``latentzip compress`` and
``latentzip extract`` each in a child process, and prints, per step, the time, files
per second and the child's peak resident memory (``ru_maxrss`` from ``os.wait4``).
The archive is tested entry by entry for the count of restored files. Times depend on
the load: the result line says when other work competed for the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, is_busy, load_average  # noqa: E402

PER_FOLDER = 500


def generate(folder: Path, count: int, width: int = 64, height: int = 48, seed: int = 0) -> int:
    """Write ``count`` small photos under ``folder``; returns their total size in bytes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    total = 0
    for i in range(count):
        sub = folder / f"roll{i // PER_FOLDER:03d}"
        if i % PER_FOLDER == 0:
            sub.mkdir(parents=True, exist_ok=True)
        a, b, c = rng.uniform(0.5, 3.0, 3)
        img = np.stack([60 + a * x + 30 * np.sin(y / (5 + c)), 40 + b * y + 20 * np.cos(x / 7),
                        100 + 40 * np.sin((x + y) / (9 + a))], -1) + rng.normal(0, 4, (height, width, 3))
        im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
        path = sub / (f"img{i:05d}.png" if i % 4 == 3 else f"img{i:05d}.jpg")
        if path.suffix == ".png":
            im.save(path, "PNG")
        else:
            im.save(path, "JPEG", quality=90)
        total += path.stat().st_size
    return total


def run_child(args: list[str]) -> tuple[float, int, int]:
    """Run ``python -m latentzip ARGS``: (seconds, exit code, peak RSS in bytes)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "latentzip", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    stderr = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace")[-2000:])
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # Linux reports KiB
    return seconds, proc.returncode, peak


def bench(count: int, images: str = "lossy", checkpoint: str = "A", work: Path | None = None,
          keep: bool = False) -> dict:
    """Generate, compress, extract; the figures as a dict."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="latentzip-many-")) if own else Path(work)
    try:
        src = work / "library"
        t0 = time.monotonic()
        size = generate(src, count)
        gen_s = time.monotonic() - t0
        archive = work / "library.ltz"
        load_before = load_average()
        cargs = ["compress", str(src), "-o", str(archive), "--images", images, "--quiet", "--overwrite"]
        if images == "lossy":
            cargs += ["-q", checkpoint]
        c_s, c_rc, c_peak = run_child(cargs)
        out = work / "restored"
        x_s, x_rc, x_peak = run_child(["extract", str(archive), "-o", str(out), "--quiet", "--overwrite"])
        restored = sum(1 for p in out.rglob("*") if p.is_file()) if out.is_dir() else 0
        load_after = load_average()
        return {
            "files": count, "images": images, "checkpoint": checkpoint if images == "lossy" else None,
            "input_bytes": size, "archive_bytes": archive.stat().st_size if archive.exists() else 0,
            "generate_s": round(gen_s, 2),
            "compress_s": round(c_s, 2), "compress_files_per_s": round(count / c_s, 1) if c_s else 0.0,
            "compress_peak_rss_mb": round(c_peak / 2**20, 1), "compress_rc": c_rc,
            "extract_s": round(x_s, 2), "extract_files_per_s": round(count / x_s, 1) if x_s else 0.0,
            "extract_peak_rss_mb": round(x_peak / 2**20, 1), "extract_rc": x_rc,
            "restored_files": restored, "load": round(max(load_before, load_after), 2),
            "busy": is_busy(max(load_before, load_after)), "cpu": cpu_model(), "cores": os.cpu_count(),
        }
    finally:
        if own and not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--count", type=int, default=10_000, help="number of files (default 10,000)")
    ap.add_argument("--images", choices=("lossy", "lossless"), default="lossy")
    ap.add_argument("--checkpoint", choices=("A", "B", "C"), default="A")
    ap.add_argument("--work", type=Path, help="folder for the files and the archive (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    r = bench(args.count, args.images, args.checkpoint, args.work, args.keep)
    mode = f"lossy {r['checkpoint']}" if r["images"] == "lossy" else "lossless"
    print(f"{r['files']} files ({r['input_bytes'] / 1e6:.1f} MB, {mode}) -> archive "
          f"{r['archive_bytes'] / 1e6:.1f} MB; generated in {r['generate_s']:.1f} s")
    print(f"compress: {r['compress_s']:.1f} s, {r['compress_files_per_s']:.1f} files/s, "
          f"peak RSS {r['compress_peak_rss_mb']:.0f} MB (exit {r['compress_rc']})")
    print(f"extract:  {r['extract_s']:.1f} s, {r['extract_files_per_s']:.1f} files/s, "
          f"peak RSS {r['extract_peak_rss_mb']:.0f} MB (exit {r['extract_rc']}), {r['restored_files']} files restored")
    busy = " (busy: other work competed for the CPU, times are pessimistic)" if r["busy"] else ""
    print(f"machine: {r['cpu']}, {r['cores']} cores, load {r['load']:.2f}{busy}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    ok = r["compress_rc"] == 0 and r["extract_rc"] == 0 and r["restored_files"] == r["files"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
