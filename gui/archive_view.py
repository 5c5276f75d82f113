"""The Archive page: an opened .ltz's entries in a sortable, filterable table.

``ArchiveModel`` is a QAbstractTableModel over the engine's EntryRecords
(path, kind, original and stored size, bpp, checkpoint, and the test status);
it is only touched on the GUI thread (records are read by a worker and handed
over in the job's callback).
"""

from __future__ import annotations

import glob
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QStackedLayout,
                               QTableView, QVBoxLayout, QWidget)

from ..codec.container import EntryKind
from .drop_zone import paths_from_mime, tool_button
from .format import human_size

COLUMNS = ("Path", "Kind", "Original size", "Stored size", "bpp", "Checkpoint", "Status")
KIND_NAMES = {EntryKind.STORED: "stored", EntryKind.LZMA: "stored (LZMA)", EntryKind.IMAGE: "image (coded)",
              EntryKind.DIRECTORY: "folder", EntryKind.SYMLINK: "link",
              EntryKind.JPEG_REPACK: "JPEG (kept exactly)", EntryKind.DUPLICATE: "duplicate"}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class ArchiveModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.records: list = []
        self.damaged: dict[str, str] = {}
        self.tested = False

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def _values(self, r) -> tuple:
        image = r.kind == EntryKind.IMAGE
        bpp = r.extra.get("bpp") if image else None
        status = self.damaged.get(r.path)
        status_text = f"damaged: {status}" if status else ("OK" if self.tested else "")
        stored = r.payload_len if r.kind not in (EntryKind.DIRECTORY, EntryKind.SYMLINK) else 0
        return (r.path, KIND_NAMES.get(r.kind, str(r.kind)), r.size, stored,
                bpp, r.extra.get("checkpoint", "") if image else "", status_text)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.records[index.row()]
        col = index.column()
        values = self._values(r)
        folder = r.kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK)
        if role == Qt.ItemDataRole.DisplayRole:
            value = values[col]
            if col in (2, 3):
                return "" if folder else human_size(value)
            if col == 4:
                return f"{value:.3f}" if isinstance(value, (int, float)) else ""
            if col == 0 and r.kind == EntryKind.SYMLINK:
                return f"{r.path} → {r.link}"
            return value
        if role == SORT_ROLE:
            value = values[col]
            return -1.0 if value is None else value
        if role == Qt.ItemDataRole.ToolTipRole:
            if r.path in self.damaged:
                return f"{r.path}: {self.damaged[r.path]}"
            if r.kind == EntryKind.IMAGE:
                e = r.extra
                score = e.get("ms_ssim")
                return (f"{r.path}\n{e.get('width')}×{e.get('height')}, checkpoint {e.get('checkpoint')}"
                        + (f", MS-SSIM {score:.4f}" if isinstance(score, (int, float)) else ""))
            return r.path
        if role == Qt.ItemDataRole.ForegroundRole and r.path in self.damaged:
            return QBrush(QColor(200, 40, 40))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_records(self, records: list) -> None:
        self.beginResetModel()
        self.records = list(records)
        self.damaged = {}
        self.tested = False
        self.endResetModel()

    def set_test_result(self, damaged: list[tuple[str, str]]) -> None:
        self.damaged = dict(damaged)
        self.tested = True
        if self.records:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.records) - 1, len(COLUMNS) - 1))

    def totals(self) -> tuple[int, int, int]:
        files = [r for r in self.records if r.kind not in (EntryKind.DIRECTORY, EntryKind.SYMLINK)]
        return len(files), sum(r.size for r in files), sum(r.payload_len for r in files)

    def mark_damaged(self, damaged: list[tuple[str, str]]) -> None:
        """Entries found damaged by an extraction (the rest keep their status)."""
        self.damaged.update(dict(damaged))
        if self.records:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.records) - 1, len(COLUMNS) - 1))

    def records_for(self, rows: list[int]) -> list:
        """The entries of these rows, folders with everything under them."""
        chosen: dict[str, object] = {}
        for row in rows:
            rec = self.records[row]
            chosen[rec.path] = rec
            if rec.kind == EntryKind.DIRECTORY:
                prefix = rec.path.rstrip("/") + "/"
                chosen.update((r.path, r) for r in self.records if r.path.startswith(prefix))
        return [chosen[k] for k in sorted(chosen)]

    def patterns_for(self, rows: list[int]) -> tuple[str, ...]:
        """Engine patterns selecting exactly these entries (each path escaped, matched literally)."""
        return tuple(glob.escape(r.path) for r in self.records_for(rows))


class ArchivePage(QWidget):
    archive_dropped = Signal(object)

    def __init__(self, model: ArchiveModel, open_action: QAction, actions: list[QAction],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.model = model
        self.archive: Path | None = None
        self._stack = QStackedLayout(self)

        empty = QWidget(self)
        ev = QVBoxLayout(empty)
        ev.addStretch(1)
        msg = QLabel("<h2>No archive open</h2>Open an <b>.ltz</b> archive (Ctrl+O) or drop one here "
                     "to see its contents, extract them or test the archive.", empty)
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
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView(page)
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Archive contents")
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move inside
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        # uniform rows, columns sized from the visible rows only: archives of 10,000 files stay responsive
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(0)
        v.addWidget(self.table, 1)
        self._stack.addWidget(page)
        self.show_archive(None)

    def show_archive(self, archive: Path | None) -> None:
        self.archive = archive
        self._stack.setCurrentIndex(0 if archive is None else 1)
        self.filter.clear()
        self.refresh_header()

    def refresh_header(self) -> None:
        if self.archive is None:
            self.header.setText("")
            return
        files, original, stored = self.model.totals()
        size = self.archive.stat().st_size if self.archive.exists() else 0
        status = ""
        if self.model.tested:
            bad = len(self.model.damaged)
            status = (" · <span style='color:#c0392b'><b>%d damaged</b></span>" % bad) if bad else " · tested: all OK"
        self.header.setText(f"<b>{self.archive.name}</b> — {self.archive.parent}<br>{files} files · "
                            f"{human_size(original)} original · archive {human_size(size)}{status}")

    def selected_rows(self) -> list[int]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return sorted(rows)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(p.suffix.lower() == ".ltz" for p in paths_from_mime(event.mimeData())):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        archives = [p for p in paths_from_mime(event.mimeData()) if p.suffix.lower() == ".ltz"]
        if archives:
            event.acceptProposedAction()
            self.archive_dropped.emit(archives[0])
