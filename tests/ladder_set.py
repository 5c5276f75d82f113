"""A model set with a rate ladder, for tests: the shipped set's files, with the ladder of the committed checkpoint.

The committed checkpoint (training/checkpoint/latentzip.pt) is the network the shipped set was exported
from, so its trained log-gain rows (6 levels) are the shipped set's own rate axis. Writing them into a copy
of the set, with the checkpoints' levels on the ladder, gives what training/export.py now writes for a new
set, without exporting ONNX files. Needs torch (to read the checkpoint).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHECKPOINT = REPO / "training" / "checkpoint" / "latentzip.pt"
TRAINED_LEVELS = 6  # rows trained in the committed checkpoint (training/model.py now defaults to 8)


def committed_network():
    """The committed checkpoint in a LatentzipNet with its own number of trained levels."""
    from training.checkpoint import load_checkpoint
    from training.model import LatentzipNet

    model = LatentzipNet(levels=TRAINED_LEVELS)
    load_checkpoint(CHECKPOINT, model, None)
    return model.eval()


def make_ladder_set(shipped: Path, root: Path) -> Path:
    """Copy the model set folder ``shipped`` into ``root`` with the committed checkpoint's ladder."""
    from training.export import gains_arrays

    manifest = json.loads((shipped / "manifest.json").read_text())
    folder = root / "ladder-set"
    shutil.copytree(shipped, folder)
    levels = {name: float(info["level"]) for name, info in manifest["checkpoints"].items()}
    arrays, entries = gains_arrays(committed_network(), levels)
    np.savez(folder / "gains.npz", **arrays)
    manifest["checkpoints"] = entries
    manifest["files"]["gains.npz"] = hashlib.sha256((folder / "gains.npz").read_bytes()).hexdigest()
    content = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()
    manifest.update(content_hash=content, id=f"lz1-{content[:12]}", released=False, note="test set with a ladder")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder
