"""The input side of the Compress page: an empty-state drop zone, then the input tree.

Both pages accept folders and files dragged from the file manager; a dropped
``.ltz`` is handed on as an archive to open instead. The buttons are tool
buttons bound to the window's actions, so menus, shortcuts and buttons share
one enabled state.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QDragEnterEvent, QDropEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedLayout,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from .format import count_text, human_size
from .input_list import ARCHIVE_SUFFIX, InputModel


def tool_button(action: QAction, parent: QWidget, text_beside: bool = True) -> QToolButton:
    button = QToolButton(parent)
    button.setDefaultAction(action)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    button.setToolButtonStyle(
        Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text_beside else Qt.ToolButtonStyle.ToolButtonTextOnly
    )
    return button


def paths_from_mime(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class _EmptyState(QWidget):
    """A dashed drop target with the three ways in."""

    def __init__(self, actions: list[QAction], parent: QWidget) -> None:
        super().__init__(parent)
        self.highlight = False
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        title = QLabel("<h2>Drop folders or photos here</h2>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Latentzip packs them into one <b>.ltz</b> archive, photos coded with a learned "
            "image codec, everything else kept byte-exact. Drop an <b>.ltz</b> to open it.",
            self,
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(14)
        row = QHBoxLayout()
        row.addStretch(1)
        self.buttons = [tool_button(a, self) for a in actions]
        for b in self.buttons:
            b.setMinimumHeight(34)
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(3)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        colour = pal.color(pal.ColorRole.Highlight) if self.highlight else pal.color(pal.ColorRole.Mid)
        fill = QColor(colour)
        fill.setAlpha(40 if self.highlight else 12)
        pen = QPen(colour, 2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(self.rect()).adjusted(8, 8, -8, -8), 14, 14)


class InputPanel(QWidget):
    """Drop zone + input tree + summary. Emits what was dropped; the window decides."""

    paths_dropped = Signal(list)  # list[Path], no archives
    archive_dropped = Signal(object)  # Path

    def __init__(
        self,
        model: InputModel,
        add_folder: QAction,
        add_files: QAction,
        samples: QAction,
        remove: QAction,
        clear: QAction,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.model = model
        self._stack = QStackedLayout()
        self.empty = _EmptyState([add_folder, add_files, samples], self)
        self._stack.addWidget(self.empty)

        page = QWidget(self)
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.buttons = [tool_button(a, page) for a in (add_folder, add_files, remove, clear)]
        for b in self.buttons:
            bar.addWidget(b)
        bar.addStretch(1)
        v.addLayout(bar)
        self.tree = QTreeView(page)
        self.tree.setModel(model)
        self.tree.setAccessibleName("Inputs to compress")
        self.tree.setToolTip("Folders and files to compress; select an image to preview it. Del removes an input.")
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(0)  # size columns from the visible rows only (10,000-file folders)
        v.addWidget(self.tree, 1)
        self.summary = QLabel(page)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.summary)
        self._stack.addWidget(page)
        self.setLayout(self._stack)
        model.rowsInserted.connect(self._refresh)
        model.rowsRemoved.connect(self._refresh)
        model.modelReset.connect(self._refresh)
        model.dataChanged.connect(self._refresh)
        self._refresh()

    def _refresh(self, *args) -> None:
        has_inputs = bool(self.model.entries)
        self._stack.setCurrentIndex(1 if has_inputs else 0)
        images, others, size = self.model.totals()
        n = len(self.model.entries)
        scanning = " · scanning…" if self.model.scanning else ""
        self.summary.setText(
            f"{n} input{'s' if n != 1 else ''} · {count_text(images + others, self.model.folders())}"
            f" ({images} image{'s' if images != 1 else ''}, {others} other) · "
            f"{human_size(size)}{scanning}"
        )

    def selected_rows(self) -> list[int]:
        rows = {self.model.top_row(i) for i in self.tree.selectionModel().selectedRows()}
        return sorted(rows)

    # drag and drop -------------------------------------------------------------
    def _set_highlight(self, on: bool) -> None:
        self.empty.highlight = on
        self.empty.update()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
            self._set_highlight(True)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_highlight(False)
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()

    def handle_drop(self, mime: QMimeData) -> bool:
        """Split dropped paths into archives (opened) and inputs (added); the drop slot's body."""
        paths = paths_from_mime(mime)
        archives = [p for p in paths if p.suffix.lower() == ARCHIVE_SUFFIX and p.is_file()]
        inputs = [p for p in paths if p not in archives]
        if inputs:
            self.paths_dropped.emit(inputs)
        if archives:
            self.archive_dropped.emit(archives[0])
        return bool(paths)
