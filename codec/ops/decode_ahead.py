"""Extract and test: restore the next images on worker threads while the current entry is written.

The coordinator walks the entries in order as before. Here, a little ahead of it and on its own thread
(the archive is one file handle), each entry whose content is rebuilt from its payload (an IMAGE, a
JPEG re-pack, or a duplicate of one) has its header checked and its payload read and verified; a
worker then runs ``restore_content`` on it. At the entry's turn the coordinator runs the same checks
in the same order and takes the restored bytes, or the error, from here (``Restored``): the output
and the errors are those of the serial run. An entry whose header or payload fails the early look
gets nothing ahead, and its turn meets the failure as the serial run does. At most ``max_in_flight``
entries are read ahead, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ..container import EntryKind, EntryRecord
from ..runtime.model_set import ModelRegistry
from .entry_check import (
    RESTORED_KINDS,
    EntryReader,
    Restored,
    check_entry_header,
    duplicate_source,
    restore_content,
)
from .pipeline import OrderedPool

T = TypeVar("T")
_Job = tuple[EntryRecord, EntryRecord, bytes]  # (the entry, the entry holding its data, that one's payload)


def extract_in_flight(workers: int) -> int:
    """Entries restored ahead for ``workers``: one queued behind each running one (restored files can be large)."""
    return workers + 1


def decode_ahead(
    reader: EntryReader,
    items: Iterable[T],
    record_of: Callable[[T], EntryRecord],
    registry: ModelRegistry,
    as_png: bool,
    pool: OrderedPool | None,
    follow_duplicates: bool = True,
) -> Iterator[tuple[T, Restored | None]]:
    """Each item in order, with its entry's content restored ahead (None: restored at its turn).

    ``pool`` None: nothing is done ahead (one worker). ``follow_duplicates`` False: a DUPLICATE
    entry's data is not restored (``test`` checks it under its source's name).
    """
    if pool is None:
        for item in items:
            yield item, None
        return

    def fetched() -> Iterator[tuple[T, _Job | None]]:  # on the coordinator's thread, in order
        for item in items:
            yield item, _fetch(reader, record_of(item), as_png, follow_duplicates)

    def restore(entry: tuple[T, _Job | None]) -> Restored | None:  # on a worker
        job = entry[1]
        if job is None:
            return None
        record, source, payload = job
        try:
            return Restored(restore_content(source, payload, registry, as_png, record.path, pool.stop_check))
        except Exception as exc:  # raised again at the entry's turn, where the serial run raises it
            return Restored(error=exc)

    for (item, _), restored in pool.map(restore, fetched()):
        yield item, restored


def _fetch(reader: EntryReader, record: EntryRecord, as_png: bool, follow_duplicates: bool) -> _Job | None:
    """The entry and its source's verified payload when its content is restored from it; None otherwise
    or when the early look fails (the entry's turn reports it)."""
    if record.kind == EntryKind.DUPLICATE and not follow_duplicates:
        return None
    try:
        source = duplicate_source(reader, record)
        if source.kind not in RESTORED_KINDS:
            return None
        check_entry_header(source, as_png)
        return record, source, reader.read_payload(source)
    except Exception:  # noqa: BLE001 - whatever it is, the entry's turn meets it again and reports it
        return None
