"""Compare candidate model sets on the held-out training photos, to choose one without Kodak or robust/.

    python bench/heldout_screen.py SET_FOLDER [SET_FOLDER ...] [--limit N] [--name NAME]

Every image of the held-out part of train/ and train2/ (``training.data.split``) is coded at A, B and C
with each set's fp32 networks through the real codec, at the set's own levels: mean bpp, MS-SSIM and
PSNR, and the whole-image colour error (channel mean, extracted minus original, grey levels): the
worst image and how many images are over 0.5 and over 1.0 (issue 13's targets on Kodak and robust/); and
on C's row the smallest per-image PSNR gain from A to C and how many images gain under 1.5 dB (issue 13's
target on robust/, at the nominal levels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from common import fmt, load_rgb, report_head
from heldout import heldout_screen_main

from latentzip.codec import metrics
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import ModelSet
from latentzip.codec.runtime.rate_ladder import LEVEL_STEPS

CHECKPOINTS = "ABC"
COLOUR_LIMITS = (0.5, 1.0)
PSNR_GAIN_TARGET = 1.5  # dB from A to C on every image (issue 13)


def code(model: ModelSet, rgb: np.ndarray, checkpoint: str) -> dict:
    """One image at one checkpoint: bpp, MS-SSIM, PSNR and worst channel-mean error."""
    data = image_codec.encode_image(model, rgb, checkpoint).data
    out = image_codec.decode_image(model, data)
    return {
        "bpp": len(data) * 8 / (rgb.shape[0] * rgb.shape[1]),
        "ms_ssim": metrics.ms_ssim(rgb, out),
        "psnr": metrics.psnr(rgb, out),
        "colour": metrics.colour_error(rgb, out).worst,
    }


def summarise(folder: Path, checkpoint: str, level: float | None, coded: list[tuple[str, dict]]) -> dict:
    worst = max(coded, key=lambda item: item[1]["colour"])
    row = {
        "set": folder.name,
        "checkpoint": checkpoint,
        "level": level,
        "images": len(coded),
        **{k: float(np.mean([c[k] for _, c in coded])) for k in ("bpp", "ms_ssim", "psnr")},
        "colour_worst": worst[1]["colour"],
        "colour_worst_image": worst[0],
    }
    for limit in COLOUR_LIMITS:
        row[f"over_{limit}"] = sum(c["colour"] > limit for _, c in coded)
    return row


def psnr_gain(at_a: list[tuple[str, dict]], at_c: list[tuple[str, dict]]) -> dict:
    """Per image PSNR(C) - PSNR(A): the smallest, on which image, and how many fall under the target."""
    gains = [(c["psnr"] - a["psnr"], name) for (name, a), (_, c) in zip(at_a, at_c, strict=True)]
    smallest = min(gains)
    return {
        "psnr_gain_min": smallest[0],
        "psnr_gain_image": smallest[1],
        "psnr_gain_under": sum(g < PSNR_GAIN_TARGET for g, _ in gains),
    }


def screen(folders: list[Path], images: list[Path]) -> list[dict]:
    """One row per set and checkpoint; C's row also carries the PSNR gain from A."""
    models = {f: ModelSet.load(f).at("fp32") for f in folders}
    coded: dict[tuple[Path, str], list[tuple[str, dict]]] = {}
    for path in images:
        rgb = load_rgb(path)
        for folder, model in models.items():
            for cp in CHECKPOINTS:
                coded.setdefault((folder, cp), []).append((path.name, code(model, rgb, cp)))
    rows = []
    for (folder, cp), values in coded.items():
        row = summarise(folder, cp, level_of(models[folder], cp), values)
        if cp == CHECKPOINTS[-1]:
            row.update(psnr_gain(coded[(folder, CHECKPOINTS[0])], values))
        rows.append(row)
    return rows


def level_of(model: ModelSet, checkpoint: str) -> float | None:
    """The checkpoint's level on the set's rate axis (None for a set without a ladder)."""
    step = model.checkpoint(checkpoint).level_step
    return None if step is None else step / LEVEL_STEPS


def report(rows: list[dict], command: str, machine: str) -> str:
    lines = report_head("Candidate sets on the held-out training photos (fp32, the sets' own levels)", command, machine)
    lines += [
        "| set | checkpoint | level | images | bpp | MS-SSIM | PSNR (dB) | worst colour error (image) "
        f"| images over 0.5 / 1.0 | C - A PSNR: smallest (image) / under {PSNR_GAIN_TARGET} dB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gain = ""
        if "psnr_gain_min" in r:
            gain = f"{r['psnr_gain_min']:+.2f} ({r['psnr_gain_image']}) / {r['psnr_gain_under']}"
        lines.append(
            f"| {r['set']} | {r['checkpoint']} | {fmt(r['level'], '.3f')} | {r['images']} | {r['bpp']:.3f} | "
            f"{r['ms_ssim']:.4f} | {r['psnr']:.2f} | {r['colour_worst']:.2f} ({r['colour_worst_image']}) | "
            f"{r['over_0.5']} / {r['over_1.0']} | {gain} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return heldout_screen_main(argv, __doc__ or "", "heldout_screen.py", "heldout-screen", screen, report)


if __name__ == "__main__":
    raise SystemExit(main())
