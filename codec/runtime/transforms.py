"""Run the ONNX analysis and synthesis transforms, tiled for large images.

Tiles are cut in latent units with halos that cover each network's receptive
field (encoder: 30 px, i.e. 2 latents; decoder: under 2 latents), so every
latent and every pixel is computed from the same inputs as in one pass, and
nothing is coded twice. Tiled and untiled results differ only by float
rounding. Cancellation is checked between tiles.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .model_set import ModelSet

LATENT_STRIDE = 16
PAD_MULTIPLE = 64
ENCODER_HALO = 2  # latents
DECODER_HALO = 3  # latents (the receptive field is under 2)
TILE_LATENTS = 48  # 768 px: a Kodak image is one tile
TILE_LATENTS_LARGE = 32  # 512 px tiles once an image needs several: less activation memory


def _tile_for(h: int, w: int, tile: int | None) -> int:
    if tile is not None:
        return tile
    return TILE_LATENTS if max(h, w) <= TILE_LATENTS else TILE_LATENTS_LARGE


def pad_to_multiple(rgb: np.ndarray, multiple: int = PAD_MULTIPLE) -> np.ndarray:
    """Edge-pad an HxWx3 image so both sides are multiples of ``multiple``."""
    h, w = rgb.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return rgb
    return np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    return [(s, min(s + tile, length)) for s in range(0, length, tile)]


def analysis(model: ModelSet, padded: np.ndarray, check: Callable[[], None] | None = None,
             tile: int | None = None, checkpoint: str | None = None) -> np.ndarray:
    """g_a: padded uint8 HxWx3 -> y, float32 (M, H/16, W/16); ``checkpoint`` picks the precision."""
    sess = model.session("encoder", checkpoint)
    H, W = padded.shape[:2]
    h, w = H // LATENT_STRIDE, W // LATENT_STRIDE
    tile = _tile_for(h, w, tile)
    y = np.empty((int(model.arch["M"]), h, w), dtype=np.float32)
    for r0, r1 in _spans(h, tile):
        for c0, c1 in _spans(w, tile):
            if check:
                check()
            cr0, cr1 = max(0, r0 - ENCODER_HALO), min(h, r1 + ENCODER_HALO)
            cc0, cc1 = max(0, c0 - ENCODER_HALO), min(w, c1 + ENCODER_HALO)
            crop = padded[cr0 * 16 : cr1 * 16, cc0 * 16 : cc1 * 16]
            x = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
            out = sess.run(None, {"image": x})[0][0]
            y[:, r0:r1, c0:c1] = out[:, r0 - cr0 : r1 - cr0, c0 - cc0 : c1 - cc0]
    return y


def hyper_analysis(model: ModelSet, y: np.ndarray, checkpoint: str | None = None) -> np.ndarray:
    """h_a: y -> z, float32 (MZ, h/4, w/4); ``checkpoint`` picks the precision."""
    return model.session("hyper_encoder", checkpoint).run(None, {"y": y[None]})[0][0]


def synthesis(model: ModelSet, y_hat: np.ndarray, check: Callable[[], None] | None = None,
              tile: int | None = None, checkpoint: str | None = None, precision: str | None = None) -> np.ndarray:
    """g_s: y_hat (M, h, w) -> uint8 image (16h, 16w, 3); ``checkpoint`` picks the precision
    (``precision``, if given, overrides the set's: "auto" is what extraction uses by default)."""
    sess = model.session("decoder", checkpoint, precision)
    _, h, w = y_hat.shape
    tile = _tile_for(h, w, tile)
    out = np.empty((h * 16, w * 16, 3), dtype=np.uint8)
    for r0, r1 in _spans(h, tile):
        for c0, c1 in _spans(w, tile):
            if check:
                check()
            cr0, cr1 = max(0, r0 - DECODER_HALO), min(h, r1 + DECODER_HALO)
            cc0, cc1 = max(0, c0 - DECODER_HALO), min(w, c1 + DECODER_HALO)
            crop = np.ascontiguousarray(y_hat[None, :, cr0:cr1, cc0:cc1], dtype=np.float32)
            img = sess.run(None, {"y_hat": crop})[0][0]
            img = img[:, (r0 - cr0) * 16 : (r1 - cr0) * 16, (c0 - cc0) * 16 : (c1 - cc0) * 16]
            out[r0 * 16 : r1 * 16, c0 * 16 : c1 * 16] = to_uint8(img).transpose(1, 2, 0)
    return out


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 with rounding."""
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
