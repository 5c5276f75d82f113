"""The inputs to compress: the engine's folder walk, run in the background, and a two-level Qt model.

Top-level rows are the folders and files the user added, with their number of
images, other files and total size; their children are the images inside, so
one can be selected for the preview. The model is touched on the GUI thread
only; ``scan_input`` is a plain function the scan worker runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QFileInfo, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QFileIconProvider

from ..codec.api.errors import InputError
from ..codec.engine import CancelToken
from ..codec.images.details import file_has_location
from ..codec.images.probe import LOSSY_EXTENSIONS
from ..codec.ops.scan import DIRECTORY, FILE, scan_inputs
from .format import human_size

ARCHIVE_SUFFIX = ".ltz"
COLUMNS = ("Name", "Images", "Other files", "Size")


def is_image_name(path: Path | str) -> bool:
    return Path(path).suffix.lower() in LOSSY_EXTENSIONS


@dataclass(frozen=True)
class ImageFile:
    path: Path
    name: str  # relative to the input's parent, as the archive will name it
    size: int


@dataclass
class InputScan:
    images: list[ImageFile] = field(default_factory=list)
    other_files: int = 0
    other_bytes: int = 0
    error: str = ""
    located: int = 0  # images that carry a location (GPS, XMP or IPTC place)
    folders: int = 0  # folders the archive will list (the input folder itself included)

    @property
    def total_size(self) -> int:
        return sum(i.size for i in self.images) + self.other_bytes


def scan_input(path: Path, cancel: CancelToken | None = None, check_location: bool = True) -> InputScan:
    """Walk one input (never following links) and sort its files into images and others.

    With ``check_location``, each image's metadata is read to count those carrying a location.
    """
    result = _walk_input(path, cancel)
    if check_location:
        for image in result.images:
            if cancel is not None:
                cancel.check()
            result.located += file_has_location(image.path)
    return result


def _walk_input(path: Path, cancel: CancelToken | None) -> InputScan:
    """Sort what the engine's own walk (codec/ops/scan.py) would archive from ``path`` into images and others."""
    result = InputScan()
    try:
        scan = scan_inputs([Path(os.path.abspath(path))], cancel=cancel)
    except InputError as exc:
        result.error = str(exc)
        return result
    for member in scan.members:
        if member.kind == FILE and is_image_name(member.name):
            result.images.append(ImageFile(member.path, member.name, member.size))
        elif member.kind != DIRECTORY:
            result.other_files += 1
            result.other_bytes += member.size
        else:
            result.folders += 1
    problems = [f"{issue.path}: {issue.message}" for issue in scan.skipped]
    result.error = problems[0] if problems else ""
    result.images.sort(key=lambda i: i.name)
    return result


@dataclass
class InputEntry:
    path: Path
    is_dir: bool
    scan: InputScan | None = None  # None while the walk is running


class InputModel(QAbstractItemModel):
    """Inputs (top level) and their images (children); internalId = parent row + 1 for children."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[InputEntry] = []
        self._icons = QFileIconProvider()

    # structure ---------------------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()):
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index=QModelIndex()):  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent=QModelIndex()) -> int:
        if not parent.isValid():
            return len(self.entries)
        if parent.internalId() != 0 or parent.column() != 0:
            return 0
        entry = self.entries[parent.row()]
        return len(entry.scan.images) if entry.scan and entry.is_dir else 0

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole and section:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        col = index.column()
        if index.internalId() == 0:
            return self._entry_data(self.entries[index.row()], col, role)
        image = self.entries[index.internalId() - 1].scan.images[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {0: image.name.split("/", 1)[-1], 3: human_size(image.size)}.get(col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(image.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and col:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _entry_data(self, entry: InputEntry, col: int, role):
        scan = entry.scan
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return entry.path.name or str(entry.path)
            if scan is None:
                return "scanning…" if col == 1 else ""
            return (f"{len(scan.images)}", f"{scan.other_files}", human_size(scan.total_size))[col - 1]
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return self._icons.icon(QFileInfo(str(entry.path)))
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = str(entry.path)
            return f"{tip}\n{scan.error}" if scan and scan.error else tip
        if role == Qt.ItemDataRole.TextAlignmentRole and col:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # changes (GUI thread only) -----------------------------------------------
    def add(self, path: Path) -> InputEntry | None:
        """Add one input; None if it is already there (same path)."""
        path = Path(os.path.abspath(path))
        if any(e.path == path for e in self.entries):
            return None
        entry = InputEntry(path, path.is_dir() and not path.is_symlink())
        row = len(self.entries)
        self.beginInsertRows(QModelIndex(), row, row)
        self.entries.append(entry)
        self.endInsertRows()
        return entry

    def set_scan(self, entry: InputEntry, scan: InputScan) -> None:
        if entry not in self.entries:
            return  # removed meanwhile
        row = self.entries.index(entry)
        parent = self.index(row, 0)
        if entry.is_dir and scan.images:
            self.beginInsertRows(parent, 0, len(scan.images) - 1)
            entry.scan = scan
            self.endInsertRows()
        else:
            entry.scan = scan
        self.dataChanged.emit(parent, self.index(row, len(COLUMNS) - 1))

    def remove_rows(self, rows: list[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self.entries):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.entries[row]
                self.endRemoveRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.entries.clear()
        self.endResetModel()

    # queries -----------------------------------------------------------------
    def image_at(self, index: QModelIndex) -> ImageFile | None:
        """The image a row stands for: a child row, or a top-level single image / first image of a folder."""
        if not index.isValid():
            return None
        if index.internalId() != 0:
            return self.entries[index.internalId() - 1].scan.images[index.row()]
        scan = self.entries[index.row()].scan
        return scan.images[0] if scan and scan.images else None

    def top_row(self, index: QModelIndex) -> int:
        return index.row() if index.internalId() == 0 else index.internalId() - 1

    def all_images(self) -> list[ImageFile]:
        return [img for e in self.entries if e.scan for img in e.scan.images]

    @property
    def scanning(self) -> bool:
        return any(e.scan is None for e in self.entries)

    def totals(self) -> tuple[int, int, int]:
        """(images, other files, bytes) over the scanned inputs."""
        scans = [e.scan for e in self.entries if e.scan]
        return (sum(len(s.images) for s in scans), sum(s.other_files for s in scans), sum(s.total_size for s in scans))

    def folders(self) -> int:
        """Folders over the scanned inputs, as the archive will list them."""
        return sum(e.scan.folders for e in self.entries if e.scan)

    def located(self) -> int:
        """Images that carry a location, over the scanned inputs."""
        return sum(e.scan.located for e in self.entries if e.scan)

    def paths(self) -> list[Path]:
        return [e.path for e in self.entries]
