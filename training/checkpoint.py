"""Training checkpoints: full precision in the run folder, 16-bit when committed.

The committed file (``training/checkpoint/latentzip.pt``) holds the weights in
fp16 and the Adam moments in bf16 (bf16 keeps the tiny second moments from
underflowing), so it stays small enough for git while training can resume
from it on any machine.

    python -m training.checkpoint pack RUN/last.pt training/checkpoint/latentzip.pt
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int, sampler_state: dict | None = None) -> None:
    """Write atomically: a crash mid-save never destroys the previous file."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}
    if sampler_state is not None:
        state["sampler"] = sampler_state
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, device: str = "cpu") -> dict:
    """Load weights (and optimizer state) into the given objects, upcasting 16-bit tensors."""
    state = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    if optimizer is not None and "optimizer" in state:
        opt = state["optimizer"]
        for slot in opt["state"].values():
            for k, v in slot.items():
                if torch.is_tensor(v) and v.is_floating_point():
                    slot[k] = v.float()
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
    state.pop("sampler", None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, dst)


def main() -> int:
    ap = argparse.ArgumentParser(description="Pack a run checkpoint into the committed 16-bit form.")
    ap.add_argument("command", choices=["pack"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    args = ap.parse_args()
    pack(args.src, args.dst)
    print(f"{args.dst}: {args.dst.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
