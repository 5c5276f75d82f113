"""Freeze a trained network into what the runtime needs (no ONNX here).

- ``FrozenGDN``: GDN with its reparametrisation baked into constants.
- ``integer_hyper_decoder``: h_s as integer weights and shifts, run at decode
  time in exact integer arithmetic, so every machine derives the same table
  index for every latent.
- ``z_tables`` / ``gaussian_tables``: 16-bit CDF tables (no zero-frequency
  symbol, one escape symbol each) from the learned densities.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from latentzip.codec.entropy.tables import (
    ACT_FRAC_BITS,
    SCALE_COUNT,
    SCALE_LOG_MAX,
    SCALE_LOG_MIN,
    quantize_pmf,
)
from training.model import GDN, LatentzipNet

WEIGHT_MAX = 2**15 - 1


class FrozenGDN(nn.Module):
    """GDN/IGDN with beta and gamma as fixed buffers (exports as plain ops)."""

    def __init__(self, gdn: GDN) -> None:
        super().__init__()
        beta, gamma = gdn.effective_params()
        self.inverse = gdn.inverse
        self.register_buffer("beta", beta.detach().clone())
        self.register_buffer("gamma", gamma.detach().clone()[:, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = nn.functional.conv2d(x * x, self.gamma, self.beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def freeze_gdn(module: nn.Module) -> nn.Module:
    """Replace every GDN in ``module`` (in place) with a FrozenGDN."""
    for name, child in module.named_children():
        if isinstance(child, GDN):
            setattr(module, name, FrozenGDN(child))
        else:
            freeze_gdn(child)
    return module


def integer_hyper_decoder(model: LatentzipNet) -> dict[str, np.ndarray]:
    """h_s as a list of integer conv layers: weights, biases and shifts.

    Layer k computes acc = conv(a, W_k) + B_k with integer W_k = round(w * 2^s_k)
    and B_k = round(b * 2^(s_k + F)), then a' = (acc + 2^(s_k-1)) >> s_k, so
    activations keep F fractional bits. Sub-pixel layers are followed by
    depth-to-space and ReLU, as in the float model.
    """
    convs = [m for m in model.h_s.modules() if isinstance(m, nn.Conv2d)]
    out: dict[str, np.ndarray] = {"layers": np.array(len(convs), dtype=np.int64)}
    for k, c in enumerate(convs):
        w = c.weight.detach().double().numpy()
        b = c.bias.detach().double().numpy()
        shift = int(math.floor(math.log2(WEIGHT_MAX / max(np.abs(w).max(), 1e-12))))
        shift = max(0, min(shift, 24))
        out[f"w{k}"] = np.round(w * 2.0**shift).astype(np.int16)
        out[f"b{k}"] = np.round(b * 2.0 ** (shift + ACT_FRAC_BITS)).astype(np.int64)
        out[f"shift{k}"] = np.array(shift, dtype=np.int64)
        out[f"shuffle{k}"] = np.array(2 if k < len(convs) - 1 else 1, dtype=np.int64)
    return out


@torch.no_grad()
def z_tables(model: LatentzipNet, max_range: int = 255, tail: float = 1e-9) -> dict[str, np.ndarray]:
    """Per-channel 16-bit tables for the hyper-latent z (factorized prior)."""
    grid = torch.arange(-max_range, max_range + 1, dtype=torch.float32)
    channels = model.MZ
    v = grid[None, None, :].repeat(channels, 1, 1)
    lower = torch.sigmoid(model.z_density.logits_cdf(v - 0.5))
    upper = torch.sigmoid(model.z_density.logits_cdf(v + 0.5))
    pmf = (upper - lower)[:, 0, :].double().numpy()
    rows, offsets = [], []
    for c in range(channels):
        cdf = np.cumsum(pmf[c])
        lo = int(np.searchsorted(cdf, tail))
        hi = int(np.searchsorted(cdf, cdf[-1] - tail))
        hi = max(hi, lo)
        p = pmf[c, lo : hi + 1]
        escape = max(0.0, 1.0 - p.sum())
        rows.append(quantize_pmf(np.append(p, escape)))
        offsets.append(lo - max_range)
    return pack_rows("z", rows, np.array(offsets, dtype=np.int64))


def gaussian_tables(tail_sigmas: float = 5.5) -> dict[str, np.ndarray]:
    """Tables for zero-mean Gaussians at the fixed grid of scales (for y)."""
    rows, offsets = [], []
    for k in range(SCALE_COUNT):
        sigma = scale_of_index(k)
        radius = max(1, int(math.ceil(sigma * tail_sigmas)))
        j = np.arange(-radius, radius + 1, dtype=np.float64)
        cdf = lambda t, sigma=sigma: 0.5 * np.vectorize(math.erfc)(-t / (sigma * math.sqrt(2)))  # noqa: E731
        p = cdf(j + 0.5) - cdf(j - 0.5)
        escape = max(0.0, 1.0 - p.sum())
        rows.append(quantize_pmf(np.append(p, escape)))
        offsets.append(-radius)
    return pack_rows("y", rows, np.array(offsets, dtype=np.int64))


def scale_of_index(k: int) -> float:
    from latentzip.codec.entropy.tables import scale_log_fixed

    return math.exp(scale_log_fixed(k) / 2.0**ACT_FRAC_BITS)


def pack_rows(prefix: str, rows: list[np.ndarray], offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Pad variable-length frequency rows into one array plus lengths."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    freqs = np.zeros((len(rows), lengths.max()), dtype=np.uint16)
    for i, r in enumerate(rows):
        freqs[i, : len(r)] = r
    return {f"{prefix}_freqs": freqs, f"{prefix}_lengths": lengths, f"{prefix}_offsets": offsets}


__all__ = [
    "FrozenGDN",
    "freeze_gdn",
    "integer_hyper_decoder",
    "z_tables",
    "gaussian_tables",
    "SCALE_LOG_MIN",
    "SCALE_LOG_MAX",
]
