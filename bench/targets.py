"""Size and quality targets on a folder (Kodak by default): how close the archive lands, what was chosen, how long.

    python bench/targets.py [--folder ../shared/data/kodak] [--sizes 0.5MB,0.8MB,1.2MB] [--min-quality 0.99]

First the estimate pass alone (``codec.targets.estimate_members``, as the
engine runs it) gives the range a size target can reach: every image at its
smallest option, every image at C, everything stored exactly. Then each
target is a real ``engine.compress`` run (its own estimate pass included) and
the table gives the target, the archive's size and its error against the
target, the images per choice, the MS-SSIM of the coded images, how far the
estimated MS-SSIM of each chosen checkpoint was from the measured one, and
the time (estimate pass and total). Writes bench/results/targets.md and .csv.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_FOLDER, fmt, folder_bytes, start_run, write_report

from latentzip.codec import engine, targets
from latentzip.codec.entries.member import base_header
from latentzip.codec.entries.stored import lzma_pays
from latentzip.codec.ops import compressor
from latentzip.codec.ops.scan import scan_inputs

DEFAULT_SIZES = "0.5MB,0.8MB,1.2MB"


def estimate_folder(folder: Path) -> tuple[list[targets.ItemEstimate], int, float]:
    """The engine's estimate pass on ``folder``: (items, fixed bytes, seconds)."""
    model = engine.default_registry().get(None)
    members = scan_inputs([folder]).members
    start = time.monotonic()
    items, fixed = targets.estimate_members(
        members,
        model,
        decode=compressor.classify_and_decode,
        lzma_pays=lzma_pays,
        base_header=base_header,
    )
    return items, fixed, time.monotonic() - start


def run_target(
    folder: Path, out: Path, options: engine.CompressOptions, items: dict[str, targets.ItemEstimate]
) -> dict:
    start = time.monotonic()
    report = engine.compress([folder], out, options)
    seconds = time.monotonic() - start
    result = report.target
    assert result is not None
    lossy = [o for o in report.outcomes if o.kind == "lossy"]
    scores = [o.ms_ssim for o in lossy if o.ms_ssim is not None]
    errors = []
    for o in lossy:
        item = items.get(o.name)
        if item is not None and o.ms_ssim is not None and any(opt.choice == o.checkpoint for opt in item.options):
            errors.append(item.option(o.checkpoint).ms_ssim - o.ms_ssim)
    size_mode = result.mode == "size"
    return {
        "target": (f"size {result.target / 1e6:.3f} MB" if size_mode else f"MS-SSIM >= {result.target:.4f}"),
        "estimated": round(result.estimated) if size_mode else round(result.estimated, 5),
        "archive_bytes": report.archive_size,
        "error_pct": round(100 * result.error, 2) if size_mode else None,
        "met": result.met,
        "feasible": result.feasible,
        **{f"n_{k}": v for k, v in result.choices.items()},
        "ms_ssim_mean": round(statistics.fmean(scores), 5) if scores else None,
        "ms_ssim_min": round(min(scores), 5) if scores else None,
        "est_err_mean": round(statistics.fmean(abs(e) for e in errors), 5) if errors else None,
        "est_err_max": round(max(errors, key=abs), 5) if errors else None,
        "estimate_s": round(result.estimate_seconds, 1),
        "total_s": round(seconds, 1),
    }


def table(rows: list[dict]) -> str:
    head = (
        "| target | archive | error | met | A | B | C | exact | MS-SSIM mean | min | est. err mean | max "
        "| estimate s | total s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        error = fmt(r["error_pct"], "+.2f") + (" %" if r["error_pct"] is not None else "")
        met = ("yes" if r["met"] else "no") + ("" if r["feasible"] else " (infeasible)")
        lines.append(
            f"| {r['target']} | {r['archive_bytes']:,} B | {error} | {met} | {r['n_A']} | {r['n_B']} "
            f"| {r['n_C']} | {r['n_exact']} | {fmt(r['ms_ssim_mean'], '.4f')} | {fmt(r['ms_ssim_min'], '.4f')}"
            f" | {fmt(r['est_err_mean'], '.4f')} | {fmt(r['est_err_max'], '+.4f')} | {r['estimate_s']:.1f} "
            f"| {r['total_s']:.1f} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated size targets (e.g. 0.5MB,800KB)")
    ap.add_argument("--min-quality", type=float, default=0.99, help="a quality target (0: none)")
    ap.add_argument("--name", default="targets", help="results file name (bench/results/NAME.md, .csv)")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 1
    machine = start_run()
    items, fixed, est_seconds = estimate_folder(args.folder)
    smallest = fixed + sum(i.options[0].size for i in items)
    all_c = fixed + sum(next((o.size for o in i.options if o.choice == "C"), i.options[-1].size) for i in items)
    exact = fixed + sum(i.options[-1].size for i in items)
    by_name = {i.name: i for i in items}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, text in enumerate(s for s in args.sizes.split(",") if s.strip()):
            options = engine.CompressOptions(target_size=targets.parse_size(text), overwrite=True)
            rows.append(run_target(args.folder, Path(tmp) / f"size{n}.ltz", options, by_name))
        if args.min_quality:
            options = engine.CompressOptions(min_quality=args.min_quality, overwrite=True)
            rows.append(run_target(args.folder, Path(tmp) / "quality.ltz", options, by_name))
    command = "python bench/targets.py" + "".join(f" {a}" for a in sys.argv[1:])
    md = (
        f"# Size and quality targets on {args.folder.name}\n\nCommand: `{command}`  \nMachine: {machine}\n\n"
        f"{len(items)} images, {folder_bytes(args.folder):,} bytes. Estimate pass alone: {est_seconds:.1f} s. "
        f"Reachable by a size target (estimated): smallest choices {smallest:,} B, all at C {all_c:,} B, "
        f"all exact {exact:,} B.\n\n"
        f"Error: (archive - target) / target; a size target is met when the archive is not larger. "
        f"Est. err: estimated minus measured MS-SSIM of each image's final checkpoint.\n\n" + table(rows)
    )
    write_report(args.name, md, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
