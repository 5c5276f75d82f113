"""Export a trained checkpoint to the runtime model set in resources/models/.

    python -m training.export --checkpoint training/runs/main/last.pt \
        --levels A=1.0 B=2.5 C=3.5

Writes ``resources/models/<set>/``: ``encoder.onnx`` (g_a), ``hyper_encoder.onnx``
(h_a), ``decoder.onnx`` (g_s), ``hyper_decoder.npz`` (h_s as integers),
``tables.npz`` (16-bit CDF tables), ``gains.npz`` (the rate ladder: every trained
log-gain row in Q16 fixed point, and per-checkpoint gains derived from it) and
``manifest.json`` (architecture, rate settings, file hashes, content hash).

Each checkpoint's level is rounded to the bitstream's level step (1/256 of a
trained level, codec/runtime/rate_ladder.py) and its gains are derived from the
ladder by the runtime's own integer rule, so a checkpoint and a stream at the
same step use identical gains. ``--no-ladder`` writes a set like the older ones
(fixed gains per checkpoint, bitstream version 1; its images cannot be raised).
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

from latentzip.codec.api.errors import ModelIntegrityError
from latentzip.codec.entropy.tables import ACT_FRAC_BITS
from latentzip.codec.runtime.manifest import Manifest
from latentzip.codec.runtime.rate_ladder import ladder_gains
from training.checkpoint import load_checkpoint
from training.colour_bias import CROPS, correct_colour_bias, round_weights_like_storage, training_crops
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


def export_onnx(
    module: torch.nn.Module,
    channels: int,
    sample_hw: tuple[int, int],
    path: Path,
    in_name: str,
    out_name: str,
    weights: str = "fp16",
) -> None:
    """Export one transform with dynamic height and width, constants folded.

    ``weights="fp16"`` stores the large weights as float16 (computed in float32,
    see training/onnx_weights.py): half the bytes for a rounding far below the codec's error.
    """
    x = torch.randn(1, channels, *sample_hw)
    torch.onnx.export(
        _Wrap(module).eval(),
        (x,),
        str(path),
        input_names=[in_name],
        output_names=[out_name],
        dynamic_axes={in_name: {2: "h", 3: "w"}, out_name: {2: "h", 3: "w"}},
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
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


def gains_arrays(
    model: LatentzipNet, levels: dict[str, float], ladder: bool = True, ladder_levels: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """gains.npz's arrays and the manifest's checkpoint entries.

    With ``ladder``: the first ``ladder_levels`` (default: all) trained log-gain rows in Q16, and each
    checkpoint at its level step with the gains the runtime derives from them. Without: float gains per
    checkpoint, as older sets have.
    """
    if ladder:
        count = model.levels if ladder_levels is None else ladder_levels
        if not 2 <= count <= model.levels:
            raise ValueError(f"ladder_levels must be 2..{model.levels}")
        return ladder_gains(
            model.log_gain.detach().double().numpy()[:count],
            model.log_inv_gain.detach().double().numpy()[:count],
            levels,
            CHECKPOINT_IDS,
        )
    arrays: dict[str, np.ndarray] = {}
    entries: dict[str, dict] = {}
    for name, level in sorted(levels.items()):
        g, ig = model.gains(level)
        arrays[f"gain_{name}"] = g.numpy().astype(np.float32)
        arrays[f"inv_gain_{name}"] = ig.numpy().astype(np.float32)
        arrays[f"log_gain_fixed_{name}"] = np.round(np.log(g.double().numpy()) * 2**ACT_FRAC_BITS).astype(np.int64)
        entries[name] = {"id": CHECKPOINT_IDS[name], "level": level}
    return arrays, entries


@torch.no_grad()
def export(
    checkpoint: Path,
    levels: dict[str, float],
    out_root: Path = MODELS,
    note: str = "",
    released: bool = False,
    weights: str = "fp16",
    ladder: bool = True,
    ladder_levels: int | None = None,
    colour_crops: int = CROPS,
) -> Path:
    if weights not in WEIGHT_STORAGE:
        raise ValueError(f"weights must be one of {WEIGHT_STORAGE}")
    model = LatentzipNet()
    state = load_checkpoint(checkpoint, model, None)
    model.eval()
    colour = None
    if colour_crops:
        round_weights_like_storage(model, weights)
        before, after = correct_colour_bias(model, levels.values(), training_crops(colour_crops))
        colour = {"crops": colour_crops, "error_before": before, "error_after": after}
        print(f"colour bias on {colour_crops} training crops: {before} -> {after} grey levels (R, G, B)")
    staging = out_root / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    export_onnx(freeze_gdn(model.g_a), 3, (256, 256), staging / "encoder.onnx", "image", "y", weights)
    export_onnx(model.h_a, model.M, (16, 16), staging / "hyper_encoder.onnx", "y", "z", weights)
    export_onnx(freeze_gdn(model.g_s), model.M, (16, 16), staging / "decoder.onnx", "y_hat", "image", weights)
    np.savez_compressed(staging / "hyper_decoder.npz", **integer_hyper_decoder(model))
    np.savez_compressed(staging / "tables.npz", **z_tables(model), **gaussian_tables())

    gains, checkpoint_entries = gains_arrays(model, levels, ladder, ladder_levels)
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
            "N": model.N,
            "M": model.M,
            "NH": model.NH,
            "MZ": model.MZ,
            "pad_multiple": 64,
            "latent_stride": 16,
            "hyper_stride": 4,
            "encoder_receptive_radius_px": 30,
            "decoder_receptive_radius_latents": 2,
            "act_frac_bits": ACT_FRAC_BITS,
        },
        "training_step": int(state.get("step", 0)),
        "colour_bias_correction": colour,
        "weight_storage": weights,
        "checkpoints": checkpoint_entries,
        "files": hashes,
        "note": note,
        "released": released,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    final = out_root / set_id
    if _is_released(final):
        shutil.rmtree(staging)
        raise FileExistsError(f"{final} is a released model set: its files never change")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    drop_unreleased(out_root, keep=final)
    (out_root / "default.json").write_text(json.dumps({"content_hash": content, "id": set_id}, indent=2) + "\n")
    return final


def _is_released(folder: Path) -> bool:
    """Whether ``folder`` holds a released set; a manifest this version cannot read counts as released."""
    if not (folder / "manifest.json").is_file():
        return False
    try:
        return Manifest.load(folder).released
    except ModelIntegrityError:
        return True  # never delete or replace what cannot be checked


def drop_unreleased(out_root: Path, keep: Path) -> None:
    """Remove earlier sets never marked released: only released sets must stay decodable."""
    for folder in out_root.iterdir():
        if folder == keep or not (folder / "manifest.json").is_file():
            continue
        if not _is_released(folder):
            shutil.rmtree(folder)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=REPO / "training" / "runs" / "main" / "last.pt")
    ap.add_argument("--levels", nargs="+", default=["A=1.0", "B=2.5", "C=3.5"])
    ap.add_argument("--out", type=Path, default=MODELS)
    ap.add_argument("--note", default="")
    ap.add_argument(
        "--weights",
        choices=WEIGHT_STORAGE,
        default="fp16",
        help="how the ONNX files store their weights (computation is float32 either way)",
    )
    ap.add_argument(
        "--release", action="store_true", help="mark the set released: it is kept (and decodable) from now on"
    )
    ap.add_argument(
        "--no-ladder",
        action="store_true",
        help="no rate ladder (an older set's layout: bitstream version 1, images cannot be raised)",
    )
    ap.add_argument(
        "--ladder-levels",
        type=int,
        default=None,
        help="trained rows in the ladder (default: all of the network's levels); the top of the axis",
    )
    ap.add_argument(
        "--colour-crops",
        type=int,
        default=CROPS,
        help="training crops the decoder's mean colour error is zeroed on (training/colour_bias.py; 0: off)",
    )
    args = ap.parse_args()
    path = export(
        args.checkpoint,
        parse_levels(args.levels),
        args.out,
        args.note,
        args.release,
        args.weights,
        not args.no_ladder,
        args.ladder_levels,
        args.colour_crops,
    )
    total = sum(p.stat().st_size for p in path.iterdir())
    print(f"{path}  ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
