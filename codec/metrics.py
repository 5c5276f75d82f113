"""Image quality metrics: MS-SSIM (SSIM fallback for small images), PSNR, colour error, bits per pixel.

``ms_ssim`` reproduces ``pytorch_msssim.ms_ssim(X, Y, data_range=255, size_average=True)``
(version 1.0.0) in pure NumPy float32: 11x11 Gaussian window (sigma 1.5) applied
separably with 'valid' borders, K1=0.01, K2=0.03, level weights
[0.0448, 0.2856, 0.3001, 0.2363, 0.1333], 2x2 average pooling between levels with
one zero row/column of padding on an odd side (``F.avg_pool2d(kernel_size=2,
padding=[s % 2 for s in shape])``, padding counted in the average), ReLU on the
per-channel contrast-structure terms and on the last level's SSIM, computed per
channel and averaged over the channels.

Five scales need a shorter side of at least 161 px. Below that ``ms_ssim`` reports
single-scale SSIM instead (what ``pytorch_msssim.ssim(X, Y, data_range=255)``
computes: same window and constants, no ReLU, so the value lies in [-1, 1]); when a
side is also under 11 px (no full window fits) the SSIM is taken over one window
covering the whole image, with plain (unweighted) means, variances and covariance.
``quality_metric_name`` tells which of the two a caller should label the value as.

The filtering works in bands of 128 output rows (``workers`` threads share them; the
sums are added in band order, so the value never depends on the threads), each on tiles
of 16 rows by up to 512 columns with plain NumPy
element-wise operations (no BLAS, so no thread pool), which keeps the working set in
cache and memory bounded for large images (level-0 planes are converted to float32 one
tile at a time).

``colour_error`` is the signed difference between the extracted image's and the
original's mean of each channel, in grey levels (a colour cast, which MS-SSIM
barely sees), with the worst block beside it: the largest absolute channel-mean
difference over a grid of 64x64 blocks laid from the top-left corner (blocks on
the right and bottom edges are the remainder, smaller), so a local cast such as
a sky turning teal shows even when the whole image's means hardly move.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "ms_ssim",
    "ssim",
    "psnr",
    "bpp",
    "colour_error",
    "ColourError",
    "quality_metric_name",
    "MS_SSIM_MIN_SIDE",
    "COLOUR_BLOCK",
]

WIN_SIZE = 11
WIN_SIGMA = 1.5
K1, K2 = 0.01, 0.03
DATA_RANGE = 255.0
C1 = (K1 * DATA_RANGE) ** 2
C2 = (K2 * DATA_RANGE) ** 2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: Shortest side for which the five MS-SSIM scales fit (pytorch_msssim asserts side > 160).
MS_SSIM_MIN_SIDE = (WIN_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1

_STRIP = 16  # output rows per tile: tiles keep the working set in cache
_TILE_W = 512  # output columns per tile (at most)
_BAND_ROWS = 128  # output rows per band: the unit of parallel work, fixed so results never depend on workers


def quality_metric_name(height: int, width: int) -> str:
    """Name of the metric ``ms_ssim`` reports for an image of this size: "MS-SSIM" or "SSIM"."""
    return "MS-SSIM" if min(height, width) >= MS_SSIM_MIN_SIDE else "SSIM"


# The 11-tap Gaussian (sigma 1.5) exactly as pytorch_msssim builds it in float32. Its sum
# is 1 - 3e-8; a window normalised by NumPy sums to 1 + 6e-8 instead, and that difference
# shifts the variances (E[x^2] - mu^2 with mu up to 255) enough to move SSIM by ~1e-5.
_WINDOW_HEX = (
    "0x1.0d957p-10",
    "0x1.f1fe02p-8",
    "0x1.26eb18p-5",
    "0x1.bff0fep-4",
    "0x1.b43c3ep-3",
    "0x1.10656p-2",
)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    half = [float.fromhex(v) for v in _WINDOW_HEX]
    return np.array(half + half[-2::-1], dtype=np.float32)


def _filter_tile(maps: np.ndarray, rows: int, out: np.ndarray) -> None:
    """Valid 11x11 Gaussian filtering of ``maps`` (... x rows+10 x W) into ``out`` (... x rows x W-10).

    Separable, and using the window's symmetry: g[5]*x[5] + sum_k g[k]*(x[k] + x[10-k]).
    Plain NumPy element-wise operations, no BLAS (so no thread pool to fight over).
    """
    g = _window()
    half, last = WIN_SIZE // 2, WIN_SIZE - 1
    vert = maps[..., half : half + rows, :] * g[half]
    tmp = np.empty_like(vert)
    for k in range(half):
        np.add(maps[..., k : k + rows, :], maps[..., last - k : last - k + rows, :], out=tmp)
        tmp *= g[k]
        vert += tmp
    out_w = out.shape[-1]
    np.multiply(vert[..., half : half + out_w], g[half], out=out)
    tmp = np.empty_like(out)
    for k in range(half):
        np.add(vert[..., k : k + out_w], vert[..., last - k : last - k + out_w], out=tmp)
        tmp *= g[k]
        out += tmp


def _as_planes(a: np.ndarray) -> np.ndarray:
    """View of an HxW or HxWxC array as C x H x W (no copy)."""
    return a[np.newaxis] if a.ndim == 2 else a.transpose(2, 0, 1)


def _ssim_cs_rows(x: np.ndarray, y: np.ndarray, r_start: int, r_end: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel sums of the SSIM and contrast-structure maps over output rows [r_start, r_end)."""
    c, h, w = x.shape
    pad = WIN_SIZE - 1
    out_w = w - pad
    n_cols = -(-out_w // _TILE_W)
    tile_w = -(-out_w // n_cols)
    ssim_sum = np.zeros(c, dtype=np.float64)
    cs_sum = np.zeros(c, dtype=np.float64)
    maps = np.empty((5, c, _STRIP + pad, tile_w + pad), dtype=np.float32)
    filtered = np.empty((5, c, _STRIP, tile_w), dtype=np.float32)
    c1, c2 = np.float32(C1), np.float32(C2)
    for r in range(r_start, r_end, _STRIP):
        rows = min(_STRIP, r_end - r)
        for col in range(0, out_w, tile_w):
            cols = min(tile_w, out_w - col)
            m = maps[:, :, : rows + pad, : cols + pad]
            m[0] = x[:, r : r + rows + pad, col : col + cols + pad]
            m[1] = y[:, r : r + rows + pad, col : col + cols + pad]
            np.multiply(m[0], m[0], out=m[2])
            np.multiply(m[1], m[1], out=m[3])
            np.multiply(m[0], m[1], out=m[4])
            f = filtered[:, :, :rows, :cols]
            _filter_tile(m, rows, f)
            mu1, mu2 = f[0], f[1]
            mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
            sigma1_sq = f[2] - mu1_sq
            sigma2_sq = f[3] - mu2_sq
            sigma12 = f[4] - mu1_mu2
            cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
            lum = (2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)
            cs_sum += cs_map.sum(axis=(1, 2), dtype=np.float64)
            ssim_sum += (lum * cs_map).sum(axis=(1, 2), dtype=np.float64)
    return ssim_sum, cs_sum


def _ssim_cs(x: np.ndarray, y: np.ndarray, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean SSIM and mean contrast-structure of C x H x W planes (H, W >= 11).

    The output rows are cut into fixed bands, summed band by band in order, so ``workers`` threads
    (NumPy's element-wise loops release the GIL) give the same value as one.
    """
    c, h, w = x.shape
    pad = WIN_SIZE - 1
    out_h, out_w = h - pad, w - pad
    bands = [(r, min(r + _BAND_ROWS, out_h)) for r in range(0, out_h, _BAND_ROWS)]
    if workers > 1 and len(bands) > 1:
        with ThreadPoolExecutor(min(workers, len(bands)), thread_name_prefix="latentzip-ssim") as pool:
            parts = list(pool.map(lambda band: _ssim_cs_rows(x, y, *band), bands))
    else:
        parts = [_ssim_cs_rows(x, y, *band) for band in bands]
    ssim_sum, cs_sum = np.zeros(c, dtype=np.float64), np.zeros(c, dtype=np.float64)
    for band_ssim, band_cs in parts:
        ssim_sum += band_ssim
        cs_sum += band_cs
    count = float(out_h * out_w)
    return ssim_sum / count, cs_sum / count


def _global_ssim(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-channel SSIM with one window covering the whole plane (uniform weights)."""
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    y = y.reshape(y.shape[0], -1).astype(np.float64)
    mu1, mu2 = x.mean(axis=1), y.mean(axis=1)
    var1 = (x * x).mean(axis=1) - mu1 * mu1
    var2 = (y * y).mean(axis=1) - mu2 * mu2
    cov = (x * y).mean(axis=1) - mu1 * mu2
    lum = (2 * mu1 * mu2 + C1) / (mu1 * mu1 + mu2 * mu2 + C1)
    return lum * (2 * cov + C2) / (var1 + var2 + C2)


def _downsample(a: np.ndarray) -> np.ndarray:
    """2x2 average pooling of C x H x W planes, zero-padding one row/column on each odd side.

    Matches ``F.avg_pool2d(kernel_size=2, padding=[h % 2, w % 2])`` (count_include_pad):
    with an odd height the first output row averages a zero row with input row 0.
    """
    c, h, w = a.shape
    ph, pw = h % 2, w % 2
    out = np.zeros((c, (h + ph) // 2, (w + pw) // 2), dtype=np.float32)
    for dy in (0, 1):
        src_r, dst_r = (slice(1, None, 2), slice(1, None)) if dy - ph < 0 else (slice(dy - ph, None, 2), slice(None))
        for dx in (0, 1):
            src_c, dst_c = (
                (slice(1, None, 2), slice(1, None)) if dx - pw < 0 else (slice(dx - pw, None, 2), slice(None))
            )
            out[:, dst_r, dst_c] += a[:, src_r, src_c]
    out *= np.float32(0.25)
    return out


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a, b = a[:, :, 0], b[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"empty image: shape {a.shape}")
    return a, b


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Single-scale SSIM (data range 255), as ``pytorch_msssim.ssim`` computes it; in [-1, 1].

    A side under 11 px gets one whole-image window (see the module docstring).
    """
    a, b = _check_pair(a, b)
    x, y = _as_planes(a), _as_planes(b)
    if min(a.shape[:2]) < WIN_SIZE:
        return float(_global_ssim(x, y).mean())
    ssim_pc, _ = _ssim_cs(x, y)
    return float(ssim_pc.mean())


def ms_ssim(a: np.ndarray, b: np.ndarray, workers: int = 1) -> float:
    """5-scale MS-SSIM of two HxWx3 (or HxW) images with values in [0, 255]; in [0, 1].

    Images whose shorter side is under 161 px get single-scale ``ssim`` instead;
    ``quality_metric_name(h, w)`` names the metric reported. ``workers`` threads share the
    filtering of a large image; the value does not depend on them.
    """
    a, b = _check_pair(a, b)
    if quality_metric_name(a.shape[0], a.shape[1]) != "MS-SSIM":
        return ssim(a, b)
    x, y = _as_planes(a), _as_planes(b)
    levels = len(MS_SSIM_WEIGHTS)
    result = np.ones(x.shape[0], dtype=np.float64)
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim_pc, cs = _ssim_cs(x, y, workers)
        term = cs if level < levels - 1 else ssim_pc
        result *= np.maximum(term, 0.0) ** weight
        if level < levels - 1:
            x, y = _downsample(x), _downsample(y)
    return float(result.mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB for peak 255 over all pixels and channels; ``inf`` for identical images."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("empty image")
    rows_a, rows_b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    squared = 0
    for r in range(0, rows_a.shape[0], 256):  # in row blocks: bounded memory on huge photos
        diff = rows_a[r : r + 256].astype(np.int64) - rows_b[r : r + 256].astype(np.int64)
        squared += int(np.einsum("ij,ij->", diff, diff))
    mse = squared / a.size
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(DATA_RANGE * DATA_RANGE / mse)


def bpp(total_bytes: int, pixels: int) -> float:
    """Bits per pixel: ``8 * total_bytes / pixels``."""
    if pixels <= 0:
        raise ValueError(f"pixel count must be positive, got {pixels}")
    if total_bytes < 0:
        raise ValueError(f"byte count must not be negative, got {total_bytes}")
    return 8.0 * total_bytes / pixels


COLOUR_BLOCK = 64  # side of the blocks of ``colour_error``'s local figure


@dataclass(frozen=True)
class ColourError:
    """Channel-mean errors of an extracted image against its original, in grey levels (extracted - original)."""

    channels: tuple[float, ...]  # whole image, signed, one per channel (R, G, B; one value for grey)
    block: float  # the largest absolute channel-mean difference over the 64x64 blocks
    block_channels: tuple[float, ...]  # that block's signed differences, per channel
    block_at: tuple[int, int]  # that block's top-left corner (row, column)

    @property
    def worst(self) -> float:
        """The largest absolute whole-image channel error."""
        return max(abs(c) for c in self.channels)


def colour_error(original: np.ndarray, extracted: np.ndarray, block: int = COLOUR_BLOCK) -> ColourError:
    """Signed channel-mean error of ``extracted`` against ``original`` (HxWx3 or HxW), and the worst block.

    Sums are exact integers (int64), taken in bands of ``block`` rows, so memory stays
    bounded on large photos.
    """
    original, extracted = _check_pair(original, extracted)
    if block < 1:
        raise ValueError(f"block side must be positive, got {block}")
    if original.ndim == 2:
        original, extracted = original[:, :, None], extracted[:, :, None]
    height, width, channels = original.shape
    starts = np.arange(0, width, block)
    widths = np.diff(np.append(starts, width))
    total = np.zeros(channels, dtype=np.int64)
    best, best_channels, best_at = -1.0, np.zeros(channels), (0, 0)
    for r in range(0, height, block):
        diff = extracted[r : r + block].astype(np.int64) - original[r : r + block].astype(np.int64)
        col_sums = diff.sum(axis=0)  # W x C
        total += col_sums.sum(axis=0)
        means = np.add.reduceat(col_sums, starts, axis=0) / (diff.shape[0] * widths)[:, None]  # blocks x C
        worst = np.abs(means).max(axis=1)
        i = int(worst.argmax())
        if worst[i] > best:
            best, best_channels, best_at = float(worst[i]), means[i], (r, int(starts[i]))
    mean = total / (height * width)
    return ColourError(tuple(float(v) for v in mean), best, tuple(float(v) for v in best_channels), best_at)
