"""Coding elsewhere: the compressor's ``EntryEncoder`` and the extractor's ``ImageDecoder`` (threads, a cluster).

``encode_member`` and ``restore_content`` are pure, so they may run anywhere; what an encoder or decoder
must keep is the order: results come back in input order, so the archive's bytes (and what extract writes
when) do not depend on where or how fast each one was coded. Local ones are in ops/pipeline.py and
ops/decode_ahead.py, the cluster's in ops/cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from ..container import EntryRecord
from ..entries.encode import EncodePolicy, PreparedMember
from ..entries.entry import EncodedEntry
from .entry_check import Restored

K = TypeVar("K")
T = TypeVar("T")

DecodeJob = tuple[str, EntryRecord, bytes]
"""(the entry restored, the entry holding its data: an IMAGE or JPEG_REPACK, that one's verified payload)"""


class EntryEncoder(Protocol):
    """Encodes prepared members (``encode_member``) somewhere: these threads, or a cluster."""

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        """Each prepared member (or a copy of it: the compressor matches them by name) with its entry, in
        input order; at most ``max_in_flight`` members taken from ``prepared`` and not yet yielded.
        ``prepared`` is pulled lazily; an error encoding a member is raised at its turn."""
        ...

    def close(self) -> None:
        """Stop the work promptly (the job failed or was cancelled, or it is done) and free the workers;
        idempotent."""
        ...


class ImageDecoder(Protocol):
    """Restores entries' content (``restore_content``) somewhere, ahead of their turn: threads, or a cluster."""

    def decode_ordered(
        self, jobs: Iterable[tuple[K, DecodeJob | None]], as_png: bool
    ) -> Iterator[tuple[K, Restored | None]]:
        """For each (key, job), in order and a bounded number at a time: (key, the restored file's bytes or
        the error that refuses the entry, as ``Restored``); None where the job is None (nothing to do)."""
        ...

    def close(self) -> None:
        """Stop the work; idempotent."""
        ...


@contextmanager
def closed_after(results: Iterator[T]) -> Iterator[Iterator[T]]:
    """``results``, closed on leaving the block when it can be (a generator's ``finally`` then runs at once,
    not whenever it is collected: what an encoder or decoder left in flight stops)."""
    try:
        yield results
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
