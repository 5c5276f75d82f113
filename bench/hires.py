"""Large photos: Latentzip's time and peak memory per image (tiling and memory measured too).

    python bench/hires.py [--count 3] [--megapixels 24] [--checkpoint B] [--folder PHOTOS]

Without ``--folder`` it builds ``--count`` photos of about ``--megapixels`` in a
temporary folder (never committed): each is a 3x3 mosaic of different Kodak images,
turned to landscape and upscaled with Lanczos to a 3:2 tile, so 24 MP is 6000x4000.
Any folder of large photos can be given instead (for example ../shared/data/photos,
nine 4 MP JPEGs and one 20 MP).

Each image is compressed and then extracted by a child process of its own
(``hires.py --child``), which reports the seconds of the engine call (model loading
included) and its own peak resident memory (VmHWM), so every figure belongs to
one image and one step. MS-SSIM and PSNR are computed afterwards in this process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_FOLDER,
    command_line,
    floor_options,
    fmt,
    folder_images,
    load_rgb,
    report_head,
    start_run,
    write_report,
)
from PIL import Image

HERE = Path(__file__).resolve().parent


def build_tiled_set(source: Path, out: Path, count: int = 3, megapixels: float = 24.0, grid: int = 3) -> list[Path]:
    """``count`` PNG mosaics of ``grid`` x ``grid`` different images from ``source``, about ``megapixels`` each."""
    out.mkdir(parents=True, exist_ok=True)
    sources = folder_images(source)
    if not sources:
        raise SystemExit(f"no images in {source}")
    height = round(float(np.sqrt(megapixels * 1e6 / 1.5)))
    height -= height % (2 * grid)
    width = height * 3 // 2
    tile_w, tile_h = width // grid, height // grid
    paths = []
    for i in range(count):
        canvas = Image.new("RGB", (width, height))
        for j in range(grid * grid):
            with Image.open(sources[(i * grid * grid + j) % len(sources)]) as im:
                im = im.convert("RGB")
                if im.height > im.width:
                    im = im.transpose(Image.Transpose.ROTATE_90)
                tile = im.resize((tile_w, tile_h), Image.Resampling.LANCZOS)
            canvas.paste(tile, ((j % grid) * tile_w, (j // grid) * tile_h))
        path = out / f"mosaic{i + 1:02d}.png"
        canvas.save(path, compress_level=6)
        paths.append(path)
    return paths


def child(step: str, src: Path, dst: Path, checkpoint: str, entropy: str, floor: float | None) -> int:
    """One engine call in this fresh process; prints a JSON line with its seconds and peak RSS."""
    from latentzip.codec import engine

    t0 = time.perf_counter()
    if step == "compress":
        options = engine.CompressOptions(checkpoint=checkpoint, entropy=entropy, **floor_options(floor))
        engine.compress([src], dst, options)
    else:
        engine.extract(src, dst)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mib": peak_rss_kib() / 1024}))
    return 0


def peak_rss_kib() -> int:
    """This process's peak resident set in KiB: VmHWM of its own address space.

    ``ru_maxrss`` is not used where VmHWM exists: Linux carries the parent's peak into a
    child across fork (or vfork) and exec, so a child of a big benchmark process would
    report at least its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def _run_child(*argv: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / "hires.py"), "--child", *argv], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(
    images: list[Path], work: Path, checkpoint: str = "B", entropy: str = "range", floor: float | None = None, log=print
) -> list[dict]:
    """Compress and extract each image alone, each step in its own child process."""
    from latentzip.codec import metrics

    rows = []
    for img in images:
        archive, out = work / f"{img.stem}.ltz", work / f"out-{img.stem}"
        c = _run_child("compress", str(img), str(archive), checkpoint, entropy, str(floor))
        x = _run_child("extract", str(archive), str(out), checkpoint, entropy, str(floor))
        a, b = load_rgb(img), load_rgb(out / img.name)
        size = archive.stat().st_size
        row = {
            "image": img.name,
            "width": a.shape[1],
            "height": a.shape[0],
            "megapixels": a.shape[0] * a.shape[1] / 1e6,
            "original_bytes": img.stat().st_size,
            "archive_bytes": size,
            "ratio": img.stat().st_size / size,
            "bpp": size * 8 / (a.shape[0] * a.shape[1]),
            "ms_ssim": metrics.ms_ssim(a, b),
            "psnr": metrics.psnr(a, b),
            "compress_s": c["seconds"],
            "extract_s": x["seconds"],
            "compress_peak_mib": c["peak_mib"],
            "extract_peak_mib": x["peak_mib"],
            "checkpoint": checkpoint,
            "entropy": entropy,
        }
        rows.append(row)
        log(
            f"{img.name}: {row['megapixels']:.1f} MP, {row['bpp']:.3f} bpp, MS-SSIM {row['ms_ssim']:.4f}, "
            f"{row['compress_s']:.1f} + {row['extract_s']:.1f} s, peak {row['compress_peak_mib']:.0f} / "
            f"{row['extract_peak_mib']:.0f} MiB"
        )
        row["coded"] = "yes" if _coded(archive) else "no (stored byte-exact)"
        archive.unlink()
        for p in sorted(out.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        out.rmdir()
    return rows


def _coded(archive: Path) -> bool:
    from latentzip.codec import engine
    from latentzip.codec.container import EntryKind

    return any(e.kind == EntryKind.IMAGE for e in engine.list_entries(archive))


def table(rows: list[dict]) -> list[str]:
    lines = [
        (
            "| image | size | MP | ratio | bpp | MS-SSIM | PSNR (dB) | compress (s) | extract (s) | "
            "peak memory compress / extract (MiB) | coded |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['image']} | {r['width']}x{r['height']} | {r['megapixels']:.1f} | "
            f"{fmt(r['ratio'], '.1f')} | {r['bpp']:.3f} | {r['ms_ssim']:.4f} | {r['psnr']:.2f} | "
            f"{r['compress_s']:.1f} | {r['extract_s']:.1f} | "
            f"{r['compress_peak_mib']:.0f} / {r['extract_peak_mib']:.0f} | {r.get('coded', '')} |"
        )
    return lines


def run(
    folder: Path | None,
    source: Path,
    count: int,
    megapixels: float,
    checkpoint: str,
    entropy: str,
    floor: float | None = None,
    log=print,
) -> tuple[list[dict], str]:
    """Build the set (unless ``folder`` is given) and measure it: (rows, a description of the set)."""
    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            log(f"building {count} mosaics of {megapixels:g} MP from {source} ...")
            images = build_tiled_set(source, Path(tmp) / "hires", count, megapixels)
            what = (
                f"{count} mosaic{'s' if count > 1 else ''} of 3x3 Kodak images upscaled with Lanczos to about "
                f"{megapixels:g} MP (generated, PNG)"
            )
        else:
            images = folder_images(folder)
            what = f"the images of {folder}"
        work = Path(tmp) / "work"
        work.mkdir()
        return measure(images, work, checkpoint, entropy, floor, log), what


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        step, src, dst, checkpoint, entropy, floor = sys.argv[2:8]
        return child(step, Path(src), Path(dst), checkpoint, entropy, None if floor == "None" else float(floor))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=None, help="a folder of large photos (default: generate mosaics)")
    ap.add_argument("--source", type=Path, default=DEFAULT_FOLDER, help="images the mosaics are made of")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--megapixels", type=float, default=24.0)
    ap.add_argument("--checkpoint", default="B")
    ap.add_argument("--entropy", default="range")
    ap.add_argument("--floor", type=float, default=None, help="override Latentzip's quality floor")
    ap.add_argument("--name", default="hires")
    args = ap.parse_args()
    machine = start_run()
    rows, what = run(args.folder, args.source, args.count, args.megapixels, args.checkpoint, args.entropy, args.floor)
    head = report_head(
        f"Latentzip on large photos ({args.checkpoint}, {args.entropy})", command_line("hires.py"), machine
    )
    md = "\n".join([*head[:2], f"Set: {what}  ", *head[2:], *table(rows), ""])
    write_report(args.name, md, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
