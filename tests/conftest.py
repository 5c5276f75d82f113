"""Shared test setup: offscreen Qt, the repo's training/ package, shared data paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The GUI tests' fixtures (scratch settings folder, patched dialogs, the window); Qt loads only when used.
pytest_plugins = ("gui_support",)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# training/ is not installed; append (never prepend) so the installed latentzip wins.
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))


@pytest.fixture(scope="session")
def kodak_dir() -> Path:
    folder = SHARED_DATA / "kodak"
    if not folder.is_dir():
        pytest.skip("../shared/data/kodak is not available")
    return folder


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    folder = SHARED_DATA / "photos"
    if not folder.is_dir():
        pytest.skip("../shared/data/photos is not available")
    return folder
