"""Extract and test: restore the next images on workers while the current entry is written.

The coordinator walks the entries in order as before. A little ahead of it, on its thread (the archive
is one file handle), each entry whose content is rebuilt from its payload (an IMAGE, a JPEG re-pack, or a
duplicate of one) has its header checked and its payload read and verified; an ``ImageDecoder``
(ops/encoders.py) then runs ``restore_content`` on it: ``ThreadDecoder``, local threads, or a cluster's
(``RayDecoder``, ``--cluster``). At the entry's turn the coordinator runs the same checks in the same
order and takes the restored bytes, or the error, from here (``Restored``): the output and the errors
are those of the serial run. An entry whose header or payload fails the early look gets nothing ahead,
and its turn meets the failure as the serial run does. At most the decoder's ``max_in_flight``
entries are read ahead, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ..container import EntryKind, EntryRecord
from ..runtime.model_set import ModelRegistry
from .encoders import DecodeJob, ImageDecoder, closed_after
from .entry_check import (
    RESTORED_KINDS,
    EntryReader,
    Restored,
    check_entry_header,
    duplicate_source,
    restore_content,
)
from .pipeline import OrderedPool

K = TypeVar("K")
T = TypeVar("T")


def extract_in_flight(workers: int) -> int:
    """Entries restored ahead for ``workers``: one queued behind each running one (restored files can be large)."""
    return workers + 1


class ThreadDecoder:
    """An ``ImageDecoder`` on ``workers`` local threads, sharing the job's ``registry``."""

    def __init__(self, registry: ModelRegistry, workers: int, check: Callable[[], None]) -> None:
        self.registry = registry
        self._pool = OrderedPool(workers, extract_in_flight(workers), check)

    def decode_ordered(
        self, jobs: Iterable[tuple[K, DecodeJob | None]], as_png: bool
    ) -> Iterator[tuple[K, Restored | None]]:
        def restore(item: tuple[K, DecodeJob | None]) -> Restored | None:  # on a worker
            job = item[1]
            if job is None:
                return None
            name, source, payload = job
            try:
                return Restored(restore_content(source, payload, self.registry, as_png, name, self._pool.stop_check))
            except Exception as exc:  # raised again at the entry's turn, where the serial run raises it
                return Restored(error=exc)

        for (key, _), restored in self._pool.map(restore, jobs):
            yield key, restored

    def close(self) -> None:
        self._pool.close()


def local_decoder(registry: ModelRegistry, workers: int, check: Callable[[], None]) -> ThreadDecoder | None:
    """The decoder for a job on this machine: None for one worker (all restored at each entry's turn)."""
    return ThreadDecoder(registry, workers, check) if workers > 1 else None


def decode_ahead(
    items: Iterable[T],
    entry_of: Callable[[T], tuple[EntryReader, EntryRecord]],
    as_png: bool,
    decoder: ImageDecoder | None,
    follow_duplicates: bool = True,
) -> Iterator[tuple[T, Restored | None]]:
    """Each item in order, with its entry's content restored ahead by ``decoder`` (None: at its turn).

    ``entry_of``: the item's archive (a volume) and entry. ``decoder`` None: nothing is done ahead.
    ``follow_duplicates`` False: a DUPLICATE entry's data is not restored (``test`` checks it under its
    source's name).
    """
    if decoder is None:
        for item in items:
            yield item, None
        return

    def fetched() -> Iterator[tuple[T, DecodeJob | None]]:  # on the coordinator's thread, in order
        for item in items:
            reader, record = entry_of(item)
            yield item, _fetch(reader, record, as_png, follow_duplicates)

    with closed_after(decoder.decode_ordered(fetched(), as_png)) as results:
        yield from results


def _fetch(reader: EntryReader, record: EntryRecord, as_png: bool, follow_duplicates: bool) -> DecodeJob | None:
    """The entry's name, its source and that one's verified payload when its content is restored from it;
    None otherwise or when the early look fails (the entry's turn reports it)."""
    if record.kind == EntryKind.DUPLICATE and not follow_duplicates:
        return None
    try:
        source = duplicate_source(reader, record)
        if source.kind not in RESTORED_KINDS:
            return None
        check_entry_header(source, as_png)
        return record.path, source, reader.read_payload(source)
    except Exception:  # noqa: BLE001 - whatever it is, the entry's turn meets it again and reports it
        return None
