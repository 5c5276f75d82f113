"""Latentzip against AVIF speed 6, side by side in one run: wall time of whole processes (issue 17's targets).

    python bench/speed.py [--folder ../shared/data/kodak] [--photo ../shared/data/photos/Kleiber.jpg]
        [--cases kodak photo] [--runs 3] [--limit N] [--checkpoint A] [--name NAME]

Cases: the Kodak folder and one 20 MP photo, each copied to a temporary folder first. Latentzip:
``python -m latentzip compress FOLDER -q A`` then ``extract --as-png``, each a process of its own.
AVIF: speed 6, 4:2:0, ``max_threads=2`` for encoding and decoding, at the integer quality whose
mean MS-SSIM over the same images is nearest Latentzip's (bisected with ``peers.Evaluator`` after
Latentzip's first run, outside the timing); its round trip is two processes as well: one reads
every source and writes an .avif file per image, the other decodes them and writes the same PNG
output (Pillow, the compress level Latentzip's extraction uses). Every process's wall time, CPU
time (user + system, so the cores it kept busy) and peak resident memory are measured; the table
gives the median of ``--runs`` runs (Latentzip, then AVIF, run after run; Latentzip's first run
also gives the MS-SSIM target), the ratio Latentzip / AVIF in wall time, and issue 17's targets:
each round trip at most 1.0x AVIF's, the photo's peak memory under 1 GB. Times depend on the
load: the machine line says when other work competed for the CPU.

Writes bench/results/<name>.md and .csv (default name: speed-<UTC date>).
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import peers
from common import (
    DEFAULT_FOLDER,
    REPO,
    ChildRun,
    folder_images,
    is_busy,
    load_average,
    load_rgb,
    report_head,
    run_latentzip,
    run_python_child,
    staged_input,
    start_run,
    write_report,
)

from latentzip.codec import engine, metrics
from latentzip.codec.images.encode import PNG_COMPRESS_LEVEL

DEFAULT_PHOTO = REPO.parent / "shared" / "data" / "photos" / "Kleiber.jpg"
AVIF_THREADS = 2
AVIF_OPTIONS = {"speed": 6, "subsampling": "4:2:0", "max_threads": AVIF_THREADS}
AVIF = peers.ImageCodec("avif", "AVIF", "AVIF", 0, 99, AVIF_OPTIONS, f"speed 6, 4:2:0, {AVIF_THREADS} threads")
MAX_RATIO = 1.0  # issue 17: each round trip at most AVIF's time
MAX_PHOTO_PEAK_MB = 1e9 / 2**20  # issue 17: the 20 MP photo under 1 GB (10^9 bytes; the tables count 2^20 B)
STEPS = ("compress", "extract", "round trip")
AVIF_STEPS = {"compress": "encode", "extract": "decode", "round trip": "round trip"}

# argv: [peak file, source folder, output folder, quality]
AVIF_ENCODE = """
from pathlib import Path
from PIL import Image
src, out, quality = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
for path in sorted(p for p in src.iterdir() if p.is_file()):
    with Image.open(path) as im:
        im.convert("RGB").save(out / (path.name + ".avif"), "AVIF", quality=quality, **{options!r})
"""
# argv: [peak file, .avif folder, output folder]
AVIF_DECODE = """
from pathlib import Path
from PIL import AvifImagePlugin, Image
AvifImagePlugin.DEFAULT_MAX_THREADS = {threads}
src, out = Path(sys.argv[2]), Path(sys.argv[3])
for path in sorted(src.glob("*.avif")):
    with Image.open(path) as im:
        im.save(out / (path.name[: -len(".avif")].rpartition(".")[0] + ".png"), "PNG", compress_level={level})
"""


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def latentzip_round_trip(src: Path, work: Path, checkpoint: str) -> tuple[ChildRun, ChildRun, Path, Path]:
    """``latentzip compress`` then ``extract --as-png``: (compress, extract, archive, output folder)."""
    archive, out = work / "latentzip.ltz", _fresh(work / "latentzip-out")
    archive.unlink(missing_ok=True)
    c = run_latentzip(["compress", str(src), "-o", str(archive), "-q", checkpoint, "--quiet", "--overwrite"])
    x = run_latentzip(["extract", str(archive), "-o", str(out), "--as-png", "--quiet", "--overwrite"])
    if c.returncode or x.returncode:
        raise RuntimeError(f"latentzip failed on {src} (compress exit {c.returncode}, extract exit {x.returncode})")
    return c, x, archive, out


def avif_round_trip(src: Path, work: Path, quality: int) -> tuple[ChildRun, ChildRun, int]:
    """AVIF encode (sources -> .avif files) then decode (-> PNG), each a process: (encode, decode, bytes)."""
    coded, out = _fresh(work / "avif"), _fresh(work / "avif-out")
    e = run_python_child(AVIF_ENCODE.format(options=AVIF_OPTIONS), [str(src), str(coded), str(quality)])
    d = run_python_child(AVIF_DECODE.format(threads=AVIF_THREADS, level=PNG_COMPRESS_LEVEL), [str(coded), str(out)])
    if e.returncode or d.returncode:
        raise RuntimeError(f"AVIF failed on {src} (encode exit {e.returncode}, decode exit {d.returncode})")
    if len(list(out.glob("*.png"))) != len(folder_images(src)):
        raise RuntimeError(f"AVIF wrote {len(list(out.glob('*.png')))} PNGs for {len(folder_images(src))} images")
    return e, d, sum(p.stat().st_size for p in coded.glob("*.avif"))


def latentzip_quality(src: Path, archive: Path, out: Path) -> float:
    """Mean MS-SSIM of Latentzip's extracted images against the sources."""
    records = {r.path: r for r in engine.list_entries(archive)}
    scores = []
    for path in folder_images(src):
        record = records[f"{src.name}/{path.name}"]
        back = out / engine.output_name(record, as_png=True)
        scores.append(metrics.ms_ssim(load_rgb(path), load_rgb(back)))
    return float(np.mean(scores))


def integer_quality(evaluator: peers.Evaluator, codec: peers.ImageCodec, target: float) -> peers.Point:
    """The integer quality whose mean MS-SSIM is nearest ``target`` (bisection, then the nearer neighbour
    when the bisection ends between two qualities)."""
    p = evaluator.match(codec, target)
    if float(p.quality).is_integer():
        return p
    low, high = int(np.floor(p.quality)), int(np.ceil(p.quality))
    return min(
        (evaluator.point(codec, q) for q in (high, low)),
        key=lambda q: abs(q.ms_ssim - target),  # on a tie, the higher quality (listed first)
    )


def _figures(runs: list[ChildRun]) -> dict:
    return {
        "wall_s": statistics.median(r.seconds for r in runs),
        "cpu_s": statistics.median(r.cpu_s for r in runs),
        "peak_mb": max(r.peak_bytes for r in runs) / 2**20,
    }


def summarize(case: str, tool: str, first: list[ChildRun], second: list[ChildRun]) -> list[dict]:
    """Median figures per step over the runs; the round trip is the median of each run's sum."""
    both = [
        ChildRun(a.seconds + b.seconds, a.cpu_s + b.cpu_s, max(a.peak_bytes, b.peak_bytes), 0)
        for a, b in zip(first, second, strict=True)
    ]
    rows = []
    for step, runs in zip(STEPS, (first, second, both), strict=True):
        f = _figures(runs)
        cores = f["cpu_s"] / f["wall_s"] if f["wall_s"] > 0 else 0.0
        rows.append({"case": case, "tool": tool, "step": step, "runs": len(runs), **f, "cores": cores})
    return rows


def _log(line: str) -> None:
    print(line, flush=True)


def run_case(
    case: str, src: Path, work: Path, runs: int, checkpoint: str, log: Callable[[str], None] = _log
) -> tuple[list[dict], dict]:
    """Every run of one case: (median rows, Latentzip's and AVIF's settings and quality)."""
    images = folder_images(src)
    arrays = [load_rgb(p) for p in images]
    pixels = sum(a.shape[0] * a.shape[1] for a in arrays)
    lz: tuple[list[ChildRun], list[ChildRun]] = ([], [])
    av: tuple[list[ChildRun], list[ChildRun]] = ([], [])
    info: dict = {"case": case, "images": len(images), "megapixels": pixels / 1e6}
    avif_bytes = 0
    point = None
    for i in range(runs):
        c, x, archive, out = latentzip_round_trip(src, work, checkpoint)
        lz[0].append(c)
        lz[1].append(x)
        log(f"{case} run {i + 1}: Latentzip {c.seconds:.2f} + {x.seconds:.2f} s")
        if point is None:
            target = latentzip_quality(src, archive, out)
            info.update(latentzip_ms_ssim=target, latentzip_bpp=archive.stat().st_size * 8 / pixels)
            log(f"{case}: Latentzip {checkpoint} MS-SSIM {target:.4f}; bisecting AVIF's quality")
            point = integer_quality(peers.Evaluator(arrays, log=log), AVIF, target)
            info.update(avif_quality=int(point.quality), avif_ms_ssim=point.ms_ssim)
        e, d, avif_bytes = avif_round_trip(src, work, int(point.quality))
        av[0].append(e)
        av[1].append(d)
        log(f"{case} run {i + 1}: AVIF q{int(point.quality)} {e.seconds:.2f} + {d.seconds:.2f} s")
    info["avif_bpp"] = avif_bytes * 8 / pixels
    rows = summarize(case, "Latentzip", *lz) + summarize(case, "AVIF", *av)
    return rows, info


def ratio(rows: list[dict], case: str, step: str) -> float:
    """Latentzip's median wall time over AVIF's for one case and step."""
    wall = {r["tool"]: r["wall_s"] for r in rows if r["case"] == case and r["step"] == step}
    return wall["Latentzip"] / wall["AVIF"]


def speed_table(rows: list[dict], infos: list[dict]) -> list[str]:
    lines = [
        "| case | step | Latentzip (s) | CPU (s) | cores | peak (MB) | AVIF (s) | CPU (s) | cores | peak (MB) "
        "| Latentzip / AVIF |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for info in infos:
        case = info["case"]
        for step in STEPS:
            mine = {r["tool"]: r for r in rows if r["case"] == case and r["step"] == step}
            lz, av = mine["Latentzip"], mine["AVIF"]
            n = info["images"]
            label = f"{case} ({n} image{'s' * (n != 1)}, {info['megapixels']:.1f} MP)" if step == STEPS[0] else ""
            bold = "**" if step == "round trip" else ""
            steps = step if step == "round trip" else f"{step} / {AVIF_STEPS[step]}"
            lines.append(
                f"| {label} | {bold}{steps}{bold} | {bold}{lz['wall_s']:.2f}{bold} "
                f"| {lz['cpu_s']:.2f} | {lz['cores']:.2f} | {lz['peak_mb']:.0f} | {bold}{av['wall_s']:.2f}{bold} "
                f"| {av['cpu_s']:.2f} | {av['cores']:.2f} | {av['peak_mb']:.0f} "
                f"| {bold}{ratio(rows, case, step):.2f}x{bold} |"
            )
    return lines


def target_rows(rows: list[dict], infos: list[dict], caveats: dict[str, list[str]]) -> list[dict]:
    """Issue 17's targets on the cases measured: (target, measured, verdict); a case's ``caveats`` follow its
    verdicts (a smoke run, a busy machine: not the issue's figures)."""
    out = []
    for info in infos:
        case = info["case"]
        caveat = f" ({', '.join(caveats.get(case, []))})" if caveats.get(case) else ""
        r = ratio(rows, case, "round trip")
        out.append(
            {
                "target": f"{case}: round trip at most {MAX_RATIO:.1f}x AVIF's wall time",
                "measured": f"{r:.2f}x",
                "verdict": ("met" if r <= MAX_RATIO else "NOT met") + caveat,
            }
        )
        if case == "photo":
            peak = max(x["peak_mb"] for x in rows if x["case"] == case and x["tool"] == "Latentzip")
            out.append(
                {
                    "target": f"photo: Latentzip's peak memory under 1 GB ({MAX_PHOTO_PEAK_MB:.0f} MB)",
                    "measured": f"{peak:.0f} MB",
                    "verdict": ("met" if peak < MAX_PHOTO_PEAK_MB else "NOT met") + caveat,
                }
            )
    return out


def markdown(
    rows: list[dict], infos: list[dict], targets: list[dict], command: str, machine: str, runs: int, limit: int
) -> str:
    lines = report_head("Speed against AVIF: whole processes, side by side", command, machine)
    lines += [
        f"Median of {runs} run(s); wall time of each process (start-up included), CPU time over wall = cores "
        f"used, peak resident memory (the larger of the two processes on the round trip row). AVIF: "
        f"{AVIF.setting}, an encode process and a decode process writing the same PNGs (compress level "
        f"{PNG_COMPRESS_LEVEL}) as `latentzip extract --as-png`.",
        "",
    ]
    if limit:
        lines += [f"**Smoke run: only the first {limit} image(s) of the folder; not the issue's figures.**", ""]
    lines += speed_table(rows, infos) + [""]
    for info in infos:
        lines.append(
            f"- {info['case']}: Latentzip {info['latentzip_bpp']:.3f} bpp (whole archive), MS-SSIM "
            f"{info['latentzip_ms_ssim']:.4f}; AVIF quality {info['avif_quality']} {info['avif_bpp']:.3f} bpp, "
            f"MS-SSIM {info['avif_ms_ssim']:.4f} (bisected on the same images)"
        )
    lines += ["", "#### Issue 17's targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {t['verdict']} |" for t in targets]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--cases", nargs="+", choices=("kodak", "photo"), default=["kodak", "photo"])
    ap.add_argument("--runs", type=int, default=3, help="runs per case; the median is reported (default 3)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images of the folder (smoke runs)")
    ap.add_argument("--checkpoint", choices=("A", "B", "C"), default="A")
    ap.add_argument("--name", default=None, help="bench/results/<name>.md and .csv (default: speed-<UTC date>)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    name = args.name or f"speed-{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}"
    why = AVIF.available()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 1
    from PIL import AvifImagePlugin  # Pillow 11.2 and later: AVIF.available() said so

    AvifImagePlugin.DEFAULT_MAX_THREADS = AVIF_THREADS  # the bisection's decoding, as the timed one
    machine = start_run()
    rows: list[dict] = []
    infos: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="latentzip-speed-") as tmp:
        work = Path(tmp)
        sources = {"kodak": (args.folder, args.limit), "photo": (args.photo, 0)}
        for case in args.cases:
            path, limit = sources[case]
            src = staged_input(path, work / "src" / case, limit)
            got, info = run_case(case, src, _fresh(work / "run"), args.runs, args.checkpoint)
            rows += got
            infos.append(info)
    common = [
        text
        for text, applies in (
            ("one run", args.runs == 1),
            ("busy machine", "(busy" in machine or is_busy(load_average())),
        )
        if applies
    ]
    caveats = {"kodak": [f"first {args.limit} image(s) only"] * bool(args.limit) + common, "photo": common}
    targets = target_rows(rows, infos, caveats)
    command = "python bench/speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = markdown(rows, infos, targets, command.strip(), machine, args.runs, args.limit)
    write_report(name, md, rows + infos + targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
