"""Persistent settings: last folders, checkpoint, images mode, precision, threads, where archives go,
location removal, compare mode, window geometry.

Stored as an INI file in the user config folder (platformdirs). Values are
validated on read, so a hand-edited or stale file never breaks the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ..codec.engine import CHECKPOINTS, IMAGE_MODES
from ..codec.runtime.model_set import PRECISIONS
from . import paths

COMPARE_MODES = ("split", "side")
TARGET_MODES = ("checkpoint", "size", "quality")
MAX_THREADS = 256


class Settings:
    """Typed access to the app's QSettings (INI format, one file)."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = Path(file) if file is not None else paths.config_dir() / "latentzip.ini"
        self._qs = QSettings(str(self.file), QSettings.Format.IniFormat)

    def _str(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return value if isinstance(value, str) else default

    def _folder(self, key: str) -> Path | None:
        text = self._str(key)
        return Path(text) if text and Path(text).is_dir() else None

    def _set(self, key: str, value: object) -> None:
        self._qs.setValue(key, value)

    # folders -----------------------------------------------------------------
    @property
    def last_input_dir(self) -> Path | None:
        return self._folder("folders/input")

    @last_input_dir.setter
    def last_input_dir(self, path: Path) -> None:
        self._set("folders/input", str(path))

    @property
    def last_archive_dir(self) -> Path | None:
        return self._folder("folders/archive")

    @last_archive_dir.setter
    def last_archive_dir(self, path: Path) -> None:
        self._set("folders/archive", str(path))

    @property
    def last_extract_dir(self) -> Path | None:
        return self._folder("folders/extract")

    @last_extract_dir.setter
    def last_extract_dir(self, path: Path) -> None:
        self._set("folders/extract", str(path))

    # choices -----------------------------------------------------------------
    @property
    def checkpoint(self) -> str:
        value = self._str("compress/checkpoint", "B")
        return value if value in CHECKPOINTS else "B"

    @checkpoint.setter
    def checkpoint(self, value: str) -> None:
        if value in CHECKPOINTS:
            self._set("compress/checkpoint", value)

    @property
    def image_mode(self) -> str:
        value = self._str("compress/images", "lossy")
        return value if value in IMAGE_MODES else "lossy"

    @image_mode.setter
    def image_mode(self, value: str) -> None:
        if value in IMAGE_MODES:
            self._set("compress/images", value)

    @property
    def target(self) -> tuple[str, str, float]:
        """(mode, size text, minimum MS-SSIM) of the compress target."""
        mode = self._str("compress/target", "checkpoint")
        try:
            quality = float(self._qs.value("compress/min_quality", 0.99))
        except (TypeError, ValueError):
            quality = 0.99
        return (
            mode if mode in TARGET_MODES else "checkpoint",
            self._str("compress/target_size", "100 MB"),
            quality if 0.9 <= quality <= 1.0 else 0.99,
        )

    @target.setter
    def target(self, value: tuple[str, str, float]) -> None:
        mode, size_text, quality = value
        if mode in TARGET_MODES:
            self._set("compress/target", mode)
            self._set("compress/target_size", str(size_text))
            self._set("compress/min_quality", float(quality))

    @property
    def precision(self) -> str:
        value = self._str("compress/precision", "auto")
        return value if value in PRECISIONS else "auto"

    @precision.setter
    def precision(self, value: str) -> None:
        if value in PRECISIONS:
            self._set("compress/precision", value)

    @property
    def threads(self) -> int:
        """Workers of a codec job (images coded or decoded at once); 0: one per core."""
        try:
            value = int(self._qs.value("compress/threads", 0))
        except (TypeError, ValueError):
            return 0
        return value if 0 <= value <= MAX_THREADS else 0

    @threads.setter
    def threads(self, value: int) -> None:
        if 0 <= int(value) <= MAX_THREADS:
            self._set("compress/threads", int(value))

    @property
    def archive_folder(self) -> Path | None:
        """Where new archives are suggested; None: beside the first input."""
        return self._folder("folders/archives_go")

    @archive_folder.setter
    def archive_folder(self, path: Path | None) -> None:
        self._set("folders/archives_go", str(path) if path is not None else "")

    @property
    def strip_location(self) -> bool:
        """Whether "Remove location" starts checked."""
        value = self._qs.value("compress/strip_location", False)
        return value is True or (isinstance(value, str) and value.lower() == "true")

    @strip_location.setter
    def strip_location(self, value: bool) -> None:
        self._set("compress/strip_location", bool(value))

    @property
    def compare_mode(self) -> str:
        value = self._str("preview/mode", "split")
        return value if value in COMPARE_MODES else "split"

    @compare_mode.setter
    def compare_mode(self, value: str) -> None:
        if value in COMPARE_MODES:
            self._set("preview/mode", value)

    # window ------------------------------------------------------------------
    def _bytes(self, key: str) -> QByteArray | None:
        value = self._qs.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._set("window/state", value)

    @property
    def splitter(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    @splitter.setter
    def splitter(self, value: QByteArray) -> None:
        self._set("window/splitter", value)

    def sync(self) -> None:
        self._qs.sync()
