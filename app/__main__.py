"""``python -m latentzip``: the command line."""

from latentzip.codec.cli import main

raise SystemExit(main())
