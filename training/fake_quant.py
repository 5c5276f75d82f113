"""Simulated int8 arithmetic for quantization-aware fine-tuning of g_a and g_s.

The forward pass rounds what ONNX Runtime's QDQ int8 graph rounds (see
``training/quantize.py``), with straight-through gradients:

- convolution weights: int8 per output channel, symmetric, scale
  ``max|w| / 127`` on -127..127 (ONNX Runtime's rule for symmetric int8 weights);
- activations: uint8 per tensor, asymmetric, a range that always holds 0,
  calibrated on float runs with ONNX Runtime's percentile rule (and
  recalibrated now and then while the weights move).

``QuantTransforms`` runs a plain ``g_a`` / ``g_s`` (the same ``nn.Sequential``
shapes as ``training.model.LatentzipNet``, possibly with fewer channels) with
these roundings at the tensors the int8 graph quantizes: every GDN/IGDN input,
its square, its normaliser, the square root (or its reciprocal) and its
output, and the output of every inner convolution. The convolutions next to
the pixels and the latents compute in float (their weights are stored as
int8, so their weights are rounded here too), so the latents y and y_hat are
never rounded to 8 bits: a per-tensor uint8 step on y_hat is about one
latent quantization step at checkpoint C.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.model import GDN, SubpixelUp

INT32_MAX = 2**31 - 1
BIAS_MARGIN = 1.0001  # the export's headroom when it widens a weight scale for its bias


def fake_quant_weight(w: Tensor, min_scale: Tensor | None = None) -> Tensor:
    """Int8 per output channel (axis 0), symmetric, as ONNX Runtime quantizes weights (-127..127).

    ``min_scale`` floors the per-channel scale: the export widens a channel's scale where its int32 bias
    (bias / (input scale * weight scale)) would overflow, and the simulation must round the same way.
    """
    flat = w.detach().float().reshape(w.shape[0], -1)
    scale = (flat.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
    if min_scale is not None:
        scale = torch.maximum(scale, min_scale.detach().float())
    zero = torch.zeros(w.shape[0], dtype=torch.int32, device=w.device)
    return torch.fake_quantize_per_channel_affine(w.float(), scale, zero, 0, -127, 127)


class ActQuant(nn.Module):
    """Uint8 per-tensor fake quantization with a calibrated range.

    Ranges come from float calibration, as ONNX Runtime's static quantizer
    finds them: run the transforms with ``calibrating`` set (values pass
    through unrounded and a sample of them is kept), then ``finish`` sets the
    range to the percentiles that cut ``(100 - percentile) / 200`` % off each
    end, widened to hold 0. Until calibrated, values pass through.
    """

    SAMPLE = 1 << 16  # values kept per call while calibrating

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))
        self.calibrating = False
        self._samples: list[Tensor] = []

    @torch.no_grad()
    def finish(self, percentile: float = 99.99) -> None:
        values = torch.cat(self._samples)
        self._samples = []
        cut = (100.0 - percentile) / 200.0
        self.lo.copy_(torch.quantile(values, cut))
        self.hi.copy_(torch.quantile(values, 1.0 - cut))
        self.seen.fill_(True)

    def qparams(self) -> tuple[Tensor, Tensor]:
        lo, hi = torch.clamp(self.lo, max=0.0), torch.clamp(self.hi, min=0.0)
        scale = torch.clamp((hi - lo) / 255.0, min=1e-8)
        zero = torch.clamp(torch.round(-lo / scale), 0, 255).to(torch.int32)
        return scale.reshape(1), zero.reshape(1)

    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        if self.calibrating:
            flat = x.detach().reshape(-1)
            if flat.numel() > self.SAMPLE:
                flat = flat[torch.randint(flat.numel(), (self.SAMPLE,), device=flat.device)]
            self._samples.append(flat.clone())
            return x
        if not bool(self.seen):
            return x
        scale, zero = self.qparams()
        return torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255)


def quantized_conv(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """The convolution with int8-rounded weights (bias in float, as ORT's int32 bias nearly is)."""
    return F.conv2d(x, fake_quant_weight(conv.weight).to(x.dtype), conv.bias.to(x.dtype), conv.stride, conv.padding)


class QuantGDN(nn.Module):
    """Quantizers of one GDN/IGDN: its square, normaliser, (reciprocal) root and output."""

    def __init__(self) -> None:
        super().__init__()
        self.square, self.norm, self.root, self.out = ActQuant(), ActQuant(), ActQuant(), ActQuant()

    def forward(self, gdn: GDN, x: Tensor) -> Tensor:
        beta, gamma = gdn.effective_params()
        sq = self.square(x * x)
        floor = None
        if bool(self.square.seen):  # beta is large next to gamma * x^2: keep its int32 form in range
            floor = beta.abs() / (self.square.qparams()[0] * INT32_MAX) * BIAS_MARGIN
        w = fake_quant_weight(gamma[:, :, None, None], floor)
        norm = self.norm(F.conv2d(sq, w, beta))
        norm = norm.clamp(min=1e-12)  # a normaliser rounded to 0 saturates the root's range, as in ORT
        root = torch.sqrt(norm) if gdn.inverse else torch.rsqrt(norm)
        return self.out(x * self.root(root))


class QuantTransforms(nn.Module):
    """A student g_a and g_s with int8 simulated at the int8 graph's quantized tensors."""

    def __init__(self, g_a: nn.Sequential, g_s: nn.Sequential) -> None:
        super().__init__()
        self.g_a, self.g_s = g_a, g_s
        convs_a = [m for m in g_a if isinstance(m, nn.Conv2d)]
        ups_s = [m for m in g_s if isinstance(m, SubpixelUp)]
        self.act_a = nn.ModuleList(ActQuant() for _ in convs_a[:-1])  # y (the last) stays float
        self.act_s = nn.ModuleList(ActQuant() for _ in ups_s[:-1])  # so does the image (the last)
        self.gdn_a = nn.ModuleList(QuantGDN() for m in g_a if isinstance(m, GDN))
        self.gdn_s = nn.ModuleList(QuantGDN() for m in g_s if isinstance(m, GDN))

    def quantizers(self, part: str) -> list[ActQuant]:
        """The activation quantizers of the encoder ("a") or the decoder ("s")."""
        mods = [*getattr(self, f"act_{part}"), *getattr(self, f"gdn_{part}")]
        return [m for mod in mods for m in mod.modules() if isinstance(m, ActQuant)]

    @torch.no_grad()
    def calibrate(
        self, images: list[Tensor], latents_of: Callable[[Tensor], list[Tensor]], percentile: float = 99.99
    ) -> None:
        """Set every activation range from float runs (ORT's percentile rule).

        The encoder runs on ``images``; the decoder on ``latents_of(y)`` for each image's float latents y
        (the de-quantized latents the runtime would give it).
        """
        quants = self.quantizers("a") + self.quantizers("s")
        for q in quants:
            q.calibrating = True
        try:
            for x in images:
                for y_hat in latents_of(self.encode(x)):
                    self.decode(y_hat)
        finally:
            for q in quants:
                q.calibrating = False
        for q in quants:
            q.finish(percentile)

    def encode(self, x: Tensor) -> Tensor:
        convs, gdns = iter(self.act_a), iter(self.gdn_a)
        h = x
        last = len(self.g_a) - 1
        for i, layer in enumerate(self.g_a):
            if isinstance(layer, GDN):
                h = next(gdns)(layer, h)
            else:
                h = quantized_conv(layer, h)
                h = next(convs)(h) if i < last else h.float()
        return h

    def decode(self, y_hat: Tensor) -> Tensor:
        ups, gdns = iter(self.act_s), iter(self.gdn_s)
        h = y_hat
        last = len(self.g_s) - 1
        for i, layer in enumerate(self.g_s):
            if isinstance(layer, GDN):
                h = next(gdns)(layer, h)
            else:
                h = F.pixel_shuffle(quantized_conv(layer[0], h), 2)
                h = next(ups)(h) if i < last else h.float()
        return h
