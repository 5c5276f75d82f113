"""How the compressor has its members encoded: in line, or by an ``EntryEncoder`` (threads, a cluster).

``encode_member`` is pure, so an encoder may run it anywhere; what it must keep is the order: entries come
back in input order, so the archive's bytes do not depend on where or how fast each one was encoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from ..entries.encode import EncodePolicy, PreparedMember
from ..entries.entry import EncodedEntry


class EntryEncoder(Protocol):
    """Encodes prepared members elsewhere, giving them back in input order."""

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        """Each prepared member with its entry, in input order; at most ``max_in_flight`` members are
        taken from ``prepared`` and not yet given back (memory stays bounded)."""
        ...

    def close(self) -> None:
        """Stop the work (what is in flight is dropped); idempotent."""
        ...
