"""Quantization-aware fine-tuning of the int8 transforms (network compression), resumable.

    python -m training.qat --minutes 90 [--outer 64]    # train or resume (RUN = training/runs/qat)
    python -m training.qat --export                     # int8 ONNX into the default model set
    python -m training.qat --export --out DIR           # ... or into DIR, for bench/int8.py --variant

The command line of quantization-aware fine-tuning; the method (losses, calibration,
validation, the teacher and the student) is ``training/qat_core.py``, and the export
``training/export_int8.py``.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

import torch

from training.data import CropSampler, center_crops, split
from training.qat_core import (
    DEFAULT_RUN,
    STUDENT_COMMITTED,
    calibrate,
    load_teacher,
    new_student,
    parse_levels,
    qat_loss,
    save_student,
    student_from_state,
    validate,
)
from training.student import widths_of
from training.train import COMMITTED, DEFAULT_DATA, DEFAULT_DATA2, LAMBDAS, log_line, log_window, optimizer_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA, DEFAULT_DATA2])
    ap.add_argument(
        "--levels",
        nargs="+",
        metavar="NAME=LEVEL",
        help="the checkpoints' levels on the teacher's rate axis (default: the default model set's)",
    )
    ap.add_argument("--w-mse", type=float, default=3.0, help="as training/train.py: the teacher's distortion")
    ap.add_argument("--w-lowpass", type=float, default=16.0, help="as training/train.py")
    ap.add_argument("--texture-bias", type=float, default=0.5, help="as training/train.py")
    ap.add_argument("--run", type=Path, default=DEFAULT_RUN)
    ap.add_argument("--teacher", type=Path, default=COMMITTED)
    ap.add_argument(
        "--init",
        type=Path,
        default=STUDENT_COMMITTED,
        help="student to start from when RUN is new (the committed one); a missing file: prune anew",
    )
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
    ap.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="student checkpoint to export (default: RUN/last.pt, else the committed one)",
    )
    ap.add_argument("--out", type=Path, default=None, help="export into this folder, not the model set")
    ap.add_argument(
        "--float",
        action="store_true",
        help="with --export --out: the student's float transforms (pruning alone, for the bench)",
    )
    ap.add_argument("--pack", action="store_true", help="write the committed fp16 student checkpoint and stop")
    return ap.parse_args(argv)


def train(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    teacher = load_teacher(args.teacher)
    train_paths, held_paths = split(args.data)
    sampler = CropSampler(train_paths, args.crop, seed=args.seed, texture_bias=args.texture_bias)
    val_crops = center_crops(held_paths, 256)
    levels = parse_levels(args.levels)
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
        log_line(
            args.run,
            {
                "event": "start",
                "widths_a": widths_of(student.g_a),
                "widths_s": widths_of(student.g_s),
                "teacher": validate(student, teacher, val_crops, levels, "teacher"),
            },
        )
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
        parts = qat_loss(
            student, teacher, x, level, args.anchor, args.amp == "bf16", w_mse=args.w_mse, w_lowpass=args.w_lowpass
        )
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
