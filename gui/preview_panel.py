"""The preview side of the Compress page: compare view, view controls, figures per checkpoint.

The figures table (bpp, MS-SSIM, PSNR, coded size at A, B and C) doubles as a
checkpoint picker: choosing a row picks that checkpoint for the "after" side
and for the archive (the window keeps it in sync with the A/B/C selector).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..codec.engine import CHECKPOINTS, estimated_lossless_size
from .analysis import PreviewFigures, PreviewPixels
from .compare_view import CompareView
from .drop_zone import tool_button
from .format import CHECKPOINT_WORDS, human_size
from .input_list import ImageFile

FIGURE_COLUMNS = ("Checkpoint", "bpp", "MS-SSIM", "PSNR", "Coded size")


class PreviewPanel(QWidget):
    checkpoint_chosen = Signal(str)

    def __init__(self, view_actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: ImageFile | None = None
        self._pixels: PreviewPixels | None = None
        self._figures: PreviewFigures | None = None
        self._checkpoint = "B"
        self._image_mode = "lossy"
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("<b>Preview</b>", self)
        self.region_note = QLabel("", self)
        self.region_note.setWordWrap(True)
        v.addWidget(self.title)
        v.addWidget(self.region_note)
        self.view = CompareView(self)
        v.addWidget(self.view, 1)

        bar = QHBoxLayout()
        self.view_buttons = [tool_button(a, self, text_beside=False) for a in view_actions]
        for b in self.view_buttons:
            bar.addWidget(b)
        bar.addStretch(1)
        self.zoom_label = QLabel("", self)
        self.zoom_label.setToolTip("Zoom: image pixels per screen pixel")
        bar.addWidget(self.zoom_label)
        v.addLayout(bar)
        self.view.zoom_changed.connect(self.zoom_label.setText)

        self.table = QTableWidget(len(CHECKPOINTS), len(FIGURE_COLUMNS), self)
        self.table.setAccessibleName("Figures per checkpoint")
        self.table.setToolTip(
            "bpp, MS-SSIM and PSNR of the selected image at each checkpoint; "
            "choose a row to compare and compress at that checkpoint"
        )
        self.table.setHorizontalHeaderLabels(FIGURE_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setTabKeyNavigation(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for row, name in enumerate(CHECKPOINTS):
            self.table.setItem(row, 0, QTableWidgetItem(f"{name}: {CHECKPOINT_WORDS[name]}"))
            for col in range(1, len(FIGURE_COLUMNS)):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        height = (
            self.table.horizontalHeader().sizeHint().height()
            + 3 * self.table.rowHeight(0)
            + 2 * self.table.frameWidth()
        )
        self.table.setFixedHeight(height)
        self.table.itemSelectionChanged.connect(self._row_chosen)
        v.addWidget(self.table)
        # "Keep originals exactly": what the mode stores, in the table's place (re-coding figures do not apply)
        self.mode_note = QLabel("", self)
        self.mode_note.setWordWrap(True)
        self.mode_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.mode_note.setFrameShape(QLabel.Shape.StyledPanel)
        self.mode_note.setMargin(8)
        self.mode_note.setFixedHeight(height)
        self.mode_note.setVisible(False)
        v.addWidget(self.mode_note)
        self.clear()

    # state ---------------------------------------------------------------------
    def clear(self, message: str = "Select an image in the list to compare it before and after compression") -> None:
        self._image, self._pixels, self._figures = None, None, None
        self.title.setText("<b>Preview</b>")
        self.region_note.setText("")
        self.view.set_images(None, None)
        self.view.set_message(message)
        self._fill_figures(None)

    def show_loading(self, image: ImageFile) -> None:
        keep = self._image is not None and self._image.path == image.path
        self._image = image
        self.title.setText(f"<b>{image.name}</b>")
        if not keep:
            self._pixels, self._figures = None, None
            self.view.set_images(None, None)
            self._fill_figures(None, pending=True)
            self.region_note.setText("")
        self.view.set_message("Coding the image at A, B and C…")
        self._update_labels()

    def show_result(self, image: ImageFile, figures: PreviewFigures, pixels: PreviewPixels) -> None:
        same = self._image is not None and self._image.path == image.path and self._pixels is not None
        self._image, self._figures, self._pixels = image, figures, pixels
        self.title.setText(f"<b>{image.name}</b>")
        left, top, w, h = figures.region
        fw, fh = figures.full_size
        if figures.cropped:
            self.region_note.setText(
                f"Large photo: previewed on the centre {w}×{h} region of {fw}×{fh} (figures are for that region)."
            )
        else:
            self.region_note.setText(f"{fw}×{fh}, whole image.")
        self.view.set_message("")
        self.view.set_images(pixels.before, self._after(), keep_view=same)
        self._fill_figures(figures)
        self._update_labels()

    def show_error(self, image: ImageFile, message: str) -> None:
        self._image, self._pixels, self._figures = image, None, None
        self.title.setText(f"<b>{image.name}</b>")
        self.view.set_images(None, None)
        self.view.set_message(f"No preview for this file: {message}")
        self._fill_figures(None)

    def set_checkpoint(self, name: str) -> None:
        if name not in CHECKPOINTS:
            return
        self._checkpoint = name
        row = CHECKPOINTS.index(name)
        if self.table.currentRow() != row:
            self.table.selectRow(row)
        if self._pixels is not None:
            self.view.set_after(self._after())
        self._update_labels()

    def set_image_mode(self, mode: str) -> None:
        """ "lossless" (keep originals exactly): the "after" side is the original itself and the note says
        what the mode stores, in place of the figures table (what re-coding would do)."""
        self._image_mode = mode
        self.table.setVisible(mode != "lossless")
        if self._pixels is not None:
            self.view.set_after(self._after())
        self._update_labels()

    @property
    def image_mode(self) -> str:
        return self._image_mode

    @property
    def figures(self) -> PreviewFigures | None:
        return self._figures

    def figure_text(self, checkpoint: str, column: int) -> str:
        return self.table.item(CHECKPOINTS.index(checkpoint), column).text()

    # internals -----------------------------------------------------------------
    def _after(self):
        if self._pixels is None:
            return None
        if self._image_mode == "lossless":
            return self._pixels.before
        return self._pixels.after.get(self._checkpoint)

    def lossless_note(self) -> str:
        """What "Keep originals exactly" stores for the shown image (the engine's estimate)."""
        if self._image is None:
            return ""
        size = self._image.size
        kept = estimated_lossless_size(self._image.name, size)
        if kept < size:
            return (
                f"Kept exactly: the JPEG is re-packed losslessly, ≈ {human_size(size)} → {human_size(kept)} "
                f"(about {100 * (size - kept) / size:.0f} % smaller), extracted bit for bit."
            )
        return f"Kept exactly: stored byte for byte, {human_size(size)}, extracted bit for bit."

    def _update_labels(self) -> None:
        if self._image_mode == "lossless":
            self.view.set_labels("Original", "Kept exactly (identical)")
            self.mode_note.setText(self.lossless_note())
            self.mode_note.setVisible(True)
            return
        self.mode_note.setVisible(False)
        fig = self._figures.results.get(self._checkpoint) if self._figures else None
        after = f"{self._checkpoint} · {fig.bpp:.3f} bpp" if fig else f"{self._checkpoint}"
        self.view.set_labels("Original", after)

    def _fill_figures(self, figures: PreviewFigures | None, pending: bool = False) -> None:
        for row, name in enumerate(CHECKPOINTS):
            fig = figures.results.get(name) if figures else None
            if fig is None:
                texts = ["…" if pending else "–"] * 4
            else:
                texts = [
                    f"{fig.bpp:.3f}",
                    f"{fig.ms_ssim:.4f}" + ("" if fig.metric == "MS-SSIM" else " (SSIM)"),
                    f"{fig.psnr:.2f} dB",
                    human_size(fig.coded_bytes),
                ]
            for col, text in enumerate(texts, start=1):
                self.table.item(row, col).setText(text)

    def _row_chosen(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            name = CHECKPOINTS[rows[0].row()]
            if name != self._checkpoint:
                self.set_checkpoint(name)
            self.checkpoint_chosen.emit(name)
