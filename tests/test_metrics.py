"""MS-SSIM / SSIM against pytorch_msssim reference values, PSNR, bpp."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec.metrics import bpp, colour_error, ms_ssim, psnr, quality_metric_name, ssim

TESTS = Path(__file__).resolve().parent
REFERENCE = json.loads((TESTS / "expected" / "msssim_reference.json").read_text())


def _load(name: str) -> np.ndarray:
    with Image.open(TESTS / "assets" / f"{name}.png") as im:
        return np.asarray(im)


def _case_images(case: dict) -> tuple[np.ndarray, np.ndarray]:
    a, b = _load(case["a"]), _load(case["b"])
    if case["box"]:
        t, btm, left, right = case["box"]
        a, b = a[t:btm, left:right], b[t:btm, left:right]
    return a, b


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=[c["name"] for c in REFERENCE["cases"]])
def test_matches_pytorch_msssim(case: dict) -> None:
    a, b = _case_images(case)
    expected_name = "MS-SSIM" if case["function"] == "ms_ssim" else "SSIM"
    assert quality_metric_name(a.shape[0], a.shape[1]) == expected_name
    assert ms_ssim(a, b) == pytest.approx(case["value"], abs=1e-4)
    if case["function"] == "ssim":
        assert ssim(a, b) == pytest.approx(case["value"], abs=1e-4)
    if case["psnr"] is None:
        assert psnr(a, b) == math.inf
    else:
        assert psnr(a, b) == pytest.approx(case["psnr"], abs=1e-9)


def test_reference_covers_odd_gray_and_fallback() -> None:
    shapes = [_case_images(c)[0].shape for c in REFERENCE["cases"]]
    assert any(len(s) == 2 for s in shapes)
    assert any(s[0] % 2 and s[1] % 2 for s in shapes)
    assert any(c["function"] == "ssim" for c in REFERENCE["cases"])


def test_threads_share_the_filtering_and_never_change_the_value() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (421, 300, 3), dtype=np.uint8)  # 411 output rows: four bands, the last short
    b = np.clip(a.astype(int) + rng.integers(-12, 13, a.shape), 0, 255).astype(np.uint8)
    one = ms_ssim(a, b)
    assert 0.5 < one < 1.0
    assert ms_ssim(a, b, workers=2) == one
    assert ms_ssim(a, b, workers=8) == one


def test_metric_name_threshold() -> None:
    assert quality_metric_name(161, 161) == "MS-SSIM"
    assert quality_metric_name(160, 4000) == "SSIM"
    assert quality_metric_name(4000, 160) == "SSIM"
    assert quality_metric_name(512, 768) == "MS-SSIM"


def test_channel_last_singleton_and_dtypes() -> None:
    a, b = _load("metric_c_gray"), _load("metric_c_gray_noise")
    value = ms_ssim(a, b)
    assert ms_ssim(a[:, :, None], b[:, :, None]) == pytest.approx(value, abs=1e-7)
    assert ms_ssim(a.astype(np.float32), b.astype(np.float64)) == pytest.approx(value, abs=1e-6)
    # RGB built from one grayscale plane gives the grayscale value (mean over equal channels).
    rgb_a, rgb_b = np.repeat(a[:, :, None], 3, axis=2), np.repeat(b[:, :, None], 3, axis=2)
    assert ms_ssim(rgb_a, rgb_b) == pytest.approx(value, abs=1e-6)


def test_symmetric_and_identical() -> None:
    a, b = _load("metric_b"), _load("metric_b_jpeg30")
    assert ms_ssim(a, b) == pytest.approx(ms_ssim(b, a), abs=1e-6)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < ms_ssim(a, b) < 1.0


def test_tiny_image_uses_whole_image_window() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (8, 30, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-25, 26, a.shape), 0, 255).astype(np.uint8)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    per_channel = []
    for ch in range(3):
        x, y = a[:, :, ch].astype(np.float64), b[:, :, ch].astype(np.float64)
        mx, my = x.mean(), y.mean()
        vx, vy, cov = x.var(), y.var(), ((x - mx) * (y - my)).mean()
        per_channel.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    assert quality_metric_name(8, 30) == "SSIM"
    assert ms_ssim(a, b) == pytest.approx(float(np.mean(per_channel)), abs=1e-9)
    assert ms_ssim(a, a) == pytest.approx(1.0)
    assert ms_ssim(a[:1, :1], b[:1, :1]) <= 1.0


def test_bad_inputs() -> None:
    a = np.zeros((200, 200, 3), np.uint8)
    with pytest.raises(ValueError):
        ms_ssim(a, a[:199])
    with pytest.raises(ValueError):
        ms_ssim(np.zeros((200, 200, 4), np.uint8), np.zeros((200, 200, 4), np.uint8))
    with pytest.raises(ValueError):
        ms_ssim(np.zeros((0, 5), np.uint8), np.zeros((0, 5), np.uint8))
    with pytest.raises(ValueError):
        psnr(a, a[:10])
    with pytest.raises(ValueError):
        bpp(10, 0)


def test_psnr_known_values() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a) == math.inf
    b = a.copy()
    b[...] = 1  # MSE 1
    assert psnr(a, b) == pytest.approx(20 * math.log10(255))
    b[...] = 255  # MSE 255^2
    assert psnr(a, b) == pytest.approx(0.0)
    # uint8 inputs must not wrap around when subtracted.
    assert psnr(np.full((2, 2), 10, np.uint8), np.full((2, 2), 0, np.uint8)) == pytest.approx(
        10 * math.log10(255**2 / 100)
    )


def test_bpp() -> None:
    assert bpp(1000, 8000) == 1.0
    assert bpp(0, 10) == 0.0
    assert bpp(3, 2) == 12.0


def _photo_like(height: int, width: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([60 + x % 97, 80 + y % 61, 40 + (x + y) % 113], -1) + rng.integers(0, 20, (height, width, 3))
    return img.astype(np.uint8)


def test_colour_error_of_a_known_shift() -> None:
    original = _photo_like(150, 200)  # values 40..172: a shift of a few levels never clips
    shifted = original.astype(int)
    shifted[..., 0] += 3
    shifted[..., 2] -= 2
    shifted[:75, :, 1] += 1  # half the image one level up in green: +0.5 over the whole
    err = colour_error(original, shifted.astype(np.uint8))
    assert err.channels == pytest.approx((3.0, 0.5, -2.0), abs=1e-12)
    assert err.worst == pytest.approx(3.0)
    assert err.block == pytest.approx(3.0)  # every block moved by 3 in red
    assert colour_error(original, original).channels == (0.0, 0.0, 0.0)
    assert colour_error(original, original).block == 0.0


def test_local_cast_shows_in_the_block_figure_only() -> None:
    original = _photo_like(512, 768)
    cast = original.astype(int)
    cast[128:192, 320:384, 1] += 20  # one 64x64 block turns greener
    cast[128:192, 320:384, 2] += 10
    err = colour_error(original, cast.astype(np.uint8))
    assert err.worst == pytest.approx(20 * 64 * 64 / (512 * 768))  # about 0.2 grey levels over the image
    assert err.worst < 0.25
    assert err.block == pytest.approx(20.0)
    assert err.block_channels == pytest.approx((0.0, 20.0, 10.0))
    assert err.block_at == (128, 320)


def test_colour_error_edge_blocks_grey_and_bad_input() -> None:
    original = np.full((100, 70), 100, np.uint8)  # blocks: 64x64, 64x6, 36x64, 36x6
    out = original.copy()
    out[64:, 64:] = 110  # only the bottom-right remainder block differs
    err = colour_error(original, out)
    assert len(err.channels) == 1
    assert err.channels[0] == pytest.approx(10 * 36 * 6 / 7000)
    assert err.block == pytest.approx(10.0) and err.block_at == (64, 64)
    with pytest.raises(ValueError):
        colour_error(original, out[:50])
    with pytest.raises(ValueError):
        colour_error(original, out, block=0)
