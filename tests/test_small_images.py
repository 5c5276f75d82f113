"""Per-file overheads on small images: ORT scheduling, the integer h_s on tiny z, LZMA dictionaries."""

from __future__ import annotations

import lzma

import numpy as np
import pytest

from latentzip.codec.entries import stored
from latentzip.codec.entries.stored import LZMA_MIN_DICT, lzma_filters
from latentzip.codec.runtime import hyper_int
from latentzip.codec.runtime.model_set import default_registry, session_options


@pytest.fixture(scope="module")
def model():
    return default_registry().get()


def test_ort_threads_do_not_spin_unless_asked(monkeypatch):
    monkeypatch.delenv("LATENTZIP_ORT_SPIN", raising=False)
    assert session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.setenv("LATENTZIP_ORT_SPIN", "1")
    opts = session_options()
    with pytest.raises(RuntimeError, match="does not have configuration"):  # not set: ORT's default (spinning)
        opts.get_session_config_entry("session.intra_op.allow_spinning")


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 2), (3, 4)])
def test_tiny_hyper_decode_equals_plain_products(model, shape, monkeypatch):
    """The blocked small products give exactly what one BLAS call gives."""
    z_q = np.random.default_rng(sum(shape)).integers(-6, 7, size=(int(model.arch["MZ"]), *shape))
    blocked = hyper_int.hyper_decode(z_q, model.hyper_decoder)
    monkeypatch.setattr(hyper_int, "SMALL_PRODUCT", 0)  # every product in one call
    plain = hyper_int.hyper_decode(z_q, model.hyper_decoder)
    for a, b in zip(blocked, plain, strict=False):
        np.testing.assert_array_equal(a, b)


def test_blocked_matmul_is_exact_and_covers_every_row():
    rng = np.random.default_rng(0)
    w = rng.integers(-3000, 3000, (257, 576)).astype(np.float64)
    cols = rng.integers(-(2**24), 2**24, (576, 5)).astype(np.float64)
    out = hyper_int._matmul(w, cols)
    np.testing.assert_array_equal(out, w.astype(np.int64) @ cols.astype(np.int64))


def test_hyper_weights_are_prepared_once(model):
    first = hyper_int._prepared(model.hyper_decoder)
    assert hyper_int._prepared(model.hyper_decoder) is first
    assert first[0][0].dtype == np.float64 and first[0][0].flags.c_contiguous


@pytest.mark.parametrize(
    "size,expected", [(0, LZMA_MIN_DICT), (1340, LZMA_MIN_DICT), (5000, 8192), (1 << 20, 1 << 20), (100 << 20, 8 << 20)]
)
def test_lzma_dictionary_follows_the_size(size, expected):
    assert lzma_filters(size)[0]["dict_size"] == expected
    assert lzma_filters(size, preset=1)[0]["dict_size"] == min(expected, 1 << 20)


def test_sized_dictionary_compresses_like_preset_6():
    data = bytes(np.random.default_rng(1).integers(0, 40, 20_000, dtype=np.uint8)) * 2
    sized = lzma.compress(data, format=lzma.FORMAT_XZ, filters=lzma_filters(len(data)))
    full = lzma.compress(data, format=lzma.FORMAT_XZ, preset=6)
    assert len(sized) == len(full)
    assert lzma.decompress(sized) == data


def test_stored_lzma_entry_round_trips(tmp_path):
    from latentzip.codec import engine

    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_bytes(b"hello archive " * 300)
    archive = tmp_path / "a.ltz"
    report = engine.compress([src], archive, engine.CompressOptions(images="lossless"))
    assert [o.kind for o in report.outcomes if o.name.endswith("notes.txt")] == ["lzma"]
    engine.extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "src" / "notes.txt").read_bytes() == b"hello archive " * 300
    assert stored.lzma_filters is lzma_filters
