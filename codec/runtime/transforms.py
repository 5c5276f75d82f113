"""Run the ONNX analysis and synthesis transforms, tiled for large images.

Tiles are cut in latent units with halos that cover each network's receptive
field (encoder: 30 px, i.e. 2 latents; decoder: under 2 latents), so every
latent and every pixel is computed from the same inputs as in one pass, and
nothing is coded twice. Tiled and untiled results differ only by float
rounding. Cancellation is checked between tiles.

Tiles are independent, so a job with several workers (``ModelSet.workers``) runs
them on that many threads at once; each tile is computed the same way whatever
runs beside it (a session's intra-op threads are fixed), so the result does not
depend on it. Every network run holds one of the job's slots (``ModelSet.slots``):
files and tiles together never run more networks at once than the job's workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from .model_set import ModelSet

LATENT_STRIDE = 16
PAD_MULTIPLE = 64
ENCODER_HALO = 2  # latents
DECODER_HALO = 2  # latents: the receptive field is under 2 (1 + 1/2 + 1/4 + 1/8)
TILE_LATENTS = 48  # 768 px: a Kodak image is one tile
TILE_LATENTS_LARGE = 32  # 512 px tiles once an image needs several: less activation memory
# The decoder's activations are wider (384 channels before each depth-to-space), and two tiles run at
# once: with 448 px tiles and a 2-latent halo a 20 MP photo's compress peaks at 0.83-0.94 GB (512 px
# tiles, 3-latent halo: 1.13-1.24 GB), and the halo's share of the work is smaller (1.31x, was 1.41x).
DECODER_TILE_LATENTS_LARGE = 28


def _shrinking_run_options() -> object:
    """Run options that hand a run's activation memory back to the system when it ends (ONNX Runtime's
    arena keeps it otherwise: the encoder's arena stayed allocated while the decoder checked quality,
    and two decoder tiles' on top; a 20 MP photo peaked at 1.57 GB, 0.99 GB with this, same bytes)."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


_SHRINK = _shrinking_run_options()


class _Session(Protocol):
    """What the transforms use of an ONNX Runtime InferenceSession (``ModelSet.session``)."""

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, np.ndarray], run_options: object = None
    ) -> list[np.ndarray]: ...


class _Slotted:
    """A session whose runs each hold one of the job's slots."""

    def __init__(self, session: _Session, slots: threading.Semaphore) -> None:
        self.session, self.slots = session, slots

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, np.ndarray], run_options: object = None
    ) -> list[np.ndarray]:
        with self.slots:
            return self.session.run(output_names, input_feed, run_options)


def _session(model: ModelSet, which: str, checkpoint: str | None, precision: str | None = None) -> _Session:
    session = cast(_Session, model.session(which, checkpoint, precision))
    return session if model.slots is None else _Slotted(session, model.slots)


def _each_tile(
    model: ModelSet, grid: list[Tile], work: Callable[[Tile], None], check: Callable[[], None] | None
) -> None:
    """``work(tile)`` for every tile of ``grid``: in order, or on ``model.workers`` threads when the
    job has several and the image several tiles. ``check`` (cancellation) runs before each tile."""
    workers = min(model.workers, len(grid))
    if workers <= 1:
        for t in grid:
            if check:
                check()
            work(t)
        return

    def checked(t: Tile) -> None:
        if check:
            check()
        work(t)

    pool = ThreadPoolExecutor(workers, thread_name_prefix="latentzip-tile")
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(checked, t) for t in grid]
        for f in futures:
            f.result()
    finally:
        for f in futures:
            f.cancel()
        pool.shutdown(wait=True)


def _tile_for(h: int, w: int, tile: int | None, large: int = TILE_LATENTS_LARGE) -> int:
    if tile is not None:
        return tile
    return TILE_LATENTS if max(h, w) <= TILE_LATENTS else large


def is_tiled(height: int, width: int) -> bool:
    """Whether the networks cut an image of this size into several tiles (which run at once)."""
    padded = max(-(-height // PAD_MULTIPLE), -(-width // PAD_MULTIPLE)) * PAD_MULTIPLE
    return padded // LATENT_STRIDE > TILE_LATENTS


def pad_to_multiple(rgb: np.ndarray, multiple: int = PAD_MULTIPLE) -> np.ndarray:
    """Edge-pad an HxWx3 image so both sides are multiples of ``multiple``."""
    h, w = rgb.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return rgb
    return np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    return [(s, min(s + tile, length)) for s in range(0, length, tile)]


@dataclass(frozen=True)
class Tile:
    """One tile of a latent grid, in latents: the rows and columns it produces (r0:r1, c0:c1) and the
    larger window the network reads for them (cr0:cr1, cc0:cc1, the tile plus a halo, cut at the edges)."""

    r0: int
    r1: int
    c0: int
    c1: int
    cr0: int
    cr1: int
    cc0: int
    cc1: int


def tiles(h: int, w: int, tile: int, halo: int, check: Callable[[], None] | None = None) -> Iterator[Tile]:
    """The tiles of an h x w latent grid, row by row; ``check`` (cancellation) runs before each."""
    for r0, r1 in _spans(h, tile):
        for c0, c1 in _spans(w, tile):
            if check:
                check()
            yield Tile(r0, r1, c0, c1, max(0, r0 - halo), min(h, r1 + halo), max(0, c0 - halo), min(w, c1 + halo))


def analysis(
    model: ModelSet,
    padded: np.ndarray,
    check: Callable[[], None] | None = None,
    tile: int | None = None,
    checkpoint: str | None = None,
) -> np.ndarray:
    """g_a: padded uint8 HxWx3 -> y, float32 (M, H/16, W/16); ``checkpoint`` picks the precision."""
    sess = _session(model, "encoder", checkpoint)
    H, W = padded.shape[:2]
    h, w = H // LATENT_STRIDE, W // LATENT_STRIDE
    tile = _tile_for(h, w, tile)
    y = np.empty((int(model.arch["M"]), h, w), dtype=np.float32)

    def one(t: Tile) -> None:
        crop = padded[t.cr0 * 16 : t.cr1 * 16, t.cc0 * 16 : t.cc1 * 16]
        x = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
        out = sess.run(None, {"image": x}, _SHRINK)[0][0]
        y[:, t.r0 : t.r1, t.c0 : t.c1] = out[:, t.r0 - t.cr0 : t.r1 - t.cr0, t.c0 - t.cc0 : t.c1 - t.cc0]

    _each_tile(model, list(tiles(h, w, tile, ENCODER_HALO)), one, check)
    return y


def hyper_analysis(model: ModelSet, y: np.ndarray, checkpoint: str | None = None) -> np.ndarray:
    """h_a: y -> z, float32 (MZ, h/4, w/4); ``checkpoint`` picks the precision."""
    return _session(model, "hyper_encoder", checkpoint).run(None, {"y": y[None]})[0][0]


def synthesis(
    model: ModelSet,
    y_hat: np.ndarray,
    check: Callable[[], None] | None = None,
    tile: int | None = None,
    checkpoint: str | None = None,
    precision: str | None = None,
) -> np.ndarray:
    """g_s: y_hat (M, h, w) -> uint8 image (16h, 16w, 3); ``checkpoint`` picks the precision
    (``precision``, if given, overrides the set's: "auto" is what extraction uses by default)."""
    sess = _session(model, "decoder", checkpoint, precision)
    _, h, w = y_hat.shape
    tile = _tile_for(h, w, tile, DECODER_TILE_LATENTS_LARGE)
    out = np.empty((h * 16, w * 16, 3), dtype=np.uint8)

    def one(t: Tile) -> None:
        crop = np.ascontiguousarray(y_hat[None, :, t.cr0 : t.cr1, t.cc0 : t.cc1], dtype=np.float32)
        img = sess.run(None, {"y_hat": crop}, _SHRINK)[0][0]
        img = img[:, (t.r0 - t.cr0) * 16 : (t.r1 - t.cr0) * 16, (t.c0 - t.cc0) * 16 : (t.c1 - t.cc0) * 16]
        out[t.r0 * 16 : t.r1 * 16, t.c0 * 16 : t.c1 * 16] = to_uint8(img).transpose(1, 2, 0)

    _each_tile(model, list(tiles(h, w, tile, DECODER_HALO)), one, check)
    return out


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 with rounding."""
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
