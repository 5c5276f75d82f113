"""The ``latentzip`` command: ``gui`` opens the desktop window (gui/), every other command is codec's.

This launcher is the only module that knows both sides, so codec/ never imports gui/ (nor Qt) and
gui/ never parses the command line. ``latentzip gui [ARCHIVE]`` imports Qt; nothing else does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentzip.codec import cli as codec_cli

GUI_COMMAND = "gui"
GUI_HELP = "open the desktop window"


def build_gui_parser() -> argparse.ArgumentParser:
    """The arguments of ``latentzip gui``."""
    g = argparse.ArgumentParser(prog=f"latentzip {GUI_COMMAND}", description=f"{GUI_HELP[0].upper()}{GUI_HELP[1:]}.")
    g.add_argument("archive", nargs="?", type=Path, help="an archive to show in the Archive page")
    g.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    return g


def print_help() -> None:
    """The command line's help, with the ``gui`` command the launcher adds."""
    parser = codec_cli.build_parser()
    parser.epilog = f"{GUI_COMMAND} [ARCHIVE]: {GUI_HELP} (latentzip {GUI_COMMAND} --help)"
    parser.print_help(sys.stdout)


def run_gui(argv: list[str]) -> int:
    """``latentzip gui [ARCHIVE]``: the window's exit code (1 with one line on stderr if Qt cannot start)."""
    args = build_gui_parser().parse_args(argv)
    try:
        from latentzip.gui.app import run_app  # Qt only here
    except ImportError as exc:
        sys.stderr.write(f"error: the desktop window cannot start ({exc})\n")
        return codec_cli.EXIT_FAIL
    return run_app(args.archive, smoke=args.smoke)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``gui`` to gui/, everything else to codec's command line; the process's exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [GUI_COMMAND]:
        return run_gui(args[1:])
    if not args or args[:1] in (["-h"], ["--help"]):
        print_help()
        return codec_cli.EXIT_OK
    return codec_cli.main(args)
