"""The one rule that turns a scanned member into an archive entry: ``prepare_member``, then ``encode_member``.

Both are pure in the sense that matters for running them elsewhere: they write nothing, take and return
picklable values (the model set and the cancel check are the caller's local resources), and report
everything they decide in the ``EncodedEntry``. Deduplication sits between the two: the caller, which
knows the archive so far, turns a prepared member whose hash it has seen into ``duplicate_entry``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..api.errors import CancelledError, LatentzipError
from ..api.options import CompressOptions
from ..api.outcomes import IssueCode, OutcomeKind
from ..estimate import planner
from ..images import classify_and_decode
from ..images.location import strip_location_bytes
from ..images.probe import MAX_FILE_BYTES, PROBED_EXTENSIONS
from ..ops.scan import DIRECTORY, FILE, SYMLINK, Member
from ..runtime.model_set import ModelSet
from .entry import EncodedEntry, Notice, cannot_read
from .image import code_image
from .jpeg import RepackCache, fallback_entry, is_jpeg, repack_entry
from .member import file_sha256
from .stored import stored_entry
from .tree import folder_entry, link_entry


def _no_check() -> None:
    return None


@dataclass(frozen=True)
class EncodePolicy:
    """How members become entries: the job's options and, for a size or quality target, its plan."""

    options: CompressOptions
    plan: planner.Plan | None = None

    def attempts(self, name: str, can_raise: bool) -> tuple[tuple[str, float], ...]:
        """The (checkpoint, floor) pairs to code the image ``name`` at, in order."""
        opts = self.options
        return planner.image_attempts(
            self.plan, name, opts.checkpoint, opts.floor, opts.quality_floor, can_raise=can_raise
        )


@dataclass(frozen=True)
class PreparedMember:
    """A member ready to encode: its size and hash are those of what will be stored (``source``, the file
    rewritten without its location, when not None); ``failed``: why it cannot be archived."""

    member: Member
    source: bytes | None = None
    locations_removed: bool = False
    failed: str = ""


def prepare_member(member: Member, policy: EncodePolicy, check: Callable[[], None] = _no_check) -> PreparedMember:
    """Fix what a file's entry will hold (its bytes, size and content hash) before deduplication."""
    if member.kind != FILE:
        return PreparedMember(member)
    source = _source_bytes(member, policy.options)
    if source is not None:  # what is stored is the rewritten file: its size and hash
        member = replace(member, size=len(source), sha256=hashlib.sha256(source).hexdigest())
    if member.sha256 is None:  # ``add`` has hashed it already
        try:
            member = replace(member, sha256=file_sha256(member.path, check))
        except OSError as exc:
            return PreparedMember(member, source, source is not None, cannot_read(member.name, exc).failed)
    return PreparedMember(member, source, source is not None)


def encode_member(
    prepared: PreparedMember,
    policy: EncodePolicy,
    model: ModelSet | None = None,
    check: Callable[[], None] = _no_check,
) -> EncodedEntry:
    """The entry for one prepared member, the best way ``policy`` allows; nothing is written.

    ``model``: the model set named by the options, loaded by the caller (None: images are not coded).
    ``check`` raises ``CancelledError`` to stop a long coding.
    """
    member = prepared.member
    if prepared.failed:
        return EncodedEntry.failure(member.name, prepared.failed)
    if member.kind == DIRECTORY:
        return folder_entry(member)
    if member.kind == SYMLINK:
        return link_entry(member)
    if member.kind != FILE:  # scan yields only files, folders and links
        raise ValueError(f"unexpected member kind {member.kind}")
    return _encode_file(member, prepared.source, policy, model, check)


def _encode_file(
    member: Member,
    source: bytes | None,
    policy: EncodePolicy,
    model: ModelSet | None,
    check: Callable[[], None],
) -> EncodedEntry:
    """One file's content (``source``, or the file on disk when None): a JPEG re-pack in lossless mode,
    a coded image in lossy mode, else its bytes (LZMA when that pays), with the reason in the note."""
    note, reason = "", None
    notices: list[Notice] = []
    if policy.options.images == "lossless" and is_jpeg(member, source):
        try:
            repacked = repack_entry(member, check, source)
        except OSError as exc:
            return cannot_read(member.name, exc)
        if isinstance(repacked, EncodedEntry):
            return repacked
        note, reason = repacked.note, repacked.reason
        if reason is IssueCode.REPACK_MISMATCH:
            notices.append(Notice(note, note))
    if model is not None:
        try:
            info, decoded = classify_and_decode(member.path, source)
        except (LatentzipError, OSError) as exc:
            info, decoded = None, None
            note, reason = f"could not be inspected ({exc}); stored byte-exact", IssueCode.NOT_INSPECTED
        if decoded is not None:
            repack = RepackCache(member, check, source) if is_jpeg(member, source) else None
            attempts = policy.attempts(member.name, can_raise=model.can_raise)
            try:
                coded = code_image(
                    member,
                    decoded,
                    model,
                    attempts,
                    policy.options.entropy,
                    check,
                    repack,
                    planner.STORED_NOTE,
                    policy.options.colour_limit,
                )
            except CancelledError:
                raise
            except (LatentzipError, ValueError, MemoryError) as exc:
                coded, reason = None, IssueCode.CODING_FAILED
                note = f"could not be coded ({exc}); stored byte-exact"
                notices.append(Notice(note, note))
            if isinstance(coded, EncodedEntry):
                return coded.with_notices(tuple(notices))
            if coded is not None and coded.kind == OutcomeKind.LOSSY:  # code_image returns lossy ones as entries
                raise ValueError("a coded image without its entry")
            if coded is not None and coded.fallback:  # coded, but kept exactly: a JPEG's re-pack, else the file
                try:
                    return fallback_entry(member, source, coded, repack).with_notices(tuple(notices))
                except OSError as exc:
                    return cannot_read(member.name, exc).with_notices(tuple(notices))
            if coded is not None:
                note, reason = coded.note, coded.reason
        elif info is not None:
            note, reason = info.reason, info.code
            if info.code is IssueCode.DOES_NOT_DECODE:
                notices.append(Notice(f"{info.reason}; stored byte-exact", info.reason))
    try:
        return stored_entry(member, note, source, reason=reason).with_notices(tuple(notices))
    except OSError as exc:
        return cannot_read(member.name, exc).with_notices(tuple(notices))


def _source_bytes(member: Member, options: CompressOptions) -> bytes | None:
    """The bytes to archive for a file when they differ from the file on disk, else None.

    With ``strip_location``, an image file carrying a location is rewritten in memory
    (metadata only); that rewritten file is what gets coded or stored.
    """
    if (
        not options.strip_location
        or member.path.suffix.lower() not in PROBED_EXTENSIONS
        or member.size > MAX_FILE_BYTES
    ):
        return None
    try:
        data = member.path.read_bytes()
    except OSError:
        return None  # reported when the file is read for archiving
    return strip_location_bytes(data)
