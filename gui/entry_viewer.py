"""A window that shows one archive entry decoded, with the figures its header stores.

The decoding is the engine's (``engine.entry_bytes``, on a worker); this window
only shows the picture (fitted to the window, or at 100 %) and, for a coded
image, its checkpoint, bpp and MS-SSIM as stored in its header.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QCheckBox, QDialog, QLabel, QScrollArea, QVBoxLayout, QWidget

from ..codec.container import EntryKind, EntryRecord
from .format import human_size


def entry_figures(record: EntryRecord) -> str:
    """What the entry's header says about it, in words."""
    e = record.extra
    size = f"{e.get('width')}×{e.get('height')}" if e.get("width") else ""
    if record.kind == EntryKind.IMAGE:
        parts = [size, f"coded at checkpoint {e.get('checkpoint', '?')}"]
        if isinstance(e.get("bpp"), (int, float)):
            parts.append(f"{e['bpp']:.3f} bpp")
        if isinstance(e.get("ms_ssim"), (int, float)):
            parts.append(f"MS-SSIM {e['ms_ssim']:.4f}")
        parts.append(f"{human_size(record.payload_len)} in the archive, {human_size(record.size)} original")
        return " · ".join(p for p in parts if p) + " (as stored in its header)"
    if record.kind == EntryKind.JPEG_REPACK:
        return " · ".join(
            p
            for p in (
                size,
                "JPEG kept exactly (re-packed)",
                f"{human_size(record.payload_len)} in the archive, {human_size(record.size)} original",
            )
            if p
        )
    return f"stored exactly · {human_size(record.size)}"


class EntryViewer(QDialog):
    """Non-modal: several entries can be looked at side by side."""

    def __init__(self, record: EntryRecord, image: QImage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record = record
        self.setWindowTitle(record.path)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._pixmap = QPixmap.fromImage(image)
        v = QVBoxLayout(self)
        self.figures = QLabel(entry_figures(record), self)
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures.setWordWrap(True)
        v.addWidget(self.figures)
        self.fit = QCheckBox("Fit to window", self)
        self.fit.setChecked(True)
        self.fit.toggled.connect(self._show)
        v.addWidget(self.fit)
        self.scroll = QScrollArea(self)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture = QLabel(self.scroll)
        self.picture.setAccessibleName(f"Decoded image {record.path}")
        self.scroll.setWidget(self.picture)
        v.addWidget(self.scroll, 1)
        self.resize(900, 680)
        self._show()

    def _show(self, *args) -> None:
        if self.fit.isChecked():
            area = self.scroll.viewport().size()
            shown = self._pixmap.scaled(
                area, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        else:
            shown = self._pixmap
        self.picture.setPixmap(shown)
        self.picture.resize(shown.size())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.fit.isChecked():
            self._show()
