"""A model set with a rate ladder, for tests: the first released set's files, with its network's ladder.

The first released set, ``lz1-965bde60c9d0``, has no ladder (bitstream version 1). Its network's trained
log-gain rows (6 levels) are kept in ``tests/assets/ladder-lz1-965bde60c9d0.npz`` (float64, taken from the
committed checkpoint it was exported from, training/checkpoint/latentzip.pt at step 21,028):

    python -c "import torch, numpy as np; s = torch.load('training/checkpoint/latentzip.pt', weights_only=False);
    np.savez_compressed('tests/assets/ladder-lz1-965bde60c9d0.npz',
    log_gain_rows=s['model']['log_gain'].double().numpy(),
    log_inv_gain_rows=s['model']['log_inv_gain'].double().numpy())"

Writing them into a copy of the set, with the checkpoints' levels on the ladder, gives what
training/export.py now writes for a new set (the same networks, so every figure is the real codec's),
without exporting ONNX files or needing torch. It does not depend on which set is the default, nor on
the checkpoint committed later.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from latentzip.codec.runtime.model_set import ModelRegistry, ModelSet
from latentzip.codec.runtime.rate_ladder import ladder_gains

REPO = Path(__file__).resolve().parent.parent
CHECKPOINT = REPO / "training" / "checkpoint" / "latentzip.pt"
OLD_SET_HASH = "965bde60c9d0825390aa879ff1add674b95694e53b6700b5a55c716fd7675857"  # lz1-965bde60c9d0, no ladder
OLD_SET_ROWS = Path(__file__).resolve().parent / "assets" / "ladder-lz1-965bde60c9d0.npz"
CHECKPOINT_IDS = {"A": 1, "B": 2, "C": 3}


def old_set(registry: ModelRegistry) -> ModelSet:
    """The first released set (no ladder), whichever set is the default."""
    return registry.get(OLD_SET_HASH)


def committed_network():
    """The committed checkpoint in a LatentzipNet with as many levels as it was trained with (needs torch)."""
    import torch

    from training.checkpoint import load_checkpoint
    from training.model import LatentzipNet

    rows = torch.load(CHECKPOINT, map_location="cpu", weights_only=False)["model"]["log_gain"].shape[0]
    model = LatentzipNet(levels=rows)
    load_checkpoint(CHECKPOINT, model, None)
    return model.eval()


def make_ladder_set(shipped: Path, root: Path) -> Path:
    """Copy the first released set's folder ``shipped`` into ``root`` with its network's ladder."""
    manifest = json.loads((shipped / "manifest.json").read_text())
    if manifest["content_hash"] != OLD_SET_HASH:
        raise ValueError(f"{shipped} is not the set the stored ladder rows belong to")
    folder = root / "ladder-set"
    shutil.copytree(shipped, folder)
    levels = {name: float(info["level"]) for name, info in manifest["checkpoints"].items()}
    with np.load(OLD_SET_ROWS) as rows:
        arrays, entries = ladder_gains(rows["log_gain_rows"], rows["log_inv_gain_rows"], levels, CHECKPOINT_IDS)
    np.savez(folder / "gains.npz", **arrays)
    manifest["checkpoints"] = entries
    manifest["files"]["gains.npz"] = hashlib.sha256((folder / "gains.npz").read_bytes()).hexdigest()
    content = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()
    manifest.update(content_hash=content, id=f"lz1-{content[:12]}", released=False, note="test set with a ladder")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder
