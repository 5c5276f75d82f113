"""Robustness bench (issue 13): every image of stress folders through the real engine, worst images first.

    python bench/robust.py [--folder ../shared/data/robust ../shared/data/kodak] [--limit N] [--floor F]
        [--checkpoints ABC] [--precisions fp32 int8] [--no-avif] [--name robust]

For each folder, precision (fp32, int8: the app's setting) and checkpoint, the
folder is compressed with the engine (``latentzip compress``: product floors
unless ``--floor`` overrides them; ``--floor 0`` turns them off) and extracted,
and every image is compared with its original (coded images extracted as PNG,
so a JPEG source's figures are the codec's, not a JPEG re-encode's): the entry's
bytes (payload, as the engine's reports count them) per pixel, MS-SSIM, PSNR, the colour error per channel
and its worst 64x64 block (``metrics.colour_error``), the level used (read from the
entry header when the engine records one, else the checkpoint's nominal level),
and whether the image was raised or stored. Images stored or raised are coded
once more at the nominal level with the floor off, so every image also has its
nominal-level figures (what the PSNR and int8 targets are measured on).

Then: means per checkpoint and precision, AVIF speed 6's bpp at the same mean
MS-SSIM (bisected per folder by ``peers.Evaluator``), issue 13's targets for
folders named robust and kodak, the int8 gate with a suggested default precision
per checkpoint, and a picture of the worst image (crops of the original, A and C
at the default precision) in bench/results/<name>-worst.png. Writes
bench/results/<name>.md and .csv. Evaluation only: nothing here trains or tunes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import peers
import robust_report as rr
from common import (
    REPO,
    RESULTS,
    floor_options,
    folder_images,
    load_rgb,
    machine_line,
    staged_folder,
    warn_if_busy,
    write_report,
)
from PIL import Image, ImageDraw

from latentzip.codec import engine, metrics
from latentzip.codec.container import EntryKind

DEFAULT_FOLDERS = (REPO.parent / "shared" / "data" / "robust", REPO.parent / "shared" / "data" / "kodak")
LEVEL_KEYS = ("level", "level_step")  # where an entry header may record the level it was coded at
CROP = 256  # side of the picture's crops


def entry_level(extra: dict, outcome: engine.FileOutcome | None, nominal: float) -> tuple[float, bool | None]:
    """(level, raised) of a coded entry, read defensively: the engine's outcome or entry header when they
    record it (``level``, ``raised``), else the checkpoint's nominal level (raised unknown: None)."""
    level, raised = None, None
    recorded = {k: getattr(outcome, k) for k in (*LEVEL_KEYS, "raised") if hasattr(outcome, k)}
    for source in (extra, recorded):
        for key in LEVEL_KEYS:
            if level is None and isinstance(source.get(key), (int, float)) and not isinstance(source.get(key), bool):
                level = source[key]
        if raised is None and isinstance(source.get("raised"), bool):
            raised = source["raised"]
    if level is None:
        return nominal, raised
    if raised is None and isinstance(level, float):
        raised = level > nominal + 1e-9
    return level, raised


def measure(
    src: Path,
    work: Path,
    precision: str,
    checkpoint: str,
    floor: float | None,
    nominal: float,
    keep: Path | None = None,
) -> tuple[list[dict], int]:
    """Compress ``src`` at one checkpoint and precision, extract, measure every image: (rows, archive bytes)."""
    archive = work / f"{src.name}-{precision}-{checkpoint}.ltz"
    options = engine.CompressOptions(checkpoint=checkpoint, precision=precision, **floor_options(floor))
    report = engine.compress([src], archive, options)
    outcomes = {o.name: o for o in report.outcomes}
    records = {r.path: r for r in engine.list_entries(archive)}
    out = work / f"out-{src.name}-{precision}-{checkpoint}"
    engine.extract(
        archive, out, engine.ExtractOptions(as_png=True, precision=precision)
    )  # the codec's pixels, not a JPEG re-encode
    size = archive.stat().st_size
    archive.unlink()
    rows = []
    for path in folder_images(src):
        name = f"{src.name}/{path.name}"
        record, outcome = records[name], outcomes.get(name)
        a, b = load_rgb(path), load_rgb(out / engine.output_name(record, as_png=True))
        pixels = a.shape[0] * a.shape[1]
        coded = record.kind == EntryKind.IMAGE
        err = metrics.colour_error(a, b)
        level, raised = entry_level(record.extra, outcome, nominal) if coded else (None, None)
        rows.append(
            {
                "table": "image",
                "folder": src.name,
                "image": path.name,
                "precision": precision,
                "checkpoint": checkpoint,
                "kind": "coded" if coded else "stored",
                "note": "" if coded else str(record.extra.get("note", outcome.note if outcome else "")),
                "width": a.shape[1],
                "height": a.shape[0],
                "pixels": pixels,
                "bytes": record.payload_len,
                "bpp": record.payload_len * 8 / pixels,
                "ms_ssim": metrics.ms_ssim(a, b),
                "psnr": metrics.psnr(a, b),
                "err_r": err.channels[0],
                "err_g": err.channels[1],
                "err_b": err.channels[2],
                "block": err.block,
                "block_row": err.block_at[0],
                "block_col": err.block_at[1],
                "level": level,
                "raised": raised,
            }
        )
    if keep is not None:
        keep.mkdir(parents=True)
        for path in folder_images(src):  # under the source's name, whatever extraction called it
            shutil.move(
                str(out / engine.output_name(records[f"{src.name}/{path.name}"], as_png=True)), str(keep / path.name)
            )
    shutil.rmtree(out)
    return rows, size


def add_nominal(
    rows: list[dict], src: Path, work: Path, precision: str, checkpoint: str, nominal: float, floor: float | None
) -> None:
    """Nominal-level figures (floor off) on every row: the row's own when coded at the nominal level,
    else from coding the stored or raised images once more with the floor off."""
    redo = [r["image"] for r in rows if r["kind"] == "stored" or r.get("raised")]
    for r in rows:
        if r["image"] not in redo:
            r.update(
                nominal_bpp=r["bpp"],
                nominal_ms_ssim=r["ms_ssim"],
                nominal_psnr=r["psnr"],
                nominal_colour=rr.colour_worst(r),
            )
        else:
            r.update(nominal_bpp=None, nominal_ms_ssim=None, nominal_psnr=None, nominal_colour=None)
    if not redo or floor == 0.0:
        return
    stage = work / "nominal"
    shutil.rmtree(stage, ignore_errors=True)
    again, _ = measure(staged_folder(src, stage, 0, redo), stage, precision, checkpoint, 0.0, nominal)
    figures = {r["image"]: r for r in again if r["kind"] == "coded"}  # still stored: not smaller when coded
    for r in rows:
        if r["image"] in figures:
            f = figures[r["image"]]
            r.update(
                nominal_bpp=f["bpp"],
                nominal_ms_ssim=f["ms_ssim"],
                nominal_psnr=f["psnr"],
                nominal_colour=rr.colour_worst(f),
            )
    shutil.rmtree(stage)


def run_folder(
    folder: Path, work: Path, args: argparse.Namespace, shown: dict[str, str], model, keep_root: Path
) -> tuple[list[dict], dict]:
    """Every precision and checkpoint on one folder; the extracted images of ``shown`` (checkpoint ->
    precision) are kept under ``keep_root`` for the picture."""
    src = staged_folder(folder, work / "src", args.limit)
    rows, sizes = [], {}
    for precision in args.precisions:
        for cp in args.checkpoints:
            nominal = float(model.manifest.checkpoints[cp].level)
            keep = keep_root / folder.name / cp if precision == shown[cp] else None
            got, size = measure(src, work, precision, cp, args.floor, nominal, keep)
            add_nominal(got, src, work, precision, cp, nominal, args.floor)
            rows += got
            sizes[(src.name, precision, cp)] = size
            print(
                f"{folder.name} {cp} {precision}: {size * 8 / sum(r['pixels'] for r in got):.3f} bpp, MS-SSIM "
                f"{np.mean([r['ms_ssim'] for r in got]):.4f}, worst colour error "
                f"{max(rr.colour_worst(r) for r in got):.2f}",
                flush=True,
            )
    return rows, sizes


def avif_column(folders: dict[str, Path], limit: int) -> Callable[[str, float], tuple[float | None, str]]:
    """``(folder name, target MS-SSIM) -> (bpp, note)``: AVIF speed 6 bisected on that folder's images."""
    codec = peers.CODECS["avif"]
    why = codec.available()
    matchers: dict[str, object] = {}

    def at(name: str, target: float) -> tuple[float | None, str]:
        if why:
            return None, why
        if name not in matchers:
            images = [load_rgb(p) for p in folder_images(folders[name])[: limit or None]]
            matchers[name] = rr.avif_matcher(peers.Evaluator(images, log=lambda *_: None), codec)
        return matchers[name](target)

    return at


def worst_picture(rows: list[dict], folder: str, src: Path, keep: Path, defaults: dict[str, str], out: Path) -> str:
    """Crops of the worst image (original, A, C at ``defaults``' precision) side by side, saved to ``out``."""
    mine = [r for r in rows if r["folder"] == folder and r["precision"] == defaults.get(r["checkpoint"])]
    image = rr.rank_images(mine)[0]
    at_c = next(r for r in mine if r["image"] == image and r["checkpoint"] == "C")
    original = load_rgb(src / image)
    h, w = original.shape[:2]
    side = min(CROP, h, w)
    top = min(max(0, at_c["block_row"] + 32 - side // 2), h - side)
    left = min(max(0, at_c["block_col"] + 32 - side // 2), w - side)
    panels = [("original", original)]
    for cp in ("A", "C"):
        r = next(r for r in mine if r["image"] == image and r["checkpoint"] == cp)
        label = f"{cp} {defaults[cp]}: {r['bpp']:.2f} bpp, " + (
            "stored" if r["kind"] == "stored" else f"colour {rr._err(r)}"
        )
        panels.append((label, load_rgb(keep / cp / image)))
    band = 18
    canvas = Image.new("RGB", (side * 3 + 8, side + band), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, pixels) in enumerate(panels):
        x = i * (side + 4)
        canvas.paste(Image.fromarray(pixels[top : top + side, left : left + side]), (x, band))
        draw.text((x + 2, 3), label, fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    where = out.relative_to(REPO) if out.is_relative_to(REPO) else out
    return f"{folder}/{image} (crop {side}x{side} at x {left}, y {top}, around C's worst block), in {where}"


def markdown(
    rows,
    summaries,
    target_rows,
    gate,
    suggested,
    defaults,
    model_id,
    machine,
    command,
    picture,
    limit: int = 0,
    floor: float | None = None,
) -> str:
    lines = [
        "### Robustness bench",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}  ",
        f"Model set: {model_id}  ",
        "Floors: "
        + (
            "the product's (" + ", ".join(f"{k} {v}" for k, v in engine.QUALITY_FLOORS.items()) + ")"
            if floor is None
            else f"{floor} for every checkpoint"
        ),
        "",
    ]
    if limit:
        lines += [
            f"**Smoke run: only the first {limit} image(s) of each folder; the targets below are not the "
            "issue's figures.**",
            "",
        ]
    for folder, group in rr.by_key(rows, "folder").items():
        lines += [
            f"#### {folder[0]}: per image, worst first",
            "",
            "Ranked by the largest whole-image colour error over checkpoints and precisions. bpp: the entry's "
            "bytes over its pixels; colour error: extracted minus original channel mean, grey levels; worst "
            "block: the largest absolute channel-mean error over 64x64 blocks; nominal: bpp, MS-SSIM, PSNR and "
            "largest whole-image colour error of the same image coded at the checkpoint's nominal level with the "
            "floor and the colour limit off (for stored or raised images).",
            "",
        ]
        lines += rr.image_table(group) + [""]
        stored = rr.stored_lines(group)
        lines += (["Stored:", ""] + stored + [""]) if stored else []
        lines += [
            f"#### {folder[0]}: means",
            "",
            "archive bpp: the whole archive (headers and index included) over "
            "the folder's pixels; AVIF: speed 6, 4:2:0, quality bisected on the same images to the row's mean "
            "MS-SSIM; vs AVIF: archive bpp over AVIF's.",
            "",
        ]
        lines += rr.summary_table([s for s in summaries if s["folder"] == folder[0]]) + [""]
    lines += ["#### int8 gate (nominal levels, MS-SSIM lost against fp32 on the same image)", ""]
    lines += rr.gate_table(gate, suggested, defaults) + [""]
    lines += ["#### Issue 13's targets", ""] + rr.target_table(target_rows) + [""]
    if picture:
        lines += [f"Worst image: {picture}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, nargs="+", default=list(DEFAULT_FOLDERS))
    ap.add_argument("--limit", type=int, default=0, help="only the first N images of each folder (smoke runs)")
    ap.add_argument(
        "--floor",
        type=float,
        default=None,
        help="quality floor for every checkpoint (default: the "
        "product's; 0 turns the floors off: every image at its nominal level)",
    )
    ap.add_argument("--checkpoints", default="ABC")
    ap.add_argument("--precisions", nargs="+", choices=rr.PRECISIONS, default=list(rr.PRECISIONS))
    ap.add_argument("--no-avif", action="store_true", help="skip AVIF's bisection")
    ap.add_argument(
        "--name",
        default=None,
        help="result file names: bench/results/<name>.md, .csv, -worst.png "
        "(default: robust, or robust-floor<F> with --floor)",
    )
    args = ap.parse_args(argv)
    args.name = args.name or ("robust" if args.floor is None else f"robust-floor{args.floor:g}")
    machine = machine_line()
    warn_if_busy(machine)
    model = engine.default_registry().get()
    defaults = {cp: model.default_precision(cp) for cp in args.checkpoints}
    shown = {cp: p if p in args.precisions else args.precisions[0] for cp, p in defaults.items()}  # the picture's
    rows, sizes = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work, keep = Path(tmp), Path(tmp) / "keep"
        for folder in args.folder:
            got, size = run_folder(folder.resolve(), work, args, shown, model, keep)
            rows += got
            sizes.update(size)
        summaries = rr.summarize(rows, sizes)
        if not args.no_avif:
            rr.add_avif(summaries, avif_column({f.name: f for f in args.folder}, args.limit))
        target_rows = rr.targets(rows, summaries, engine.QUALITY_FLOORS)
        gate = rr.int8_gate(rows)
        suggested = rr.suggested_precision(gate)
        picture = ""
        if {"A", "C"} <= set(args.checkpoints):
            first = next((f for f in args.folder if f.name == "robust"), args.folder[0])
            picture = worst_picture(
                rows,
                first.name,
                work / "src" / first.name,
                keep / first.name,
                shown,
                RESULTS / f"{args.name}-worst.png",
            )
    command = "python bench/robust.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = markdown(
        rows,
        summaries,
        target_rows,
        gate,
        suggested,
        defaults,
        model.id,
        machine,
        command.strip(),
        picture,
        args.limit,
        args.floor,
    )
    write_report(args.name, md, rows + summaries + target_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
