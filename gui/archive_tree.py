"""A Qt tree model over an archive's entries: folders (listed or implied by paths) with their files.

``ArchiveModel`` builds the tree from the engine's EntryRecords (path, kind,
original and stored size, bpp, checkpoint) and keeps each entry's status: the
last test's verdict, entries found damaged, and entries the destination
refused on the last extraction ("could not write", cleared by the next one).
It is only touched on the GUI thread. Dragging entries out asks a provider
(set by the page) to extract them to a temporary folder when the drop target
asks for the files (``ArchiveDragMime``).
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractItemModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt, QUrl
from PySide6.QtGui import QBrush, QColor

from ..codec.container import EntryKind, EntryRecord
from ..codec.engine import count_files_and_folders
from .format import human_size

COLUMNS = ("Name", "Kind", "Original size", "Stored size", "bpp", "Checkpoint", "Status")
KIND_NAMES = {
    EntryKind.STORED: "stored",
    EntryKind.LZMA: "stored (LZMA)",
    EntryKind.IMAGE: "image (coded)",
    EntryKind.DIRECTORY: "folder",
    EntryKind.SYMLINK: "link",
    EntryKind.JPEG_REPACK: "JPEG (kept exactly)",
    EntryKind.DUPLICATE: "duplicate",
}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # the entry's full path: what the filter matches
URI_LIST = "text/uri-list"
DAMAGED_COLOUR, UNWRITTEN_COLOUR = QColor(200, 40, 40), QColor(176, 96, 0)
AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(eq=False)
class Node:
    """A folder or file of the tree; ``record`` is None for a folder that only paths imply."""

    name: str
    path: str
    parent: Node | None
    record: EntryRecord | None = None
    children: list[Node] = field(default_factory=list)
    row: int = 0

    @property
    def is_folder(self) -> bool:
        return self.record is None or self.record.kind == EntryKind.DIRECTORY


def build_tree(records: list[EntryRecord]) -> Node:
    """The root node, folders before files in archive order."""
    root = Node("", "", None)
    folders: dict[str, Node] = {"": root}

    def folder(path: str) -> Node:
        node = folders.get(path)
        if node is None:
            parent_path, _, name = path.rpartition("/")
            parent = folder(parent_path)
            node = Node(name, path, parent)
            parent.children.append(node)
            folders[path] = node
        return node

    for rec in records:
        path = rec.path.rstrip("/")
        if rec.kind == EntryKind.DIRECTORY:
            folder(path).record = rec
        else:
            parent_path, _, name = path.rpartition("/")
            parent = folder(parent_path)
            parent.children.append(Node(name, path, parent, rec))
    for node in folders.values():
        for i, child in enumerate(node.children):
            child.row = i
    return root


class ArchiveDragMime(QMimeData):
    """File URLs of dragged entries, extracted (by ``provider``) only when a drop target asks for them."""

    def __init__(self, records: list[EntryRecord], provider: Callable[[list[EntryRecord]], list]) -> None:
        super().__init__()
        self.records = records
        self._provider = provider
        self._urls: list[QUrl] | None = None

    def formats(self) -> list[str]:
        return [URI_LIST]

    def hasFormat(self, mime_type: str) -> bool:  # noqa: N802 - Qt's name
        return mime_type == URI_LIST

    def retrieveData(self, mime_type: str, preferred_type):  # noqa: N802 - Qt's name
        """The URLs (Qt turns them into bytes when a target asks for those); extracted on the first ask."""
        if mime_type != URI_LIST:
            return None
        if self._urls is None:
            self._urls = [QUrl.fromLocalFile(str(p)) for p in self._provider(self.records)]
        return self._urls


class ArchiveModel(QAbstractItemModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.records: list[EntryRecord] = []
        self.damaged: dict[str, str] = {}  # path -> why (tests and extractions)
        self.unwritten: dict[str, str] = {}  # path -> why the destination refused it (last extraction only)
        self.tested = False
        self.salvaged = False  # the records come from a scan of a damaged archive
        self.drag_provider: Callable[[list[EntryRecord]], list] | None = None
        self._root = Node("", "", None)

    # structure ---------------------------------------------------------------
    def node(self, index: AnyIndex) -> Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, self.node(parent).children[row])

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = self.node(index).parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def index_of(self, path: str) -> QModelIndex:
        """The index of the entry at ``path`` (invalid if none)."""
        node = self._root
        for part in path.strip("/").split("/"):
            node = next((c for c in node.children if c.name == part), None)  # type: ignore[assignment]
            if node is None:
                return QModelIndex()
        return self.createIndex(node.row, 0, node)

    # contents ------------------------------------------------------------------
    def status(self, path: str) -> str:
        if path in self.unwritten:
            return f"could not write: {self.unwritten[path]}"
        if path in self.damaged:
            return f"damaged: {self.damaged[path]}"
        if self.salvaged:
            return "recoverable"
        return "OK" if self.tested else ""

    def _values(self, node: Node) -> tuple:
        r = node.record
        if r is None:
            return (node.name, "folder", None, None, None, "", "")
        image = r.kind == EntryKind.IMAGE
        file = r.kind not in (EntryKind.DIRECTORY, EntryKind.SYMLINK)
        return (
            node.name,
            KIND_NAMES.get(r.kind, str(r.kind)),
            r.size if file else None,
            r.payload_len if file else None,
            r.extra.get("bpp") if image else None,
            r.extra.get("checkpoint", "") if image else "",
            self.status(r.path),
        )

    def data(self, index: AnyIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node, col = self.node(index), index.column()
        r = node.record
        if role == Qt.ItemDataRole.DisplayRole:
            value = self._values(node)[col]
            if col in (2, 3):
                return "" if value is None else human_size(value)
            if col == 4:
                return f"{value:.3f}" if isinstance(value, (int, float)) else ""
            if col == 0 and r is not None and r.kind == EntryKind.SYMLINK:
                return f"{node.name} → {r.link}"
            return value
        if role == SORT_ROLE:
            if col == 0:  # folders first, then by name
                return ("0" if node.is_folder else "1") + node.name.casefold()
            value = self._values(node)[col]
            return -1.0 if value is None else value
        if role == PATH_ROLE:
            return node.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node)
        if role == Qt.ItemDataRole.ForegroundRole and r is not None:
            if r.path in self.unwritten:
                return QBrush(UNWRITTEN_COLOUR)
            if r.path in self.damaged:
                return QBrush(DAMAGED_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _tooltip(self, node: Node) -> str:
        r = node.record
        if r is None:
            return node.path
        status = self.status(r.path)
        if status and status not in ("OK", "recoverable"):
            return f"{r.path}: {status}"
        if r.kind == EntryKind.IMAGE:
            e = r.extra
            score = e.get("ms_ssim")
            return f"{r.path}\n{e.get('width')}×{e.get('height')}, checkpoint {e.get('checkpoint')}" + (
                f", MS-SSIM {score:.4f}" if isinstance(score, (int, float)) else ""
            )
        return r.path

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    # drag out ------------------------------------------------------------------
    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [URI_LIST]

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction

    def mimeData(self, indexes) -> QMimeData | None:  # noqa: N802
        nodes = {id(n): n for n in (self.node(i) for i in indexes if i.isValid())}
        tops = [n for n in nodes.values() if not _has_ancestor_in(n, nodes)]
        if not tops or self.drag_provider is None:
            return None
        records = [n.record or _implied_folder(n) for n in tops]
        return ArchiveDragMime(records, self.drag_provider)

    # changes (GUI thread only) -------------------------------------------------
    def _all_changed(self) -> None:
        self.layoutAboutToBeChanged.emit()  # statuses of any row, folded or not
        self.layoutChanged.emit()

    def set_records(self, records: list[EntryRecord], salvaged: bool = False) -> None:
        self.beginResetModel()
        self.records = list(records)
        self._root = build_tree(self.records)
        self.damaged, self.unwritten = {}, {}
        self.tested, self.salvaged = False, salvaged
        self.endResetModel()

    def set_test_result(self, damaged: list[tuple[str, str]]) -> None:
        self.damaged = dict(damaged)
        self.unwritten = {}
        self.tested = True
        self._all_changed()

    def mark_extracted(
        self, written: list[str], damaged: list[tuple[str, str]], unwritten: list[tuple[str, str]]
    ) -> None:
        """One extraction's outcome: "could not write" is this run's only (the previous run's is cleared);
        an entry written is not damaged; entries found damaged stay so."""
        self.unwritten = dict(unwritten)
        for path in written:
            self.damaged.pop(path, None)
        self.damaged.update(dict(damaged))
        self._all_changed()

    # queries -------------------------------------------------------------------
    def totals(self) -> tuple[int, int, int, int]:
        """(files, folders, original bytes, stored bytes): folders listed or implied by paths."""
        listed = {r.path.rstrip("/") for r in self.records if r.kind == EntryKind.DIRECTORY}
        implied = {p.rpartition("/")[0] for p in (r.path.rstrip("/") for r in self.records)} - {""} - listed
        implied |= {a for p in implied for a in _ancestors(p)} - listed
        files, folders = count_files_and_folders([r.kind == EntryKind.DIRECTORY for r in self.records])
        payload = [r for r in self.records if r.kind not in (EntryKind.DIRECTORY, EntryKind.SYMLINK)]
        return files, folders + len(implied), sum(r.size for r in payload), sum(r.payload_len for r in payload)

    def records_for(self, indexes: list[AnyIndex]) -> list[EntryRecord]:
        """The entries of these rows, folders with everything under them."""
        chosen: dict[str, EntryRecord] = {}
        for index in indexes:
            node = self.node(index)
            if node.record is not None:
                chosen[node.record.path] = node.record
            if node.is_folder:
                prefix = node.path + "/"
                chosen.update((r.path, r) for r in self.records if r.path.startswith(prefix))
        return [chosen[k] for k in sorted(chosen)]

    def patterns_for(self, indexes: list[AnyIndex]) -> tuple[str, ...]:
        """Engine patterns selecting exactly these entries (each path escaped, matched literally)."""
        return tuple(glob.escape(r.path) for r in self.records_for(indexes))


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _has_ancestor_in(node: Node, nodes: dict[int, Node]) -> bool:
    up = node.parent
    while up is not None:
        if id(up) in nodes:
            return True
        up = up.parent
    return False


def _implied_folder(node: Node) -> EntryRecord:
    """A stand-in record for a folder that only paths imply (for dragging it out)."""
    return EntryRecord(node.path, EntryKind.DIRECTORY, 0, 0, 0o755, None, 0, 0, 0)
