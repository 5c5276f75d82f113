"""Where the app keeps its files, and where its bundled resources are.

The user folders come from platformdirs and are created on first use, never
at import. ``LATENTZIP_GUI_HOME`` (tests, portable installs) puts all three
under one folder instead. Resources are found from a source checkout, an
installed package, or a PyInstaller bundle (``sys._MEIPASS``).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "Latentzip"
HOME_ENV = "LATENTZIP_GUI_HOME"
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, appauthor=False)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _base(kind: str) -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home) / kind
    dirs = _dirs()
    return Path({"config": dirs.user_config_dir, "log": dirs.user_log_dir, "cache": dirs.user_cache_dir}[kind])


def config_dir() -> Path:
    """The user's config folder (settings), created on first call."""
    return _ensure(_base("config"))


def log_dir() -> Path:
    """The user's log folder, created on first call."""
    return _ensure(_base("log"))


def cache_dir() -> Path:
    """The user's cache folder, created on first call."""
    return _ensure(_base("cache"))


def resources_root() -> Path:
    """The ``latentzip.resources`` folder: bundle first, then the package."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidate = Path(bundle) / "latentzip" / "resources"
        if candidate.is_dir():
            return candidate
    return Path(str(resources.files("latentzip.resources")))


def resource(*parts: str) -> Path:
    """A file under the resources folder (it may not exist; callers check)."""
    return resources_root().joinpath(*parts)


def icon_path() -> Path:
    return resource("icons", "latentzip.png")


def sample_photos() -> list[Path]:
    """The sample photos shipped for a first try, sorted by name."""
    folder = resource("samples")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)
