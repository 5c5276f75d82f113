"""JPEG_REPACK entries: a JPEG kept exactly as its lossless JPEG XL re-pack (``jpeg_repack.py``),
which extraction turns back into the original file bit for bit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

from ..api.errors import LatentzipError
from ..api.outcomes import IssueCode, OutcomeKind
from ..api.reports import FileOutcome
from ..container import EntryKind
from ..ops.scan import Member
from . import jpeg_repack
from .entry import EncodedEntry
from .member import base_header
from .stored import stored_entry

REPACK_MAX_BYTES = 512 << 20  # a JPEG is re-packed in memory; bigger ones are stored plain
TOO_LARGE_NOTE = "too large to re-pack; stored byte-exact"


def is_jpeg(member: Member, source: bytes | None = None) -> bool:
    """A JPEG by its first bytes (whatever its name says): ``source``'s when given (the file's content,
    rewritten or sent to a cluster worker that does not see the file), else the file's."""
    if source is not None:
        return jpeg_repack.looks_like_jpeg(source[:3])
    try:
        with open(member.path, "rb") as fh:
            return jpeg_repack.looks_like_jpeg(fh.read(3))
    except OSError:
        return False


def _content(member: Member, source: bytes | None) -> bytes:
    """The bytes to re-pack, refused if they no longer hash to what was archived."""
    data = member.path.read_bytes() if source is None else source
    if hashlib.sha256(data).hexdigest() != member.sha256:
        raise LatentzipError("the file changed while it was being archived", member.name)
    return data


def repack_entry(member: Member, check: Callable[[], None], source: bytes | None = None) -> EncodedEntry | FileOutcome:
    """Re-pack a JPEG with JPEG XL, verified: its entry, or a "stored" outcome saying why it must be stored plain."""
    if member.size > REPACK_MAX_BYTES:
        return FileOutcome(
            member.name, OutcomeKind.STORED, member.size, 0, note=TOO_LARGE_NOTE, reason=IssueCode.TOO_LARGE
        )
    data = _content(member, source)
    check()
    attempt = jpeg_repack.try_repack(data)
    check()
    payload = attempt.payload
    if payload is None:
        return FileOutcome(member.name, OutcomeKind.STORED, member.size, 0, note=attempt.note, reason=attempt.reason)
    width, height = jpeg_repack.jxl_size(payload, member.name)
    header = base_header(member, EntryKind.JPEG_REPACK)
    header.update(width=width, height=height, format="JPEG")
    outcome = FileOutcome(member.name, OutcomeKind.LOSSLESS_JPEG, member.size, len(payload), source_format="JPEG")
    return EncodedEntry(member.name, header, payload, outcome=outcome)


class RepackCache:
    """A JPEG's lossless JPEG XL re-pack, made at most once: the fallback of a JPEG that is not coded."""

    def __init__(self, member: Member, check: Callable[[], None], source: bytes | None) -> None:
        self.member, self.check, self.source = member, check, source
        self._done = False
        self.payload: bytes | None = None
        self.note = ""

    def get(self) -> bytes | None:
        if not self._done:
            self._done = True
            if self.member.size > REPACK_MAX_BYTES:
                self.note = TOO_LARGE_NOTE
                return None
            data = _content(self.member, self.source)
            self.check()
            self.payload, self.note = jpeg_repack.repack(data)
            self.check()
        return self.payload


def fallback_entry(
    member: Member, source: bytes | None, coded: FileOutcome, repack: RepackCache | None
) -> EncodedEntry:
    """Keep exactly an image that was coded but not kept coded (``coded.fallback`` says why): a JPEG as its
    lossless JPEG XL re-pack when that works, never the bigger raw file; anything else byte-exact. The entry
    header records why (``fallback``) and for which checkpoint."""
    fallback = {"fallback": coded.fallback, "fallback_checkpoint": coded.fallback_checkpoint}
    payload = repack.get() if repack is not None else None
    if payload is None:
        note = coded.note
        if repack is not None and repack.note:
            note = f"{coded.note} ({repack.note})"
        stored = stored_entry(member, note, source, fallback)
        if stored.outcome is None:  # stored_entry always sets it
            raise ValueError("a stored entry without its outcome")
        outcome = replace(stored.outcome, fallback=coded.fallback, fallback_checkpoint=coded.fallback_checkpoint)
        return replace(stored, outcome=outcome)
    reason = coded.note.replace("; stored byte-exact", "")
    width, height = jpeg_repack.jxl_size(payload, member.name)
    header = base_header(member, EntryKind.JPEG_REPACK)
    note = f"{reason}; kept exactly as a lossless JPEG XL re-pack"
    header.update(width=width, height=height, format="JPEG", note=note, **fallback)
    outcome = FileOutcome(
        member.name,
        OutcomeKind.LOSSLESS_JPEG,
        member.size,
        len(payload),
        note=note,
        source_format="JPEG",
        fallback=coded.fallback,
        fallback_checkpoint=coded.fallback_checkpoint,
    )
    return EncodedEntry(member.name, header, payload, outcome=outcome)
