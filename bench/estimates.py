"""How close the engine's estimate (the GUI's and ``--dry-run``'s) lands before compressing, per folder and checkpoint.

    python bench/estimates.py [--folders kodak,photos,both,mixed] [--checkpoints A,B,C] [--samples 6] [--append]

For each folder the engine's estimate (``codec.estimate.sampling.estimate_inputs``)
measures up to ``--samples`` images, one at a time, and is recorded after each;
then each checkpoint is a real ``engine.compress`` run. The table gives the
estimate after the last sample, its range, the archive actually written, the
error, whether the range holds the archive, the samples and seconds after which
the estimate stayed within 10 % of the archive ("settled"), the seconds the
samples took in all, and the compress time. Folders: Kodak
(../shared/data/kodak), the shared photos (../shared/data/photos), both given
together, and the tests' mixed folder (tests/test_engine_roundtrip.py), made in
a temporary folder. ``--append`` keeps the rows of earlier runs for the other
folders and checkpoints. Writes bench/results/estimates.md and .csv.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, RESULTS, command_line, fmt, read_csv, start_run, write_report

from latentzip.codec import engine
from latentzip.codec.estimate.sampling import Estimate, estimate_inputs

SHARED = REPO.parent / "shared" / "data"
FOLDERS = ("kodak", "photos", "both", "mixed")
WITHIN = 0.10
NAME = "estimates"


def inputs_for(name: str, scratch: Path) -> list[Path]:
    """The input paths of one of ``FOLDERS``."""
    if name == "kodak":
        return [SHARED / "kodak"]
    if name == "photos":
        return [SHARED / "photos"]
    if name == "both":
        return [SHARED / "kodak", SHARED / "photos"]
    if name == "mixed":
        sys.path.insert(0, str(REPO / "tests"))
        from test_engine_roundtrip import make_mixed_folder

        return [make_mixed_folder(scratch / "mixed")]
    raise ValueError(f"unknown folder {name!r} (one of {', '.join(FOLDERS)})")


def settled(history: list[tuple[int, float, Estimate]], checkpoint: str, actual: int) -> tuple[int, float] | None:
    """(samples, seconds) after which every later estimate was within ``WITHIN`` of ``actual``; None: never."""
    found = None
    for samples, seconds, est in history:
        close = abs(est.ranges[checkpoint].estimate - actual) <= WITHIN * actual
        if close and found is None:
            found = (samples, seconds)
        elif not close:
            found = None
    return found


def run_folder(name: str, checkpoints: list[str], samples: int, scratch: Path) -> list[dict]:
    inputs = inputs_for(name, scratch)
    history: list[tuple[int, float, Estimate]] = []
    start = time.monotonic()

    def record(est: Estimate) -> None:
        history.append((est.sampled, time.monotonic() - start, est))
        print(f"  {name}: {est.sampled} sample(s), {history[-1][1]:.1f} s", file=sys.stderr)

    final = estimate_inputs(inputs, engine.CompressOptions(), max_samples=samples, on_update=record)
    sample_seconds = time.monotonic() - start
    rows = []
    for cp in checkpoints:
        out = scratch / f"{name}-{cp}.ltz"
        t0 = time.monotonic()
        report = engine.compress(inputs, out, engine.CompressOptions(checkpoint=cp, overwrite=True))
        compress_seconds = time.monotonic() - t0
        actual = report.archive_size
        r = final.ranges[cp]
        when = settled(history, cp, actual)
        rows.append(
            {
                "folder": name,
                "checkpoint": cp,
                "images": final.images,
                "samples": final.sampled,
                "estimate": r.estimate,
                "low": r.low,
                "high": r.high,
                "actual": actual,
                "error_pct": round(100 * (r.estimate - actual) / actual, 2),
                "in_range": r.contains(actual),
                "settled_samples": when[0] if when else None,
                "settled_s": round(when[1], 1) if when else None,
                "samples_s": round(sample_seconds, 1),
                "compress_s": round(compress_seconds, 1),
            }
        )
        print(f"  {name} {cp}: estimate {r.estimate:,} ({r.low:,}-{r.high:,}), actual {actual:,}", file=sys.stderr)
        out.unlink(missing_ok=True)
    return rows


def mb(value: object) -> str:
    """Bytes as MB with four significant digits."""
    return f"{int(str(value)) / 1e6:.4g}"


def table(rows: list[dict]) -> str:
    head = (
        "| folder | ckpt | images | samples | estimate MB | range MB | archive MB | error | in range "
        "| settled after | samples s | compress s |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        est, low, high, actual = (mb(r[k]) for k in ("estimate", "low", "high", "actual"))
        after = (
            f"{r['settled_samples']} ({fmt(r['settled_s'], '.1f')} s)"
            if r["settled_samples"] not in (None, "")
            else "–"
        )
        lines.append(
            f"| {r['folder']} | {r['checkpoint']} | {r['images']} | {r['samples']} | {est} "
            f"| {low}-{high} | {actual} | {float(r['error_pct']):+.1f} % | "
            f"{'yes' if str(r['in_range']) == 'True' else 'NO'} | {after} | {r['samples_s']} | {r['compress_s']} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folders", default=",".join(FOLDERS), help=f"comma-separated: {', '.join(FOLDERS)}")
    ap.add_argument("--checkpoints", default="A,B,C")
    ap.add_argument("--samples", type=int, default=6, help="images measured before the estimate is read")
    ap.add_argument("--append", action="store_true", help="keep earlier rows for other folders and checkpoints")
    args = ap.parse_args(argv)
    machine = start_run()
    checkpoints = [c.strip() for c in args.checkpoints.split(",") if c.strip()]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (f.strip() for f in args.folders.split(",") if f.strip()):
            rows += run_folder(name, checkpoints, args.samples, Path(tmp))
    if args.append and (RESULTS / f"{NAME}.csv").exists():
        new = {(r["folder"], r["checkpoint"]) for r in rows}
        old = [r for r in read_csv(RESULTS / f"{NAME}.csv") if (r["folder"], r["checkpoint"]) not in new]
        rows = sorted(old + rows, key=lambda r: (FOLDERS.index(r["folder"]), r["checkpoint"]))
    md = (
        "# The size estimate before compressing, against the archive written\n\n"
        f"Command: `{command_line('estimates.py')}`  \nMachine: {machine}\n\n"
        f"Estimate and range after the samples (at most {args.samples}); error: (estimate - actual) / actual. "
        f"Settled: the samples (and seconds) after which every estimate stayed within {WITHIN:.0%} of the archive. "
        "Times are indicative (with --append, rows from several runs).\n\n" + table(rows)
    )
    write_report(NAME, md, rows)
    worst = max((abs(float(r["error_pct"])) for r in rows), default=0.0)
    return 0 if worst <= 100 * WITHIN and all(str(r["in_range"]) == "True" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
