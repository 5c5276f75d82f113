"""Code one image at a checkpoint, or at any level of the set's rate axis, and score what extraction will show.

The compressor's floor check and the floor-by-rate search (floor_raise.py) run on these trials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..images import rebuild_grayscale
from ..runtime import image_codec
from ..runtime.model_set import ModelSet
from ..runtime.transforms import analysis, is_tiled, pad_to_multiple
from .floor_raise import Trial


@dataclass(frozen=True)
class Coded:
    """One coding of an image: the bitstream and the PSNR of what the decoder will produce."""

    data: bytes
    psnr: float


class ImageCoder:
    """Codes one image at a checkpoint, or at a step of the set's rate ladder, and scores it.

    The image is analysed (g_a, h_a) once per encoder precision; each coding then costs the
    entropy coder and one synthesis. The scores (MS-SSIM and the whole-image colour error) are
    those of what extraction produces by default: the synthesis runs at the set's default
    precision for the checkpoint, whatever precision the encoder was forced to.
    """

    def __init__(
        self, model: ModelSet, rgb: np.ndarray, grayscale: bool, entropy: int, check: Callable[[], None] | None = None
    ) -> None:
        self.model, self.rgb, self.grayscale, self.entropy, self.check = model, rgb, grayscale, entropy, check
        self._key: tuple[str, str] | None = None
        self._latents: tuple[np.ndarray, np.ndarray] | None = None

    def _analysed(self, checkpoint: str) -> tuple[np.ndarray, np.ndarray]:
        key = (self.model.precision_for("encoder", checkpoint), self.model.precision_for("hyper_encoder", checkpoint))
        if self._latents is None or key != self._key:
            self._latents = None  # one analysis held at a time: huge photos
            y = analysis(self.model, pad_to_multiple(self.rgb), self.check, checkpoint=checkpoint)
            self._key, self._latents = key, (y, image_codec.hyper_latents(self.model, y, checkpoint))
        return self._latents

    def _metric_workers(self) -> int:
        """Threads for the quality metric: the job's workers for an image the networks tile (its tiles
        run at once too), else one (small images run side by side, one per worker)."""
        return self.model.workers if is_tiled(*self.rgb.shape[:2]) else 1

    def code(self, checkpoint: str, step: int | None = None, last_use: bool = False) -> Trial[Coded]:
        """Code at ``checkpoint`` (at ladder ``step`` if given); the trial's step is -1 for a set without a ladder.

        ``last_use``: no other coding follows, so the latents are consumed in place instead of copied.
        """
        y, z_q = self._analysed(checkpoint)
        if last_use:
            self._latents = None
        else:
            y = y.copy()
        height, width = self.rgb.shape[:2]
        encoded = image_codec.encode_latents(
            self.model, y, z_q, checkpoint, height, width, self.entropy, self.check, keep_latents=True, level_step=step
        )
        # The decoder's exact input is known here, so the check needs no entropy decoding.
        recon = image_codec.reconstruct(self.model, encoded, self.check, precision="auto")
        if self.grayscale:
            recon = rebuild_grayscale(recon)
        if step is None:
            step = self.model.checkpoint(checkpoint).level_step
        return Trial(
            -1 if step is None else step,
            float(metrics.ms_ssim(recon, self.rgb, workers=self._metric_workers())),
            Coded(encoded.data, float(metrics.psnr(recon, self.rgb))),
            metrics.colour_error(self.rgb, recon).worst,
        )
