"""The preview side of the Compress page: compare view, view controls, figures per checkpoint.

The figures table (bpp, MS-SSIM, PSNR, coded size at A, B and C) doubles as a
checkpoint picker: choosing a row picks that checkpoint for the "after" side
and for the archive (the window keeps it in sync with the A/B/C selector).

A large photo (``show_large``) is shown whole at once, downscaled, and the
region in view is coded tile by tile by a ``TileService`` at the chosen
checkpoint: each move of the view (settled for ``REGION_DELAY_MS``) asks for
the tiles in view and cancels those no longer wanted. The figures then name
the region they are for; "Whole image" asks for the whole photo's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
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
from .tile_service import ORIGINAL, TileService
from .worker import JobError

FIGURE_COLUMNS = ("Checkpoint", "bpp", "MS-SSIM", "PSNR", "Coded size")
REGION_DELAY_MS = 200  # the view must rest this long before its tiles are asked for


def region_words(region: tuple[int, int, int, int], full_size: tuple[int, int]) -> str:
    left, top, w, h = region
    if (w, h) == tuple(full_size):
        return f"the whole image, {w}×{h}"
    return f"the {w}×{h} region at ({left}, {top})–({left + w}, {top + h})"


class PreviewPanel(QWidget):
    checkpoint_chosen = Signal(str)

    def __init__(self, view_actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: ImageFile | None = None
        self._pixels: PreviewPixels | None = None
        self._figures: PreviewFigures | None = None
        self._checkpoint = "B"
        self._image_mode = "lossy"
        self._tiles: TileService | None = None
        self._large = False  # the image is shown whole, downscaled, and coded region by region
        self._region: tuple[int, int, int, int] | None = None  # what the region figures are for
        self._wanted: tuple[int, int, int, int] | None = None  # the region whose tiles were last asked for
        self._region_timer = QTimer(self, singleShot=True, interval=REGION_DELAY_MS, timeout=self.request_region)
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
        self.whole_button = QPushButton("Whole image", self)
        self.whole_button.setToolTip("Code the whole photo at the chosen checkpoint and show its figures")
        self.whole_button.setVisible(False)
        self.whole_button.clicked.connect(self.request_whole)
        bar.addWidget(self.whole_button)
        self.zoom_label = QLabel("", self)
        self.zoom_label.setToolTip("Zoom: image pixels per screen pixel")
        bar.addWidget(self.zoom_label)
        v.addLayout(bar)
        self.view.zoom_changed.connect(self.zoom_label.setText)
        self.view.view_changed.connect(self._view_moved)

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
        self._leave_large()
        self._image, self._pixels, self._figures = None, None, None
        self.title.setText("<b>Preview</b>")
        self.region_note.setText("")
        self.view.set_images(None, None)
        self.view.set_message(message)
        self._fill_figures(None)

    def show_loading(self, image: ImageFile) -> None:
        self._leave_large()
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
        self._leave_large()
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
        self._leave_large()
        self._image, self._pixels, self._figures = image, None, None
        self.title.setText(f"<b>{image.name}</b>")
        self.view.set_images(None, None)
        self.view.set_message(f"No preview for this file: {message}")
        self._fill_figures(None)

    def set_checkpoint(self, name: str) -> None:
        if name not in CHECKPOINTS:
            return
        changed = name != self._checkpoint
        self._checkpoint = name
        row = CHECKPOINTS.index(name)
        if self.table.currentRow() != row:
            self.table.selectRow(row)
        if self._pixels is not None:
            self.view.set_after(self._after())
        if self._large and changed:
            self._show_cached_after_tiles()
            self.request_region()
        self._update_labels()

    def set_image_mode(self, mode: str) -> None:
        """ "lossless" (keep originals exactly): the "after" side is the original itself and the note says
        what the mode stores, in place of the figures table (what re-coding would do)."""
        changed = mode != self._image_mode
        self._image_mode = mode
        self.table.setVisible(mode != "lossless")
        if self._pixels is not None:
            self.view.set_after(self._after())
        if self._large and changed:
            self.view.set_after(self.view.before_image(), dim=mode != "lossless")
            self.whole_button.setEnabled(mode != "lossless" and self.view.has_image())
            self._show_cached_after_tiles()
            self.request_region()
        self._update_labels()

    # large photos ----------------------------------------------------------------
    def attach_tiles(self, service: TileService) -> None:
        """The service that codes large photos region by region (the window's, on its own worker)."""
        self._tiles = service
        service.overview_ready.connect(self._overview_ready)
        service.tile_ready.connect(self._tile_ready)
        service.figures_ready.connect(self._region_figures_ready)
        service.failed.connect(self._large_failed)

    @property
    def large(self) -> bool:
        return self._large

    @property
    def region(self) -> tuple[int, int, int, int] | None:
        """The region the shown figures are for (None until they come)."""
        return self._region

    def show_large(self, image: ImageFile, precision: str) -> None:
        """Show ``image`` whole (downscaled) as soon as it is decoded; code the region in view on demand."""
        if self._tiles is None:
            raise RuntimeError("preview_panel: no tile service attached for large photos")
        self._image, self._pixels, self._figures, self._region = image, None, None, None
        self._large = True
        self.title.setText(f"<b>{image.name}</b>")
        self.region_note.setText("Large photo: opening it whole…")
        self.view.set_images(None, None)
        self.view.set_message("Opening the photo…")
        self.whole_button.setVisible(True)
        self.whole_button.setEnabled(False)
        self._fill_figures(None)
        self._update_labels()
        self._tiles.open(image.path, precision)

    def request_region(self) -> None:
        """Ask for the tiles of the region in view (cancelling the ones out of view)."""
        self._region_timer.stop()
        if not self._large or self._tiles is None or not self.view.has_image():
            return
        checkpoint = None if self._image_mode == "lossless" else self._checkpoint
        self._wanted = self._tiles.request_region(self.view.view_region(), checkpoint)
        if checkpoint is not None and not self._has_region_figures(checkpoint):
            self.view.set_message(f"Coding the region in view at {checkpoint}…")

    def request_whole(self) -> None:
        if self._large and self._tiles is not None and self.view.has_image():
            self._region_timer.stop()
            self._tiles.request_whole(self._checkpoint)
            self.view.set_message(f"Coding the whole photo at {self._checkpoint}…")
            self.region_note.setText(self._large_note("computing the whole image's figures…"))

    def _leave_large(self) -> None:
        self._region_timer.stop()
        if self._large and self._tiles is not None:
            self._tiles.close()
        self._large, self._region = False, None
        self.whole_button.setVisible(False)

    def _is_current(self, path: Path) -> bool:
        return self._large and self._image is not None and self._image.path == Path(path)

    def _overview_ready(self, path: Path, overview: QImage, full_size: tuple[int, int]) -> None:
        if not self._is_current(path):
            return
        lossy = self._image_mode != "lossless"
        self.view.set_images(overview, overview, full_size=QSize(*full_size), dim_after=lossy)
        self.view.set_message("")
        self.whole_button.setEnabled(lossy)
        self.region_note.setText(self._large_note("zoom or pan anywhere; the region in view is coded on demand."))
        for box, tile in self._tiles.cached_tiles(ORIGINAL).items():
            self.view.set_tile("before", box, tile)
        self._show_cached_after_tiles()
        self.request_region()

    def _large_note(self, tail: str) -> str:
        size = self.view.image_size()
        w, h = size.width(), size.height()
        return f"Large photo, {w}×{h}, shown whole: {tail}"

    def _show_cached_after_tiles(self) -> None:
        self.view.clear_tiles("after")
        if self._tiles is None:
            return
        kind = ORIGINAL if self._image_mode == "lossless" else self._checkpoint
        for box, tile in self._tiles.cached_tiles(kind).items():
            self.view.set_tile("after", box, tile)

    def _tile_ready(self, path: Path, kind: str, box: tuple, image: QImage) -> None:
        if not self._is_current(path):
            return
        if kind == ORIGINAL:
            self.view.set_tile("before", box, image)
        if kind == (ORIGINAL if self._image_mode == "lossless" else self._checkpoint):
            self.view.set_tile("after", box, image)

    def _has_region_figures(self, checkpoint: str) -> bool:
        fig = self._figures
        return fig is not None and tuple(fig.region) == self._wanted and checkpoint in fig.results

    def _region_figures_ready(self, path: Path, figures: PreviewFigures, whole: bool) -> None:
        if not self._is_current(path):
            return
        if self._figures is not None and tuple(self._figures.region) == tuple(figures.region):
            figures = PreviewFigures(figures.region, figures.full_size, {**self._figures.results, **figures.results})
        self._figures, self._region = figures, tuple(figures.region)
        self.view.set_message("")
        if whole and self._tiles is not None:  # its tiles are coded now: show those in view
            self._tiles.request_region(self.view.view_region(), self._checkpoint, with_figures=False)
        self.region_note.setText(self._large_note(f"figures for {region_words(figures.region, figures.full_size)}."))
        self._fill_figures(figures)
        self._update_labels()

    def _large_failed(self, path: Path, error: JobError) -> None:
        if self._is_current(path):
            self.view.set_message(f"No preview for this file: {error.message}")

    def _view_moved(self) -> None:
        if self._large:
            self._region_timer.start()

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
