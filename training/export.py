"""Export a trained checkpoint to the runtime model set in resources/models/.

    python -m training.export --checkpoint training/runs/main/last.pt \
        --levels A=1.0 B=2.5 C=3.5

Writes ``resources/models/<set>/``: ``encoder.onnx`` (g_a), ``hyper_encoder.onnx``
(h_a), ``decoder.onnx`` (g_s), ``hyper_decoder.npz`` (h_s as integers),
``tables.npz`` (16-bit CDF tables), ``gains.npz`` (per-checkpoint gains) and
``manifest.json`` (architecture, rate settings, file hashes, content hash).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import torch

from latentzip.codec.entropy.tables import ACT_FRAC_BITS
from training.checkpoint import load_checkpoint
from training.freeze import freeze_gdn, gaussian_tables, integer_hyper_decoder, z_tables
from training.model import LatentzipNet
from training.onnx_weights import to_fp16_storage

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "resources" / "models"
CHECKPOINT_IDS = {"A": 1, "B": 2, "C": 3}


class _Wrap(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


WEIGHT_STORAGE = ("fp16", "fp32")


def export_onnx(module: torch.nn.Module, channels: int, sample_hw: tuple[int, int], path: Path, in_name: str,
                out_name: str, weights: str = "fp16") -> None:
    """Export one transform with dynamic height and width, constants folded.

    ``weights="fp16"`` stores the large weights as float16 (computed in float32,
    see training/onnx_weights.py): half the bytes for a rounding far below the codec's error.
    """
    x = torch.randn(1, channels, *sample_hw)
    torch.onnx.export(
        _Wrap(module).eval(), (x,), str(path), input_names=[in_name], output_names=[out_name],
        dynamic_axes={in_name: {2: "h", 3: "w"}, out_name: {2: "h", 3: "w"}},
        opset_version=17, do_constant_folding=True, dynamo=False,
    )
    if weights == "fp16":
        onnx.save(to_fp16_storage(onnx.load(str(path))), str(path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_levels(items: list[str]) -> dict[str, float]:
    levels = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in CHECKPOINT_IDS:
            raise SystemExit(f"unknown checkpoint {name!r}; use A, B or C")
        levels[name] = float(value)
    return levels


@torch.no_grad()
def export(checkpoint: Path, levels: dict[str, float], out_root: Path = MODELS, note: str = "",
           released: bool = False, weights: str = "fp16") -> Path:
    if weights not in WEIGHT_STORAGE:
        raise ValueError(f"weights must be one of {WEIGHT_STORAGE}")
    model = LatentzipNet()
    state = load_checkpoint(checkpoint, model, None)
    model.eval()
    staging = out_root / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    export_onnx(freeze_gdn(model.g_a), 3, (256, 256), staging / "encoder.onnx", "image", "y", weights)
    export_onnx(model.h_a, model.M, (16, 16), staging / "hyper_encoder.onnx", "y", "z", weights)
    export_onnx(freeze_gdn(model.g_s), model.M, (16, 16), staging / "decoder.onnx", "y_hat", "image", weights)
    np.savez_compressed(staging / "hyper_decoder.npz", **integer_hyper_decoder(model))
    np.savez_compressed(staging / "tables.npz", **z_tables(model), **gaussian_tables())

    gains: dict[str, np.ndarray] = {}
    for name, level in levels.items():
        g, ig = model.gains(level)
        gains[f"gain_{name}"] = g.numpy().astype(np.float32)
        gains[f"inv_gain_{name}"] = ig.numpy().astype(np.float32)
        gains[f"log_gain_fixed_{name}"] = np.round(np.log(g.double().numpy()) * 2**ACT_FRAC_BITS).astype(np.int64)
    np.savez(staging / "gains.npz", **gains)

    files = sorted(p.name for p in staging.iterdir())
    hashes = {name: sha256(staging / name) for name in files}
    content = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    set_id = f"lz1-{content[:12]}"
    manifest = {
        "format": 1,
        "id": set_id,
        "content_hash": content,
        "architecture": {
            "name": "mean-scale hyperprior, GDN, sub-pixel decoder, per-channel gains",
            "N": model.N, "M": model.M, "NH": model.NH, "MZ": model.MZ,
            "pad_multiple": 64, "latent_stride": 16, "hyper_stride": 4,
            "encoder_receptive_radius_px": 30, "decoder_receptive_radius_latents": 2,
            "act_frac_bits": ACT_FRAC_BITS,
        },
        "training_step": int(state.get("step", 0)),
        "weight_storage": weights,
        "checkpoints": {name: {"id": CHECKPOINT_IDS[name], "level": lvl} for name, lvl in sorted(levels.items())},
        "files": hashes,
        "note": note,
        "released": released,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    final = out_root / set_id
    old_manifest = final / "manifest.json"
    if old_manifest.is_file() and json.loads(old_manifest.read_text()).get("released") is True:
        shutil.rmtree(staging)
        raise SystemExit(f"model set {set_id} is released: its files never change (same weights exported again?)")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    drop_unreleased(out_root, keep=final)
    (out_root / "default.json").write_text(json.dumps({"content_hash": content, "id": set_id}, indent=2) + "\n")
    return final


def drop_unreleased(out_root: Path, keep: Path) -> None:
    """Remove earlier sets never marked released: only released sets must stay decodable."""
    for folder in out_root.iterdir():
        manifest = folder / "manifest.json"
        if folder == keep or not manifest.is_file():
            continue
        if not json.loads(manifest.read_text()).get("released", False):
            shutil.rmtree(folder)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=REPO / "training" / "runs" / "main" / "last.pt")
    ap.add_argument("--levels", nargs="+", default=["A=1.0", "B=2.5", "C=3.5"])
    ap.add_argument("--out", type=Path, default=MODELS)
    ap.add_argument("--note", default="")
    ap.add_argument("--weights", choices=WEIGHT_STORAGE, default="fp16",
                    help="how the ONNX files store their weights (computation is float32 either way)")
    ap.add_argument("--release", action="store_true",
                    help="mark the set released: it is kept (and decodable) from now on")
    args = ap.parse_args()
    path = export(args.checkpoint, parse_levels(args.levels), args.out, args.note, args.release, args.weights)
    total = sum(p.stat().st_size for p in path.iterdir())
    print(f"{path}  ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
