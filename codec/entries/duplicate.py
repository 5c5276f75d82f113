"""DUPLICATE entries: a file whose content an earlier entry of the archive holds already."""

from __future__ import annotations

from ..api.outcomes import OutcomeKind
from ..api.reports import FileOutcome
from ..container import EntryKind
from ..ops.scan import Member
from .entry import EncodedEntry
from .member import base_header


def duplicate_entry(member: Member, same_as: str) -> EncodedEntry:
    """A reference to the entry at ``same_as``, which has the same content hash (no payload)."""
    header = base_header(member, EntryKind.DUPLICATE)
    header["same_as"] = same_as
    outcome = FileOutcome(member.name, OutcomeKind.DUPLICATE, member.size, 0, note=f"same content as {same_as}")
    return EncodedEntry(member.name, header, outcome=outcome)
