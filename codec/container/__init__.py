"""The Latentzip archive container: entries with opaque payloads, an index, and safe names.

The byte layout is specified in docs/FORMAT.md.
"""

from .format import DEFAULT_LIMITS, FORMAT_VERSION, EntryKind, Limits
from .reader import ArchiveReader
from .records import EntryRecord
from .safe_paths import check_archive_name, check_link_target, check_symlink_target, normalize_archive_name, safe_target
from .salvage import iter_salvaged_payload, scan_entries
from .writer import ArchiveWriteError, ArchiveWriter

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "ArchiveReader",
    "ArchiveWriteError",
    "ArchiveWriter",
    "EntryKind",
    "EntryRecord",
    "Limits",
    "check_archive_name",
    "check_link_target",
    "check_symlink_target",
    "iter_salvaged_payload",
    "normalize_archive_name",
    "safe_target",
    "scan_entries",
]
