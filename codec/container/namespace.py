"""The set of entry paths of one archive: no duplicates, nothing under a link or a file."""

from __future__ import annotations

from ..api.errors import ArchiveFormatError, UnsafePathError
from .format import EntryKind


class EntryNamespace:
    """Tracks paths as entries are added (in any order) and refuses conflicting ones."""

    def __init__(self) -> None:
        self._kinds: dict[str, EntryKind] = {}
        self._folders: set[str] = set()  # every proper ancestor of an added path

    def __contains__(self, path: object) -> bool:
        return path in self._kinds

    def add(self, path: str, kind: EntryKind) -> None:
        """Record ``path``; raise ArchiveFormatError/UnsafePathError on a conflict."""
        if path in self._kinds:
            raise ArchiveFormatError("duplicate entry", path)
        if path in self._folders and kind != EntryKind.DIRECTORY:
            if kind == EntryKind.SYMLINK:
                raise UnsafePathError("symbolic link entry has entries under it", path)
            raise ArchiveFormatError("file entry has entries under it", path)
        parts = path.split("/")
        ancestors = ["/".join(parts[:i]) for i in range(1, len(parts))]
        for parent in ancestors:
            parent_kind = self._kinds.get(parent)
            if parent_kind == EntryKind.SYMLINK:
                raise UnsafePathError(f"entry would be written through the symbolic link {parent!r}", path)
            if parent_kind is not None and parent_kind != EntryKind.DIRECTORY:
                raise ArchiveFormatError(f"entry is under the file entry {parent!r}", path)
        self._kinds[path] = kind
        self._folders.update(ancestors)
