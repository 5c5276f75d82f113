"""The hyper-decoder h_s in exact integer arithmetic.

The decoder must pick the same entropy table for every latent as the encoder
did, on any CPU. Float convolutions do not guarantee that, so h_s runs on
integers: weights and biases are fixed-point integers, activations keep
``ACT_FRAC_BITS`` fractional bits, and each layer rescales with a rounding
right shift. The matrix products run in float64 on integer-valued operands
whose partial sums stay below 2^53, so BLAS computes them exactly whatever
its summation order.
"""

from __future__ import annotations

import numpy as np

from ..api.errors import ModelIntegrityError
from ..entropy.tables import ACT_FRAC_BITS

ACT_LIMIT = 2**24  # activations are clamped to +-2^24 (+-16384.0 in real units)
EXACT_LIMIT = 2**53
# OpenBLAS runs a product single-threaded when M*N*K <= 2^18 (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD).
# Below SMALL_PRODUCT (a thumbnail's h_s) the product is cut into blocks of output channels under that
# size: waking BLAS threads costs more than the arithmetic there (256x576 by 576x1: 0.23 ms threaded,
# 0.02 ms not) and the woken threads then spin against ONNX Runtime's. Every result is exact whatever
# the summation order, so the blocks change nothing in the output.
BLAS_SINGLE_THREAD_MNK = 1 << 18
SMALL_PRODUCT = 1 << 23


def check_exactness(hyper: dict[str, np.ndarray]) -> None:
    """Refuse weights that could make a float64 accumulation inexact."""
    for k in range(int(hyper["layers"])):
        w = hyper[f"w{k}"].astype(np.int64)
        per_output = np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max()
        bound = per_output * ACT_LIMIT + np.abs(hyper[f"b{k}"]).max()
        if bound >= EXACT_LIMIT:
            raise ModelIntegrityError(f"hyper-decoder layer {k} could overflow exact arithmetic", "hyper_decoder.npz")


_PREPARED: dict[int, tuple[dict, list[tuple[np.ndarray, np.ndarray]]]] = {}
_PREPARED_MAX = 4  # model sets in use at once (one, usually)


def _prepared(hyper: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each layer's weights as a float64 (O, C*9) matrix and its bias as float64, made once per model set."""
    entry = _PREPARED.get(id(hyper))
    if entry is not None and entry[0] is hyper:
        return entry[1]
    layers = []
    for k in range(int(hyper["layers"])):
        w = hyper[f"w{k}"]
        layers.append(
            (np.ascontiguousarray(w.reshape(w.shape[0], -1), dtype=np.float64), hyper[f"b{k}"].astype(np.float64))
        )
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[id(hyper)] = (hyper, layers)  # holds ``hyper``: its id cannot be reused while cached
    return layers


def _matmul(weights: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``weights @ cols``; small products in blocks of output rows that BLAS runs on one thread."""
    m, k = weights.shape
    n = cols.shape[1]
    if m * k * n > SMALL_PRODUCT or k * n > BLAS_SINGLE_THREAD_MNK:
        return weights @ cols
    block = max(1, BLAS_SINGLE_THREAD_MNK // (k * n))
    if block >= m:
        return weights @ cols
    out = np.empty((m, n), dtype=np.float64)
    for r in range(0, m, block):
        np.matmul(weights[r : r + block], cols, out=out[r : r + block])
    return out


def _conv3x3(a: np.ndarray, weights: np.ndarray, b: np.ndarray, band: int = 32) -> np.ndarray:
    """'same' 3x3 convolution of integer-valued float64 (C, H, W) by float64 weights (O, C*9)
    (an (O, C, 3, 3) kernel flattened) and bias (O,).

    Works in bands of rows so the im2col buffer stays small for huge images.
    """
    c, h, wd = a.shape
    padded = np.zeros((c, h + 2, wd + 2), dtype=np.float64)
    padded[:, 1:-1, 1:-1] = a
    out = np.empty((weights.shape[0], h, wd), dtype=np.float64)
    for y0 in range(0, h, band):
        rows = min(band, h - y0)
        cols = np.empty((c, 9, rows, wd), dtype=np.float64)
        for dy in range(3):
            for dx in range(3):
                cols[:, dy * 3 + dx] = padded[:, y0 + dy : y0 + dy + rows, dx : dx + wd]
        out[:, y0 : y0 + rows] = _matmul(weights, cols.reshape(c * 9, rows * wd)).reshape(-1, rows, wd)
    out += b[:, None, None]
    return out


def _rounding_shift(acc: np.ndarray, shift: int) -> np.ndarray:
    """round-half-up(acc / 2^shift) for integer-valued float64, exactly."""
    if shift == 0:
        return acc
    return np.floor((acc + float(1 << (shift - 1))) / float(1 << shift))


def _depth_to_space(a: np.ndarray, r: int) -> np.ndarray:
    c, h, w = a.shape
    return a.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c // (r * r), h * r, w * r)


def hyper_decode(z_q: np.ndarray, hyper: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, log scale) of y in fixed point (int64, ACT_FRAC_BITS fraction bits).

    ``z_q`` is the integer hyper-latent, shape (MZ, h, w); outputs have shape
    (M, 4h, 4w).
    """
    a = z_q.astype(np.float64) * float(1 << ACT_FRAC_BITS)
    prepared = _prepared(hyper)
    layers = len(prepared)
    for k, (weights, bias) in enumerate(prepared):
        acc = _conv3x3(a, weights, bias)
        a = _rounding_shift(acc, int(hyper[f"shift{k}"]))
        r = int(hyper[f"shuffle{k}"])
        if r > 1:
            a = _depth_to_space(a, r)
        if k < layers - 1:
            a = np.maximum(a, 0.0)
        np.clip(a, -ACT_LIMIT, ACT_LIMIT, out=a)
    out = a.astype(np.int64)
    m = out.shape[0] // 2
    return out[:m], out[m:]
