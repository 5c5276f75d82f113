"""Where the time goes: compress and extract split into stages, on the Kodak folder and one 20 MP photo.

    python bench/stage_profile.py [--folder ../shared/data/kodak] [--photo ../shared/data/photos/Kleiber.jpg]
        [--checkpoint A] [--limit N] [--cases kodak photo] [--native-output] [--name NAME]

Each operation runs as ``python -m latentzip compress`` / ``extract --as-png`` (PNG output, as
bench/speed.py measures it) in its own process, with the functions of each stage wrapped by
timers at run time (bench/stage_timer.py; codec/ is not changed): start-up (interpreter and
imports), model loading (files and ONNX sessions), reading and decoding the input, the
analysis transform (g_a), the hyper path (h_a and the integer h_s), entropy coding (range coder
or LZMA, both ways), the synthesis transform (g_s: the quality check at compress, the output at
extract), the quality metric (MS-SSIM and PSNR), output encoding (PNG/JPEG), writing the
output files, and archive writing and reading. Each stage's seconds are exclusive (a nested
stage counts for itself) and summed over threads; "unaccounted" is the process's wall time
less start-up and every stage (negative when stages overlapped in threads). Beside them: the
process's wall and CPU time, the cores it kept busy (CPU over wall) and its peak resident
memory. One run per operation: shares, not figures to compare across machines.

Writes bench/results/<name>.md and .csv (default name: profile-<UTC date>).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import (
    DEFAULT_FOLDER,
    REPO,
    ChildRun,
    fmt,
    folder_images,
    report_head,
    run_python_child,
    staged_input,
    start_run,
    write_report,
)
from PIL import Image
from stage_timer import StageTimer, Target, install

DEFAULT_PHOTO = REPO.parent / "shared" / "data" / "photos" / "Kleiber.jpg"
C = "latentzip.codec."
STARTUP = "start-up (interpreter, imports)"
STAGES = (
    Target(C + "runtime.model_set", "ModelSet.load", "model loading (files, ONNX sessions)"),
    Target(C + "runtime.model_set", "ModelSet.session", "model loading (files, ONNX sessions)"),
    Target(C + "entries.member", "file_sha256", "reading the input (content hash)"),
    Target(C + "images.decode", "classify_and_decode", "decoding the input (probe, pixels)"),
    Target(C + "runtime.transforms", "analysis", "analysis transform (g_a)"),
    Target(C + "runtime.transforms", "hyper_analysis", "hyper path (h_a, integer h_s)"),
    Target(C + "runtime.image_codec", "_hyper", "hyper path (h_a, integer h_s)"),
    Target(C + "entropy.latent_streams", "RangeWriter.write", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "RangeWriter.finish", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "RangeReader.__init__", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "RangeReader.read", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "LzmaWriter.write", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "LzmaWriter.finish", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "LzmaReader.__init__", "entropy coding (range coder / LZMA)"),
    Target(C + "entropy.latent_streams", "LzmaReader.read", "entropy coding (range coder / LZMA)"),
    Target(C + "runtime.transforms", "synthesis", "synthesis transform (g_s)"),
    Target(C + "metrics", "ms_ssim", "quality metric (MS-SSIM, PSNR)"),
    Target(C + "metrics", "psnr", "quality metric (MS-SSIM, PSNR)"),
    Target(C + "images.encode", "encode_image", "output encoding (PNG/JPEG)"),
    Target(C + "ops.extractor", "_write_atomically", "writing the output files", producer="chunks"),
    Target(C + "container.writer", "ArchiveWriter.add", "archive writing"),
    Target(C + "container.writer", "ArchiveWriter.add_stream", "archive writing", producer="chunks"),
    Target(C + "container.writer", "ArchiveWriter.close", "archive writing"),
    Target(C + "ops.partial_file", "finish", "archive writing"),
    Target(C + "container.reader", "ArchiveReader.open", "archive reading"),
    Target(C + "container.reader", "ArchiveReader.read_payload", "archive reading"),
    Target(C + "container.reader", "ArchiveReader.iter_payload", "archive reading"),
)
STAGE_NAMES = [STARTUP] + list(dict.fromkeys(t.stage for t in STAGES))

CHILD = """
sys.path.insert(0, {bench!r})
import stage_profile
raise SystemExit(stage_profile.child(sys.argv[2:]))
"""


def child(argv: list[str]) -> int:
    """In the child process: ``argv`` = [JSON out path, latentzip arguments...]; the CLI with every stage timed."""
    started = time.monotonic()
    out, args = Path(argv[0]), argv[1:]
    import latentzip.codec.engine  # noqa: F401  (the operations, so their imported names get wrapped too)
    from latentzip.cli import main  # imports every module whose functions are wrapped

    timer = StageTimer()
    install(timer, STAGES)
    main_start = time.monotonic()
    try:
        rc = main(args)
    finally:
        main_end = time.monotonic()
        figures = {
            "imports_s": main_start - started,
            "main_start": main_start,
            "main_s": main_end - main_start,
            "seconds": timer.seconds,
            "calls": timer.calls,
            "threads": len(timer.threads),
        }
        out.write_text(json.dumps(figures))
    return int(rc or 0)


def run_profiled(args: list[str], work: Path) -> tuple[ChildRun, dict]:
    """One latentzip command in a child, timed by stage: (the process's figures, the stages')."""
    out = work / "stages.json"
    out.unlink(missing_ok=True)
    run = run_python_child(CHILD.format(bench=str(Path(__file__).resolve().parent)), [str(out), *args])
    if run.returncode != 0 or not out.is_file():
        raise RuntimeError(f"latentzip {' '.join(args)} failed (exit {run.returncode})")
    return run, json.loads(out.read_text())


def operation_row(case: str, operation: str, run: ChildRun, figures: dict, images: int, pixels: int) -> dict:
    """One operation's figures as a flat row: the process's, then seconds and calls per stage."""
    startup = max(0.0, figures["main_start"] - run.started)  # CLOCK_MONOTONIC is the machine's, not the process's
    stages = {STARTUP: startup, **{k: float(v) for k, v in figures["seconds"].items()}}
    summed = sum(stages.values())
    row = {
        "case": case,
        "operation": operation,
        "images": images,
        "megapixels": pixels / 1e6,
        "wall_s": run.seconds,
        "cpu_s": run.cpu_s,
        "cores": run.cores,
        "peak_rss_mb": run.peak_bytes / 2**20,
        "threads_timed": figures["threads"],
        "stages_s": summed,
        "unaccounted_s": run.seconds - summed,
    }
    for name in STAGE_NAMES:
        row[f"{name} s"] = stages.get(name, 0.0)
        row[f"{name} calls"] = figures["calls"].get(name, 1 if name == STARTUP else 0)
    return row


def _pixels(folder: Path) -> tuple[int, int]:
    """(images, pixels) of a folder."""
    images = folder_images(folder)
    total = 0
    for p in images:
        with Image.open(p) as im:
            total += im.width * im.height
    return len(images), total


def _log(line: str) -> None:
    print(line, flush=True)


def profile_case(case: str, src: Path, work: Path, checkpoint: str, as_png: bool, log=_log) -> list[dict]:
    """Compress ``src`` (a folder) and extract it, each profiled: one row per operation."""
    images, pixels = _pixels(src)
    archive = work / f"{case}.ltz"
    out = work / f"out-{case}"
    c_run, c_fig = run_profiled(
        ["compress", str(src), "-o", str(archive), "-q", checkpoint, "--quiet", "--overwrite"], work
    )
    x_args = ["extract", str(archive), "-o", str(out), "--quiet", "--overwrite"] + (["--as-png"] if as_png else [])
    x_run, x_fig = run_profiled(x_args, work)
    rows = [
        operation_row(case, "compress", c_run, c_fig, images, pixels),
        operation_row(case, "extract", x_run, x_fig, images, pixels),
    ]
    for r in rows:
        log(f"{case} {r['operation']}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU, {r['cores']:.2f} cores")
    shutil.rmtree(out, ignore_errors=True)
    archive.unlink(missing_ok=True)
    return rows


def case_table(compress: dict, extract: dict) -> list[str]:
    """Markdown: one row per stage, compress and extract side by side (seconds and share of the wall)."""

    def share(row: dict, seconds: float) -> str:
        return f"{100 * seconds / row['wall_s']:.1f} %" if row["wall_s"] > 0 else "–"

    lines = [
        "| stage | compress (s) | share | calls | extract (s) | share | calls |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in STAGE_NAMES:
        c, x = compress[f"{name} s"], extract[f"{name} s"]
        if not (c or x):
            continue
        lines.append(
            f"| {name} | {c:.2f} | {share(compress, c)} | {compress[f'{name} calls']} "
            f"| {x:.2f} | {share(extract, x)} | {extract[f'{name} calls']} |"
        )
    for label, key in (("summed stages", "stages_s"), ("unaccounted (wall - stages)", "unaccounted_s")):
        lines.append(
            f"| {label} | {compress[key]:.2f} | {share(compress, compress[key])} | "
            f"| {extract[key]:.2f} | {share(extract, extract[key])} | |"
        )
    lines += [
        f"| **wall time (process)** | **{compress['wall_s']:.2f}** | 100 % | | **{extract['wall_s']:.2f}** | 100 % | |",
        f"| CPU time (user + system) | {compress['cpu_s']:.2f} | | | {extract['cpu_s']:.2f} | | |",
        f"| cores used (CPU / wall) | {compress['cores']:.2f} | | | {extract['cores']:.2f} | | |",
        f"| peak resident memory | {fmt(compress['peak_rss_mb'], '.0f')} MB | | "
        f"| {fmt(extract['peak_rss_mb'], '.0f')} MB | | |",
        f"| threads that ran timed stages | {compress['threads_timed']} | | | {extract['threads_timed']} | | |",
    ]
    return lines


def markdown(rows: list[dict], command: str, machine: str, checkpoint: str, as_png: bool, limit: int) -> str:
    lines = report_head("Where the time goes: compress and extract by stage", command, machine)
    lines += [
        f"Checkpoint {checkpoint}, default precision, range coder; extract writes "
        + ("PNG (`--as-png`)." if as_png else "each image in its source's format."),
        "Seconds per stage are exclusive (a nested stage counts for itself) and summed over threads; share: "
        "of the process's wall time. When stages run at once in several threads, summed stages exceed the "
        "wall and 'unaccounted' turns negative. One run per operation.",
        "",
    ]
    if limit:
        lines += [f"**Smoke run: only the first {limit} image(s) of the folder.**", ""]
    by_case: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_case.setdefault(r["case"], {})[r["operation"]] = r
    for case, ops in by_case.items():
        first = ops["compress"]
        lines += [f"#### {case}: {first['images']} image(s), {first['megapixels']:.1f} MP", ""]
        lines += case_table(ops["compress"], ops["extract"]) + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--cases", nargs="+", choices=("kodak", "photo"), default=["kodak", "photo"])
    ap.add_argument("--checkpoint", choices=("A", "B", "C"), default="A")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images of the folder (smoke runs)")
    ap.add_argument("--native-output", action="store_true", help="extract to each source's format, not PNG")
    ap.add_argument("--name", default=None, help="bench/results/<name>.md and .csv (default: profile-<UTC date>)")
    args = ap.parse_args(argv)
    name = args.name or f"profile-{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}"
    machine = start_run()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="latentzip-profile-") as tmp:
        work = Path(tmp)
        sources = {"kodak": (args.folder, args.limit), "photo": (args.photo, 0)}
        for case in args.cases:
            path, limit = sources[case]
            src = staged_input(path, work / case, limit)
            rows += profile_case(case, src, work, args.checkpoint, not args.native_output)
    command = "python bench/stage_profile.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = markdown(rows, command.strip(), machine, args.checkpoint, not args.native_output, args.limit)
    write_report(name, md, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
