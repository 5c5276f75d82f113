"""The Latentzip codec network: the PyTorch twin of what the runtime executes.

A mean-scale hyperprior codec (Balle et al. 2018, Minnen et al. 2018) made
variable-rate with per-channel gain vectors (Cui et al. 2021, "Asymmetric
gained deep image compression"):

    x --g_a--> y --*gain[l]--> round --> y_q --*inv_gain[l]--> g_s --> x_hat
               |                 ^ N(mu*gain, sigma*gain) tables, range coded
               +--h_a--> z --round--> z_q --h_s--> (mu, log sigma)
                                  ^ factorized prior, range coded

One network serves every rate: rate level ``l`` only selects the gain pair.
``h_s`` is run at decode time in exact integer arithmetic (see
``training/export.py``), so the table index of every latent is bit-identical
on any machine; only ``g_s`` runs in floating point.

Channel names follow the papers: ``N`` inner channels, ``M`` latent channels,
``NH`` hyper channels, ``MZ`` hyper-latent channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOG_SCALE_MIN = math.log(0.11)
LOG_SCALE_MAX = math.log(256.0)
LIKELIHOOD_FLOOR = 1e-9


class GDN(nn.Module):
    """Generalized divisive normalization (Balle 2016), optionally inverse.

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2), with beta and gamma kept
    positive by squaring offset parameters (the usual reparametrisation).
    ``effective_params`` returns the baked constants used for export.
    """

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.pedestal = 2.0**-18
        self.beta_min = 1e-6
        self.beta = nn.Parameter(torch.sqrt(torch.ones(channels) + self.pedestal))
        self.gamma = nn.Parameter(torch.sqrt(0.1 * torch.eye(channels) + self.pedestal))

    def effective_params(self) -> tuple[Tensor, Tensor]:
        beta_bound = (self.beta_min + self.pedestal) ** 0.5
        beta = torch.clamp(self.beta, min=beta_bound) ** 2 - self.pedestal
        gamma = torch.clamp(self.gamma, min=self.pedestal**0.5) ** 2 - self.pedestal
        return beta, gamma

    def forward(self, x: Tensor) -> Tensor:
        beta, gamma = self.effective_params()
        norm = F.conv2d(x * x, gamma[:, :, None, None], beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def conv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


class SubpixelUp(nn.Sequential):
    """3x3 convolution to 4x channels then depth-to-space: a 2x upsampler.

    Used instead of transposed convolutions because it maps to Conv +
    DepthToSpace in ONNX, which every runtime (and int8 kernels) handle well.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2))


class FactorizedDensity(nn.Module):
    """Balle's non-parametric, per-channel univariate density (filters 3,3,3).

    ``logits_cdf(v)`` returns the logit of the CDF at v for every channel; v
    has shape (C, 1, K). Used for the hyper-latent z.
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def logits_cdf(self, v: Tensor) -> Tensor:
        logits = v
        for i, matrix in enumerate(self.matrices):
            logits = torch.matmul(F.softplus(matrix), logits) + self.biases[i]
            if i < len(self.factors):
                logits = logits + torch.tanh(self.factors[i]) * torch.tanh(logits)
        return logits

    def likelihood(self, z: Tensor) -> Tensor:
        """P(round(z) bin) for z of shape (B, C, H, W), evaluated per channel."""
        b, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cdf(v - 0.5)
        upper = self.logits_cdf(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        lik = lik.reshape(c, b, h, w).permute(1, 0, 2, 3)
        return torch.clamp(lik, min=LIKELIHOOD_FLOOR)


def gaussian_likelihood(values: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    """P of the unit bin around ``values`` under N(mean, scale)."""
    centered = torch.abs(values - mean)
    upper = (0.5 - centered) / scale
    lower = (-0.5 - centered) / scale
    normal_cdf = lambda t: 0.5 * torch.erfc(-t / math.sqrt(2))  # noqa: E731
    lik = normal_cdf(upper) - normal_cdf(lower)
    return torch.clamp(lik, min=LIKELIHOOD_FLOOR)


def round_ste(x: Tensor) -> Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


class LatentzipNet(nn.Module):
    """Variable-rate mean-scale hyperprior codec (see the module docstring)."""

    def __init__(self, N: int = 96, M: int = 160, NH: int = 64, MZ: int = 64, levels: int = 8) -> None:
        super().__init__()
        self.N, self.M, self.NH, self.MZ, self.levels = N, M, NH, MZ, levels
        self.g_a = nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))
        self.g_s = nn.Sequential(
            SubpixelUp(M, N),
            GDN(N, inverse=True),
            SubpixelUp(N, N),
            GDN(N, inverse=True),
            SubpixelUp(N, N),
            GDN(N, inverse=True),
            SubpixelUp(N, 3),
        )
        self.h_a = nn.Sequential(conv(M, NH, 3, 1), nn.ReLU(), conv(NH, NH), nn.ReLU(), conv(NH, MZ))
        self.h_s = nn.Sequential(SubpixelUp(MZ, NH), nn.ReLU(), SubpixelUp(NH, NH), nn.ReLU(), conv(NH, 2 * M, 3, 1))
        self.z_density = FactorizedDensity(MZ)
        # Mixed precision for the two big transforms only (bf16 on CPUs with AMX);
        # the entropy model, the rate and everything exported stay float32.
        self.amp_dtype: torch.dtype | None = None
        # log-gains, one row per trained rate level; level 0 is the lowest rate.
        ladder = torch.linspace(-1.0, 1.0, levels)[:, None].repeat(1, M)
        self.log_gain = nn.Parameter(ladder.clone())
        self.log_inv_gain = nn.Parameter(-ladder.clone())

    def gains(self, level: Tensor | float) -> tuple[Tensor, Tensor]:
        """Gain and inverse gain for a (possibly fractional) level.

        Fractional levels interpolate log-gains linearly between neighbours,
        which gives a continuous rate axis from one network.
        """
        level_t = torch.as_tensor(level, dtype=torch.float32).clamp(0, self.levels - 1)
        lo = torch.clamp(torch.floor(level_t).long(), max=self.levels - 2)
        frac = (level_t - lo).unsqueeze(-1)
        log_g = self.log_gain[lo] * (1 - frac) + self.log_gain[lo + 1] * frac
        log_ig = self.log_inv_gain[lo] * (1 - frac) + self.log_inv_gain[lo + 1] * frac
        return torch.exp(log_g), torch.exp(log_ig)

    def _amp(self, x: Tensor) -> torch.autocast:
        return torch.autocast(x.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None)

    def hyper_params(self, z_q: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-scale of y (ungained), from the quantized hyper-latent."""
        mean, log_scale = self.h_s(z_q).chunk(2, dim=1)
        return mean, log_scale

    def forward(self, x: Tensor, level: Tensor) -> dict[str, Tensor]:
        """Training pass. ``x`` in [0, 1]; ``level`` has one entry per sample.

        Rate uses additive uniform noise; the decoder sees rounded latents
        through a straight-through estimator (mixed quantization).
        """
        gain, inv_gain = self.gains(level)
        gain, inv_gain = gain[:, :, None, None], inv_gain[:, :, None, None]
        with self._amp(x):
            y = self.g_a(x)
        y = y.float()
        z = self.h_a(y)
        z_coded = z + torch.empty_like(z).uniform_(-0.5, 0.5) if self.training else torch.round(z)
        z_lik = self.z_density.likelihood(z_coded)
        z_hat = round_ste(z)
        mean, log_scale = self.hyper_params(z_hat)
        scale = torch.exp(torch.clamp(log_scale, LOG_SCALE_MIN, LOG_SCALE_MAX))
        y_gained = y * gain
        mean_gained = mean * gain
        scale_gained = torch.clamp(scale * gain, min=math.exp(LOG_SCALE_MIN))
        if self.training:
            y_coded = y_gained + torch.empty_like(y_gained).uniform_(-0.5, 0.5)
        else:
            y_coded = torch.round(y_gained - mean_gained) + mean_gained
        y_lik = gaussian_likelihood(y_coded, mean_gained, scale_gained)
        y_hat = (round_ste(y_gained - mean_gained) + mean_gained) * inv_gain
        with self._amp(x):
            features = self.g_s[:-1](y_hat)
        # The last layer writes the pixels, in float32: bf16 keeps 8 significant bits, so its pixels would
        # be rounded to about a grey level, and a colour error below that could not be learned.
        x_hat = self.g_s[-1](features.float())
        return {"x_hat": x_hat, "y_likelihoods": y_lik, "z_likelihoods": z_lik}
