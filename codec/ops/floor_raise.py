"""Floors met by rate: find the lowest level at which one image reaches its checkpoint's floor.

A floor (``Floor``) is an MS-SSIM to reach and, unless turned off, a largest whole-image
colour error (the mean of a channel, extracted minus original, in grey levels: a cast
that MS-SSIM barely sees). An image coded at its checkpoint's level that misses either
is coded again at higher levels of the set's rate axis (rate_ladder.py), with a few tries:

- Distortion falls about exponentially with the level (the gains are log-spaced), so
  ``d = log(1 - MS-SSIM)`` is close to linear in the level step, and so, more loosely,
  is the log of the colour error. A try's excess (``Floor.excess``) is the larger of the
  two over their limits, in log units; it is at most 0 where the floor is met. Until a
  try passes, each aims at an excess of ``-AIM_MARGIN`` (a little above the floor) along
  the slope measured between the last two tries; the first raise uses
  ``PRIOR_SLOPE``, the mean MS-SSIM slope of the trained axis on Kodak, since only one
  point is known then (the colour error falls faster, so it overshoots, and the next
  tries come back down).
- Once one try passes and one fails, the next try interpolates between them (a
  secant step aimed just above the floor, ``REFINE_MARGIN``), to come down towards
  the floor from above and save bytes; it stops when the passing try is already
  within ``CLOSE_ENOUGH`` of the floor, or the bracket is narrow.
- The last try, when none has passed yet, is the top of the axis: an image is given
  up (stored) only when even the top level is under its floor.

``search_level`` is pure: the engine passes a function that codes and scores the
image at a step (the decoder that extraction uses by default, see compressor.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_RAISE_TRIES = 4  # codings after the one at the checkpoint's own level
PRIOR_SLOPE = -0.28 / 256  # d log(1 - MS-SSIM) per step: A -> C on Kodak (0.975 at level 0.48, 0.991 at 4.08)
AIM_MARGIN = 0.03  # aim this far under log(1 - floor) (3 % less distortion) while no try has passed
REFINE_MARGIN = 0.01  # ... and this far once the floor is bracketed
CLOSE_ENOUGH = 0.02  # a passing try this close to log(1 - floor) is kept without refining (about 2 % of bytes)
MIN_RAISE = 16  # steps (1/16 of a level): the smallest move worth a coding
FLAT_SLOPE = -1e-6  # a measured slope flatter than this says only the top level may still help
MIN_COLOUR = 1e-3  # grey levels: a colour error counts as at least this (its log stays finite)

T = TypeVar("T")


@dataclass(frozen=True)
class Trial(Generic[T]):
    """One coding of the image: its step, MS-SSIM, whatever the engine keeps (the bitstream), and its
    whole-image colour error (the largest absolute channel-mean error, grey levels)."""

    step: int
    score: float
    result: T
    colour: float = 0.0


@dataclass(frozen=True)
class Floor:
    """What a coding must reach: MS-SSIM at least ``ms_ssim`` and, unless ``colour`` is None, a
    whole-image colour error of at most ``colour`` grey levels."""

    ms_ssim: float
    colour: float | None = None

    def __post_init__(self) -> None:
        if self.colour is not None and not self.colour > 0:
            raise ValueError(f"a colour limit must be positive grey levels, got {self.colour}")

    def met(self, trial: Trial) -> bool:
        return trial.score >= self.ms_ssim and (self.colour is None or trial.colour <= self.colour)

    def colour_missed(self, trial: Trial) -> bool:
        """The trial meets the MS-SSIM floor but not the colour limit."""
        return trial.score >= self.ms_ssim and not self.met(trial)

    def excess(self, trial: Trial) -> float:
        """How far the trial is from the floor, in log distortion: at most 0 where it is met."""
        over = distortion(trial.score) - distortion(self.ms_ssim)
        if self.colour is not None:
            over = max(over, math.log(max(trial.colour, MIN_COLOUR) / self.colour))
        return over


@dataclass(frozen=True)
class RaiseResult(Generic[T]):
    passed: Trial[T] | None  # the lowest passing try, None when even the top level missed the floor
    tries: int  # codings made by the search
    best_failed: Trial[T] | None  # the highest failing try (for the report when nothing passed)


def distortion(score: float) -> float:
    """log(1 - MS-SSIM), bounded for a perfect score."""
    return math.log(max(1.0 - score, 1e-9))


def _aim_step(lo: tuple[int, float], slope: float, aim: float) -> float:
    return lo[0] + (aim - lo[1]) / slope


def search_level(
    start: Trial[T],
    floor: Floor,
    top_step: int,
    evaluate: Callable[[int], Trial[T]],
    max_tries: int = MAX_RAISE_TRIES,
) -> RaiseResult[T]:
    """Raise from ``start`` (a coding that missed ``floor``) up to ``top_step``."""
    aim = -AIM_MARGIN
    fail = (start.step, floor.excess(start))
    prev_fail: tuple[int, float] | None = None
    ok: tuple[int, float] | None = None
    passed: Trial[T] | None = None
    best_failed: Trial[T] | None = None
    tries = 0
    while tries < max_tries and fail[0] < top_step:
        last = tries == max_tries - 1
        if ok is None:
            slope = PRIOR_SLOPE if prev_fail is None else (fail[1] - prev_fail[1]) / (fail[0] - prev_fail[0])
            if last or slope > FLAT_SLOPE:
                step = top_step
            else:
                step = min(top_step, max(fail[0] + MIN_RAISE, math.ceil(_aim_step(fail, slope, aim))))
        else:
            if ok[1] >= -CLOSE_ENOUGH or ok[0] - fail[0] <= 2 * MIN_RAISE:
                break
            slope = (ok[1] - fail[1]) / (ok[0] - fail[0])
            guess = math.ceil(_aim_step(fail, slope, -REFINE_MARGIN)) if slope < FLAT_SLOPE else ok[0]
            step = min(ok[0] - MIN_RAISE // 2, max(fail[0] + MIN_RAISE // 2, guess))
        trial = evaluate(step)
        tries += 1
        if floor.met(trial):
            ok, passed = (step, floor.excess(trial)), trial
        else:
            prev_fail, fail = fail, (step, floor.excess(trial))
            if best_failed is None or step > best_failed.step:
                best_failed = trial
    return RaiseResult(passed, tries, best_failed)
