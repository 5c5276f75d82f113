"""The Settings dialog: what new archives start with, the networks' precision and threads, where archives go.

It edits a ``Settings`` (the INI file in the user's config folder, as before); the window applies the
values when the dialog is accepted. Threads take effect from the next job: ``LATENTZIP_THREADS`` is
read when a job starts, as its number of workers (``CompressOptions.threads`` when a job names none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..codec.api.errors import LatentzipError
from ..codec.engine import CHECKPOINTS, default_registry
from ..codec.runtime.model_set import THREADS_ENV
from .format import CHECKPOINT_WORDS
from .settings import MAX_THREADS, Settings

IMAGE_MODE_NAMES = {"lossy": "Re-code images (smallest)", "lossless": "Keep originals exactly"}
PRECISION_NAMES = {
    "auto": "Automatic (each checkpoint's measured default)",
    "fp32": "Full precision (fp32)",
    "int8": "Compressed networks (int8)",
}


@dataclass(frozen=True)
class SettingsValues:
    checkpoint: str
    image_mode: str
    precision: str
    threads: int  # 0: every core
    archive_folder: Path | None  # None: beside the first input
    strip_location: bool


def read_values(settings: Settings) -> SettingsValues:
    return SettingsValues(
        settings.checkpoint,
        settings.image_mode,
        settings.precision,
        settings.threads,
        settings.archive_folder,
        settings.strip_location,
    )


def store_values(settings: Settings, values: SettingsValues) -> None:
    settings.checkpoint = values.checkpoint
    settings.image_mode = values.image_mode
    settings.precision = values.precision
    settings.threads = values.threads
    settings.archive_folder = values.archive_folder
    settings.strip_location = values.strip_location
    settings.sync()


_set_by_us = False


def apply_threads(threads: int) -> None:
    """Jobs started from now on run ``threads`` workers (0: one per core, or what the environment says)."""
    global _set_by_us
    if threads > 0:
        os.environ[THREADS_ENV] = str(threads)
        _set_by_us = True
    elif _set_by_us:
        os.environ.pop(THREADS_ENV, None)
        _set_by_us = False


def default_set_has_int8() -> bool:
    """Whether the default model set has int8 networks (``--precision int8`` falls back to fp32 otherwise)."""
    try:
        return default_registry().get().has_int8("decoder")
    except LatentzipError:  # no model set: the window says so elsewhere
        return False


class SettingsDialog(QDialog):
    def __init__(
        self, values: SettingsValues, parent: QWidget | None = None, int8_available: bool | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Latentzip settings")
        if int8_available is None:
            int8_available = default_set_has_int8()
        form = QFormLayout()
        self.checkpoint = QComboBox(self)
        for name in CHECKPOINTS:
            self.checkpoint.addItem(f"{name}: {CHECKPOINT_WORDS[name]}", name)
        form.addRow("Default quality:", self.checkpoint)
        self.image_mode = QComboBox(self)
        for key, text in IMAGE_MODE_NAMES.items():
            self.image_mode.addItem(text, key)
        form.addRow("Images:", self.image_mode)
        self.precision = QComboBox(self)
        for key, text in PRECISION_NAMES.items():
            self.precision.addItem(text, key)
        if not int8_available:  # the choice stays (it is stored, and other sets have int8), said plainly
            index = self.precision.findData("int8")
            self.precision.setItemText(index, f"{PRECISION_NAMES['int8']}: not in the default model set, runs fp32")
        form.addRow("Network precision:", self.precision)
        self.threads = QSpinBox(self)
        self.threads.setRange(0, MAX_THREADS)
        self.threads.setSpecialValueText(f"Automatic (all {os.cpu_count() or 1} cores)")
        self.threads.setToolTip(
            "Images coded or decoded at once: fewer leave cores to other programs. The "
            "archives are the same either way; applies from the next job."
        )
        form.addRow("Threads:", self.threads)
        self.beside = QRadioButton("Beside the first input", self)
        self.in_folder = QRadioButton("In this folder:", self)
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setPlaceholderText("a folder for new archives")
        choose = QPushButton("Choose…", self)
        choose.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.in_folder)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(choose)
        where = QVBoxLayout()
        where.addWidget(self.beside)
        where.addLayout(folder_row)
        form.addRow("New archives go:", where)
        self.strip_location = QCheckBox("Remove the location (GPS) from archived photos", self)
        form.addRow("By default:", self.strip_location)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.folder_edit.textEdited.connect(lambda text: self.in_folder.setChecked(True))
        self.set_values(values)

    def set_values(self, values: SettingsValues) -> None:
        self.checkpoint.setCurrentIndex(max(self.checkpoint.findData(values.checkpoint), 0))
        self.image_mode.setCurrentIndex(max(self.image_mode.findData(values.image_mode), 0))
        self.precision.setCurrentIndex(max(self.precision.findData(values.precision), 0))
        self.threads.setValue(values.threads)
        self.folder_edit.setText(str(values.archive_folder) if values.archive_folder else "")
        (self.in_folder if values.archive_folder else self.beside).setChecked(True)
        self.strip_location.setChecked(values.strip_location)

    def values(self) -> SettingsValues:
        """The chosen values; a folder that does not exist means "beside the first input"."""
        text = self.folder_edit.text().strip()
        folder = Path(text).expanduser() if self.in_folder.isChecked() and text else None
        return SettingsValues(
            self.checkpoint.currentData(),
            self.image_mode.currentData(),
            self.precision.currentData(),
            self.threads.value(),
            folder if folder is not None and folder.is_dir() else None,
            self.strip_location.isChecked(),
        )

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Where new archives go", self.folder_edit.text() or str(Path.home())
        )
        if path:
            self.folder_edit.setText(path)
            self.in_folder.setChecked(True)
