"""The rate axis of a model set: its trained log-gain rows in fixed point, and the gains of any level.

The network is variable-rate: level ``l`` (a real number from 0 to the top trained
row) selects per-channel gains whose logs interpolate linearly between the trained
rows (training/model.py ``gains``). A bitstream names its level as an integer
``step`` in 1/``LEVEL_STEPS`` of a trained level, and everything the decoder needs
to agree on is derived from that integer with integer arithmetic alone:

    i = min(step // 256, rows - 2),  f = step - 256 i           (0 <= f <= 256)
    log_gain_q16 = (row[i] (256 - f) + row[i + 1] f + 128) >> 8  (rows in Q16: 16 fraction bits)
    log_gain_fixed = (log_gain_q16 + 2^5) >> 6                  (ACT_FRAC_BITS = 10 fraction bits)

``>>`` is an arithmetic (flooring) shift, so both roundings are round-half-up on
every machine. ``log_gain_fixed`` offsets the integer hyper-decoder's log-scales and
so picks the entropy table of every latent: it must be bit-exact. The float gains
(``exp(log_gain_q16 / 2^16)``, computed in float64, stored as float32) only scale
the latents before rounding and after decoding, like the float synthesis transform.

Why 1/256 of a level: adjacent trained rows differ by about 0.25-0.36 in natural-log
gain, i.e. 250-370 units of the 2^-10 fixed point the hyper-decoder works in; a
step of 1/256 of a level moves the log-gains by about 1-1.5 such units, the finest
change the table indexes can see. A u16 holds 255 trained levels of these steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..api.errors import ModelIntegrityError
from ..entropy.tables import ACT_FRAC_BITS

LEVEL_STEPS = 256  # steps per trained level in the bitstream's u16 level
LEVEL_SHIFT = 8  # log2(LEVEL_STEPS)
LADDER_FRAC_BITS = 16  # fraction bits of the stored log-gain rows
MAX_STEP = 0xFFFF
MAX_ROW_MAGNITUDE = 1 << 24  # |log-gain| under 256 in Q16: keeps every product far inside int64
LADDER_KEYS = ("log_gain_rows_fixed", "log_inv_gain_rows_fixed")


def rows_to_fixed(rows: np.ndarray) -> np.ndarray:
    """Float log-gain rows (levels, M) -> int64 Q16 rows (what training/export.py stores)."""
    return np.round(np.asarray(rows, dtype=np.float64) * (1 << LADDER_FRAC_BITS)).astype(np.int64)


def interpolate_fixed(rows: np.ndarray, step: int) -> np.ndarray:
    """The Q16 log-gains (int64, one per channel) at ``step``, by the integer rule of the module docstring."""
    count = rows.shape[0]
    if not 0 <= step <= (count - 1) * LEVEL_STEPS:
        raise ValueError(f"level step {step} is outside 0..{(count - 1) * LEVEL_STEPS}")
    i = min(step >> LEVEL_SHIFT, count - 2)
    f = step - (i << LEVEL_SHIFT)
    mixed = rows[i].astype(np.int64) * (LEVEL_STEPS - f) + rows[i + 1].astype(np.int64) * f
    return (mixed + (LEVEL_STEPS >> 1)) >> LEVEL_SHIFT


def act_fixed(q16: np.ndarray) -> np.ndarray:
    """Q16 log-gains -> the hyper-decoder's fixed point (ACT_FRAC_BITS), rounding half up."""
    shift = LADDER_FRAC_BITS - ACT_FRAC_BITS
    return (q16 + (1 << (shift - 1))) >> shift


def float_gain(q16: np.ndarray) -> np.ndarray:
    """exp of Q16 log-gains, as float32."""
    return np.exp(q16.astype(np.float64) / float(1 << LADDER_FRAC_BITS)).astype(np.float32)


def level_step(level: float) -> int:
    """The nearest step of a (fractional) level."""
    return int(round(float(level) * LEVEL_STEPS))


@dataclass(frozen=True)
class LevelGains:
    """Everything a level contributes to coding: float gains and the exact fixed-point log-gain."""

    step: int
    gain: np.ndarray  # float32 (M,)
    inv_gain: np.ndarray  # float32 (M,)
    log_gain_fixed: np.ndarray  # int64 (M,), ACT_FRAC_BITS


@dataclass(frozen=True)
class RateLadder:
    """A model set's trained log-gain and log-inverse-gain rows, int64 Q16, shape (levels, M)."""

    log_gain_rows: np.ndarray
    log_inv_gain_rows: np.ndarray

    @property
    def levels(self) -> int:
        return int(self.log_gain_rows.shape[0])

    @property
    def top_step(self) -> int:
        """The step of the highest trained level: the top of the rate axis."""
        return (self.levels - 1) * LEVEL_STEPS

    def at(self, step: int) -> LevelGains:
        """The gains of level ``step`` / LEVEL_STEPS (deterministic on every machine)."""
        log_g = interpolate_fixed(self.log_gain_rows, step)
        log_ig = interpolate_fixed(self.log_inv_gain_rows, step)
        return LevelGains(step, float_gain(log_g), float_gain(log_ig), act_fixed(log_g))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], channels: int, set_name: str) -> RateLadder | None:
        """The ladder stored in a set's gains.npz, validated; None when the set has none (an older set)."""
        if not any(k in arrays for k in LADDER_KEYS):
            return None
        try:
            gain_rows, inv_rows = (np.asarray(arrays[k]) for k in LADDER_KEYS)
        except KeyError as exc:
            raise ModelIntegrityError(f"gains.npz lacks {exc}", set_name) from exc
        for rows in (gain_rows, inv_rows):
            if rows.dtype.kind not in "iu" or rows.ndim != 2 or rows.shape != gain_rows.shape:
                raise ModelIntegrityError("the rate ladder's rows are not an integer table", set_name)
            if not 2 <= rows.shape[0] <= MAX_STEP // LEVEL_STEPS + 1 or rows.shape[1] != channels:
                raise ModelIntegrityError("the rate ladder has the wrong shape", set_name)
            if np.abs(rows.astype(np.int64)).max() >= MAX_ROW_MAGNITUDE:
                raise ModelIntegrityError("the rate ladder's log-gains are out of range", set_name)
        return cls(gain_rows.astype(np.int64), inv_rows.astype(np.int64))


def ladder_gains(
    log_gain_rows: np.ndarray, log_inv_gain_rows: np.ndarray, levels: dict[str, float], ids: dict[str, int]
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """What an export writes for float log-gain rows (levels, M): gains.npz's arrays and the manifest's
    checkpoint entries. The rows in Q16, and each checkpoint at the nearest step of its level, with the gains
    this module derives (so a checkpoint and a stream at its step use identical gains)."""
    rows = {LADDER_KEYS[0]: rows_to_fixed(log_gain_rows), LADDER_KEYS[1]: rows_to_fixed(log_inv_gain_rows)}
    ladder = RateLadder(rows[LADDER_KEYS[0]], rows[LADDER_KEYS[1]])
    arrays: dict[str, np.ndarray] = dict(rows)
    entries: dict[str, dict] = {}
    for name, level in sorted(levels.items()):
        step = level_step(level)
        if not 0 <= step <= ladder.top_step:
            raise ValueError(f"checkpoint {name} at level {level} is beyond the ladder (0..{ladder.levels - 1})")
        at = ladder.at(step)
        arrays.update(
            {f"gain_{name}": at.gain, f"inv_gain_{name}": at.inv_gain, f"log_gain_fixed_{name}": at.log_gain_fixed}
        )
        entries[name] = {"id": ids[name], "level": step / LEVEL_STEPS, "level_step": step}
    return arrays, entries
