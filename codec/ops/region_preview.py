"""Large photos previewed region by region: a downscaled overview at once, coded tiles on demand.

``RegionPreview`` decodes one image once (upright, as shown) and codes fixed
``TILE``-pixel tiles of it at one checkpoint each, every tile with ``HALO``
pixels of context on each side, aligned to the codec's 64-pixel grid. The
context covers the receptive fields of the analysis, hyper and synthesis
networks, so a tile's reconstruction matches the whole-image codec's closely
(rare rounding flips of a latent near the tile's edge aside). A tile's coded
size is that of its own latents (what its part of the whole image's stream
costs), alpha not counted. Tiles are cached per (checkpoint, tile) in one
``RegionPreview``, which serves one image at one precision. Large photos whose
EXIF orientation turns them are coded upright here (the archive codes the
stored layout): the figures then differ a little from the archive's.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .. import metrics
from ..api.progress import CancelToken
from ..entropy.latent_streams import ENTROPY_RANGE
from ..images import decode_image, upright_preview
from ..runtime import image_codec
from ..runtime.model_set import ModelRegistry, default_registry
from ..runtime.transforms import LATENT_STRIDE, PAD_MULTIPLE, analysis, pad_to_multiple, synthesis
from .preview import PREVIEW_MAX_PIXELS

TILE = 768  # pixels, a multiple of PAD_MULTIPLE
HALO = 256  # pixels of context on each side of a tile (4 hyper-latents), a multiple of PAD_MULTIPLE
REGION_MAX_TILES = 4  # the most tiles coded for one view (a larger view gets its centre's)
OVERVIEW_MAX_SIDE = 2048
TILE_CACHE_SIZE = 72  # coded tiles kept per image (about 130 MB)

Box = tuple[int, int, int, int]  # left, top, width, height in the full image's pixels


def is_large(width: int, height: int) -> bool:
    """Whether an image is previewed region by region (else whole, as ``preview_image`` does)."""
    return width * height > PREVIEW_MAX_PIXELS


def image_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the file's header (no decoding), upright; None if it cannot be read."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def tile_grid(width: int, height: int, tile: int = TILE) -> list[Box]:
    """Every tile of a width x height image, row by row (the last ones cut at the edges)."""
    return [
        (left, top, min(tile, width - left), min(tile, height - top))
        for top in range(0, height, tile)
        for left in range(0, width, tile)
    ]


def clip_region(region: Box, width: int, height: int, max_tiles: int = REGION_MAX_TILES) -> Box:
    """``region`` cut to the image; when it touches more than ``max_tiles`` tiles, the block of at most
    ``max_tiles`` whole tiles centred on it that covers most of it (a photo at fit: its centre)."""
    left, top, w, h = region
    x0, y0 = max(0, min(width - 1, left)), max(0, min(height - 1, top))
    x1, y1 = max(x0 + 1, min(width, left + w)), max(y0 + 1, min(height, top + h))
    clipped = (x0, y0, x1 - x0, y1 - y0)
    if len(tiles_for(clipped, width, height)) <= max_tiles:
        return clipped
    all_cols, all_rows = -(-width // TILE), -(-height // TILE)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def block(cols: int, rows: int) -> Box:
        c0 = min(max(0, round(cx / TILE - cols / 2)), all_cols - cols)
        r0 = min(max(0, round(cy / TILE - rows / 2)), all_rows - rows)
        bl, bt = c0 * TILE, r0 * TILE
        return bl, bt, min(cols * TILE, width - bl), min(rows * TILE, height - bt)

    def fit(box: Box) -> tuple[float, float]:  # the most of the region covered, then the closest shape
        bl, bt, bw, bh = box
        overlap = max(0, min(x1, bl + bw) - max(x0, bl)) * max(0, min(y1, bt + bh) - max(y0, bt))
        return overlap, -abs(math.log((bw / bh) / ((x1 - x0) / (y1 - y0))))

    shapes = [(c, min(max_tiles // c, all_rows)) for c in range(1, min(max_tiles, all_cols) + 1)]
    return max((block(c, r) for c, r in shapes), key=fit)


def tiles_for(region: Box, width: int, height: int, tile: int = TILE) -> list[Box]:
    """The tiles that cover ``region``, nearest its centre first."""
    left, top, w, h = region
    cols = range(max(0, left // tile), min(-(-width // tile), -(-(left + w) // tile)))
    rows = range(max(0, top // tile), min(-(-height // tile), -(-(top + h) // tile)))
    boxes = [
        (c * tile, r * tile, min(tile, width - c * tile), min(tile, height - r * tile)) for r in rows for c in cols
    ]
    cx, cy = left + w / 2, top + h / 2
    return sorted(boxes, key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2)


def bounding_box(boxes: list[Box]) -> Box:
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


@dataclass(frozen=True)
class CodedTile:
    box: Box
    checkpoint: str
    reconstruction: np.ndarray  # uint8 hxwx3, the tile's pixels only
    coded_bytes: int  # the bytes of the tile's own latents


@dataclass(frozen=True)
class RegionFigures:
    """bpp, MS-SSIM and PSNR of one checkpoint over ``region`` (a whole number of tiles)."""

    region: Box
    checkpoint: str
    coded_bytes: int
    bpp: float
    ms_ssim: float
    psnr: float
    metric: str


def _key(checkpoint: str, box: Box) -> tuple[str, Box]:
    """The cache key of a tile: its checkpoint and its box as a plain 4-tuple."""
    left, top, w, h = box
    return checkpoint, (int(left), int(top), int(w), int(h))


class RegionPreview:
    """One image, one precision: its overview, its original tiles and its coded tiles (cached)."""

    def __init__(
        self,
        path: Path,
        precision: str | None = None,
        registry: ModelRegistry | None = None,
        model_hash: str | None = None,
    ) -> None:
        decoded = decode_image(Path(path))
        rgb = decoded.rgb
        if decoded.metadata.orientation not in (None, 1):
            rgb = upright_preview(rgb, decoded.metadata)
        self.path = Path(path)
        self.rgb = np.ascontiguousarray(rgb)
        self.height, self.width = self.rgb.shape[:2]
        self._registry = registry or default_registry()
        self._model_hash, self._precision = model_hash, precision
        self._tiles: OrderedDict[tuple[str, Box], CodedTile] = OrderedDict()

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def overview(self, max_side: int = OVERVIEW_MAX_SIDE) -> np.ndarray:
        """The whole image, downscaled to at most ``max_side`` pixels on its longer side."""
        scale = min(1.0, max_side / max(self.width, self.height))
        if scale >= 1.0:
            return self.rgb
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        return np.asarray(Image.fromarray(self.rgb).resize(size, Image.Resampling.BOX))

    def original(self, box: Box) -> np.ndarray:
        left, top, w, h = box
        return self.rgb[top : top + h, left : left + w]

    def cached(self, box: Box, checkpoint: str) -> CodedTile | None:
        return self._tiles.get(_key(checkpoint, box))

    def tile(self, box: Box, checkpoint: str, cancel: CancelToken | None = None) -> CodedTile:
        """``box`` (a tile of ``tile_grid``) coded at ``checkpoint`` with its context, and decoded."""
        key = _key(checkpoint, box)
        hit = self._tiles.get(key)
        if hit is not None:
            self._tiles.move_to_end(key)
            return hit
        cancel = cancel or CancelToken()
        model = self._registry.get(self._model_hash, self._precision)
        left, top, w, h = box
        cx0, cy0 = max(0, left - HALO), max(0, top - HALO)
        cx1, cy1 = min(self.width, left + w + HALO), min(self.height, top + h + HALO)
        context = self.rgb[cy0:cy1, cx0:cx1]
        cancel.check()
        y = analysis(model, pad_to_multiple(context), cancel.check, checkpoint=checkpoint)
        z_q = image_codec.hyper_latents(model, y, checkpoint)
        # the tile's own latents (its share of the whole image's stream), the tile being on the 64-px grid
        ly0, lx0 = (top - cy0) // LATENT_STRIDE, (left - cx0) // LATENT_STRIDE
        lh, lw = -(-h // PAD_MULTIPLE) * 4, -(-w // PAD_MULTIPLE) * 4
        own = image_codec.encode_latents(
            model,
            y[:, ly0 : ly0 + lh, lx0 : lx0 + lw].copy(),
            z_q[:, ly0 // 4 : (ly0 + lh) // 4, lx0 // 4 : (lx0 + lw) // 4],
            checkpoint,
            h,
            w,
            ENTROPY_RANGE,
            cancel.check,
        )
        cancel.check()
        coded = image_codec.encode_latents(
            model, y, z_q, checkpoint, cy1 - cy0, cx1 - cx0, ENTROPY_RANGE, cancel.check, keep_latents=True
        )
        if coded.y_hat is None:  # keep_latents=True always returns them
            raise ValueError("the coded tile carries no latents")
        recon = synthesis(model, coded.y_hat, cancel.check, checkpoint=checkpoint)
        pixels = np.ascontiguousarray(recon[top - cy0 : top - cy0 + h, left - cx0 : left - cx0 + w])
        result = CodedTile(key[1], checkpoint, pixels, len(own.data))
        self._keep(key, result)
        return result

    def _keep(self, key: tuple[str, Box], tile: CodedTile) -> None:
        self._tiles[key] = tile
        self._tiles.move_to_end(key)
        while len(self._tiles) > TILE_CACHE_SIZE:
            self._tiles.popitem(last=False)

    def figures(self, boxes: list[Box], checkpoint: str) -> RegionFigures | None:
        """The figures over the tiles ``boxes`` (a rectangle of them), once all are coded; else None."""
        found = [self.cached(b, checkpoint) for b in boxes]
        tiles = [t for t in found if t is not None]
        if not boxes or len(tiles) != len(found):
            return None
        region = bounding_box(boxes)
        left, top, w, h = region
        recon = np.empty((h, w, 3), dtype=np.uint8)
        for t in tiles:
            bl, bt, bw, bh = t.box
            recon[bt - top : bt - top + bh, bl - left : bl - left + bw] = t.reconstruction
        original = self.original(region)
        coded = int(sum(t.coded_bytes for t in tiles))
        return RegionFigures(
            region,
            checkpoint,
            coded,
            coded * 8 / (w * h),
            metrics.ms_ssim(recon, original),
            metrics.psnr(recon, original),
            metrics.quality_metric_name(h, w),
        )

    def whole(self, checkpoint: str, cancel: CancelToken | None = None) -> RegionFigures:
        """The whole image coded at once (as the archive would, upright): its figures; its tiles are cached."""
        cancel = cancel or CancelToken()
        model = self._registry.get(self._model_hash, self._precision)
        encoded = image_codec.encode_image(model, self.rgb, checkpoint, ENTROPY_RANGE, cancel.check, keep_latents=True)
        recon = image_codec.reconstruct(model, encoded, cancel.check)
        boxes = tile_grid(self.width, self.height)
        for left, top, w, h in boxes:
            share = round(len(encoded.data) * (w * h) / (self.width * self.height))
            pixels = np.ascontiguousarray(recon[top : top + h, left : left + w])
            self._keep((checkpoint, (left, top, w, h)), CodedTile((left, top, w, h), checkpoint, pixels, share))
        return RegionFigures(
            (0, 0, self.width, self.height),
            checkpoint,
            len(encoded.data),
            len(encoded.data) * 8 / (self.width * self.height),
            metrics.ms_ssim(recon, self.rgb),
            metrics.psnr(recon, self.rgb),
            metrics.quality_metric_name(self.height, self.width),
        )
