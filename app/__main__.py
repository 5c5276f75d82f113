"""``python -m latentzip``: the command line (``gui`` opens the window)."""

from latentzip.cli import main

raise SystemExit(main())
