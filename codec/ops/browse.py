"""Looking into an archive without extracting it: one entry's restored bytes, and what a damaged one holds.

``entry_bytes`` restores one entry in memory (a coded image decoded, a JPEG
rebuilt, a stored file read and checked), for a viewer; ``salvage_listing``
scans an archive whose index cannot be read and says which entries can still
be recovered and what is lost (the entries ``extract --keep-going`` restores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..api.errors import ArchiveFormatError, InputError
from ..api.progress import CancelToken
from ..container import EntryKind, EntryRecord, scan_entries
from ..runtime.model_set import ModelRegistry, default_registry
from .entry_check import duplicate_source, restored_chunks
from .extractor import _open_for_reading

__all__ = ["SalvageListing", "salvage_listing", "entry_bytes"]


@dataclass(frozen=True)
class SalvageListing:
    """What a scan of a damaged archive found: the intact entries, and the damaged stretches in words."""

    recovered: list[EntryRecord]
    lost: list[str]


def salvage_listing(archive: Path) -> SalvageListing:
    """Scan ``archive`` entry by entry, without its index (the way ``extract --keep-going`` salvages)."""
    archive = Path(archive)
    if not archive.is_file():
        raise InputError("no such archive", str(archive))
    recovered, lost = [], []
    for record, error in scan_entries(archive):
        if record is not None:
            recovered.append(record)
        elif error is not None:
            lost.append(str(error))
    return SalvageListing(recovered, lost)


def entry_bytes(
    archive: Path, path: str, registry: ModelRegistry | None = None, cancel: CancelToken | None = None
) -> bytes:
    """The restored file of entry ``path`` (a coded image as PNG), checked as extraction checks it."""
    cancel = cancel or CancelToken()
    registry = registry or default_registry()
    reader, records, _, _ = _open_for_reading(Path(archive), keep_going=True)
    with reader:
        record = next((r for r in records if r.path == path), None)
        if record is None:
            raise InputError("no such entry in the archive", path)
        if duplicate_source(reader, record).kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
            raise ArchiveFormatError("not a file entry", path)
        return b"".join(restored_chunks(reader, record, registry, True, cancel))
