"""Generate tests/expected/msssim_reference.json with pytorch_msssim (run once; needs torch).

    .venv/bin/python tests/expected/make_msssim_reference.py
    .venv/bin/python tests/expected/make_msssim_reference.py --make-assets /work/shared/data/train

``--make-assets`` first (re)creates the PNG crops in tests/assets/ from the training
photos: the originals, JPEG quality-30 versions and Gaussian-noise versions (fixed seed),
all stored as PNG so that the reference values do not depend on a JPEG decoder or a
random generator. The cases (and the sub-crops cut from the assets) are listed in
``CASES``; tests/test_metrics.py reads them from the JSON.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "assets"
OUT = HERE / "msssim_reference.json"

# asset name -> (source photo, left, top, width, height, mode)
CROPS = {
    "metric_a": ("mate_FreshFlower.webp", 240, 160, 192, 168, "RGB"),
    "metric_b": ("mate_LadyBird.webp", 300, 170, 201, 173, "RGB"),
    "metric_c_gray": ("mate_Aqua.webp", 320, 175, 175, 161, "L"),
}
DEGRADED = {  # asset name -> (base asset, kind, parameter)
    "metric_a_jpeg30": ("metric_a", "jpeg", 30),
    "metric_a_noise": ("metric_a", "noise", 4.0),
    "metric_b_jpeg30": ("metric_b", "jpeg", 30),
    "metric_c_gray_noise": ("metric_c_gray", "noise", 8.0),
    "metric_c_gray_jpeg30": ("metric_c_gray", "jpeg", 30),
}
# (case name, asset a, asset b, (top, bottom, left, right) or None, function)
CASES = [
    ("a_jpeg30", "metric_a", "metric_a_jpeg30", None, "ms_ssim"),
    ("a_noise", "metric_a", "metric_a_noise", None, "ms_ssim"),
    ("a_identical", "metric_a", "metric_a", None, "ms_ssim"),
    ("b_odd_jpeg30", "metric_b", "metric_b_jpeg30", None, "ms_ssim"),
    ("b_odd_h_even_w", "metric_b", "metric_b_jpeg30", (0, 173, 0, 200), "ms_ssim"),
    ("b_even_h_odd_w", "metric_b", "metric_b_jpeg30", (0, 172, 0, 201), "ms_ssim"),
    ("c_gray_noise", "metric_c_gray", "metric_c_gray_noise", None, "ms_ssim"),
    ("c_gray_jpeg30", "metric_c_gray", "metric_c_gray_jpeg30", None, "ms_ssim"),
    ("a_small_ssim", "metric_a", "metric_a_jpeg30", (10, 106, 20, 140), "ssim"),
    ("b_small_odd_ssim", "metric_b", "metric_b_jpeg30", (0, 160, 0, 201), "ssim"),
    ("c_gray_small_ssim", "metric_c_gray", "metric_c_gray_noise", (0, 37, 0, 41), "ssim"),
]


def load(name: str) -> np.ndarray:
    with Image.open(ASSETS / f"{name}.png") as im:
        return np.asarray(im)


def cut(a: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    return a if box is None else a[box[0] : box[1], box[2] : box[3]]


def make_assets(data: Path) -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name, (src, left, top, w, h, mode) in CROPS.items():
        with Image.open(data / src) as im:
            im.convert("RGB").crop((left, top, left + w, top + h)).convert(mode).save(
                ASSETS / f"{name}.png", optimize=True
            )
    for i, (name, (base, kind, param)) in enumerate(DEGRADED.items()):
        a = load(base)
        if kind == "jpeg":
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "JPEG", quality=int(param))
            with Image.open(buf) as im:
                b = np.asarray(im.convert(Image.fromarray(a).mode))
        else:
            rng = np.random.default_rng(1234 + i)
            b = np.clip(a + rng.normal(0.0, param, a.shape).round(), 0, 255).astype(np.uint8)
        Image.fromarray(b).save(ASSETS / f"{name}.png", optimize=True)


def torch_value(a: np.ndarray, b: np.ndarray, fn: str) -> float:
    import torch
    from pytorch_msssim import ms_ssim, ssim

    def t(x: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(x.astype(np.float32))
        return x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]

    f = ms_ssim if fn == "ms_ssim" else ssim
    return float(f(t(a), t(b), data_range=255, size_average=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--make-assets", type=Path, metavar="DATA_DIR", help="recreate the PNG assets first")
    args = ap.parse_args()
    if args.make_assets:
        make_assets(args.make_assets)
    import pytorch_msssim
    import torch

    cases = []
    for name, an, bn, box, fn in CASES:
        a, b = cut(load(an), box), cut(load(bn), box)
        diff = a.astype(np.float64) - b.astype(np.float64)
        mse = float(np.mean(diff * diff))
        cases.append(
            {
                "name": name,
                "a": an,
                "b": bn,
                "box": list(box) if box else None,
                "function": fn,
                "value": torch_value(a, b, fn),
                "psnr": None if mse == 0 else 10 * np.log10(255.0**2 / mse),
            }
        )
    version = getattr(pytorch_msssim, "__version__", "1.0.0")
    doc = {
        "generator": f"pytorch_msssim {version}, torch {torch.__version__}",
        "call": "ms_ssim / ssim (X, Y, data_range=255, size_average=True), float32 NCHW, CPU",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
