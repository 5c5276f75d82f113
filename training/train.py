"""Train the variable-rate Latentzip codec; resumable, for a 2-core CPU or a GPU.

    python -m training.train --minutes 150            # resume or start, then stop
    python -m training.train --device cuda --batch 32 # on a GPU session

Loss per sample: bpp + lambda[level] * D, with the level drawn at random per
sample so every step trains the one network at all rates, and

    D = (1 - MS-SSIM) + w_mse[level] * MSE + w_lowpass[level] * MSE(16x16 block means)
        + w_mean * MSE(crop's channel means)

where w_mse[level] may grow geometrically from ``--w-mse`` (3) at the lowest
level to ``--w-mse-top`` at the highest (off by default: one weight), and
w_lowpass[level] falls geometrically from ``--w-lowpass-bottom`` (64) at the
lowest level to ``--w-lowpass`` (16) at the highest: colour at low rates
(session 8, training/README.md). At high
rates MS-SSIM saturates near 0.99 and the pixel term is what still buys PSNR;
tried at 16 in session 7 (4,119 steps from step 33,000): +0.4-0.5 dB PSNR on
Kodak at the same MS-SSIM, but 3 % more bits, a larger colour error at A and a
lower MS-SSIM at the top of the axis, so an image was stored instead of raised
(training/README.md). Rejected; the option stays.

MS-SSIM alone barely sees a shift of a channel's mean (its luminance term acts
only at the coarsest scale), so an MS-SSIM-only model drifts in colour; the
MSE terms (pixels in [0, 1]) hold colour and contrast. The last term, off by
default, prices a cast over the whole crop; tried at 200 in session 6, it made
the colour error worse (training/README.md). A
checkpoint (weights, optimizer, step, random states) is written atomically to
``RUN/last.pt`` every few minutes and at the end; a run continues from it, or
from the committed fp16 checkpoint when the run folder is new.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from pytorch_msssim import ms_ssim

from training.checkpoint import load_checkpoint, save_checkpoint
from training.data import Augment, CropSampler, center_crops, split
from training.ema import WeightAverage
from training.model import LatentzipNet

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "train"
DEFAULT_DATA2 = REPO.parent / "shared" / "data" / "train2"
DEFAULT_RUN = REPO / "training" / "runs" / "main"
COMMITTED = REPO / "training" / "checkpoint" / "latentzip.pt"
# One lambda per trained rate level, lowest rate first (levels 6 and 7 added in session 4,
# so a raised image has room well above C).
LAMBDAS = (12.0, 24.0, 48.0, 96.0, 192.0, 384.0, 768.0, 1536.0)
LOWPASS_BLOCK = 16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA, DEFAULT_DATA2])
    ap.add_argument("--run", type=Path, default=DEFAULT_RUN, help="run folder (checkpoint and log)")
    ap.add_argument("--init", type=Path, default=COMMITTED, help="checkpoint to start from when RUN is new")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--lr-drop-at", type=int, default=0, help="global step from which --lr-after applies (0: never)")
    ap.add_argument("--lr-after", type=float, default=3e-5)
    ap.add_argument("--w-mse", type=float, default=3.0, help="weight of the pixel MSE term in D (0: MS-SSIM only)")
    ap.add_argument(
        "--w-mse-top",
        type=float,
        default=None,
        help="weight of the MSE term at the highest level (default: --w-mse, one weight for all levels)",
    )
    ap.add_argument("--w-lowpass", type=float, default=16.0, help="weight of the block-mean MSE term in D")
    ap.add_argument(
        "--w-lowpass-bottom",
        type=float,
        default=64.0,
        help="weight of the block-mean term at the lowest level, geometric down to --w-lowpass at the highest "
        "(session 8: it lowered the held-out colour error at A; equal to --w-lowpass: one weight for all levels)",
    )
    ap.add_argument("--w-mean", type=float, default=0.0, help="weight of the crop channel-mean MSE term in D")
    ap.add_argument("--texture-bias", type=float, default=0.5, help="share of crops drawn towards texture")
    ap.add_argument("--chroma-boost", type=float, default=0.0, help="share of crops with their chroma scaled up")
    ap.add_argument("--noise", type=float, default=0.0, help="share of crops with sensor-like noise added")
    ap.add_argument(
        "--validate-only", action="store_true", help="log the held-out figures of the run (or --init) and stop"
    )
    ap.add_argument("--max-steps", type=int, default=10**9, help="stop at this global step")
    ap.add_argument("--minutes", type=float, default=60.0, help="stop after this wall time")
    ap.add_argument("--save-every-min", type=float, default=5.0)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--amp",
        choices=("none", "bf16", "auto"),
        default="none",
        help="bf16 autocast for g_a/g_s (fast on CPUs with AMX and on GPUs; emulated, several times slower, "
        "on other CPUs); auto: bf16 where the device computes it natively",
    )
    ap.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    ap.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="keep an exponential moving average of the weights with this decay, validated beside them (0: off)",
    )
    return ap.parse_args(argv)


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bf16 natively: a GPU that supports it, or a CPU with AMX or AVX512-BF16."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device == "cpu" and (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def amp_dtype(amp: str, device: str) -> torch.dtype | None:
    """The autocast dtype for ``--amp`` on ``device`` (None: float32)."""
    if amp == "bf16" or (amp == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def lowpass_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE of the 16x16 block means: colour casts and lost contrast of large areas."""
    pool = torch.nn.functional.avg_pool2d
    return (pool(x_hat, LOWPASS_BLOCK) - pool(x, LOWPASS_BLOCK)).pow(2).mean((1, 2, 3))


def level_weights(bottom: float, top: float | None, levels: int) -> torch.Tensor:
    """A term's weight per level: geometric from ``bottom`` (lowest level) to ``top`` (highest; None: ``bottom``)."""
    top = bottom if top is None else top
    if levels < 2 or top == bottom:
        return torch.full((levels,), float(bottom))
    if bottom <= 0 or top <= 0:
        raise ValueError(f"a geometric weight needs positive ends ({bottom} at the lowest level, {top} at the highest)")
    return torch.tensor([bottom * (top / bottom) ** (i / (levels - 1)) for i in range(levels)])


def rd_loss(
    model: LatentzipNet,
    x: torch.Tensor,
    levels: torch.Tensor,
    lambdas: torch.Tensor,
    w_mse: float | torch.Tensor = 0.0,
    w_lowpass: float | torch.Tensor = 0.0,
    w_mean: float = 0.0,
) -> dict:
    """Per-batch loss and its parts (bpp, MS-SSIM and MSE are batch means).

    ``w_mse`` and ``w_lowpass`` are one weight each, or a tensor of one weight per level (``level_weights``).
    """
    out = model(x, levels)
    pixels = x.shape[2] * x.shape[3]
    bits = out["y_likelihoods"].log2().sum((1, 2, 3)) + out["z_likelihoods"].log2().sum((1, 2, 3))
    bpp = -bits / pixels
    x_hat = out["x_hat"].clamp(0, 1)
    msssim = ms_ssim(x_hat, x, data_range=1.0, size_average=False)
    mse = (x_hat - x).pow(2).mean((1, 2, 3))
    cast = (x_hat.mean((2, 3)) - x.mean((2, 3))).pow(2).mean(1)
    if isinstance(w_mse, torch.Tensor):
        w_mse = w_mse.to(levels.device)[levels.long()]
    if isinstance(w_lowpass, torch.Tensor):
        w_lowpass = w_lowpass.to(levels.device)[levels.long()]
    distortion = (1 - msssim) + w_mse * mse + w_lowpass * lowpass_mse(x_hat, x) + w_mean * cast
    loss = (bpp + lambdas[levels.long()] * distortion).mean()
    return {"loss": loss, "bpp": bpp.mean(), "msssim": msssim.mean(), "mse": mse.mean()}


@torch.no_grad()
def validate(model: LatentzipNet, crops: list[torch.Tensor], device: str) -> dict:
    """Held-out figures at every trained level, with real rounding.

    Per level: mean bpp, MS-SSIM and PSNR, and the colour error: the largest
    absolute difference, over crops and channels, between the reconstruction's
    and the original's channel mean, in grey levels (0-255). And the ceiling:
    the mean PSNR of the top level without rounding, the most its finer steps
    could reach (where the top levels sit close to it, more bits buy nothing).
    """
    if not crops:
        return {}
    amp, model.amp_dtype = model.amp_dtype, None  # measure what the float32 export will do
    model.eval()
    result = {}
    for level in range(model.levels):
        bpps, scores, psnrs, colour = [], [], [], 0.0
        for x in crops:
            x = x.to(device)
            out = model(x, torch.tensor([float(level)], device=device))
            bits = out["y_likelihoods"].log2().sum() + out["z_likelihoods"].log2().sum()
            bpps.append(float(-bits / (x.shape[2] * x.shape[3])))
            x_hat = as_written(out["x_hat"])
            scores.append(float(ms_ssim(x_hat, x, data_range=1.0)))
            psnrs.append(_psnr(x_hat, x))
            colour = max(colour, float((x_hat - x).mean((0, 2, 3)).abs().max()) * 255)
        n = len(crops)
        result[f"L{level}"] = {
            "bpp": round(sum(bpps) / n, 4),
            "msssim": round(sum(scores) / n, 5),
            "psnr": round(sum(psnrs) / n, 2),
            "colour": round(colour, 2),
        }
    gain, inv_gain = model.gains(torch.tensor([float(model.levels - 1)], device=device))
    top_scale = (gain * inv_gain)[:, :, None, None]  # what y_hat is to y at the top level, rounding aside
    ceiling = [_psnr(as_written(model.g_s(model.g_a(x.to(device)) * top_scale)), x.to(device)) for x in crops]
    result["ceiling"] = {"psnr": round(sum(ceiling) / len(ceiling), 2)}
    model.train()
    model.amp_dtype = amp
    return result


def as_written(x_hat: torch.Tensor) -> torch.Tensor:
    """The decoder's output as the image it writes: clamped to [0, 1] and rounded to grey levels."""
    return (x_hat.clamp(0, 1) * 255).round() / 255


def _psnr(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR (dB) of a reconstruction in [0, 1]."""
    return float(-10 * torch.log10((x_hat - x).pow(2).mean().clamp_min(1e-10)))


def log_line(run: Path, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with open(run / "log.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")


def optimizer_step(optimizer: torch.optim.Optimizer, params: Iterable[torch.Tensor], loss: torch.Tensor) -> None:
    """Backward, gradients clipped to norm 1, and a step unless the loss is not finite."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    if math.isfinite(float(loss.detach())):
        optimizer.step()


def log_window(run: Path, sums: dict[str, float], count: int, step: int, lr: float, since: float) -> None:
    """One log line: the means of the last ``count`` steps, the step, lr and seconds per step since ``since``."""
    rec = {k: round(v / count, 5) for k, v in sums.items()}
    rec.update(step=step, lr=lr, sec_per_step=round((time.time() - since) / count, 3))
    log_line(run, rec)


def save(
    run: Path,
    model: LatentzipNet,
    optimizer: torch.optim.Optimizer,
    step: int,
    sampler: CropSampler,
    average: WeightAverage | None,
) -> None:
    extra = {"ema": average.state_dict()} if average is not None else None
    save_checkpoint(run / "last.pt", model, optimizer, step, sampler.state(), extra)


def validate_all(
    run: Path,
    event: str,
    step: int,
    model: LatentzipNet,
    average: WeightAverage | None,
    crops: list[torch.Tensor],
    device: str,
) -> None:
    """Log the held-out figures of the weights, and of their average when one is kept (``event``_ema)."""
    log_line(run, {"event": event, "step": step, **validate(model, crops, device)})
    if average is not None:
        log_line(run, {"event": f"{event}_ema", "step": step, **validate(average.averaged_model(model), crops, device)})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.crop % 64 or args.crop < 192:
        raise SystemExit("--crop must be a multiple of 64 and at least 192 (five-scale MS-SSIM)")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    device = args.device

    train_paths, held_paths = split(args.data)
    augment = Augment(chroma_boost=args.chroma_boost, noise=args.noise)
    sampler = CropSampler(train_paths, args.crop, seed=args.seed, texture_bias=args.texture_bias, augment=augment)
    val_crops = center_crops(held_paths, 256)

    model = LatentzipNet(levels=len(LAMBDAS)).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    step = 0
    state: dict = {}
    resume_from = args.run / "last.pt" if (args.run / "last.pt").exists() else args.init
    if resume_from.exists():
        state = load_checkpoint(resume_from, model, optimizer, device)
        step = state["step"]
        if "sampler" in state and resume_from == args.run / "last.pt":
            sampler.set_state(state["sampler"])
        log_line(args.run, {"event": "resume", "from": str(resume_from), "step": step})
    average = WeightAverage(model, args.ema) if args.ema else None
    if average is not None and "ema" in state:
        average.load_state_dict(state["ema"])
    lr = args.lr_after if args.lr_drop_at and step >= args.lr_drop_at else args.lr
    for group in optimizer.param_groups:
        group["lr"] = lr
    model.amp_dtype = amp_dtype(args.amp, device)
    settings = {k: str(v) for k, v in vars(args).items()}
    log_line(args.run, {"event": "settings", "step": step, **settings, "amp_dtype": str(model.amp_dtype)})
    if args.validate_only:
        validate_all(args.run, "validate", step, model, average, val_crops, device)
        return 0
    lambdas = torch.tensor(LAMBDAS, device=device)
    w_mse = level_weights(args.w_mse, args.w_mse_top, len(LAMBDAS)).to(device)
    w_lowpass = level_weights(args.w_lowpass_bottom, args.w_lowpass, len(LAMBDAS)).to(device)

    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
    start = window = time.time()
    last_save = start
    sums = {"loss": 0.0, "bpp": 0.0, "msssim": 0.0, "mse": 0.0}
    count = 0
    model.train()
    while not stop_requested and step < args.max_steps and time.time() - start < args.minutes * 60:
        x = sampler.batch(args.batch).to(device)
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        levels = torch.randint(0, model.levels, (args.batch,), device=device)
        parts = rd_loss(model, x, levels, lambdas, w_mse, w_lowpass, args.w_mean)
        optimizer_step(optimizer, model.parameters(), parts["loss"])
        if average is not None:
            average.update(model)
        step += 1
        if args.lr_drop_at and step == args.lr_drop_at:
            lr = args.lr_after
            for group in optimizer.param_groups:
                group["lr"] = lr
        for k in sums:
            sums[k] += float(parts[k].detach())
        count += 1
        if step % args.log_every == 0:
            log_window(args.run, sums, count, step, lr, window)
            sums = {k: 0.0 for k in sums}
            count = 0
            window = time.time()
        if step % args.val_every == 0:
            validate_all(args.run, "val", step, model, average, val_crops, device)
        if time.time() - last_save > args.save_every_min * 60:
            save(args.run, model, optimizer, step, sampler, average)
            last_save = time.time()
    save(args.run, model, optimizer, step, sampler, average)
    validate_all(args.run, "stop", step, model, average, val_crops, device)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
