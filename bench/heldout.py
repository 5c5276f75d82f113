"""The held-out part of the training photos, and the command line of the screens that choose on it.

Kodak and robust/ choose nothing; candidate model sets (``heldout_screen.py``) and int8 recipes
(``int8_screen.py``) are compared on the images ``training.data.split`` keeps out of training.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from common import REPO, command_line, start_run, write_report


def heldout_images(folders: tuple[str, ...] = ("train",)) -> list[Path]:
    """The held-out part (``training.data.split``) of these folders of ``../shared/data``."""
    sys.path.append(str(REPO))
    from training.data import split

    data = REPO.parent / "shared" / "data"
    return split([data / name for name in folders])[1]


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
    args = ap.parse_args(argv)
    machine = start_run()
    images = heldout_images(("train", "train2"))
    images = images[: args.limit] if args.limit else images
    rows = screen(args.sets, images)
    write_report(args.name, report(rows, command_line(script), machine), rows)
    return 0
