"""The robustness bench's pure part: per-image rows -> means, issue 13's targets, the int8 gate, Markdown.

``robust.py`` runs the engine and measures; everything here works on the rows it
makes (plain dicts, one per image, checkpoint and precision), so it is tested on
made-up rows (tests/test_bench_robust.py).

A row holds: folder, image, precision, checkpoint, kind ("coded" or "stored"),
note, pixels, bytes (the entry's payload, as the engine's reports count it), bpp,
ms_ssim, psnr, err_r/err_g/err_b (extracted minus original channel means, grey
levels), block (worst 64x64 block's absolute channel-mean error), level, raised,
and the nominal-level figures (floors and colour limit off): nominal_bpp, nominal_ms_ssim, nominal_psnr,
nominal_colour (the largest absolute whole-image channel error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import paper
from common import fmt

CHECKPOINT_ORDER = ("A", "B", "C")
PRECISIONS = ("fp32", "int8")
CHANNELS = ("err_r", "err_g", "err_b")

# issue 13's targets
ROBUST_COLOUR_MAX = 1.0  # grey levels, every image, every channel (whole-image means)
KODAK_COLOUR_MAX = 0.5
PSNR_GAIN_C_OVER_A = 1.5  # dB, every image, at the nominal levels (floors off)
KODAK_MS_SSIM = {"A": 0.975, "B": 0.987, "C": 0.991}  # these define the checkpoints
KODAK_BPP_MAX = {"A": 0.48, "B": 0.77, "C": 1.12}
KODAK_BPP_STRETCH = {"A": 0.42, "B": 0.68, "C": 0.98}
KODAK_PSNR_MIN = {cp: v[2] for cp, v in paper.CHECKPOINTS.items()}  # the paper's
MS_SSIM_TOLERANCE = 0.0005  # as peers.py's bisection: "at 0.975" is met from 0.9745
INT8_WORST_LOSS = 0.003  # MS-SSIM against fp32, worst image
INT8_MEAN_LOSS = 0.002  # and mean
COLOUR_MAX = {"robust": ROBUST_COLOUR_MAX, "kodak": KODAK_COLOUR_MAX}  # by folder name


def colour_worst(row: dict) -> float:
    """The largest absolute whole-image channel error of a row (0 for a grey row without the others)."""
    return max((abs(row[c]) for c in CHANNELS if row.get(c) is not None), default=0.0)


def by_key(rows: Iterable[dict], *keys: str) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def rank_images(rows: list[dict]) -> list[str]:
    """Image names, worst first: by the largest colour error over every checkpoint and precision,
    then by the lowest MS-SSIM."""
    worst: dict[str, tuple[float, float]] = {}
    for r in rows:
        colour, ms = worst.get(r["image"], (0.0, 1.0))
        worst[r["image"]] = (max(colour, colour_worst(r)), min(ms, r["ms_ssim"]))
    return sorted(worst, key=lambda name: (-worst[name][0], worst[name][1], name))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(rows: list[dict], archive_bytes: dict[tuple[str, str, str], int]) -> list[dict]:
    """One row per (folder, precision, checkpoint): counts, bpp, means, worst colour errors.

    ``archive_bytes``: (folder, precision, checkpoint) -> the whole archive's size (headers and
    index included), for the archive bpp. PSNR is averaged over coded images (a stored one is exact).
    """
    out = []
    for (folder, precision, cp), group in sorted(
        by_key(rows, "folder", "precision", "checkpoint").items(),
        key=lambda kv: (kv[0][0], PRECISIONS.index(kv[0][1]), CHECKPOINT_ORDER.index(kv[0][2])),
    ):
        pixels = sum(r["pixels"] for r in group)
        coded = [r for r in group if r["kind"] == "coded"]
        s = {
            "table": "mean",
            "folder": folder,
            "precision": precision,
            "checkpoint": cp,
            "images": len(group),
            "coded": len(coded),
            "raised": sum(1 for r in group if r.get("raised")),
            "stored": sum(1 for r in group if r["kind"] == "stored"),
            "archive_bpp": archive_bytes[(folder, precision, cp)] * 8 / pixels
            if (folder, precision, cp) in archive_bytes
            else None,
            "bpp": sum(r["bytes"] for r in group) * 8 / pixels,
            "ms_ssim": _mean([r["ms_ssim"] for r in group]),
            "psnr": _mean([r["psnr"] for r in coded]),
            "nominal_ms_ssim": _mean([r["nominal_ms_ssim"] for r in group if r.get("nominal_ms_ssim") is not None]),
            "block": max(r["block"] for r in group),
        }
        for c in CHANNELS:
            s[c] = _mean([r[c] for r in group])
            s[f"worst_{c}"] = max((r[c] for r in group), key=abs)
        s["colour_worst"] = max(abs(s[f"worst_{c}"]) for c in CHANNELS)
        out.append(s)
    return out


def add_avif(summaries: list[dict], avif_bpp: Callable[[str, float], tuple[float, str]]) -> None:
    """Each summary gains AVIF's bpp at its mean MS-SSIM (``avif_bpp(folder, target)`` -> (bpp, note))
    and Latentzip's distance to it (archive bpp over AVIF's, minus one)."""
    for s in summaries:
        bpp, note = avif_bpp(s["folder"], s["ms_ssim"])
        ours = s["archive_bpp"] if s["archive_bpp"] is not None else s["bpp"]
        s["avif_bpp"], s["avif_note"] = bpp, note
        s["vs_avif"] = ours / bpp - 1.0 if bpp else None


def avif_matcher(evaluator, codec) -> Callable[[float], tuple[float, str]]:
    """``target -> (bpp, note)`` by ``peers.Evaluator.match`` (bisection on the folder's mean MS-SSIM)."""

    def at(target: float) -> tuple[float, str]:
        p = evaluator.match(codec, target)
        return p.bpp, (p.note or f"quality {p.quality:g}")

    return at


# ---------------------------------------------------------------- targets


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT met")


def stored_when_top_meets(rows: list[dict], floors: dict[str, float]) -> list[str]:
    """Images stored for their floor although the top measured level (C at its nominal level) meets that floor.

    C's nominal figure bounds what the top of the level axis reaches from below: an image that
    meets its floor at C needed no storing. One stored for another reason (not smaller) is not counted.
    """
    top = {(r["folder"], r["precision"], r["image"]): r for r in rows if r["checkpoint"] == CHECKPOINT_ORDER[-1]}
    bad = []
    for r in rows:
        if r["kind"] != "stored" or "floor" not in r.get("note", ""):
            continue
        c = top.get((r["folder"], r["precision"], r["image"]))
        if (
            c is not None
            and c.get("nominal_ms_ssim") is not None
            and c["nominal_ms_ssim"] >= floors[r["checkpoint"]]
            and c.get("nominal_bpp") is not None
            and c["nominal_bpp"] * r["pixels"] / 8 < r["bytes"]
        ):
            bad.append(f"{r['image']} ({r['precision']} {r['checkpoint']}: C reaches {c['nominal_ms_ssim']:.4f})")
    return bad


def psnr_gain_failures(rows: list[dict]) -> tuple[list[str], float | None]:
    """Images whose nominal PSNR at C is under A's + PSNR_GAIN_C_OVER_A, and the smallest gain seen."""
    lows, smallest = [], None
    for (_folder, precision, image), group in by_key(rows, "folder", "precision", "image").items():
        at = {r["checkpoint"]: r.get("nominal_psnr") for r in group}
        if at.get("A") is None or at.get("C") is None:
            continue
        gain = at["C"] - at["A"]
        smallest = gain if smallest is None else min(smallest, gain)
        if gain < PSNR_GAIN_C_OVER_A:
            lows.append(f"{image} ({precision}: +{gain:.2f} dB)")
    return lows, smallest


def int8_gate(rows: list[dict]) -> list[dict]:
    """Per folder and checkpoint: the worst and mean MS-SSIM loss of int8 against fp32, at the nominal levels
    (``met``: issue 13's gate), and the worst colour error of each precision on the images as delivered
    (raised or stored where the floor asked for it). ``colour_kept``: int8's stays within the folder's colour
    target, or no worse than fp32's where fp32 is already over it; None for a folder without a target."""
    out = []
    pairs = by_key(rows, "folder", "checkpoint", "image")
    for folder, cp in sorted({(f, c) for f, c, _ in pairs}, key=lambda k: (k[0], CHECKPOINT_ORDER.index(k[1]))):
        losses = []
        colour = {"fp32": 0.0, "int8": 0.0}
        for (f, c, image), group in pairs.items():
            if (f, c) != (folder, cp):
                continue
            figs = {r["precision"]: r.get("nominal_ms_ssim") for r in group}
            if figs.get("fp32") is not None and figs.get("int8") is not None:
                losses.append((figs["fp32"] - figs["int8"], image))
                for r in group:
                    if r["precision"] in colour:
                        colour[r["precision"]] = max(colour[r["precision"]], colour_worst(r))
        if not losses:
            continue
        worst, image = max(losses)
        mean = sum(v for v, _ in losses) / len(losses)
        target = COLOUR_MAX.get(folder)
        kept = None if target is None else colour["int8"] <= max(target, colour["fp32"])
        out.append(
            {
                "folder": folder,
                "checkpoint": cp,
                "images": len(losses),
                "worst_loss": worst,
                "worst_image": image,
                "mean_loss": mean,
                "met": worst <= INT8_WORST_LOSS and mean <= INT8_MEAN_LOSS,
                "colour_fp32": colour["fp32"],
                "colour_int8": colour["int8"],
                "colour_kept": kept,
            }
        )
    return out


def suggested_precision(gate: list[dict]) -> dict[str, str]:
    """int8 for a checkpoint that passes the gate and keeps the colour on every folder measured, else fp32
    (colour comes first in issue 13: an int8 default must not break a colour target fp32 meets)."""
    out: dict[str, str] = {}
    for g in gate:
        ok = out.get(g["checkpoint"], "int8") == "int8" and g["met"] and g.get("colour_kept") is not False
        out[g["checkpoint"]] = "int8" if ok else "fp32"
    return out


def targets(rows: list[dict], summaries: list[dict], floors: dict[str, float]) -> list[dict]:
    """Issue 13's targets as (folder, precision, target, figure, met) rows: robust/ and kodak/ by name."""
    out = []

    def add(folder: str, precision: str, name: str, figure: str, ok: bool | None) -> None:
        out.append(
            {
                "table": "target",
                "folder": folder,
                "precision": precision,
                "target": name,
                "figure": figure,
                "met": ok,
                "verdict": _verdict(ok),
            }
        )

    for (folder, precision), group in sorted(by_key(rows, "folder", "precision").items()):
        means = {s["checkpoint"]: s for s in summaries if s["folder"] == folder and s["precision"] == precision}
        colour = max(colour_worst(r) for r in group)
        worst_row = max(group, key=colour_worst)
        where = f"{worst_row['image']} at {worst_row['checkpoint']}"
        if folder == "robust":
            top = CHECKPOINT_ORDER[-1]
            bad = stored_when_top_meets(group, floors)
            stored = sum(1 for r in group if r["kind"] == "stored")
            measured = any(r["checkpoint"] == top for r in group)
            add(
                folder,
                precision,
                "no image stored for its floor when the top level meets it",
                "; ".join(bad) or (f"{stored} stored, none meetable at {top}" if measured else f"{top} not run"),
                (not bad) if measured else None,
            )
            add(
                folder,
                precision,
                f"every colour error at most {ROBUST_COLOUR_MAX} grey level",
                f"worst {colour:.2f} ({where})",
                colour <= ROBUST_COLOUR_MAX,
            )
            nominal = [r for r in group if r.get("nominal_colour") is not None]
            if nominal:  # the network's own, before the engine raises an image for its colour
                worst_nominal = max(nominal, key=lambda r: r["nominal_colour"])
                add(
                    folder,
                    precision,
                    f"nominal levels: every colour error at most {ROBUST_COLOUR_MAX} grey level",
                    f"worst {worst_nominal['nominal_colour']:.2f} ({worst_nominal['image']} at "
                    f"{worst_nominal['checkpoint']})",
                    worst_nominal["nominal_colour"] <= ROBUST_COLOUR_MAX,
                )
            lows, smallest = psnr_gain_failures(group)
            add(
                folder,
                precision,
                f"nominal levels: PSNR at C at least {PSNR_GAIN_C_OVER_A} dB above A, every image",
                (f"smallest gain {smallest:+.2f} dB" + (f"; under: {', '.join(lows)}" if lows else ""))
                if smallest is not None
                else "A and C not both measured",
                None if smallest is None else not lows,
            )
        elif folder == "kodak":
            add(
                folder,
                precision,
                f"every colour error at most {KODAK_COLOUR_MAX} grey level",
                f"worst {colour:.2f} ({where})",
                colour <= KODAK_COLOUR_MAX,
            )
            for cp, s in sorted(means.items()):
                bpp = s["archive_bpp"] if s["archive_bpp"] is not None else s["bpp"]
                add(
                    folder,
                    precision,
                    f"{cp}: MS-SSIM at {KODAK_MS_SSIM[cp]}",
                    f"{s['ms_ssim']:.4f}",
                    s["ms_ssim"] >= KODAK_MS_SSIM[cp] - MS_SSIM_TOLERANCE,
                )
                add(
                    folder,
                    precision,
                    f"{cp}: bpp at most {KODAK_BPP_MAX[cp]} (stretch {KODAK_BPP_STRETCH[cp]})",
                    f"{bpp:.3f}" + (" (stretch met)" if bpp <= KODAK_BPP_STRETCH[cp] else ""),
                    bpp <= KODAK_BPP_MAX[cp],
                )
                add(
                    folder,
                    precision,
                    f"{cp}: PSNR at least the paper's {KODAK_PSNR_MIN[cp]} dB",
                    fmt(s["psnr"], ".2f"),
                    None if s["psnr"] is None else s["psnr"] >= KODAK_PSNR_MIN[cp],
                )
    for g in int8_gate(rows):
        add(
            g["folder"],
            "int8",
            f"{g['checkpoint']}: int8 loses at most {INT8_WORST_LOSS} MS-SSIM on the worst "
            f"image, {INT8_MEAN_LOSS} on the mean",
            f"worst {g['worst_loss']:+.4f} ({g['worst_image']}), mean {g['mean_loss']:+.4f}",
            g["met"],
        )
    return out


# ---------------------------------------------------------------- Markdown


def _err(row: dict) -> str:
    return " / ".join(fmt(row.get(c), "+.2f") for c in CHANNELS)


def _level(row: dict) -> str:
    level = fmt(row.get("level"), "g")
    if row["kind"] == "stored":
        return "stored"
    return f"{level} (raised)" if row.get("raised") else level


def image_table(rows: list[dict], limit: int | None = None) -> list[str]:
    """Per image, worst first (``rank_images``), every checkpoint and precision."""
    order = rank_images(rows)[:limit]
    lines = [
        "| image | checkpoint | precision | level | bpp | MS-SSIM | PSNR (dB) | colour error R / G / B | "
        "worst block | nominal: bpp, MS-SSIM, PSNR, colour |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups = by_key(rows, "image")
    for image in order:
        for r in sorted(
            groups[(image,)], key=lambda r: (CHECKPOINT_ORDER.index(r["checkpoint"]), PRECISIONS.index(r["precision"]))
        ):
            nominal = (
                "same"
                if r["kind"] == "coded" and not r.get("raised")
                else (
                    f"{fmt(r.get('nominal_bpp'), '.3f')}, {fmt(r.get('nominal_ms_ssim'), '.4f')}, "
                    f"{fmt(r.get('nominal_psnr'), '.2f')}, {fmt(r.get('nominal_colour'), '.2f')}"
                )
            )
            lines.append(
                f"| {image} | {r['checkpoint']} | {r['precision']} | {_level(r)} | {r['bpp']:.3f} | "
                f"{r['ms_ssim']:.4f} | {_psnr(r['psnr'])} | {_err(r)} | {r['block']:.2f} | {nominal} |"
            )
    return lines


def stored_lines(rows: list[dict]) -> list[str]:
    """Why each stored image was stored (the entry's note), one line per image, checkpoint and precision."""
    stored = [r for r in rows if r["kind"] == "stored"]
    return [
        f"- {r['image']} ({r['precision']} {r['checkpoint']}): {r['note'] or 'no note'}"
        for r in sorted(stored, key=lambda r: (r["image"], CHECKPOINT_ORDER.index(r["checkpoint"]), r["precision"]))
    ]


def _psnr(value: float | None) -> str:
    if value is None:
        return "–"
    return "exact" if math.isinf(value) else f"{value:.2f}"


def summary_table(summaries: list[dict]) -> list[str]:
    lines = [
        "| checkpoint | precision | images | raised | stored | archive bpp | entries bpp | MS-SSIM | "
        "PSNR (coded, dB) | mean colour error R / G / B | worst R / G / B | worst block | AVIF bpp at the same "
        "MS-SSIM | vs AVIF |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        worst = " / ".join(f"{s[f'worst_{c}']:+.2f}" for c in CHANNELS)
        lines.append(
            f"| {s['checkpoint']} | {s['precision']} | {s['images']} | {s['raised']} | {s['stored']} | "
            f"{fmt(s['archive_bpp'], '.3f')} | {s['bpp']:.3f} | {s['ms_ssim']:.4f} | {fmt(s['psnr'], '.2f')} | "
            f"{_err(s)} | {worst} | {s['block']:.2f} | {fmt(s.get('avif_bpp'), '.3f')} | "
            f"{fmt(s.get('vs_avif'), '+.1%')} |"
        )
    return lines


def gate_table(gate: list[dict], suggested: dict[str, str], defaults: dict[str, str]) -> list[str]:
    lines = [
        "| folder | checkpoint | images | worst loss (image) | mean loss | gate | worst colour error fp32 / int8 |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in gate:
        kept = " (int8 breaks the colour target)" if g.get("colour_kept") is False else ""
        lines.append(
            f"| {g['folder']} | {g['checkpoint']} | {g['images']} | {g['worst_loss']:+.4f} "
            f"({g['worst_image']}) | {g['mean_loss']:+.4f} | {_verdict(g['met'])} | "
            f"{g['colour_fp32']:.2f} / {g['colour_int8']:.2f}{kept} |"
        )
    if suggested:
        lines += [
            "",
            "Suggested default precision (int8 where it passes the gate and keeps the colour error within the "
            "folder's target, or no worse than fp32's, on every folder measured): "
            + ", ".join(f"{cp} {p}" for cp, p in sorted(suggested.items()))
            + "; the model set's default today: "
            + ", ".join(f"{cp} {p}" for cp, p in sorted(defaults.items()))
            + ".",
        ]
    return lines


def target_table(rows: list[dict]) -> list[str]:
    lines = ["| folder | precision | target | figure | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {t['folder']} | {t['precision']} | {t['target']} | {t['figure']} | {t['verdict']} |" for t in rows]
    return lines
