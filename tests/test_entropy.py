"""Frozen 16-bit tables, the range coder with escapes, and the LZMA mode."""

from __future__ import annotations

import numpy as np
import pytest

from latentzip.codec.api.errors import ArchiveFormatError, ModelIntegrityError
from latentzip.codec.entropy.latent_streams import (
    ENTROPY_LZMA,
    ENTROPY_RANGE,
    LzmaReader,
    RangeReader,
    make_reader,
    make_writer,
)
from latentzip.codec.entropy.tables import (
    SCALE_COUNT,
    TOTAL,
    quantize_pmf,
    scale_indexes,
    scale_log_fixed,
    validate_table_set,
)


def laplace_tables(count: int = 4, radius: int = 20):
    rows, offsets = [], []
    for k in range(count):
        j = np.arange(-radius, radius + 1)
        p = np.exp(-np.abs(j) / (0.5 + k))
        p = np.append(p / p.sum() * 0.999, 0.001)
        rows.append(quantize_pmf(p))
        offsets.append(-radius)
    freqs = np.zeros((count, len(rows[0])), dtype=np.uint16)
    for i, r in enumerate(rows):
        freqs[i] = r
    return validate_table_set("test", freqs, np.full(count, len(rows[0])), np.array(offsets))


def test_quantize_pmf_is_normalised_without_zero_frequencies():
    p = np.array([0.0, 1e-12, 0.5, 0.4999, 1e-4])
    f = quantize_pmf(p)
    assert f.sum() == TOTAL and f.min() >= 1
    assert f[2] > f[3] > f[4] >= 1


@pytest.mark.parametrize("bad", ["zero", "sum", "tail", "dtype"])
def test_invalid_tables_are_refused(bad):
    good = laplace_tables()
    freqs, lengths, offsets = good.freqs.astype(np.uint16), good.lengths.copy(), good.offsets.copy()
    if bad == "zero":
        freqs[1, 3] = 0
    elif bad == "sum":
        freqs[0, 0] += 1
    elif bad == "tail":
        lengths[2] -= 1
    elif bad == "dtype":
        freqs = freqs.astype(np.float32)
    with pytest.raises(ModelIntegrityError):
        validate_table_set("bad", freqs, lengths, offsets)


@pytest.mark.parametrize("mode", [ENTROPY_RANGE, ENTROPY_LZMA])
def test_round_trip_with_values_far_outside_the_tables(mode):
    tables = laplace_tables()
    rng = np.random.default_rng(1)
    ids = rng.integers(0, tables.count, size=(8, 12, 10))
    values = np.round(rng.laplace(0, 1.5, size=ids.shape)).astype(np.int64)
    values[0, 0, 0] = 70_000  # beyond int16 and far beyond the table: escaped, not clipped
    values[3, 5, 2] = -1_000_000
    values[7, 11, 9] = 21
    writer = make_writer(mode)
    writer.write(values[:4], ids[:4], tables)
    writer.write(values[4:], ids[4:], tables)
    data = writer.finish()
    reader = make_reader(mode, data, values.size)
    out = np.concatenate([reader.read(ids[:4], tables), reader.read(ids[4:], tables)])
    np.testing.assert_array_equal(out, values)


def test_range_coder_reaches_the_tables_entropy():
    tables = laplace_tables()
    rng = np.random.default_rng(2)
    ids = rng.integers(0, tables.count, size=20_000)
    values = np.round(rng.laplace(0, 1.0, size=ids.shape)).astype(np.int64)
    writer = make_writer(ENTROPY_RANGE)
    writer.write(values, ids, tables)
    data = writer.finish()
    ideal_bits = 0.0
    for k in range(tables.count):
        v = values[ids == k] - tables.radius_low(k)
        ideal_bits += -np.log2(tables.row(k)[v] / TOTAL).sum()
    assert len(data) * 8 < ideal_bits * 1.01 + 256


def test_corrupt_streams_raise_format_errors():
    tables = laplace_tables()
    ids = np.zeros((4, 4), dtype=np.int64)
    writer = make_writer(ENTROPY_RANGE)
    writer.write(np.full((4, 4), 5000), ids, tables)  # every value escaped
    data = writer.finish()
    with pytest.raises(ArchiveFormatError):
        RangeReader(data[:-1])  # lengths no longer add up
    with pytest.raises(ArchiveFormatError):
        LzmaReader(b"not lzma at all", 100)


def test_scale_indexes_are_integer_and_clamped():
    fixed = np.array([scale_log_fixed(0) - 10_000, scale_log_fixed(5), scale_log_fixed(5) + 1, 10**9])
    idx = scale_indexes(fixed)
    assert idx.dtype == np.int64
    assert list(idx) == [0, 5, 5, SCALE_COUNT - 1]


def test_a_new_table_set_never_gets_the_coder_models_of_a_freed_one():
    import gc

    # Table sets of different widths, created and freed in turn: CPython often gives the new
    # object the freed one's id, so a cache keyed by id would hand it the old, narrower models.
    for radius in (3, 30, 4, 25, 5, 40, 6, 20):
        tables = laplace_tables(count=2, radius=radius)
        values = np.full((1, 2, 3), radius - 1, dtype=np.int64)  # in range here, outside narrower tables
        ids = np.zeros_like(values)
        writer = make_writer(ENTROPY_RANGE)
        writer.write(values, ids, tables)
        data = writer.finish()
        np.testing.assert_array_equal(make_reader(ENTROPY_RANGE, data, values.size).read(ids, tables), values)
        assert set(tables.coder_models) == {0}  # the models live on the table set that made them
        del tables, writer
        gc.collect()
