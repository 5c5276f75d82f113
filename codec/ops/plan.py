"""What compress will do with each file, decided before it runs: the per-file plan.

``plan_inputs`` walks the inputs as ``compress`` does (``scan_inputs``) and asks,
for every member, the compressor's own rules: names it cannot store portably are
skipped, identical content becomes a duplicate, JPEGs are re-packed in
"Keep originals exactly" mode, images the probe accepts are coded at the
checkpoint (or at the target's choice), and every other file is stored, with
LZMA when the compressor's trial says it pays. Each row carries an estimated
payload size: exact for stored files, the LZMA trial's ratio for LZMA, the
re-pack's typical ratio for JPEGs; a coded image's size is not known before it
is coded (``estimated`` is None; the caller fills it from sampled figures, with
``targets.stored_instead`` deciding whether it would be stored instead).

Nothing is written. The CLI's dry run and the GUI's plan list both read these rows.
"""

from __future__ import annotations

import enum
import lzma
from dataclasses import dataclass
from pathlib import Path

from ..api.errors import InputError
from ..api.options import CompressOptions
from ..api.outcomes import IssueCode
from ..api.progress import CancelToken
from ..entries.encode import EncodePolicy, prepare_member
from ..entries.jpeg import REPACK_MAX_BYTES, is_jpeg
from ..entries.jpeg_repack import estimated_lossless_size
from ..entries.member import unarchivable
from ..entries.stored import LZMA_TRIAL_BYTES, lzma_filters, lzma_pays
from ..images.probe import classify
from .scan import DIRECTORY, FILE, SYMLINK, Member, scan_inputs

__all__ = ["PlanAction", "FilePlan", "plan_member", "plan_inputs", "count_files_and_folders"]


class PlanAction(str, enum.Enum):
    """What compress will do with one member."""

    CODE = "code"  # coded by the learned codec (at ``FilePlan.checkpoint``, or the target's choice)
    REPACK = "jpeg-repack"  # a JPEG re-packed losslessly with JPEG XL
    LZMA = "lzma"  # stored exactly, LZMA-compressed
    STORE = "stored"  # stored exactly, as it is
    DUPLICATE = "duplicate"  # the same content as an earlier file: a header only
    SKIP = "skipped"  # not archived (unsafe name, unreadable, special file)
    FOLDER = "folder"
    LINK = "link"

    def __str__(self) -> str:
        return self.value

    @property
    def is_folder(self) -> bool:
        return self is PlanAction.FOLDER


@dataclass(frozen=True)
class FilePlan:
    """One row of the plan."""

    name: str  # the archive path
    path: Path | None  # where it is on disk (None for a skipped path the walk could not stat)
    action: PlanAction
    size: int  # the file's bytes
    estimated: int | None  # estimated payload bytes in the archive; None: a coded image, not sampled yet
    checkpoint: str | None = None  # for CODE: the checkpoint (None with a target: chosen per image)
    reason: str = ""  # why it is stored as it is or skipped, for people
    code: IssueCode | None = None  # the same, for code


def count_files_and_folders(folder_flags: list[bool]) -> tuple[int, int]:
    """(files, folders) from one flag per member or entry (True: a folder). Links and duplicates are files:
    the drop list, the result and the archive view all count with this."""
    folders = sum(1 for f in folder_flags if f)
    return len(folder_flags) - folders, folders


def _lzma_estimate(path: Path, size: int) -> int:
    """The payload of an LZMA entry, from the ratio on the file's start (the compressor's trial window)."""
    with open(path, "rb") as fh:
        sample = fh.read(LZMA_TRIAL_BYTES)
    if not sample:
        return size
    packed = len(lzma.compress(sample, filters=lzma_filters(len(sample), preset=1)))
    return max(1, int(size * packed / len(sample)))


def _stored_row(member: Member, reason: str = "", code: IssueCode | None = None) -> FilePlan:
    try:
        if lzma_pays(member.path):
            return FilePlan(
                member.name,
                member.path,
                PlanAction.LZMA,
                member.size,
                _lzma_estimate(member.path, member.size),
                reason=reason,
                code=code,
            )
    except OSError as exc:
        return FilePlan(
            member.name,
            member.path,
            PlanAction.SKIP,
            member.size,
            0,
            reason=f"cannot read: {exc.strerror or exc}",
            code=IssueCode.UNREADABLE,
        )
    return FilePlan(member.name, member.path, PlanAction.STORE, member.size, member.size, reason=reason, code=code)


def plan_member(member: Member, options: CompressOptions) -> FilePlan:
    """What compress will do with ``member`` under ``options`` (duplicates apart: see ``plan_inputs``)."""
    refusal = unarchivable(member)
    if refusal:
        return FilePlan(member.name, member.path, PlanAction.SKIP, member.size, 0, reason=refusal)
    if member.kind == DIRECTORY:
        return FilePlan(member.name, member.path, PlanAction.FOLDER, 0, 0)
    if member.kind == SYMLINK:
        return FilePlan(member.name, member.path, PlanAction.LINK, 0, 0)
    if member.kind != FILE:
        raise ValueError(f"unexpected member kind {member.kind}")
    if options.images == "lossless":
        if is_jpeg(member) and member.size <= REPACK_MAX_BYTES:
            return FilePlan(
                member.name,
                member.path,
                PlanAction.REPACK,
                member.size,
                estimated_lossless_size(member.name, member.size),
            )
        return _stored_row(member)
    try:
        verdict = classify(member.path)
    except InputError as exc:
        return FilePlan(
            member.name, member.path, PlanAction.SKIP, member.size, 0, reason=str(exc), code=IssueCode.UNREADABLE
        )
    if verdict.lossy:
        checkpoint = None if options.targeted else options.checkpoint
        return FilePlan(member.name, member.path, PlanAction.CODE, member.size, None, checkpoint)
    reason = "" if verdict.code is IssueCode.NOT_AN_IMAGE else verdict.reason
    return _stored_row(member, reason, verdict.code)


def plan_inputs(
    inputs: list[Path], options: CompressOptions = CompressOptions(), cancel: CancelToken | None = None
) -> list[FilePlan]:
    """Every path ``compress(inputs, ..., options)`` would meet, with what it would do to it; nothing is written."""
    cancel = cancel or CancelToken()
    scan = scan_inputs([Path(p) for p in inputs], cancel=cancel)
    rows = [
        FilePlan(issue.path, None, PlanAction.SKIP, 0, 0, reason=issue.message, code=issue.code)
        for issue in scan.skipped
        if issue.is_failure or issue.code is IssueCode.SPECIAL_FILE
    ]
    seen: dict[str, str] = {}  # content hash -> first file's name, as the compressor deduplicates
    for member in scan.members:
        cancel.check()
        row = plan_member(member, options)
        if row.action not in (PlanAction.SKIP, PlanAction.FOLDER, PlanAction.LINK):
            # the hash compress deduplicates on: of what it stores (the file rewritten without its location
            # with --strip-location), from the same rule
            prepared = prepare_member(member, EncodePolicy(options), cancel.check)
            digest = prepared.member.sha256 or ""
            if prepared.failed:
                row = FilePlan(
                    member.name,
                    member.path,
                    PlanAction.SKIP,
                    member.size,
                    0,
                    reason=prepared.failed,
                    code=IssueCode.UNREADABLE,
                )
            elif digest in seen:
                row = FilePlan(
                    member.name,
                    member.path,
                    PlanAction.DUPLICATE,
                    member.size,
                    0,
                    reason=f"same content as {seen[digest]}",
                )
            else:
                seen[digest] = member.name
        rows.append(row)
    return rows
