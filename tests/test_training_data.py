"""Training crops: the augmentations that widen what the photos cover. Needs torch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from training.data import LUMA_WEIGHTS, Augment, CropSampler, add_noise, boost_chroma  # noqa: E402

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture()
def photo(tmp_path: Path) -> list[Path]:
    path = tmp_path / "a.png"
    shutil.copy(ASSETS / "photo_crop.png", path)
    return [path]


def _chroma(patch: np.ndarray) -> np.ndarray:
    rgb = patch.astype(np.float32)
    return rgb - (rgb @ LUMA_WEIGHTS)[..., None]


def test_a_chroma_boost_scales_colour_away_from_grey_and_keeps_the_luma():
    rng = np.random.default_rng(1)
    patch = rng.integers(60, 190, (32, 32, 3)).astype(np.uint8)  # far from clipping at gain 1.5
    boosted = boost_chroma(patch, 1.5)
    assert np.abs(boosted.astype(np.float32) @ LUMA_WEIGHTS - patch.astype(np.float32) @ LUMA_WEIGHTS).max() < 1.0
    np.testing.assert_allclose(_chroma(boosted), 1.5 * _chroma(patch), atol=1.5)
    grey = np.full((4, 4, 3), 128, np.uint8)
    np.testing.assert_array_equal(boost_chroma(grey, 2.5), grey)
    np.testing.assert_array_equal(boost_chroma(patch, 1.0), patch)


def test_a_chroma_boost_clips_instead_of_wrapping():
    patch = np.array([[[250, 10, 10]]], np.uint8)
    boosted = boost_chroma(patch, 2.5)
    assert boosted[0, 0, 0] == 255 and boosted[0, 0, 2] == 0


def test_noise_has_the_asked_spread_in_every_channel():
    patch = np.full((128, 128, 3), 128, np.uint8)
    noisy = add_noise(patch, 5.0, np.random.default_rng(0)).astype(np.float32)
    spread = noisy.reshape(-1, 3).std(0)
    assert np.all(np.abs(spread - 5.0) < 0.3)
    assert np.abs(noisy.mean() - 128) < 0.2
    channels = np.corrcoef(noisy.reshape(-1, 3).T)
    assert np.abs(channels[np.triu_indices(3, 1)]).max() < 0.05  # chroma noise, not grey noise


def test_shares_outside_zero_to_one_are_refused():
    with pytest.raises(ValueError):
        Augment(chroma_boost=1.5)
    with pytest.raises(ValueError):
        Augment(noise=-0.1)


def test_augmentations_that_are_off_leave_the_stream_of_crops_as_it_was(photo):
    plain = CropSampler(photo, 192, seed=4, texture_bias=0.5).batch(3)
    off = CropSampler(photo, 192, seed=4, texture_bias=0.5, augment=Augment()).batch(3)
    assert np.array_equal(plain.numpy(), off.numpy())


def test_every_crop_is_augmented_at_share_one(photo):
    plain = CropSampler(photo, 192, seed=7).batch(1)[0].permute(1, 2, 0).numpy() * 255
    boosted = CropSampler(photo, 192, seed=7, augment=Augment(chroma_boost=1.0)).batch(1)[0].permute(1, 2, 0)
    noisy = CropSampler(photo, 192, seed=7, augment=Augment(noise=1.0)).batch(1)[0].permute(1, 2, 0).numpy() * 255
    # the same crop (the crop's draws come first): more colour, or noise on top
    assert np.abs(_chroma(boosted.numpy() * 255)).mean() > 1.2 * np.abs(_chroma(plain)).mean()
    residual = noisy - plain
    assert 0.8 < residual.std() < 8.0
