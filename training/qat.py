"""Quantization-aware fine-tuning of the int8 transforms (network compression), resumable.

    python -m training.qat --minutes 90 [--outer 64]    # train or resume (RUN = training/runs/qat)
    python -m training.qat --export                     # int8 ONNX into the default model set
    python -m training.qat --export --out DIR           # ... or into DIR, for bench/int8.py --variant

Post-training int8 (``training/quantize.py``) of the float transforms lost
0.0034-0.0039 MS-SSIM at the same bpp. Here a student copy of g_a and g_s is
fine-tuned with the int8 graph's roundings simulated in its forward pass
(``training/fake_quant.py``), optionally pruned first (``--outer``: the stage
next to the pixels, see ``training/student.py``). The teacher's entropy model
(h_a, h_s, the z prior, the gains) stays frozen, so the model set's tables,
integer hyper-decoder and gains are unchanged: the student's ONNX files are a
variant of the same set, and an archive decodes with either precision.

Loss per batch, levels drawn per sample (half at the set's checkpoints, half
uniform on the rate axis, lambda interpolated log-linearly):

- first half: bpp + lambda (1 - MS-SSIM) through the student's encoder and decoder;
- second half: lambda (1 - MS-SSIM) of the student's decoder on the teacher's
  latents, so archives the float encoder wrote decode well with the int8 decoder;
- ``--anchor`` times the mean squared gap between the student's and the
  teacher's gained latents, so the float decoder reads the int8 encoder's latents.

Export (``training/export_int8.py``): the student in ONNX Runtime's QDQ
layout with the very activation ranges it was fine-tuned with (calibrated on
training crops, never Kodak), the convolutions next to the pixels and the
latents computing in float from int8-stored weights; h_a is quantized after
training on the student's latents.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import time
from pathlib import Path

import torch
from pytorch_msssim import ms_ssim

from training.data import CropSampler, center_crops, split
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
from training.train import COMMITTED, DEFAULT_DATA, LAMBDAS, log_line, log_window, optimizer_step

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


def new_student(teacher: LatentzipNet, widths_a: tuple[int, int, int], widths_s: tuple[int, int, int],
                crops: list[torch.Tensor]) -> QuantTransforms:
    g_a, g_s = pruned_transforms(teacher, crops, widths_a, widths_s)
    return QuantTransforms(g_a, g_s)


def student_from_state(state: dict) -> QuantTransforms:
    M = state["M"]
    student = QuantTransforms(analysis(tuple(state["widths_a"]), M), synthesis(tuple(state["widths_s"]), M))
    student.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["student"].items()})
    return student


def save_student(path: Path, student: QuantTransforms, optimizer: torch.optim.Optimizer | None, step: int,
                 extra: dict | None = None, half: bool = False) -> None:
    """Atomic write; ``half`` stores fp16 weights and no optimizer (the committed form)."""
    weights = student.state_dict()
    if half:
        weights = {k: v.half() if v.is_floating_point() and v.dim() > 0 else v for k, v in weights.items()}
    state = {"student": weights, "widths_a": widths_of(student.g_a), "widths_s": widths_of(student.g_s),
             "M": student.g_a[-1].out_channels, "step": step, **(extra or {})}
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


_CALIBRATION: dict[tuple[str, int, int], list[torch.Tensor]] = {}


def calibrate(student: QuantTransforms, teacher: LatentzipNet, levels: dict[str, float], data: Path,
              count: int = 24, size: int = 256) -> None:
    """Activation ranges from float runs on the crops ORT's quantizer calibrates on at export."""
    from training.quantize import calibration_crops

    key = (str(data), count, size)
    if key not in _CALIBRATION:
        _CALIBRATION[key] = [torch.from_numpy(c.copy()).permute(2, 0, 1)[None].float() / 255.0
                             for c in calibration_crops(data, count, size)]

    def latents_of(y: torch.Tensor) -> list[torch.Tensor]:
        return [entropy_pass(teacher, y, torch.tensor([v]), noisy=False)["y_hat"] for v in sorted(levels.values())]

    was_training = student.training
    student.eval()
    student.calibrate(_CALIBRATION[key], latents_of)
    student.train(was_training)


def qat_loss(student: QuantTransforms, teacher: LatentzipNet, x: torch.Tensor, level: torch.Tensor,
             anchor: float, amp: bool) -> dict:
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
    bpp = own["bits"] / pixels
    gain, _ = _gained(teacher, level[:half])
    gap = ((own["y_gained"] - y_teacher[:half] * gain) ** 2).mean()
    loss = (bpp.sum() + (lam * (1 - msssim)).sum()) / x.shape[0] + anchor * gap
    return {"loss": loss, "bpp": bpp.mean(), "msssim": msssim[:half].mean(), "msssim_teacher_latents":
            msssim[half:].mean(), "latent_gap": gap}


@torch.no_grad()
def validate(student: QuantTransforms, teacher: LatentzipNet, crops: list[torch.Tensor],
             levels: dict[str, float], which: str = "student") -> dict:
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
        bpps, own, cross = [], [], []
        for x, y, y_t in zip(crops, own_y, teacher_y):
            e = entropy_pass(teacher, y, level, noisy=False)
            x_hat = (teacher.g_s(e["y_hat"]) if which == "teacher" else student.decode(e["y_hat"])).clamp(0, 1)
            bpps.append(float(e["bits"][0]) / (x.shape[2] * x.shape[3]))
            own.append(float(ms_ssim(x_hat, x, data_range=1.0)))
            if which == "student":
                t = entropy_pass(teacher, y_t, level, noisy=False)
                cross.append(float(ms_ssim(student.decode(t["y_hat"]).clamp(0, 1), x, data_range=1.0)))
        out[name] = {"bpp": round(sum(bpps) / len(bpps), 5), "msssim": round(sum(own) / len(own), 5)}
        if cross:
            out[name]["msssim_teacher_latents"] = round(sum(cross) / len(cross), 5)
    student.train(was_training)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--run", type=Path, default=DEFAULT_RUN)
    ap.add_argument("--teacher", type=Path, default=COMMITTED)
    ap.add_argument("--init", type=Path, default=STUDENT_COMMITTED,
                    help="student to start from when RUN is new (the committed one); a missing file: prune anew")
    ap.add_argument("--outer", type=int, default=64, help="channels kept in the stage next to the pixels (of 96)")
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--batch", type=int, default=8, help="half own latents, half the teacher's")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lr-drop-step", type=int, default=10**9, help="from this step on, lr / 3")
    ap.add_argument("--anchor", type=float, default=0.5)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--save-every-min", type=float, default=5.0)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--calibration-crops", type=int, default=24, help="as ORT's calibration at export")
    ap.add_argument("--calibration-size", type=int, default=256)
    ap.add_argument("--recalibrate-every", type=int, default=500, help="steps between activation-range updates")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--amp", choices=("none", "bf16"), default="bf16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export", action="store_true", help="export the student instead of training")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="student checkpoint to export (default: RUN/last.pt, else the committed one)")
    ap.add_argument("--out", type=Path, default=None, help="export into this folder, not the model set")
    ap.add_argument("--float", action="store_true",
                    help="with --export --out: the student's float transforms (pruning alone, for the bench)")
    ap.add_argument("--pack", action="store_true", help="write the committed fp16 student checkpoint and stop")
    return ap.parse_args(argv)


def train(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    teacher = load_teacher(args.teacher)
    train_paths, held_paths = split(args.data)
    sampler = CropSampler(train_paths, args.crop, seed=args.seed)
    val_crops = center_crops(held_paths, 256)
    levels = set_levels()
    last = args.run / "last.pt"
    step = 0
    state: dict = {}
    if last.exists() or args.init.is_file():
        state = torch.load(last if last.exists() else args.init, map_location="cpu", weights_only=False)
        student = student_from_state(state)
        step = state["step"]
        if "sampler" in state:
            sampler.set_state(state["sampler"])
        log_line(args.run, {"event": "resume", "from": str(last if last.exists() else args.init), "step": step})
    else:
        prune_crops = [sampler.batch(4) for _ in range(4)]
        n = teacher.N
        student = new_student(teacher, (args.outer, n, n), (n, n, args.outer), prune_crops)
        log_line(args.run, {"event": "start", "widths_a": widths_of(student.g_a), "widths_s": widths_of(student.g_s),
                            "teacher": validate(student, teacher, val_crops, levels, "teacher")})
        calibrate(student, teacher, levels, args.data, args.calibration_crops, args.calibration_size)
        log_line(args.run, {"event": "val", "step": 0, **validate(student, teacher, val_crops, levels)})
    optimizer = torch.optim.Adam(student.parameters(), lr=args.lr)
    if "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    anchors = torch.tensor(sorted(levels.values()))
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    start = window = last_save = time.time()
    sums: dict[str, float] = {}
    count = 0
    student.train()
    while not stop and step < args.max_steps and time.time() - start < args.minutes * 60:
        lr = args.lr / 3 if step >= args.lr_drop_step else args.lr
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = sampler.batch(args.batch)
        level = torch.rand(args.batch) * (len(LAMBDAS) - 1)
        at_checkpoint = torch.rand(args.batch) < 0.5
        level[at_checkpoint] = anchors[torch.randint(len(anchors), (int(at_checkpoint.sum()),))]
        parts = qat_loss(student, teacher, x, level, args.anchor, args.amp == "bf16")
        optimizer_step(optimizer, student.parameters(), parts["loss"])
        step += 1
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        count += 1
        if step % args.log_every == 0:
            log_window(args.run, sums, count, step, lr, window)
            sums, count, window = {}, 0, time.time()
        if step % args.recalibrate_every == 0:
            calibrate(student, teacher, levels, args.data, args.calibration_crops, args.calibration_size)
        if step % args.val_every == 0:
            log_line(args.run, {"event": "val", "step": step, **validate(student, teacher, val_crops, levels)})
        if time.time() - last_save > args.save_every_min * 60:
            save_student(last, student, optimizer, step, {"sampler": sampler.state()})
            last_save = time.time()
    save_student(last, student, optimizer, step, {"sampler": sampler.state()})
    log_line(args.run, {"event": "stop", "step": step, **validate(student, teacher, val_crops, levels)})
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pack:
        state = torch.load(args.run / "last.pt", map_location="cpu", weights_only=False)
        save_student(STUDENT_COMMITTED, student_from_state(state), None, state["step"], half=True)
        print(f"{STUDENT_COMMITTED}: {STUDENT_COMMITTED.stat().st_size / 1e6:.1f} MB")
        return 0
    if args.export:
        from training.export_int8 import export

        return export(args)
    return train(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
