"""The codec runtime: model sets, integer hyper-decoder, tiling, image round trips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import metrics
from latentzip.codec.api.errors import MissingModelError, ModelIntegrityError
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.hyper_int import check_exactness, hyper_decode
from latentzip.codec.runtime.model_set import ModelRegistry, ModelSet, default_registry
from latentzip.codec.runtime.transforms import (
    LATENT_STRIDE,
    _tile_for,
    analysis,
    is_tiled,
    pad_to_multiple,
    synthesis,
    tiles,
)

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="module")
def model() -> ModelSet:
    return default_registry().get()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(Image.open(ASSETS / "photo_crop.png").convert("RGB"))


def test_bundled_model_set_validates(model):
    assert set(model.checkpoints) == {"A", "B", "C"}
    check_exactness(model.hyper_decoder)
    assert len(model.content_hash) == 64


def test_tampered_model_file_is_refused(model, tmp_path):
    copy = tmp_path / model.folder.name
    shutil.copytree(model.folder, copy)
    data = bytearray((copy / "decoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        ModelSet.load(copy)


def test_unknown_model_hash_is_named_in_the_error(tmp_path):
    registry = ModelRegistry([tmp_path])
    with pytest.raises(MissingModelError, match="0123456789ab"):
        registry.get("0123456789ab" * 5)


def _reference_integer_hyper(z_q: np.ndarray, hyper: dict) -> np.ndarray:
    """A slow pure-int64 twin of hyper_decode, to prove the float64 path is exact."""
    a = z_q.astype(np.int64) << 10
    layers = int(hyper["layers"])
    for k in range(layers):
        w, b, shift = hyper[f"w{k}"].astype(np.int64), hyper[f"b{k}"].astype(np.int64), int(hyper[f"shift{k}"])
        c, h, wd = a.shape
        p = np.zeros((c, h + 2, wd + 2), dtype=np.int64)
        p[:, 1:-1, 1:-1] = a
        acc = np.zeros((w.shape[0], h, wd), dtype=np.int64) + b[:, None, None]
        for dy in range(3):
            for dx in range(3):
                acc += np.einsum("oc,chw->ohw", w[:, :, dy, dx], p[:, dy : dy + h, dx : dx + wd])
        a = (acc + (1 << (shift - 1))) >> shift if shift else acc
        r = int(hyper[f"shuffle{k}"])
        if r > 1:
            c2, h2, w2 = a.shape
            a = a.reshape(c2 // 4, 2, 2, h2, w2).transpose(0, 3, 1, 4, 2).reshape(c2 // 4, h2 * 2, w2 * 2)
        if k < layers - 1:
            a = np.maximum(a, 0)
        a = np.clip(a, -(2**24), 2**24)
    return a


def test_integer_hyper_decoder_is_exact(model):
    rng = np.random.default_rng(3)
    z_q = rng.integers(-6, 7, size=(int(model.arch["MZ"]), 3, 5))
    mean, log_scale = hyper_decode(z_q, model.hyper_decoder)
    reference = _reference_integer_hyper(z_q, model.hyper_decoder)
    np.testing.assert_array_equal(np.concatenate([mean, log_scale]), reference)


def test_tiled_transforms_match_one_pass(model, photo):
    padded = pad_to_multiple(photo)
    y_full = analysis(model, padded, tile=10_000)
    y_tiled = analysis(model, padded, tile=4)
    assert np.abs(y_full - y_tiled).max() < 1e-3 * max(1.0, float(np.abs(y_full).max()))
    y_hat = np.round(y_full)
    img_full = synthesis(model, y_hat, tile=10_000).astype(int)
    img_tiled = synthesis(model, y_hat, tile=3).astype(int)
    assert np.abs(img_full - img_tiled).max() <= 1


@pytest.mark.parametrize("size", [(512, 768), (768, 768), (769, 100), (100, 2000), (3648, 5472), (17, 33)])
def test_is_tiled_says_whether_the_networks_cut_the_image(size):
    h, w = size
    padded = pad_to_multiple(np.zeros((h, w, 3), dtype=np.uint8))
    lh, lw = padded.shape[0] // LATENT_STRIDE, padded.shape[1] // LATENT_STRIDE
    assert is_tiled(h, w) == (len(list(tiles(lh, lw, _tile_for(lh, lw, None), 2))) > 1)


@pytest.mark.parametrize("size", [(75, 100), (17, 33), (130, 64)])
def test_odd_sizes_round_trip(model, photo, size):
    h, w = size
    crop = np.ascontiguousarray(photo[:h, :w])
    enc = image_codec.encode_image(model, crop, "C")
    out = image_codec.decode_image(model, enc.data)
    assert out.shape == crop.shape and out.dtype == np.uint8


def test_checkpoints_order_rate_and_quality(model, photo):
    sizes, scores = [], []
    for cp in "ABC":
        enc = image_codec.encode_image(model, photo, cp)
        out = image_codec.decode_image(model, enc.data)
        sizes.append(len(enc.data))
        scores.append(metrics.ms_ssim(out, photo))
    assert sizes[0] < sizes[1] < sizes[2]
    assert scores[0] < scores[2]
    assert metrics.psnr(image_codec.decode_image(model, image_codec.encode_image(model, photo, "C").data), photo) > 20


def test_range_and_lzma_modes_decode_to_the_same_image(model, photo):
    range_enc = image_codec.encode_image(model, photo, "B", entropy=1)
    lzma_enc = image_codec.encode_image(model, photo, "B", entropy=2)
    a = image_codec.decode_image(model, range_enc.data)
    b = image_codec.decode_image(model, lzma_enc.data)
    np.testing.assert_array_equal(a, b)


def test_banded_hyper_decoder_equals_one_pass(model):
    from latentzip.codec.entropy.tables import scale_indexes
    from latentzip.codec.runtime.image_codec import HYPER_BAND, _hyper

    rng = np.random.default_rng(4)
    z_q = rng.integers(-5, 6, size=(int(model.arch["MZ"]), HYPER_BAND * 2 + 3, 4))
    cp = model.checkpoint("B")
    mean_gained, indexes = _hyper(model, cp, z_q)
    mean_fx, log_scale_fx = hyper_decode(z_q, model.hyper_decoder)
    np.testing.assert_array_equal(indexes, scale_indexes(log_scale_fx + cp.log_gain_fixed[:, None, None]))
    expected_mean = (mean_fx.astype(np.float32) / np.float32(1024)) * cp.gain[:, None, None]
    np.testing.assert_array_equal(mean_gained, expected_mean)
