"""Preview: how an image looks and scores at each checkpoint (writes nothing).

Large photos are previewed on a centre crop of about one megapixel (the
region is returned, so callers can say so); the window shows them whole and
codes the region in view on demand (``region_preview.py``). bpp here counts the image's
coded bytes (bitstream, metadata and alpha), the same bytes its archive entry
would hold, without the archive's own headers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import metrics
from ..api.options import CHECKPOINTS
from ..api.progress import CancelToken
from ..entries.image import ImagePayload, encode_alpha
from ..entropy.latent_streams import ENTROPY_NAMES
from ..images import decode_image, upright_preview
from ..runtime import image_codec
from ..runtime.model_set import ModelRegistry, default_registry, job_workers
from .pipeline import OrderedPool

PREVIEW_MAX_PIXELS = 1_048_576


@dataclass(frozen=True)
class CheckpointPreview:
    checkpoint: str
    reconstruction: np.ndarray  # uint8 HxWx3, same region as the original
    coded_bytes: int
    bpp: float
    ms_ssim: float
    psnr: float
    metric: str  # "MS-SSIM", or "SSIM" for images too small for five scales


@dataclass(frozen=True)
class PreviewReport:
    """``original`` and each reconstruction are shown upright (EXIF orientation applied);
    the figures are measured on the stored pixel layout, which gives the same values."""

    original: np.ndarray
    region: tuple[int, int, int, int]  # left, top, width, height within the full image
    full_size: tuple[int, int]  # width, height
    results: dict[str, CheckpointPreview]

    @property
    def cropped(self) -> bool:
        return self.region[2:] != self.full_size


def centre_region(width: int, height: int, max_pixels: int = PREVIEW_MAX_PIXELS) -> tuple[int, int, int, int]:
    """A centred box of at most ``max_pixels``, with the image's aspect ratio, sides multiple of 16."""
    if width * height <= max_pixels:
        return 0, 0, width, height
    scale = (max_pixels / (width * height)) ** 0.5
    w = max(16, int(width * scale) // 16 * 16)
    h = max(16, int(height * scale) // 16 * 16)
    return (width - w) // 2, (height - h) // 2, w, h


def preview_pixels(
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    checkpoints: tuple[str, ...] = CHECKPOINTS,
    entropy: str = "range",
    registry: ModelRegistry | None = None,
    cancel: CancelToken | None = None,
    model_hash: str | None = None,
    precision: str | None = None,
) -> dict[str, CheckpointPreview]:
    """Code ``rgb`` at each checkpoint, with the networks at ``precision``, and measure it.

    The checkpoints are coded at once, and tiles of a large crop too, on the default workers
    (``LATENTZIP_THREADS``, else one per core); the figures are the same.
    """
    cancel = cancel or CancelToken()
    workers = job_workers()
    model = (registry or default_registry()).get(model_hash, precision).with_workers(workers)
    height, width = rgb.shape[:2]
    alpha_bytes = len(encode_alpha(alpha)) if alpha is not None else 0

    def one(name: str) -> CheckpointPreview:
        cancel.check()
        encoded = image_codec.encode_image(model, rgb, name, ENTROPY_NAMES[entropy], cancel.check, keep_latents=True)
        recon = image_codec.reconstruct(model, encoded, cancel.check)
        coded = len(ImagePayload(encoded.data, b"", b"").to_bytes()) + alpha_bytes
        return CheckpointPreview(
            name,
            recon,
            coded,
            coded * 8 / (height * width),
            metrics.ms_ssim(recon, rgb),
            metrics.psnr(recon, rgb),
            metrics.quality_metric_name(height, width),
        )

    if workers <= 1 or len(checkpoints) <= 1:
        return {name: one(name) for name in checkpoints}
    pool = OrderedPool(min(workers, len(checkpoints)), check=cancel.check)
    try:
        return dict(pool.map(one, checkpoints))
    finally:
        pool.close()


def preview_image(
    path: Path,
    checkpoints: tuple[str, ...] = CHECKPOINTS,
    entropy: str = "range",
    registry: ModelRegistry | None = None,
    cancel: CancelToken | None = None,
    max_pixels: int = PREVIEW_MAX_PIXELS,
    precision: str | None = None,
) -> PreviewReport:
    """Decode ``path``, crop large images to a centre region, and preview each checkpoint at ``precision``."""
    decoded = decode_image(Path(path))
    height, width = decoded.rgb.shape[:2]
    left, top, w, h = centre_region(width, height, max_pixels)
    rgb = np.ascontiguousarray(decoded.rgb[top : top + h, left : left + w])
    alpha = None if decoded.alpha is None else decoded.alpha[top : top + h, left : left + w]
    results = preview_pixels(rgb, alpha, checkpoints, entropy, registry, cancel, precision=precision)
    if decoded.metadata.orientation not in (None, 1):
        results = {
            k: replace(r, reconstruction=upright_preview(r.reconstruction, decoded.metadata))
            for k, r in results.items()
        }
        rgb = upright_preview(rgb, decoded.metadata)
    return PreviewReport(rgb, (left, top, w, h), (width, height), results)
