"""Quantization-aware fine-tuning of the int8 transforms: the library (its command line is ``training/qat.py``).

Post-training int8 (``training/quantize.py``) of the float transforms lost
0.0034-0.0039 MS-SSIM at the same bpp. Here a student copy of g_a and g_s is
fine-tuned with the int8 graph's roundings simulated in its forward pass
(``training/fake_quant.py``), optionally pruned first (``--outer``: the stage
next to the pixels, see ``training/student.py``). The teacher's entropy model
(h_a, h_s, the z prior, the gains) stays frozen, so the model set's tables,
integer hyper-decoder and gains are unchanged: the student's ONNX files are a
variant of the same set, and an archive decodes with either precision.

Loss per batch, levels drawn per sample (half at the set's checkpoints, half
uniform on the rate axis, lambda interpolated log-linearly), with the teacher's
distortion D = (1 - MS-SSIM) + w_mse MSE + w_lowpass MSE(16x16 block means), so
the student keeps colour and contrast as the teacher was trained to:

- first half: bpp + lambda D through the student's encoder and decoder;
- second half: lambda D of the student's decoder on the teacher's
  latents, so archives the float encoder wrote decode well with the int8 decoder;
- ``--anchor`` times the mean squared gap between the student's and the
  teacher's gained latents, so the float decoder reads the int8 encoder's latents.

Export (``training/export_int8.py``): the student in ONNX Runtime's QDQ
layout with the very activation ranges it was fine-tuned with (calibrated on
training crops chosen to span the gamut and tonal range, never Kodak), the convolutions next to the pixels and the
latents computing in float from int8-stored weights; h_a is quantized after
training on the student's latents.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch
from pytorch_msssim import ms_ssim

from training.fake_quant import QuantTransforms
from training.model import (
    LIKELIHOOD_FLOOR,
    LOG_SCALE_MAX,
    LOG_SCALE_MIN,
    LatentzipNet,
    gaussian_likelihood,
    round_ste,
)
from training.student import analysis, pruned_transforms, synthesis, widths_of
from training.train import COMMITTED, LAMBDAS, lowpass_mse

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RUN = REPO / "training" / "runs" / "qat"
STUDENT_COMMITTED = REPO / "training" / "checkpoint" / "latentzip-int8.pt"


def lambda_of(level: torch.Tensor) -> torch.Tensor:
    """Lambda on the continuous rate axis: the trained ladder, interpolated in log."""
    lo = torch.clamp(torch.floor(level).long(), 0, len(LAMBDAS) - 2)
    frac = level - lo
    logs = torch.log(torch.tensor(LAMBDAS, device=level.device))
    return torch.exp(logs[lo] * (1 - frac) + logs[lo + 1] * frac)


def set_levels() -> dict[str, float]:
    """The rate levels of A, B and C in the default model set."""
    models = REPO / "resources" / "models"
    pointer = json.loads((models / "default.json").read_text())
    manifest = json.loads((models / pointer["id"] / "manifest.json").read_text())
    return {name: float(info["level"]) for name, info in manifest["checkpoints"].items()}


def load_teacher(path: Path = COMMITTED) -> LatentzipNet:
    from training.checkpoint import load_checkpoint

    teacher = LatentzipNet()
    load_checkpoint(path, teacher, None)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def new_student(
    teacher: LatentzipNet, widths_a: tuple[int, int, int], widths_s: tuple[int, int, int], crops: list[torch.Tensor]
) -> QuantTransforms:
    g_a, g_s = pruned_transforms(teacher, crops, widths_a, widths_s)
    return QuantTransforms(g_a, g_s)


def student_from_state(state: dict) -> QuantTransforms:
    M = state["M"]
    student = QuantTransforms(analysis(tuple(state["widths_a"]), M), synthesis(tuple(state["widths_s"]), M))
    student.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["student"].items()})
    return student


def save_student(
    path: Path,
    student: QuantTransforms,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    extra: dict | None = None,
    half: bool = False,
) -> None:
    """Atomic write; ``half`` stores fp16 weights and no optimizer (the committed form)."""
    weights = student.state_dict()
    if half:
        weights = {k: v.half() if v.is_floating_point() and v.dim() > 0 else v for k, v in weights.items()}
    state = {
        "student": weights,
        "widths_a": widths_of(student.g_a),
        "widths_s": widths_of(student.g_s),
        "M": student.g_a[-1].out_channels,
        "step": step,
        **(extra or {}),
    }
    if optimizer is not None and not half:
        state["optimizer"] = optimizer.state_dict()
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, tmp)
    os.replace(tmp, path)


def _gained(teacher: LatentzipNet, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gain, inv_gain = teacher.gains(level)
    return gain[:, :, None, None], inv_gain[:, :, None, None]


def entropy_pass(teacher: LatentzipNet, y: torch.Tensor, level: torch.Tensor, noisy: bool) -> dict:
    """The frozen entropy model on latents y: bits per sample and the decoder's input y_hat."""
    gain, inv_gain = _gained(teacher, level)
    z = teacher.h_a(y)
    z_coded = z + torch.empty_like(z).uniform_(-0.5, 0.5) if noisy else torch.round(z)
    z_lik = teacher.z_density.likelihood(z_coded)
    mean, log_scale = teacher.hyper_params(round_ste(z))
    scale = torch.exp(torch.clamp(log_scale, LOG_SCALE_MIN, LOG_SCALE_MAX))
    y_g, mean_g = y * gain, mean * gain
    scale_g = torch.clamp(scale * gain, min=math.exp(LOG_SCALE_MIN))
    y_coded = y_g + torch.empty_like(y_g).uniform_(-0.5, 0.5) if noisy else torch.round(y_g - mean_g) + mean_g
    y_lik = gaussian_likelihood(y_coded, mean_g, scale_g)
    bits = -(torch.log2(y_lik.clamp(min=LIKELIHOOD_FLOOR)).sum((1, 2, 3)) + torch.log2(z_lik).sum((1, 2, 3)))
    y_hat = (round_ste(y_g - mean_g) + mean_g) * inv_gain
    return {"bits": bits, "y_hat": y_hat, "y_gained": y_g}


_CALIBRATION: dict[tuple[object, ...], list[torch.Tensor]] = {}  # (data, count, size[, "bias"]) -> crops


def parse_levels(pairs: list[str] | None) -> dict[str, float]:
    """``["A=0.42", "B=2.3"]`` as levels by checkpoint; none: the default model set's."""
    if not pairs:
        return set_levels()
    return {name: float(value) for name, value in (pair.split("=", 1) for pair in pairs)}


def calibrate(
    student: QuantTransforms,
    teacher: LatentzipNet,
    levels: dict[str, float],
    data: Path | list[Path],
    count: int = 24,
    size: int = 256,
    correct_bias: bool = True,
) -> list[float]:
    """Activation ranges from float runs on the crops ORT's quantizer calibrates on at export, then
    (``correct_bias``) the output's bias correction; returns the correction in grey levels (R, G, B).

    The crops cover the gamut and tonal range (``calibration_crops(..., cover=True)``).
    """
    from training.quantize import calibration_crops

    key = (str(data), count, size)
    if key not in _CALIBRATION:
        _CALIBRATION[key] = [
            torch.from_numpy(c.copy()).permute(2, 0, 1)[None].float() / 255.0
            for c in calibration_crops(data, count, size, cover=True)
        ]

    def latents_of(y: torch.Tensor) -> list[torch.Tensor]:
        return [entropy_pass(teacher, y, torch.tensor([v]), noisy=False)["y_hat"] for v in sorted(levels.values())]

    was_training = student.training
    student.eval()
    student.calibrate(_CALIBRATION[key], latents_of)
    shift = [0.0, 0.0, 0.0]
    if correct_bias:
        bias_key = (str(data), count, size, "bias")
        if bias_key not in _CALIBRATION:  # typical photos, not the gamut's ends: the mean error of ordinary content
            _CALIBRATION[bias_key] = [
                torch.from_numpy(c.copy()).permute(2, 0, 1)[None].float() / 255.0
                for c in calibration_crops(data, count, size, seed=1)
            ]
        shift = correct_output_bias(student, teacher, levels, _CALIBRATION[bias_key])
    student.train(was_training)
    return shift


@torch.no_grad()
def correct_output_bias(
    student: QuantTransforms,
    teacher: LatentzipNet,
    levels: dict[str, float],
    crops: list[torch.Tensor],
    rounds: int = 2,
) -> list[float]:
    """Bias correction of the int8 decoder (as in Nagel et al. 2019, "Data-free quantization"): the
    simulated int8 roundings shift the decoded image's channel means; the last convolution's bias
    (float, before depth-to-space: 4 rows per colour channel) is moved by the mean signed error per
    channel over training crops, at the set's levels, on the student's latents and the teacher's.
    A property of the network, the same for every image. Returns the total shift in grey levels."""
    conv = student.g_s[-1][0]
    total = torch.zeros(3)
    for _ in range(rounds):
        errors = []
        for x in crops:
            for y in (student.encode(x), teacher.g_a(x)):
                for v in levels.values():
                    y_hat = entropy_pass(teacher, y, torch.tensor([v]), noisy=False)["y_hat"]
                    errors.append((student.decode(y_hat).clamp(0, 1) - x).mean((0, 2, 3)))
        delta = torch.stack(errors).mean(0)
        conv.bias -= delta.repeat_interleave(conv.out_channels // 3)
        total += delta
    return [round(float(v) * -255, 3) for v in total]


def qat_loss(
    student: QuantTransforms,
    teacher: LatentzipNet,
    x: torch.Tensor,
    level: torch.Tensor,
    anchor: float,
    amp: bool,
    w_mse: float = 0.0,
    w_lowpass: float = 0.0,
) -> dict:
    """The batch loss: the teacher's distortion (``train.rd_loss``'s D) on both halves, plus the anchor."""
    half = x.shape[0] // 2
    lam = lambda_of(level)
    pixels = x.shape[2] * x.shape[3]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        y_teacher = teacher.g_a(x).float()
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        y = student.encode(x[:half])
    own = entropy_pass(teacher, y, level[:half], noisy=True)
    with torch.no_grad():
        theirs = entropy_pass(teacher, y_teacher[half:], level[half:], noisy=False)
    y_hat = torch.cat([own["y_hat"], theirs["y_hat"]])
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        x_hat = student.decode(y_hat).float().clamp(0, 1)
    msssim = ms_ssim(x_hat, x, data_range=1.0, size_average=False)
    mse = (x_hat - x).pow(2).mean((1, 2, 3))
    distortion = (1 - msssim) + w_mse * mse + w_lowpass * lowpass_mse(x_hat, x)
    bpp = own["bits"] / pixels
    gain, _ = _gained(teacher, level[:half])
    gap = ((own["y_gained"] - y_teacher[:half] * gain) ** 2).mean()
    loss = (bpp.sum() + (lam * distortion).sum()) / x.shape[0] + anchor * gap
    return {
        "loss": loss,
        "bpp": bpp.mean(),
        "msssim": msssim[:half].mean(),
        "msssim_teacher_latents": msssim[half:].mean(),
        "latent_gap": gap,
        "mse": mse.mean(),
    }


@torch.no_grad()
def validate(
    student: QuantTransforms,
    teacher: LatentzipNet,
    crops: list[torch.Tensor],
    levels: dict[str, float],
    which: str = "student",
) -> dict:
    """Held-out bpp and MS-SSIM per checkpoint, real rounding, int8 simulated (or the teacher's)."""
    if not crops:
        return {}
    was_training = student.training
    student.eval()
    out = {}
    teacher_y = [teacher.g_a(x) for x in crops]
    own_y = teacher_y if which == "teacher" else [student.encode(x) for x in crops]
    for name, value in sorted(levels.items()):
        level = torch.tensor([value])
        bpps, own, cross, colour = [], [], [], []
        for x, y, y_t in zip(crops, own_y, teacher_y, strict=False):
            e = entropy_pass(teacher, y, level, noisy=False)
            x_hat = (teacher.g_s(e["y_hat"]) if which == "teacher" else student.decode(e["y_hat"])).clamp(0, 1)
            bpps.append(float(e["bits"][0]) / (x.shape[2] * x.shape[3]))
            own.append(float(ms_ssim(x_hat, x, data_range=1.0)))
            colour.append(float((x_hat.mean((2, 3)) - x.mean((2, 3))).abs().max()) * 255)
            if which == "student":
                t = entropy_pass(teacher, y_t, level, noisy=False)
                cross.append(float(ms_ssim(student.decode(t["y_hat"]).clamp(0, 1), x, data_range=1.0)))
        out[name] = {
            "bpp": round(sum(bpps) / len(bpps), 5),
            "msssim": round(sum(own) / len(own), 5),
            "colour_worst": round(max(colour), 2),
        }
        if cross:
            out[name]["msssim_teacher_latents"] = round(sum(cross) / len(cross), 5)
    student.train(was_training)
    return out
