"""What encoding one member gives: an ``EncodedEntry``, picklable, with no writer inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.reports import FileOutcome


@dataclass(frozen=True)
class Notice:
    """A warning about one member: ``shown`` goes to the progress sink, ``recorded`` to the report."""

    shown: str
    recorded: str


@dataclass(frozen=True)
class StoredStream:
    """A byte-exact payload read when the entry is written, not held: the file at ``path`` (or ``data``,
    its rewritten bytes), LZMA-compressed when ``lzma``; the content must still hash to ``sha256``."""

    path: Path
    size: int
    lzma: bool
    sha256: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class EncodedEntry:
    """One member, encoded: the entry ``header`` with its ``payload`` (in memory) or its ``stream``.

    ``outcome`` is the report's line; a stream's stored size is known once it is written, so the sink
    fills it in. ``header`` None: nothing to write, the member ``failed`` (the reason, for the report).
    """

    name: str
    header: dict[str, Any] | None
    payload: bytes = b""
    stream: StoredStream | None = None
    outcome: FileOutcome | None = None
    notices: tuple[Notice, ...] = field(default=())
    failed: str = ""

    @classmethod
    def failure(cls, name: str, reason: str, notices: tuple[Notice, ...] = ()) -> EncodedEntry:
        return cls(name, None, notices=notices, failed=reason)

    def with_notices(self, notices: tuple[Notice, ...]) -> EncodedEntry:
        """This entry after ``notices`` (the earlier warnings about the same member)."""
        if not notices:
            return self
        return EncodedEntry(
            self.name, self.header, self.payload, self.stream, self.outcome, notices + self.notices, self.failed
        )


def cannot_read(name: str, exc: OSError) -> EncodedEntry:
    """The member could not be read: a failure with the system's words."""
    return EncodedEntry.failure(name, f"cannot read: {exc.strerror or exc}")
