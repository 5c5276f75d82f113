"""The held-out part of the training photos, and the command line of the screens that choose on it.

Kodak and robust/ choose nothing; candidate model sets (``heldout_screen.py``) and int8 recipes
(``int8_screen.py``) are compared on the images ``training.data.split`` keeps out of training.
``--augment`` screens copies of them changed as training's augmentations change crops (every image,
at a fixed strength), so what an augmentation buys is measured on photos no setting was chosen by.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import REPO, command_line, start_run, write_report
from PIL import Image


def heldout_images(folders: tuple[str, ...] = ("train",)) -> list[Path]:
    """The held-out part (``training.data.split``) of these folders of ``../shared/data``."""
    sys.path.append(str(REPO))
    from training.data import split

    data = REPO.parent / "shared" / "data"
    return split([data / name for name in folders])[1]


AUGMENTED_CHROMA_GAIN = 2.0  # the held-out copies' chroma gain (training draws from 1 to 2.5)
AUGMENTED_NOISE_SIGMA = 4.0  # their noise, grey levels (training draws from 1 to 8)


def augmented_copies(images: list[Path], kind: str, folder: Path) -> list[Path]:
    """PNG copies of ``images`` in ``folder`` with their chroma boosted or noise added (seeded by name)."""
    from training.data import add_noise, boost_chroma, load_rgb, name_hash

    out = []
    for path in images:
        rgb = load_rgb(path)
        if kind == "chroma":
            rgb = boost_chroma(rgb, AUGMENTED_CHROMA_GAIN)
        else:
            rgb = add_noise(rgb, AUGMENTED_NOISE_SIGMA, np.random.default_rng(name_hash(path.name)))
        copy = folder / f"{path.stem}-{kind}.png"
        Image.fromarray(rgb).save(copy)
        out.append(copy)
    return out


def heldout_screen_main(
    argv: list[str] | None,
    description: str,
    script: str,
    default_name: str,
    screen: Callable[[list[Path], list[Path]], list[dict]],
    report: Callable[[list[dict], str, str], str],
) -> int:
    """The command line of a screen of model-set folders on the held-out train/ and train2/ photos."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", type=Path, nargs="+", help="model-set folders")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (smoke runs)")
    ap.add_argument("--name", default=default_name)
    ap.add_argument(
        "--augment",
        choices=("chroma", "noise"),
        help=f"screen copies with chroma x{AUGMENTED_CHROMA_GAIN} or noise of sigma {AUGMENTED_NOISE_SIGMA}",
    )
    args = ap.parse_args(argv)
    machine = start_run()
    images = heldout_images(("train", "train2"))
    images = images[: args.limit] if args.limit else images
    with tempfile.TemporaryDirectory() as folder:
        if args.augment:
            images = augmented_copies(images, args.augment, Path(folder))
        rows = screen(args.sets, images)
    write_report(args.name, report(rows, command_line(script), machine), rows)
    return 0
