"""Where encoded entries go: ``sink.write(entry)``, into an archive (``WriterSink``) or counted (``SizeCounter``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from ..api.reports import FileOutcome
from ..container import ArchiveWriter
from ..container.format import ENTRY_OVERHEAD
from ..container.records import encode_json
from .entry import EncodedEntry
from .stored import stream_chunks


def _no_check() -> None:
    return None


class EntrySink(Protocol):
    """Takes encoded entries in archive order; returns the entry's outcome with its stored size
    (None for a failed member, which has nothing to write)."""

    def write(self, entry: EncodedEntry) -> FileOutcome | None: ...


class WriterSink:
    """Writes entries into an open ``ArchiveWriter``; a stream is read (``check`` before each chunk) as it is written.

    An ``OSError`` while a stream is read means the input could not be read, except ``ArchiveWriteError``
    (the archive could not be written): the caller tells them apart.
    """

    def __init__(self, writer: ArchiveWriter, check: Callable[[], None] = _no_check) -> None:
        self.writer, self.check = writer, check

    def write(self, entry: EncodedEntry) -> FileOutcome | None:
        if entry.header is None:
            return None
        if entry.stream is None:
            self.writer.add(entry.header, entry.payload)
            return entry.outcome
        record = self.writer.add_stream(entry.header, stream_chunks(entry.stream, entry.name, self.check))
        return None if entry.outcome is None else replace(entry.outcome, stored_size=record.payload_len)


class SizeCounter:
    """Counts what entries would add to an archive (framing, header JSON, payload) without writing them.

    A stream is read and compressed to count it exactly. The archive's own header, index and trailer
    are not entries and are not counted (container/overhead.py models them).
    """

    def __init__(self, check: Callable[[], None] = _no_check) -> None:
        self.check = check
        self.entries = 0
        self.total = 0

    def write(self, entry: EncodedEntry) -> FileOutcome | None:
        if entry.header is None:
            return None
        if entry.stream is None:
            payload_len = len(entry.payload)
        else:
            payload_len = sum(memoryview(c).nbytes for c in stream_chunks(entry.stream, entry.name, self.check))
        self.entries += 1
        self.total += ENTRY_OVERHEAD + len(encode_json(entry.header, entry.name)) + payload_len
        if entry.outcome is None or entry.stream is None:
            return entry.outcome
        return replace(entry.outcome, stored_size=payload_len)
