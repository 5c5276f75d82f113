"""Large libraries: N small photos compressed and extracted, files per second and peak memory.

    python bench/many_files.py                      # 10,000 files, lossy at checkpoint A
    python bench/many_files.py --count 1000 --images lossless

Generates ``--count`` small photos in a temporary folder (500 per sub-folder), like a
phone's or a web gallery's thumbnails and small pictures: long side 128 to 320 px (4:3,
3:4, 3:2, 16:9 or square), three JPEGs (quality 80 to 95) for every PNG. Half are crops of
the photos in ``tests/assets`` (random crop, scale, flip, turn and exposure), half smooth
synthetic scenes with texture (a sky-like gradient, soft blobs, edges, fine grain), so the
codec pays on most of them, as it does on real photos. Then it runs ``latentzip compress``
and ``latentzip extract`` each in a child process and prints, per step, the time, files per
second and the child's peak resident memory (its VmHWM at exit), the archive
size against the input, and how many files were coded, re-packed, LZMA'd or stored (read
from the archive's index). The count of restored files is checked. Times depend on the
load: the result line says when other work competed for the CPU.

Memory stays bounded: files are generated and coded one at a time, payloads stream to and
from the archive, and what grows with the count is the index (a few hundred bytes a file);
``tests/test_many_files.py`` (slow) checks 10,000 against 1,000 files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, is_busy, load_average, run_python_child  # noqa: E402

PER_FOLDER = 500
ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets"
ASPECTS = ((4, 3), (3, 4), (3, 2), (16, 9), (1, 1))
LONG_SIDE = (128, 320)
GROUND_TEXTURE, SKY_TEXTURE = 6.0, 0.0  # grain amplitude, 8-bit levels


def _asset_photos() -> list[np.ndarray]:
    """The RGB photos in tests/assets (not the distorted copies made for the metric tests)."""
    out = []
    for path in sorted(ASSETS.glob("*.png")):
        if "jpeg" in path.name or "noise" in path.name:
            continue
        with Image.open(path) as im:
            out.append(np.asarray(im.convert("RGB")))
    return out


def _size(rng: np.random.Generator) -> tuple[int, int]:
    aw, ah = ASPECTS[rng.integers(len(ASPECTS))]
    long_side = int(rng.integers(LONG_SIDE[0], LONG_SIDE[1] + 1))
    if aw >= ah:
        return long_side, max(16, round(long_side * ah / aw))
    return max(16, round(long_side * aw / ah)), long_side


def _from_asset(rng: np.random.Generator, photos: list[np.ndarray], width: int, height: int) -> Image.Image:
    src = photos[rng.integers(len(photos))]
    if rng.random() < 0.5:
        src = np.rot90(src)
    sh, sw = src.shape[:2]
    scale = rng.uniform(0.5, 1.0) * min(sw / width, sh / height)  # crop the target's aspect, then resize
    cw, ch = max(8, int(width * scale)), max(8, int(height * scale))
    x0, y0 = int(rng.integers(0, sw - cw + 1)), int(rng.integers(0, sh - ch + 1))
    crop = src[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32)
    crop = crop * rng.uniform(0.8, 1.15) + rng.uniform(-12, 12, 3)  # exposure and white balance
    im = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return im.resize((width, height), Image.Resampling.LANCZOS)


def _synthetic(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom = rng.uniform(40, 230, 3), rng.uniform(20, 200, 3)
    t = (y / height)[..., None]
    img = top * (1 - t) + bottom * t  # a sky-like vertical gradient
    for _ in range(int(rng.integers(2, 6))):  # soft blobs: objects out of focus
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.08, 0.35) * max(width, height)
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - weight) + rng.uniform(0, 255, 3) * weight
    horizon = height * rng.uniform(0.4, 0.8) + 6 * np.sin(x / rng.uniform(8, 30))  # an edge: ground
    ground = (y > horizon)[..., None]
    img = np.where(ground, img * 0.6 + rng.uniform(20, 120, 3) * 0.4, img)
    grain = rng.normal(0, 1, (height // 3 + 1, width // 3 + 1)).astype(np.float32)  # texture, ~3 px grain
    grain = np.asarray(Image.fromarray(grain, "F").resize((width, height), Image.Resampling.BICUBIC))[..., None]
    img = img + grain * np.where(ground, GROUND_TEXTURE, SKY_TEXTURE)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def generate(folder: Path, count: int, seed: int = 0) -> int:
    """Write ``count`` small photos under ``folder``; returns their total size in bytes."""
    rng = np.random.default_rng(seed)
    photos = _asset_photos()
    total = 0
    for i in range(count):
        sub = folder / f"roll{i // PER_FOLDER:03d}"
        if i % PER_FOLDER == 0:
            sub.mkdir(parents=True, exist_ok=True)
        width, height = _size(rng)
        im = _from_asset(rng, photos, width, height) if i % 2 == 0 and photos else _synthetic(rng, width, height)
        if i % 4 == 3:
            path = sub / f"img{i:05d}.png"
            im.save(path, "PNG")
        else:
            path = sub / f"img{i:05d}.jpg"
            im.save(path, "JPEG", quality=int(rng.integers(80, 96)))
        total += path.stat().st_size
    return total


def entry_kinds(archive: Path) -> dict[str, int]:
    """How many files the archive holds of each kind (coded, re-packed, LZMA, stored, duplicate)."""
    from latentzip.codec.container import ArchiveReader, EntryKind

    names = {
        EntryKind.IMAGE: "coded",
        EntryKind.JPEG_REPACK: "repacked",
        EntryKind.LZMA: "lzma",
        EntryKind.STORED: "stored",
        EntryKind.DUPLICATE: "duplicate",
    }
    with ArchiveReader.open(archive) as reader:
        counts = Counter(names[e.kind] for e in reader.entries if e.kind in names)
    return {name: counts.get(name, 0) for name in names.values()}


def run_child(args: list[str]) -> tuple[float, int, int]:
    """Run the latentzip command line with ARGS in a child: (seconds, exit code, peak RSS in bytes)."""
    run = run_python_child("from latentzip.codec.cli import main\nraise SystemExit(main(sys.argv[2:]))\n", args)
    return run.seconds, run.returncode, run.peak_bytes


def bench(
    count: int, images: str = "lossy", checkpoint: str = "A", work: Path | None = None, keep: bool = False
) -> dict:
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
        kinds = entry_kinds(archive) if c_rc == 0 else {}
        load_after = load_average()
        return {
            "files": count,
            "images": images,
            "checkpoint": checkpoint if images == "lossy" else None,
            "input_bytes": size,
            "archive_bytes": archive.stat().st_size if archive.exists() else 0,
            "generate_s": round(gen_s, 2),
            "compress_s": round(c_s, 2),
            "compress_files_per_s": round(count / c_s, 1) if c_s else 0.0,
            "compress_peak_rss_mb": round(c_peak / 2**20, 1),
            "compress_rc": c_rc,
            "extract_s": round(x_s, 2),
            "extract_files_per_s": round(count / x_s, 1) if x_s else 0.0,
            "extract_peak_rss_mb": round(x_peak / 2**20, 1),
            "extract_rc": x_rc,
            "entries": kinds,
            "restored_files": restored,
            "load": round(max(load_before, load_after), 2),
            "busy": is_busy(max(load_before, load_after)),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
        }
    finally:
        if own and not keep:
            shutil.rmtree(work, ignore_errors=True)


def summary_lines(r: dict) -> list[str]:
    """The bench's figures as text lines (printed, and the body of the results file)."""
    mode = f"lossy {r['checkpoint']}" if r["images"] == "lossy" else "lossless"
    ratio = r["archive_bytes"] / r["input_bytes"] if r["input_bytes"] else 0.0
    busy = " (busy: other work competed for the CPU, times are pessimistic)" if r["busy"] else ""
    return [
        f"{r['files']} files ({r['input_bytes'] / 1e6:.1f} MB, {mode}) -> archive "
        f"{r['archive_bytes'] / 1e6:.1f} MB ({100 * ratio:.1f} % of the input); generated in {r['generate_s']:.1f} s",
        "entries: " + ", ".join(f"{n} {kind}" for kind, n in r["entries"].items()),
        f"compress: {r['compress_s']:.1f} s, {r['compress_files_per_s']:.1f} files/s, "
        f"peak RSS {r['compress_peak_rss_mb']:.0f} MB (exit {r['compress_rc']})",
        f"extract:  {r['extract_s']:.1f} s, {r['extract_files_per_s']:.1f} files/s, "
        f"peak RSS {r['extract_peak_rss_mb']:.0f} MB (exit {r['extract_rc']}), {r['restored_files']} files restored",
        f"machine: {r['cpu']}, {r['cores']} cores, load {r['load']:.2f}{busy}",
    ]


def write_results(r: dict, lines: list[str], command: str, name: str) -> None:
    """bench/results/<name>.md (the summary) and .csv (the figures, one row)."""
    from common import RESULTS, write_csv

    RESULTS.mkdir(parents=True, exist_ok=True)
    md = "\n".join(
        ["### Large libraries: many small photos", "", f"Command: `{command}`", "", "```", *lines, "```", ""]
    )
    (RESULTS / f"{name}.md").write_text(md)
    write_csv(RESULTS / f"{name}.csv", [{k: v for k, v in r.items() if not isinstance(v, dict)}])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--count", type=int, default=10_000, help="number of files (default 10,000)")
    ap.add_argument("--images", choices=("lossy", "lossless"), default="lossy")
    ap.add_argument("--checkpoint", choices=("A", "B", "C"), default="A")
    ap.add_argument("--work", type=Path, help="folder for the files and the archive (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--name", default="many-files", help="bench/results/<name>.md and .csv")
    args = ap.parse_args(argv)
    r = bench(args.count, args.images, args.checkpoint, args.work, args.keep)
    lines = summary_lines(r)
    print("\n".join(lines))
    command = "python bench/many_files.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    write_results(r, lines, command, args.name)
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    ok = r["compress_rc"] == 0 and r["extract_rc"] == 0 and r["restored_files"] == r["files"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
