"""Folder and link entries: a header, no payload."""

from __future__ import annotations

from ..api.outcomes import OutcomeKind
from ..api.reports import FileOutcome
from ..container import EntryKind
from ..ops.scan import Member
from .entry import EncodedEntry
from .member import base_header


def folder_entry(member: Member) -> EncodedEntry:
    """A DIRECTORY entry (its header holds the folder's times and mode)."""
    outcome = FileOutcome(member.name, OutcomeKind.DIRECTORY, 0, 0)
    return EncodedEntry(member.name, base_header(member, EntryKind.DIRECTORY), outcome=outcome)


def link_entry(member: Member) -> EncodedEntry:
    """A SYMLINK entry (its header holds the link's target)."""
    outcome = FileOutcome(member.name, OutcomeKind.SYMLINK, 0, 0)
    return EncodedEntry(member.name, base_header(member, EntryKind.SYMLINK), outcome=outcome)
