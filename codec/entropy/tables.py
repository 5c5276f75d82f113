"""Frozen integer entropy tables: constants, building and validation.

Every table is a row of 16-bit frequencies (each >= 1, summing to 2^16) over
a contiguous symbol range starting at the row's offset, with one extra last
symbol, the *escape*: a value outside the range is coded as the escape and
its true value goes to a side stream. Tables are validated every time they
are loaded; the coder never sees an unchecked table.

The scale of each latent's Gaussian is chosen on an integer grid: with log
scales in fixed point (``ACT_FRAC_BITS`` fractional bits), index k stands for
log sigma = (SCALE_LOG_MIN_FIXED + k * SCALE_STEP_FIXED) / 2^F.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..api.errors import ModelIntegrityError

PRECISION_BITS = 16
TOTAL = 1 << PRECISION_BITS
ACT_FRAC_BITS = 10
SCALE_LOG_MIN = math.log(0.11)
SCALE_LOG_MAX = math.log(256.0)
SCALE_COUNT = 64
SCALE_LOG_MIN_FIXED = round(SCALE_LOG_MIN * 2**ACT_FRAC_BITS)
SCALE_STEP_FIXED = round((SCALE_LOG_MAX - SCALE_LOG_MIN) / (SCALE_COUNT - 1) * 2**ACT_FRAC_BITS)
MAX_TABLE_LENGTH = 8192


def scale_log_fixed(k: int) -> int:
    """Fixed-point log scale that table ``k`` was built for."""
    return SCALE_LOG_MIN_FIXED + k * SCALE_STEP_FIXED


def scale_indexes(log_scale_fixed: np.ndarray) -> np.ndarray:
    """Table index per latent from integer log scales (exact, machine-independent)."""
    shifted = log_scale_fixed.astype(np.int64) - SCALE_LOG_MIN_FIXED + SCALE_STEP_FIXED // 2
    return np.clip(shifted // SCALE_STEP_FIXED, 0, SCALE_COUNT - 1)


def quantize_pmf(pmf: np.ndarray) -> np.ndarray:
    """Float probabilities -> int32 frequencies, each >= 1, summing to 2^16.

    Deterministic: ties are broken by index. Used at export time only.
    """
    p = np.asarray(pmf, dtype=np.float64)
    n = p.size
    if n < 2 or n > MAX_TABLE_LENGTH or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pmf must be finite, non-negative and of length 2..MAX_TABLE_LENGTH")
    p = p / p.sum()
    freqs = 1 + np.floor(p * (TOTAL - n)).astype(np.int64)
    remainder = TOTAL - int(freqs.sum())
    order = np.argsort(-(p * (TOTAL - n) - np.floor(p * (TOTAL - n))), kind="stable")
    freqs[order[:remainder]] += 1
    return freqs.astype(np.int32)


@dataclass(frozen=True)
class TableSet:
    """A validated family of tables: ``freqs[i, :lengths[i]]`` over symbols from ``offsets[i]``."""

    freqs: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray
    # the range coder's model per row, built on first use (latent_streams); lives and dies with the tables
    coder_models: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def count(self) -> int:
        return int(self.lengths.shape[0])

    def row(self, i: int) -> np.ndarray:
        return self.freqs[i, : self.lengths[i]]

    def radius_low(self, i: int) -> int:
        return int(self.offsets[i])

    def symbol_count(self, i: int) -> int:
        """Number of in-range symbols (the escape excluded)."""
        return int(self.lengths[i]) - 1


def validate_table_set(name: str, freqs: np.ndarray, lengths: np.ndarray, offsets: np.ndarray) -> TableSet:
    """Check shapes, bounds and normalisation; raise ModelIntegrityError naming the table."""
    if freqs.dtype != np.uint16 or freqs.ndim != 2 or lengths.ndim != 1 or offsets.ndim != 1:
        raise ModelIntegrityError("table arrays have the wrong rank", name)
    if not (freqs.shape[0] == lengths.shape[0] == offsets.shape[0]) or freqs.shape[0] == 0:
        raise ModelIntegrityError("table arrays disagree in length", name)
    if np.any(lengths < 2) or np.any(lengths > freqs.shape[1]) or freqs.shape[1] > MAX_TABLE_LENGTH:
        raise ModelIntegrityError("table length out of range", name)
    if np.any(np.abs(offsets) > MAX_TABLE_LENGTH):
        raise ModelIntegrityError("table offset out of range", name)
    for i in range(freqs.shape[0]):
        row = freqs[i, : lengths[i]]
        if np.any(row < 1) or int(row.astype(np.int64).sum()) != TOTAL:
            raise ModelIntegrityError(f"table {i} is not a normalised 16-bit table without zero frequencies", name)
        if np.any(freqs[i, lengths[i] :] != 0):
            raise ModelIntegrityError(f"table {i} has data past its length", name)
    return TableSet(freqs.astype(np.int32), lengths.astype(np.int64), offsets.astype(np.int64))


@dataclass(frozen=True)
class EntropyTables:
    """The z tables (one per hyper-latent channel) and the y tables (one per scale)."""

    z: TableSet
    y: TableSet

    @classmethod
    def load(cls, path: Path) -> EntropyTables:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelIntegrityError(f"cannot read entropy tables: {exc}", str(path)) from exc
        try:
            z = validate_table_set(f"{path.name}:z", arrays["z_freqs"], arrays["z_lengths"], arrays["z_offsets"])
            y = validate_table_set(f"{path.name}:y", arrays["y_freqs"], arrays["y_lengths"], arrays["y_offsets"])
        except KeyError as exc:
            raise ModelIntegrityError(f"missing table array {exc}", str(path)) from exc
        if y.count != SCALE_COUNT:
            raise ModelIntegrityError(f"expected {SCALE_COUNT} scale tables, found {y.count}", str(path))
        return cls(z=z, y=y)
