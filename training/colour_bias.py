"""Zero the decoder's mean colour error on training photos (bias correction, as in Nagel et al. 2019).

A trained decoder's channel means drift a little from the original's in the same direction on
most images (the step-29,202 teacher: blue -0.25 grey levels on average at A, B and C). That part is
a property of the network, not of an image: the last convolution's bias (float, before
depth-to-space: 4 rows per colour channel) is moved by the mean signed error per channel over
training crops at the set's levels, with the weights rounded as the exported files store them.
Nothing per image is stored; an image's own deviation from the mean stays what the network does.

    python -m training.colour_bias CHECKPOINT   # mean, spread and worst crop per channel, per level
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

import torch

from training.checkpoint import load_checkpoint
from training.data import CropSampler, split
from training.model import LatentzipNet
from training.onnx_weights import MIN_ELEMENTS
from training.train import DEFAULT_DATA, DEFAULT_DATA2, as_written

CROPS = 96
CROP_SIZE = 256
SEED = 20261202


def training_crops(count: int = CROPS, size: int = CROP_SIZE, seed: int = SEED) -> list[torch.Tensor]:
    """``count`` random crops (1x3xHxW in [0, 1]) from the training split (never the held-out part)."""
    train, _ = split([DEFAULT_DATA, DEFAULT_DATA2])
    sampler = CropSampler(train, size, seed=seed, texture_bias=0.0)
    return [sampler.batch(1) for _ in range(count)]


@torch.no_grad()
def mean_colour_error(model: LatentzipNet, levels: Iterable[float], crops: list[torch.Tensor]) -> torch.Tensor:
    """Mean over crops and levels of (decoded - original) channel means, in [0, 1] units (3 values).

    Decoded as extraction does: rounded latents, float32, pixels rounded to 8 bits."""
    errors = []
    amp, model.amp_dtype = model.amp_dtype, None
    try:
        for x in crops:
            for level in levels:
                x_hat = as_written(model(x, torch.tensor([float(level)]))["x_hat"])
                errors.append((x_hat - x).mean((0, 2, 3)))
    finally:
        model.amp_dtype = amp
    return torch.stack(errors).mean(0)


@torch.no_grad()
def correct_colour_bias(
    model: LatentzipNet, levels: Iterable[float], crops: list[torch.Tensor], rounds: int = 2
) -> tuple[list[float], list[float]]:
    """Move the last layer's bias by the mean colour error, ``rounds`` times (clamping makes one round
    inexact). The model must be in eval mode with its export weights. Returns the error before and
    after, in grey levels per channel."""
    levels = list(levels)
    conv = model.g_s[-1][0]
    error = before = mean_colour_error(model, levels, crops)
    for _ in range(rounds):
        conv.bias -= error.repeat_interleave(conv.out_channels // 3)
        error = mean_colour_error(model, levels, crops)
    return [round(float(v) * 255, 3) for v in before], [round(float(v) * 255, 3) for v in error]


def round_weights_like_storage(model: torch.nn.Module, storage: str) -> None:
    """Round the convolution weights as the exported ONNX files store them (``fp16``: tensors of
    MIN_ELEMENTS and more), in place, so the correction is measured on what the runtime computes
    (rounding them again at export changes nothing; GDN's constants are rounded after baking)."""
    if storage == "fp16":
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d) and module.weight.numel() >= MIN_ELEMENTS:
                module.weight.data = module.weight.data.half().float()


@torch.no_grad()
def colour_spread(model: LatentzipNet, level: float, crops: list[torch.Tensor]) -> dict[str, list[float]]:
    """Per channel, in grey levels: the mean, spread (standard deviation) and largest absolute value of
    the crops' colour errors at ``level``."""
    errors = torch.stack([mean_colour_error(model, [level], [x]) for x in crops]) * 255
    return {
        "mean": [round(float(v), 3) for v in errors.mean(0)],
        "spread": [round(float(v), 3) for v in errors.std(0)],
        "max_abs": [round(float(v), 2) for v in errors.abs().max(0).values],
    }


def main() -> int:
    """Print a checkpoint's colour error on training crops at a few levels (R, G, B)."""
    parser = argparse.ArgumentParser(description="Colour error of a checkpoint on training crops.")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--levels", type=float, nargs="+", default=[0.42, 2.312, 3.855])
    parser.add_argument("--crops", type=int, default=CROPS)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = LatentzipNet()
    load_checkpoint(args.checkpoint, model, None)
    model.eval()
    crops = training_crops(args.crops)
    for level in args.levels:
        print(f"level {level}: {json.dumps(colour_spread(model, level, crops))}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
