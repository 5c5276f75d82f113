"""Coding elsewhere: the compressor's ``EntryEncoder`` and the extractor's ``ImageDecoder`` (threads, a cluster).

``encode_member`` and ``decode_image_entry`` are pure, so they may run anywhere; what an encoder or decoder
must keep is the order: results come back in input order, so the archive's bytes (and what extract writes
when) do not depend on where or how fast each one was coded. Without one, the operations code in line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from ..api.errors import LatentzipError
from ..container import EntryRecord
from ..entries.encode import EncodePolicy, PreparedMember
from ..entries.entry import EncodedEntry

K = TypeVar("K")
T = TypeVar("T")


class EntryEncoder(Protocol):
    """Encodes prepared members elsewhere, giving them back in input order."""

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        """Each prepared member (the same object) with its entry, in input order; at most ``max_in_flight``
        members are taken from ``prepared`` and not yet given back (memory stays bounded)."""
        ...

    def close(self) -> None:
        """Stop the work (what is in flight is dropped); idempotent."""
        ...


class ImageDecoder(Protocol):
    """Decodes IMAGE entries elsewhere, giving the restored files back in input order."""

    def decode_ordered(
        self, jobs: Iterable[tuple[K, EntryRecord, bytes]], as_png: bool
    ) -> Iterator[tuple[K, bytes | LatentzipError]]:
        """For each (key, IMAGE record, its payload), in order and a bounded number at a time: (key, the
        restored file's bytes, or the error that refuses the entry)."""
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
