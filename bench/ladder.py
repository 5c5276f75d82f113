"""What more bits buy on given photos: each image coded along the whole rate axis of a model set.

    python bench/ladder.py IMAGE [IMAGE ...] [--set FOLDER] [--name NAME]

Every image is coded through the real codec (fp32) at A, B and C and at each trained level above C up to
the top of the axis: bpp, MS-SSIM and PSNR at each. The report gives, per image, the PSNR gained from A to C
(issue 13 asks for 1.5 dB on every robust/ image) and from C to the top: where the top gains little over C
while costing many more bits, the networks themselves cap the quality (the transforms' ceiling, which
``python -m training.train --validate-only`` measures on held-out crops), not the rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import command_line, load_rgb, report_head, start_run, write_report

from latentzip.codec import metrics
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import ModelRegistry, ModelSet
from latentzip.codec.runtime.rate_ladder import LEVEL_STEPS


def axis_steps(model: ModelSet) -> list[tuple[str, int]]:
    """(label, ladder step): A, B and C at their own levels, then every trained level above C."""
    points = [(cp, model.checkpoint(cp).level_step) for cp in "ABC"]
    top = model.ladder.top_step
    above = range((points[-1][1] // LEVEL_STEPS + 1) * LEVEL_STEPS, top + 1, LEVEL_STEPS)
    return points + [(f"L{step // LEVEL_STEPS}", step) for step in above]


def ladder_rows(model: ModelSet, path: Path) -> list[dict]:
    """One row per point of the axis for one image."""
    rgb = load_rgb(path)
    rows = []
    for label, step in axis_steps(model):
        encoded = image_codec.encode_image(model, rgb, "A", keep_latents=True, level_step=step)
        out = image_codec.reconstruct(model, encoded)
        rows.append(
            {
                "image": path.name,
                "point": label,
                "level": step / LEVEL_STEPS,
                "bpp": len(encoded.data) * 8 / (rgb.shape[0] * rgb.shape[1]),
                "ms_ssim": metrics.ms_ssim(rgb, out),
                "psnr": metrics.psnr(rgb, out),
            }
        )
    return rows


def report(rows: list[dict], set_id: str, command: str, machine: str) -> str:
    lines = report_head(f"PSNR along the rate axis of {set_id} (fp32)", command, machine)
    lines += [
        "| image | A: bpp / PSNR | C: bpp / PSNR | top: bpp / PSNR | C - A (dB) | top - C (dB) |",
        "|---|---|---|---|---|---|",
    ]
    for image in dict.fromkeys(r["image"] for r in rows):
        mine = {r["point"]: r for r in rows if r["image"] == image}
        a, c, top = mine["A"], mine["C"], [r for r in rows if r["image"] == image][-1]
        lines.append(
            f"| {image} | {a['bpp']:.3f} / {a['psnr']:.2f} | {c['bpp']:.3f} / {c['psnr']:.2f} | "
            f"{top['bpp']:.3f} / {top['psnr']:.2f} | {c['psnr'] - a['psnr']:+.2f} | {top['psnr'] - c['psnr']:+.2f} |"
        )
    lines += ["", "| image | point | level | bpp | MS-SSIM | PSNR (dB) |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r['image']} | {r['point']} | {r['level']:.3f} | {r['bpp']:.3f} | {r['ms_ssim']:.4f} | {r['psnr']:.2f} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", type=Path, nargs="+")
    ap.add_argument("--set", type=Path, help="model-set folder (default: the default set)")
    ap.add_argument("--name", default="ladder")
    args = ap.parse_args(argv)
    machine = start_run()
    model = (ModelSet.load(args.set) if args.set else ModelRegistry().get()).at("fp32")
    if not model.can_raise:
        raise SystemExit(f"model set {model.id} has no rate ladder")
    rows = [row for path in args.images for row in ladder_rows(model, path)]
    write_report(args.name, report(rows, model.id, command_line("ladder.py"), machine), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
