"""Training data: random flipped crops from the training photos, held-out split.

The photos (train/ and train2/: 744, about 512 px on the short side) are
decoded once into memory. A fixed, name-hashed subset is held out for
validation so that training settings are chosen on it, never on Kodak or on
the robustness set. Part of each batch is drawn towards texture (the busier
of two candidate crops), so smooth wallpapers do not dominate.

Optional augmentations widen what the photos cover (``Augment``): part of
the crops get their chroma scaled up (saturated light, neon, stage colour)
or sensor-like noise added (night scenes). The photos, downsampled to
512 px, hold little of either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = {".webp", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
HOLDOUT_PER_MILLE = 30  # about 3 % of the images, chosen by a hash of the name
CHROMA_GAIN_MAX = 2.5  # an augmented crop's chroma is scaled by a factor drawn from [1, this]
NOISE_SIGMA_MAX = 8.0  # an augmented crop's noise has a standard deviation drawn from [1, this] grey levels
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601


@dataclass(frozen=True)
class Augment:
    """Shares of the crops that get each augmentation (0: off, the stream of crops as without it)."""

    chroma_boost: float = 0.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        for name in ("chroma_boost", "noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1")


def boost_chroma(patch: np.ndarray, gain: float) -> np.ndarray:
    """Scale each pixel's distance from its BT.601 luma by ``gain``, clipped to uint8."""
    rgb = patch.astype(np.float32)
    luma = rgb @ LUMA_WEIGHTS
    out = luma[..., None] + gain * (rgb - luma[..., None])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def add_noise(patch: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise per pixel and channel (luma and chroma noise), clipped to uint8."""
    noisy = patch.astype(np.float32) + rng.normal(0.0, sigma, patch.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def name_hash(name: str) -> int:
    """A stable 32-bit number from a file name: the same on every machine."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def is_held_out(name: str) -> bool:
    """Stable validation membership: the same images on every machine."""
    return name_hash(name) % 1000 < HOLDOUT_PER_MILLE


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def split(folders: Path | list[Path]) -> tuple[list[Path], list[Path]]:
    """(train, held-out) file lists over one or several folders."""
    folders = [folders] if isinstance(folders, Path) else folders
    images = [p for folder in folders for p in list_images(folder)]
    train = [p for p in images if not is_held_out(p.name)]
    held = [p for p in images if is_held_out(p.name)]
    return train, held


def texture(patch: np.ndarray) -> float:
    """Mean absolute horizontal and vertical difference of the green channel."""
    g = patch[..., 1].astype(np.int16)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


class CropSampler:
    """Draws batches of random crops with random flips from in-memory photos.

    With ``texture_bias`` p, a crop is, with probability p, the busier of two
    random candidates from the same photo; ``augment`` then changes some crops.
    """

    def __init__(
        self,
        paths: list[Path],
        crop: int,
        seed: int = 0,
        texture_bias: float = 0.0,
        augment: Augment | None = None,
    ) -> None:
        self.crop = crop
        self.texture_bias = texture_bias
        self.augment = augment or Augment()
        self.images = [im for im in (load_rgb(p) for p in paths) if min(im.shape[:2]) >= crop]
        if not self.images:
            raise ValueError(f"no training image is at least {crop} px on its short side")
        self.rng = np.random.default_rng(seed)

    def _random_crop(self, im: np.ndarray) -> np.ndarray:
        top = self.rng.integers(im.shape[0] - self.crop + 1)
        left = self.rng.integers(im.shape[1] - self.crop + 1)
        return im[top : top + self.crop, left : left + self.crop]

    def batch(self, size: int) -> torch.Tensor:
        """A float batch (B, 3, crop, crop) in [0, 1]."""
        out = np.empty((size, self.crop, self.crop, 3), dtype=np.uint8)
        for i in range(size):
            im = self.images[self.rng.integers(len(self.images))]
            patch = self._random_crop(im)
            if self.rng.random() < self.texture_bias:
                other = self._random_crop(im)
                if texture(other) > texture(patch):
                    patch = other
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            if self.rng.random() < 0.5:
                patch = patch[::-1]
            out[i] = self._augmented(patch)
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)

    def _augmented(self, patch: np.ndarray) -> np.ndarray:
        """The crop with the augmentations its draws pick (no draw for an augmentation that is off)."""
        if self.augment.chroma_boost and self.rng.random() < self.augment.chroma_boost:
            patch = boost_chroma(patch, float(self.rng.uniform(1.0, CHROMA_GAIN_MAX)))
        if self.augment.noise and self.rng.random() < self.augment.noise:
            patch = add_noise(patch, float(self.rng.uniform(1.0, NOISE_SIGMA_MAX)), self.rng)
        return patch

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def center_crops(paths: list[Path], size: int) -> list[torch.Tensor]:
    """Validation tensors: the central ``size`` square of each image (or the whole)."""
    out = []
    for p in paths:
        im = load_rgb(p)
        h, w = im.shape[:2]
        s_h, s_w = min(size, h - h % 64), min(size, w - w % 64)
        top, left = (h - s_h) // 2, (w - s_w) // 2
        patch = np.ascontiguousarray(im[top : top + s_h, left : left + s_w])
        out.append(torch.from_numpy(patch).permute(2, 0, 1)[None].float() / 255.0)
    return out
