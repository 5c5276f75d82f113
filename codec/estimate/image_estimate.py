"""One image's exact coded size and estimated MS-SSIM at every checkpoint, before anything is written.

The codec is one variable-rate network: the analysis transform g_a and the
hyper-analysis h_a do not depend on the checkpoint (only the per-channel gains
that scale y before rounding do; a checkpoint run at another precision gets its
own g_a). So each image is analysed once, at full resolution, and its latents
are then quantised and range-coded at every checkpoint. That gives each
checkpoint's *exact* coded size (the same bitstream the coder writes later, the
bytes of metadata and alpha added) for the price of one g_a plus three cheap
entropy passes.

MS-SSIM needs the synthesis transform g_s, which costs as much as g_a. Instead
of decoding the whole image three times, a few 256 x 256 tiles spread over the
image (about a quarter of its pixels, 2 to 8 tiles, each decoded with a small
latent halo) are synthesised per checkpoint, and the pixel-weighted mean of
their MS-SSIM is the estimate; small images are decoded whole, exactly.

Trade-offs: encoding and decoding every checkpoint costs about 3 g_a + 3 g_s per
image; this costs 1 g_a + a fraction of 3 g_s and keeps the sizes exact. Running
the encoder on a downscaled copy or on tiles would be faster still, but bits per
pixel change with scale and content (errors of 10 % or more per image).
Measured on Kodak (``make bench-targets``): the tile MS-SSIM estimate is off by
0.001 on average (worst 0.008) at the chosen checkpoints.
"""

from __future__ import annotations

import lzma
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .. import metrics
from ..api.options import CHECKPOINTS
from ..entries.image import PAYLOAD_FRAMING
from ..entries.stored import lzma_filters
from ..images import rebuild_grayscale
from ..runtime import image_codec
from ..runtime.model_set import ModelSet
from ..runtime.transforms import LATENT_STRIDE, analysis, pad_to_multiple, synthesis
from .planner import CheckpointEstimate

TILE = 16  # latents: 256 px tiles for the MS-SSIM estimate
TILE_HALO = 2  # latents around a tile (g_s's receptive field is under 2)
TILE_FRACTION = 0.25  # share of the pixels sampled by the tiles
MIN_TILES, MAX_TILES = 2, 8
FULL_DECODE_SHARE = 0.7  # decode the whole image when the tiles would cost this share of it or more
LZMA_MEASURE_MAX = 32 << 20  # non-image files up to this size are LZMA-compressed to measure them exactly


def sample_tiles(height: int, width: int, fraction: float = TILE_FRACTION) -> list[tuple[int, int]] | None:
    """Top-left corners (in latents) of the tiles to decode, spread over the image; None: decode it whole."""
    th, tw = height // (TILE * LATENT_STRIDE), width // (TILE * LATENT_STRIDE)
    if th == 0 or tw == 0:
        return None
    wanted = min(MAX_TILES, th * tw, max(MIN_TILES, math.ceil(fraction * height * width / (TILE * LATENT_STRIDE) ** 2)))
    cost = wanted * (TILE + 2 * TILE_HALO) ** 2 / (math.ceil(height / LATENT_STRIDE) * math.ceil(width / LATENT_STRIDE))
    if cost >= FULL_DECODE_SHARE:
        return None
    # centre the grid of whole tiles in the image, then take tiles evenly spread over it
    r_off = (height // LATENT_STRIDE - th * TILE) // 2
    c_off = (width // LATENT_STRIDE - tw * TILE) // 2
    grid = [(r_off + r * TILE, c_off + c * TILE) for r in range(th) for c in range(tw)]
    picks = sorted({int((i + 0.5) * len(grid) / wanted) for i in range(wanted)})
    return [grid[i] for i in picks]


def _as_stored(recon: np.ndarray, grayscale: bool) -> np.ndarray:
    return rebuild_grayscale(recon) if grayscale else recon  # as extraction rebuilds it


def _estimate_ms_ssim(
    model: ModelSet,
    y_hat: np.ndarray,
    rgb: np.ndarray,
    checkpoint: str,
    grayscale: bool,
    tiles: list[tuple[int, int]] | None,
    check: Callable[[], None] | None,
) -> float:
    height, width = rgb.shape[:2]
    if tiles is None:
        recon = synthesis(model, y_hat, check, checkpoint=checkpoint)[:height, :width]
        return metrics.ms_ssim(_as_stored(recon, grayscale), rgb)
    _, hl, wl = y_hat.shape
    total, weight = 0.0, 0
    for r0, c0 in tiles:
        if check:
            check()
        a0, b0 = max(0, r0 - TILE_HALO), max(0, c0 - TILE_HALO)
        a1, b1 = min(hl, r0 + TILE + TILE_HALO), min(wl, c0 + TILE + TILE_HALO)
        out = synthesis(model, np.ascontiguousarray(y_hat[:, a0:a1, b0:b1]), checkpoint=checkpoint)
        top, left = (r0 - a0) * LATENT_STRIDE, (c0 - b0) * LATENT_STRIDE
        side = TILE * LATENT_STRIDE
        recon = out[top : top + side, left : left + side]
        y, x = r0 * LATENT_STRIDE, c0 * LATENT_STRIDE
        original = np.ascontiguousarray(rgb[y : y + side, x : x + side])
        total += metrics.ms_ssim(_as_stored(recon, grayscale), original) * side * side
        weight += side * side
    return total / weight


def estimate_image(
    model: ModelSet,
    rgb: np.ndarray,
    *,
    grayscale: bool = False,
    extra_bytes: int = 0,
    entropy: int = image_codec.ENTROPY_RANGE,
    checkpoints: Iterable[str] = CHECKPOINTS,
    check: Callable[[], None] | None = None,
) -> dict[str, CheckpointEstimate]:
    """Per checkpoint: the exact payload size and an MS-SSIM estimate (see the module docstring).

    ``extra_bytes``: the image's metadata and alpha blobs, stored beside the bitstream.
    """
    height, width = rgb.shape[:2]
    padded = pad_to_multiple(rgb)
    tiles = sample_tiles(height, width)
    analysed: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    results: dict[str, CheckpointEstimate] = {}
    for name in checkpoints:
        key = (model.precision_for("encoder", name), model.precision_for("hyper_encoder", name))
        if key not in analysed:  # one g_a per precision: the latents do not depend on the checkpoint
            y = analysis(model, padded, check, checkpoint=name)
            analysed[key] = (y, image_codec.hyper_latents(model, y, name))
        y, z_q = analysed[key]
        encoded = image_codec.encode_latents(
            model, y.copy(), z_q, name, height, width, entropy, check, keep_latents=True
        )
        if encoded.y_hat is None:  # keep_latents=True always returns them
            raise ValueError("the encoder did not keep the latents")
        score = _estimate_ms_ssim(model, encoded.y_hat, rgb, name, grayscale, tiles, check)
        results[name] = CheckpointEstimate(len(encoded.data) + extra_bytes + PAYLOAD_FRAMING, float(score))
    return results


def measure_stored_size(path: Path, size: int, use_lzma: bool) -> int:
    """The payload bytes of a byte-exact entry: the size, or the LZMA size (measured; extrapolated for huge files)."""
    if not use_lzma:
        return size
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, filters=lzma_filters(size))
    total = 0
    with open(path, "rb") as fh:
        while total < LZMA_MEASURE_MAX:
            chunk = fh.read(1 << 20)
            if not chunk:
                return total + len(comp.flush())
            total += len(comp.compress(chunk))
        read = fh.tell()
    total += len(comp.flush())
    return int(total * size / read)
