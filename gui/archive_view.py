"""The Archive page: an opened .ltz's entries as a tree of folders (like 7-Zip's), with a filter.

The model is ``archive_tree.ArchiveModel``. Double-click (or Enter) on an image
asks to view it decoded; a context menu offers the window's actions (extract
selected, extract all, test) beside their shortcuts; entries can be dragged out
to a file manager (extracted to a temporary folder when dropped). An archive
whose index cannot be read shows what a scan recovered, with "Recover what can
be read".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStackedLayout,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..codec.container import EntryKind, EntryRecord
from ..codec.images.probe import PROBED_EXTENSIONS
from .archive_tree import COLUMNS, PATH_ROLE, SORT_ROLE, ArchiveModel
from .drop_zone import paths_from_mime, tool_button
from .format import count_text, human_size


def viewable(record: EntryRecord | None) -> bool:
    """Whether an entry is a picture the viewer can show (coded, re-packed, or an image file stored as is)."""
    if record is None or record.kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
        return False
    if record.kind in (EntryKind.IMAGE, EntryKind.JPEG_REPACK):
        return True
    return Path(record.path).suffix.lower() in PROBED_EXTENSIONS


class ArchiveTree(QTreeView):
    """The entries' tree: Enter views the current image, the context menu holds the archive's actions."""

    view_requested = Signal(object)  # EntryRecord

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.menu_actions: list[QAction | None] = []
        self.doubleClicked.connect(self._activated)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)

    def record_at(self, index: QModelIndex) -> EntryRecord | None:
        model = self.model()
        if not index.isValid() or not isinstance(model, QSortFilterProxyModel):
            return None
        source = model.sourceModel()
        return source.node(model.mapToSource(index)).record if isinstance(source, ArchiveModel) else None

    def _activated(self, index: QModelIndex) -> None:
        record = self.record_at(index)
        if viewable(record):
            self.view_requested.emit(record)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and viewable(self.record_at(self.currentIndex())):
            self._activated(self.currentIndex())
            return
        super().keyPressEvent(event)

    def build_menu(self) -> QMenu:
        """The context menu: View (for an image), then the archive's actions."""
        menu = QMenu(self)
        record = self.record_at(self.currentIndex())
        if viewable(record):
            view = menu.addAction("View")
            view.setShortcut("Return")
            view.triggered.connect(lambda: self.view_requested.emit(record))
            menu.addSeparator()
        for action in self.menu_actions:
            menu.addSeparator() if action is None else menu.addAction(action)
        return menu

    def _context_menu(self, pos) -> None:
        self.build_menu().popup(self.viewport().mapToGlobal(pos))


class ArchivePage(QWidget):
    archive_dropped = Signal(object)
    recover_requested = Signal()

    def __init__(
        self,
        model: ArchiveModel,
        open_action: QAction,
        actions: list[QAction],
        parent: QWidget | None = None,
        menu_actions: list[QAction | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.model = model
        self.archive: Path | None = None
        self._stack = QStackedLayout(self)

        empty = QWidget(self)
        ev = QVBoxLayout(empty)
        ev.addStretch(1)
        msg = QLabel(
            "<h2>No archive open</h2>Open an <b>.ltz</b> archive (Ctrl+O) or drop one here "
            "to see its contents, extract them or test the archive.",
            empty,
        )
        msg.setAlignment(Qt.AlignmentFlag.AlignCenter)
        msg.setWordWrap(True)
        ev.addWidget(msg)
        row = QHBoxLayout()
        row.addStretch(1)
        self.open_button = tool_button(open_action, empty)
        self.open_button.setMinimumHeight(34)
        row.addWidget(self.open_button)
        row.addStretch(1)
        ev.addLayout(row)
        ev.addStretch(2)
        self._stack.addWidget(empty)

        page = QWidget(self)
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        self.header = QLabel(page)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setWordWrap(True)
        v.addWidget(self.header)
        self.recover_button = QPushButton("Recover what can be read…", page)
        self.recover_button.setToolTip(
            "Extract every entry a scan of the damaged archive can still read, and list what is lost"
        )
        self.recover_button.clicked.connect(self.recover_requested)
        self.recover_button.setVisible(False)
        v.addWidget(self.recover_button, 0, Qt.AlignmentFlag.AlignLeft)
        bar = QHBoxLayout()
        self.buttons = [tool_button(a, page) for a in actions]
        for b in self.buttons:
            bar.addWidget(b)
        bar.addStretch(1)
        self.filter = QLineEdit(page)
        self.filter.setPlaceholderText("Filter by name…")
        self.filter.setAccessibleName("Filter entries by name")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMaximumWidth(260)
        bar.addWidget(self.filter)
        v.addLayout(bar)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterRole(PATH_ROLE)  # a folder's entries match by their path: the folder shows them
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setRecursiveFilteringEnabled(True)  # a match deep down keeps its folders
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter.textChanged.connect(self._filter_changed)
        self.tree = ArchiveTree(page)
        self.table = self.tree  # the name earlier code and tests use
        self.tree.menu_actions = menu_actions if menu_actions is not None else list(actions)
        self.tree.setModel(self.proxy)
        self.tree.setAccessibleName("Archive contents")
        self.tree.setToolTip(
            "Double-click or Enter: view an image · right-click: extract or test · "
            "drag entries to a folder to extract them"
        )
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)  # archives of 10,000 files stay responsive
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(0)  # columns sized from the visible rows only
        v.addWidget(self.tree, 1)
        self._stack.addWidget(page)
        model.modelReset.connect(self._expand_top)
        self.show_archive(None)

    def _expand_top(self) -> None:
        """One top folder (the usual archive of one folder): open it, as 7-Zip opens the archive's root."""
        if self.proxy.rowCount() == 1:
            self.tree.expand(self.proxy.index(0, 0))

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        if text:
            self.tree.expandAll()

    def show_archive(self, archive: Path | None) -> None:
        self.archive = archive
        self._stack.setCurrentIndex(0 if archive is None else 1)
        self.filter.clear()
        self.recover_button.setVisible(archive is not None and self.model.salvaged)
        self.refresh_header()

    def refresh_header(self) -> None:
        if self.archive is None:
            self.header.setText("")
            return
        files, folders, original, _ = self.model.totals()
        size = self.archive.stat().st_size if self.archive.exists() else 0
        status = ""
        if self.model.tested:
            bad = len(self.model.damaged)
            status = f" · <span style='color:#c0392b'><b>{bad} damaged</b></span>" if bad else " · tested: all OK"
        self.header.setText(
            f"<b>{self.archive.name}</b> — {self.archive.parent}<br>{count_text(files, folders)} · "
            f"{human_size(original)} original · archive {human_size(size)}{status}"
        )

    def show_salvage_header(self, lost: list[str]) -> None:
        """The header of a damaged archive whose entries come from a scan."""
        if self.archive is None:
            return
        files, folders, original, _ = self.model.totals()
        damage = f"{len(lost)} damaged stretch{'es' if len(lost) != 1 else ''} cannot be read"
        self.header.setText(
            f"<b>{self.archive.name}</b> — <span style='color:#c0392b'>the archive's index cannot be read</span>"
            f"<br>A scan found {count_text(files, folders)} ({human_size(original)}) that can be recovered; "
            f"{damage}."
        )

    def selected_indexes(self) -> list[QModelIndex]:
        """The selected rows, as indexes of the model (not the filter)."""
        return [self.proxy.mapToSource(i) for i in self.tree.selectionModel().selectedRows()]

    def selected_rows(self) -> list[QModelIndex]:
        return self.selected_indexes()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.source() is None and any(p.suffix.lower() == ".ltz" for p in paths_from_mime(event.mimeData())):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        archives = [p for p in paths_from_mime(event.mimeData()) if p.suffix.lower() == ".ltz"]
        if archives:
            event.acceptProposedAction()
            self.archive_dropped.emit(archives[0])
