"""Placing A, B and C on the rate axis: the MS-SSIM target, raised to the paper's PSNR within the bit budget."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from training.calibrate import choose, place  # noqa: E402


def curve(rows: list[tuple[float, float, float, float]]) -> list[dict]:
    return [{"level": lv, "bpp": bpp, "ms_ssim": ms, "psnr": ps} for lv, bpp, ms, ps in rows]


# C's neighbourhood: MS-SSIM 0.991 is reached at level 3.25, the paper's 30.14 dB at 3.5.
C_CURVE = curve([(3.0, 1.00, 0.9905, 30.10), (3.5, 1.06, 0.9915, 30.14), (4.0, 1.17, 0.9920, 30.21)])


def test_choose_interpolates_to_the_lowest_level_reaching_the_target() -> None:
    assert choose(C_CURVE, 0.991) == pytest.approx(3.25)
    assert choose(C_CURVE, 30.175, "psnr") == pytest.approx(3.75)
    assert choose(C_CURVE, 0.999) == 4.0  # out of reach: the top


def test_a_checkpoint_under_the_papers_psnr_rises_to_it_within_its_bit_budget() -> None:
    assert place(C_CURVE, "C") == pytest.approx(3.5)


def test_the_bit_budget_comes_before_the_psnr() -> None:
    costly = curve([(3.0, 1.00, 0.9905, 30.00), (3.5, 1.10, 0.9915, 30.05), (4.0, 1.20, 0.9920, 30.20)])
    # 30.14 dB would need level 3.8 at about 1.16 bpp, over C's budget of 1.12: MS-SSIM alone places it.
    assert place(costly, "C") == pytest.approx(3.25)


def test_a_checkpoint_already_over_the_papers_psnr_stays_at_its_ms_ssim_level() -> None:
    rows = curve([(0.0, 0.45, 0.974, 28.8), (0.5, 0.52, 0.976, 29.0)])
    assert place(rows, "A") == pytest.approx(0.25)


def test_a_psnr_the_grid_never_reaches_does_not_send_the_checkpoint_to_the_top() -> None:
    cheap = curve([(3.0, 0.90, 0.9905, 29.90), (3.5, 0.95, 0.9915, 29.95), (4.0, 1.00, 0.9920, 30.00)])
    assert place(cheap, "C") == pytest.approx(3.25)
