"""Training checkpoints: full precision in the run folder, 16-bit when committed.

The committed file (``training/checkpoint/latentzip.pt``) holds the weights in
fp16 and the Adam moments in bf16 (bf16 keeps the tiny second moments from
underflowing), so it stays small enough for git while training can resume
from it on any machine.

    python -m training.checkpoint pack RUN/last.pt training/checkpoint/latentzip.pt
    python -m training.checkpoint averaged RUN/last.pt /tmp/averaged.pt   # the run's weight average (--ema)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    sampler_state: dict | None = None,
    extra: dict | None = None,
) -> None:
    """Write atomically: a crash mid-save never destroys the previous file. ``extra``: more entries (the average)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, **(extra or {})}
    if sampler_state is not None:
        state["sampler"] = sampler_state
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


GAIN_PARAMS = ("log_gain", "log_inv_gain")


def grow_rows(rows: torch.Tensor, count: int) -> torch.Tensor:
    """Extend a (levels, M) log-gain table to ``count`` rows, extrapolating the last step."""
    while rows.shape[0] < count:
        rows = torch.cat([rows, 2 * rows[-1:] - rows[-2:-1]])
    return rows


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, device: str = "cpu"
) -> dict:
    """Load weights (and optimizer state) into the given objects, upcasting 16-bit tensors.

    A checkpoint trained with fewer rate levels than ``model`` gets its gain
    rows extrapolated (log-gains step on as before) and zero Adam moments for
    the new rows, so adding a higher level resumes training instead of restarting.
    """
    state = torch.load(path, map_location=device, weights_only=False)
    weights = {k: v.float() for k, v in state["model"].items()}
    levels = getattr(model, "levels", None)
    for name in GAIN_PARAMS:
        if levels and name in weights:
            weights[name] = grow_rows(weights[name], levels)
    model.load_state_dict(weights)
    if optimizer is not None and "optimizer" in state:
        opt = state["optimizer"]
        shapes = [p.shape for p in model.parameters()]
        for index, slot in opt["state"].items():
            for k, v in slot.items():
                if torch.is_tensor(v) and v.is_floating_point():
                    v = v.float()
                    if v.dim() == 2 and v.shape != shapes[index] and v.shape[1:] == shapes[index][1:]:
                        pad = torch.zeros((shapes[index][0] - v.shape[0], *v.shape[1:]), dtype=v.dtype, device=v.device)
                        v = torch.cat([v, pad])
                    slot[k] = v
        optimizer.load_state_dict(opt)
    return state


def pack(src: Path, dst: Path) -> None:
    """Shrink a run checkpoint to the committed 16-bit form."""
    state = torch.load(src, map_location="cpu", weights_only=False)
    state["model"] = {k: v.half() for k, v in state["model"].items()}
    for slot in state["optimizer"]["state"].values():
        for k, v in slot.items():
            if torch.is_tensor(v) and v.is_floating_point() and v.dim() > 0:
                slot[k] = v.to(torch.bfloat16)
    if "ema" in state:
        state["ema"]["weights"] = {
            k: v.half() if v.is_floating_point() else v for k, v in state["ema"]["weights"].items()
        }
    state.pop("sampler", None)
    _write(state, dst)


def averaged(src: Path, dst: Path) -> None:
    """A weights-only checkpoint holding the run's weight average, for export and calibration."""
    state = torch.load(src, map_location="cpu", weights_only=False)
    if "ema" not in state:
        raise SystemExit(f"{src} keeps no weight average (train with --ema)")
    _write(
        {"model": state["ema"]["weights"], "step": state["step"], "weights": "ema", "decay": state["ema"]["decay"]}, dst
    )


def _write(state: dict, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, dst)


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Pack a run checkpoint into the committed 16-bit form, or take out its weight average."
    )
    ap.add_argument("command", choices=["pack", "averaged"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    args = ap.parse_args()
    (pack if args.command == "pack" else averaged)(args.src, args.dst)
    print(f"{args.dst}: {args.dst.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
