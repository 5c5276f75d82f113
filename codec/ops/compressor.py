"""Compress: input paths -> one .ltz archive, written atomically.

The archive is written to a hidden temporary file beside the target and
renamed into place only when complete, so a failed, interrupted or cancelled
run leaves nothing under the final name, and an existing archive is replaced
only when ``overwrite`` is set.

This module is the orchestration (scan, resume, target plan, the temporary file, the report); the rule
that turns a file into an entry is codec/entries/ (``archive_member`` runs it, for ``add`` too).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..api.errors import ExistingFileError, InputError
from ..api.options import CompressOptions
from ..api.progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from ..api.reports import CompressReport, FileOutcome
from ..container import ArchiveWriteError, ArchiveWriter, EntryKind
from ..entries.duplicate import duplicate_entry
from ..entries.encode import EncodePolicy, PreparedMember, encode_member, prepare_member
from ..entries.entry import EncodedEntry, cannot_read
from ..entries.member import base_header, file_sha256, unarchivable
from ..entries.sink import EntrySink, WriterSink
from ..entries.stored import lzma_pays
from ..estimate import estimate_pass, planner
from ..images import classify_and_decode
from ..runtime.model_set import ModelRegistry, ModelSet, default_registry
from . import partial_file, resume, volumes
from .encoders import EntryEncoder, closed_after
from .scan import FILE, Member, scan_inputs


def compress(
    inputs: list[Path],
    output: Path,
    options: CompressOptions = CompressOptions(),
    sink: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    registry: ModelRegistry | None = None,
    encoder: EntryEncoder | None = None,
) -> CompressReport:
    """Archive ``inputs`` into ``output``. Raises on failure; per-file problems go in the report.

    ``encoder``: encodes the members elsewhere (threads, a cluster) and gives them back in order; None:
    one by one, here. The archive's bytes are the same either way. With ``options.split_every`` the
    archive is numbered volumes beside ``output`` (``volumes.py``), listed in ``report.volumes``.
    """
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    output = Path(output)
    if options.split_every is None and output.exists() and not options.overwrite:
        raise ExistingFileError("the archive exists; use overwrite to replace it", str(output))
    model = None
    if options.images == "lossy":
        model = (registry or default_registry()).get(options.model_hash, options.precision)
    scan = scan_inputs([Path(p) for p in inputs], exclude=output)
    report = CompressReport(archive=output)
    for issue in scan.skipped:
        (report.failed if issue.is_failure else report.warnings).append((issue.path, issue.message))
        sink.warning(issue.path, issue.message)
    start = time.monotonic()
    members = scan.members
    plan = None
    if options.targeted:  # hashed first, so the estimate counts duplicates as what they cost: a header
        members = [_hashed(m, cancel) for m in members]
        if model is None:  # CompressOptions refuses a target without lossy images, which load the model
            raise ValueError("a size or quality target needs lossy images")
        plan = _plan(members, options, model, sink, cancel)
    estimate_seconds = time.monotonic() - start
    tracker = ProgressTracker(sink, "compress", len(scan.members), scan.total_bytes)
    seen: dict[str, str] = {}  # sha256 -> archive path of the first file with that content
    policy = EncodePolicy(options, plan)
    job = _Job(policy, model, cancel, sink, report, seen)
    if options.split_every is not None:
        _write_volumes(output, options, members, job, tracker, encoder)
        report.seconds = time.monotonic() - start
        return report
    prefix = _resume_or_note(output, options.resume, sink, report)
    done = 0
    with partial_file.writing(output, "no archive was written") as (fh, tmp):
        if prefix is None or prefix.end == 0:  # nothing kept (an empty partial file): a fresh start
            writer = ArchiveWriter(fh)
        else:
            done = resume.members_done([m.name for m in members], prefix)
            resume.copy_prefix(prefix, fh)
            writer = ArchiveWriter.resume(fh, prefix.records)
            _take_over(prefix, members[:done], seen, report, tracker, options)
        with writer:
            _archive_members(WriterSink(writer, cancel.check), members[done:], job, tracker, encoder)
        partial_file.finish(fh)
        _publish(tmp, output, options.overwrite)
    if prefix is not None:
        prefix.path.unlink(missing_ok=True)  # resumed, as asked: its entries are in the archive now
    report.archive_size = output.stat().st_size
    report.seconds = time.monotonic() - start
    if plan is not None:
        report.target = planner.target_result(plan, report.outcomes, report.archive_size, estimate_seconds)
    return report


@dataclass(frozen=True)
class _Job:
    """What archiving each member needs besides the member: the rule, the model, where reports go."""

    policy: EncodePolicy
    model: ModelSet | None
    cancel: CancelToken
    progress: ProgressSink
    report: CompressReport
    seen: dict[str, str]

    def encode(self, prepared: PreparedMember) -> EncodedEntry:
        return encode_member(prepared, self.policy, self.model, self.cancel.check)


@dataclass(frozen=True)
class _Slot:
    """A member taken from the input, waiting for its turn to be written: refused (``refusal``), prepared
    (sent to the encoder, or a copy of an earlier member's content, which is not), or neither: in line."""

    member: Member
    prepared: PreparedMember | None = None
    refusal: str = ""


def _archive_members(
    entries: EntrySink,
    members: list[Member],
    job: _Job,
    tracker: ProgressTracker,
    encoder: EntryEncoder | None,
    split: volumes.VolumeSet | None = None,
) -> None:
    """Archive ``members`` into ``entries`` in their order: one by one here, or through ``encoder``."""
    if encoder is None:
        for member in members:
            job.cancel.check()
            tracker.start_file(member.name)
            _write_slot(entries, _Slot(member, refusal=unarchivable(member)), None, job, tracker, split)
        return
    slots: deque[_Slot] = deque()
    with closed_after(encoder.encode_ordered(_fed(members, job, tracker, slots), job.policy)) as encoded:
        for prepared, entry in encoded:
            while slots[0].prepared is not prepared:  # refused members and copies before it
                _write_slot(entries, slots.popleft(), None, job, tracker, split)
            _write_slot(entries, slots.popleft(), entry, job, tracker, split)
    while slots:
        _write_slot(entries, slots.popleft(), None, job, tracker, split)


def _fed(members: list[Member], job: _Job, tracker: ProgressTracker, slots: deque[_Slot]) -> Iterator[PreparedMember]:
    """The prepared members to encode, in order; every member taken is queued in ``slots``. A file
    whose content an earlier one has is not encoded: it becomes a DUPLICATE when written (or is
    encoded then, if that earlier one could not be written or is in another volume)."""
    fed: set[str] = set()
    for member in members:
        job.cancel.check()
        tracker.start_file(member.name)
        refusal = unarchivable(member)
        if refusal:
            slots.append(_Slot(member, refusal=refusal))
            continue
        prepared = prepare_member(member, job.policy, job.cancel.check)
        if prepared.locations_removed:
            job.report.locations_removed += 1
        digest = prepared.member.sha256 if prepared.member.kind == FILE and not prepared.failed else None
        copy = digest is not None and (digest in job.seen or digest in fed)
        slots.append(_Slot(member, prepared))
        if digest is not None:
            fed.add(digest)
        if not copy:
            yield prepared


def _write_slot(
    entries: EntrySink,
    slot: _Slot,
    entry: EncodedEntry | None,
    job: _Job,
    tracker: ProgressTracker,
    split: volumes.VolumeSet | None,
) -> None:
    """Write one member's entry (``entry``, or made here: a copy's, or in line without an encoder)."""
    member = slot.member
    if slot.refusal:
        job.report.failed.append((member.name, slot.refusal))
        job.progress.warning(member.name, slot.refusal)
    elif slot.prepared is None:  # in line: prepared, deduplicated and encoded now
        outcome = archive_member(
            entries, member, job.policy, job.model, job.cancel, job.progress, job.report, job.seen, split
        )
        if outcome is not None:
            job.report.outcomes.append(outcome)
    else:
        first = _first_copy(slot.prepared, job.seen)
        if entry is None:
            entry = duplicate_entry(slot.prepared.member, first) if first is not None else job.encode(slot.prepared)
        outcome = _write_entry(entries, slot.prepared, first, entry, job, split)
        if outcome is not None:
            job.report.outcomes.append(outcome)
    tracker.advance(files=1, nbytes=member.size)


def _write_volumes(
    output: Path,
    options: CompressOptions,
    members: list[Member],
    job: _Job,
    tracker: ProgressTracker,
    encoder: EntryEncoder | None,
) -> None:
    """Archive ``members`` into numbered volumes beside ``output``, renamed into place when all are done;
    with ``overwrite``, the later volumes of an older, longer set of that name are removed."""
    if options.split_every is None:
        raise ValueError("no volume size")
    with volumes.VolumeSet(output, options.split_every, options.overwrite, job.cancel.check) as split:
        _archive_members(split, members, job, tracker, encoder, split)
        done = split.finished()
        for tmp, final in done:
            _publish(tmp, final, options.overwrite)
    job.report.volumes = [final for _, final in done]
    for stale in volumes.existing_volumes(output)[len(done) :]:
        stale.unlink(missing_ok=True)  # overwrite: an older set's later volumes would be read with these
    job.report.archive = job.report.volumes[0]
    job.report.archive_size = sum(path.stat().st_size for path in job.report.volumes)


def _resume_or_note(
    output: Path, resume_asked: bool, sink: ProgressSink, report: CompressReport
) -> resume.GoodPrefix | None:
    """With ``resume_asked``, the kept entries of the newest stale partial file; without, None,
    after naming any stale partial file (which is never deleted unasked)."""
    stale = partial_file.stale_partials(output)
    if resume_asked:
        if not stale:
            raise InputError("nothing to resume: no partial archive of an interrupted run is beside it", str(output))
        return resume.good_prefix(stale[0])
    for path in stale:
        note = partial_file.stale_note(output, path)
        sink.warning(str(output), note)
        report.warnings.append((str(output), note))
    return None


def _take_over(
    prefix: resume.GoodPrefix,
    members: list[Member],
    seen: dict[str, str],
    report: CompressReport,
    tracker: ProgressTracker,
    options: CompressOptions,
) -> None:
    """Account for the members the resumed prefix has dealt with (held, or not archivable then).

    Refuses (InputError) when a kept entry no longer stands for its input: the file changed, or its
    image was coded with other settings, so the result would not be the archive an uninterrupted
    run writes."""
    by_path = {r.path: r for r in prefix.records}
    checkpoint = None if options.targeted else options.checkpoint
    for member in members:
        record = by_path.get(member.name)
        size = None if options.strip_location else member.size
        why = record and resume.changed_since(record, size, member.mtime_ns, checkpoint, options.entropy)
        if why:
            raise InputError(f"cannot resume: {why} ({member.name}); compress again without --resume", str(prefix.path))
    for held in prefix.records:
        if held.sha256 is not None and held.kind != EntryKind.DUPLICATE:
            seen.setdefault(held.sha256, held.path)
    for member in members:
        record = by_path.get(member.name)
        if record is not None:
            report.outcomes.append(resume.outcome_of(record))
        else:
            reason = (
                unarchivable(member)
                or "not archived by the interrupted run (compress again without --resume to retry it)"
            )
            report.failed.append((member.name, reason))
        tracker.advance(files=1, nbytes=member.size)


def _hashed(member: Member, cancel: CancelToken) -> Member:
    """``member`` with its content hash (unchanged if it is not a file or cannot be read now)."""
    if member.kind != FILE or member.sha256 is not None:
        return member
    try:
        return replace(member, sha256=file_sha256(member.path, cancel.check))
    except OSError:
        return member  # reported when it is archived


def _plan(
    members: list[Member], options: CompressOptions, model: ModelSet, sink: ProgressSink, cancel: CancelToken
) -> planner.Plan:
    """The estimate pass of a size or quality target: which checkpoint (or exact storage) each image gets."""
    members = [m for m in members if not unarchivable(m)]
    tracker = ProgressTracker(sink, "estimate", len(members), sum(m.size for m in members))
    target: float
    if options.target_size is not None:
        mode, target = planner.SIZE, options.target_size
    elif options.min_quality is not None:
        mode, target = planner.QUALITY, options.min_quality
    else:
        raise ValueError("no size or quality target to plan for")

    pending: list[Member] = []

    def on_file(member: Member | None) -> None:  # the previous file is done; this one starts
        for done in pending:
            tracker.advance(files=1, nbytes=done.size)
        pending[:] = [member] if member is not None else []
        if member is not None:
            tracker.start_file(member.name)

    items, fixed = estimate_pass.estimate_members(
        members,
        model,
        decode=classify_and_decode,
        lzma_pays=lzma_pays,
        base_header=base_header,
        entropy=options.entropy,
        quality_floor=options.quality_floor,
        check=cancel.check,
        on_file=on_file,
    )
    on_file(None)
    return planner.make_plan(items, fixed, mode, target)


def _publish(tmp: Path, output: Path, overwrite: bool) -> None:
    """Move the finished temporary file to its final name."""
    if overwrite:
        os.replace(tmp, output)
        return
    try:
        os.link(tmp, output)  # fails if output appeared meanwhile: never clobber
    except FileExistsError:
        raise ExistingFileError("the archive appeared while it was being written; not replaced", str(output)) from None
    except OSError:
        if output.exists():
            raise ExistingFileError("the archive exists; use overwrite to replace it", str(output)) from None
        os.replace(tmp, output)
        return
    tmp.unlink()


def archive_member(
    sink: EntrySink,
    member: Member,
    policy: EncodePolicy,
    model: ModelSet | None,
    cancel: CancelToken,
    progress: ProgressSink,
    report: CompressReport,
    seen: dict[str, str],
    split: volumes.VolumeSet | None = None,
) -> FileOutcome | None:
    """Encode one member and write it to ``sink``; its warnings and failure go to ``progress`` and ``report``.

    ``seen`` maps the content hashes already in the archive to their entry path: a file with one of them
    becomes a DUPLICATE entry (deduplication), and a file written adds its own. ``split``: the volumes
    ``sink`` writes into, when there are (a new volume forgets ``seen``).
    """
    prepared = prepare_member(member, policy, cancel.check)
    if prepared.locations_removed:
        report.locations_removed += 1
    first = _first_copy(prepared, seen)
    if first is not None:
        entry = duplicate_entry(prepared.member, first)
    else:
        entry = encode_member(prepared, policy, model, cancel.check)
    return _write_entry(sink, prepared, first, entry, _Job(policy, model, cancel, progress, report, seen), split)


def _first_copy(prepared: PreparedMember, seen: dict[str, str]) -> str | None:
    """The archive path of an earlier entry with this member's content, if any."""
    member = prepared.member
    return seen.get(member.sha256 or "") if member.kind == FILE and not prepared.failed else None


def _write_entry(
    sink: EntrySink,
    prepared: PreparedMember,
    first: str | None,
    entry: EncodedEntry,
    job: _Job,
    split: volumes.VolumeSet | None = None,
) -> FileOutcome | None:
    """Write ``entry`` (a DUPLICATE of ``first`` when not None) for ``prepared``; report its warnings and failure.

    Before an entry that would take the current volume past its size, a new volume starts; a DUPLICATE
    then becomes the new volume's own copy (encoded now): no entry points into another volume.
    """
    member, seen, report, progress = prepared.member, job.seen, job.report, job.progress
    if split is not None and split.needs_new_volume(entry):
        split.next_volume()
        seen.clear()
        if first is not None:
            first, entry = None, job.encode(prepared)
    for notice in entry.notices:
        progress.warning(member.name, notice.shown)
        report.warnings.append((member.name, notice.recorded))
    try:
        outcome = sink.write(entry)
    except ArchiveWriteError:  # the archive, not the input, could not be written
        raise
    except OSError as exc:
        entry = cannot_read(member.name, exc)
        outcome = None
    if entry.failed:
        progress.warning(member.name, entry.failed)
        report.failed.append((member.name, entry.failed))
        return None
    if outcome is not None and first is None and member.kind == FILE:
        seen[member.sha256 or ""] = member.name
    return outcome
