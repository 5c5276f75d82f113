"""The frozen app's entry point: ``latentzip`` with its subcommands, ``latentzip gui`` included.

PyInstaller builds every executable of the bundle from this script (see latentzip.spec).
Started without arguments from a windowed executable (Windows ``latentzipw.exe``, the
macOS ``.app``), it opens the window instead of printing the command-line help; a
single ``.ltz`` argument there (a file association) opens that archive in the window.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _windowed() -> bool:
    """True in a frozen build without a console: no stdout (Windows ``--windowed``) or a macOS .app."""
    if not getattr(sys, "frozen", False):
        return False
    return sys.stdout is None or ".app/Contents/MacOS/" in sys.executable


def _arguments(argv: list[str], windowed: bool) -> list[str]:
    # old macOS Finder launches add a process serial number
    args = [a for a in argv if not a.startswith("-psn_")]
    if windowed and not args:
        return ["gui"]
    if windowed and len(args) == 1 and args[0].lower().endswith(".ltz"):
        return ["gui", args[0]]
    return args


def main() -> int:
    windowed = _windowed()
    # A windowed Windows executable has no standard streams: give the CLI somewhere to write.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (lives as long as the process)
    from latentzip.cli import main as cli_main

    return cli_main(_arguments(sys.argv[1:], windowed))


if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process runs its task here, not the CLI
    sys.exit(main())
