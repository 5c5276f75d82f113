"""Compress: input paths -> one .ltz archive, written atomically.

The archive is written to a hidden temporary file beside the target and
renamed into place only when complete, so a failed, interrupted or cancelled
run leaves nothing under the final name, and an existing archive is replaced
only when ``overwrite`` is set.

This module is the orchestration (scan, resume, target plan, the temporary file, the report); the rule
that turns a file into an entry is codec/entries/ (``archive_members`` runs it, for ``add`` too). The
encoding runs on the job's workers (ops/pipeline.py, ``CompressOptions.threads``); hashing, deduplication
and writing stay here, in input order, so the archive's bytes do not depend on the workers, nor on
whether a cluster encodes instead (``encoder``: ops/cluster.py). With ``split_every`` the archive is
numbered volumes (ops/volumes.py).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
from ..runtime.model_set import ModelRegistry, ModelSet, default_registry, job_workers
from . import partial_file, resume, volumes
from .encoders import EntryEncoder, closed_after
from .pipeline import OrderedPool, in_flight_for, local_encoder
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

    ``encoder``: encodes the members elsewhere (a cluster) and gives them back in order, left open for
    the caller to close; None: the job's workers here (``options.threads``). The archive's bytes are the
    same either way. With ``options.split_every`` the archive is numbered volumes beside ``output``
    (``volumes.py``), listed in ``report.volumes``.
    """
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    output = Path(output)
    if options.split_every is None and output.exists() and not options.overwrite:
        raise ExistingFileError("the archive exists; use overwrite to replace it", str(output))
    model = None
    workers = job_workers(options.threads)
    if options.images == "lossy":
        model = (registry or default_registry()).get(options.model_hash, options.precision).with_workers(workers)
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
    if options.split_every is not None:
        for stale in volumes.stale_volume_partials(output):
            note = volumes.stale_volume_note(stale)
            sink.warning(str(output), note)
            report.warnings.append((str(output), note))
        with _encoder(encoder, model, workers, cancel) as coder:
            split_job = _Members(policy, model, coder, cancel, sink, report, seen, tracker)
            _write_volumes(output, options, members, split_job)
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
        with writer, _encoder(encoder, model, workers, cancel) as coder:
            entries = WriterSink(writer, cancel.check)
            archive_members(entries, members[done:], policy, model, coder, cancel, sink, report, seen, tracker)
        partial_file.finish(fh)
        _publish(tmp, output, options.overwrite)
    if prefix is not None:
        prefix.path.unlink(missing_ok=True)  # resumed, as asked: its entries are in the archive now
    report.archive_size = output.stat().st_size
    report.seconds = time.monotonic() - start
    if plan is not None:
        report.target = planner.target_result(plan, report.outcomes, report.archive_size, estimate_seconds)
    return report


@contextmanager
def _encoder(
    given: EntryEncoder | None, model: ModelSet | None, workers: int, cancel: CancelToken
) -> Iterator[EntryEncoder]:
    """``given`` (the caller closes it), else the job's local encoder, closed on leaving."""
    if given is not None:
        yield given
        return
    coder = local_encoder(model, workers, cancel.check)
    try:
        yield coder
    finally:
        coder.close()


@dataclass(frozen=True)
class _Members:
    """What ``archive_members`` needs besides the sink and the members (for the volumes' path)."""

    policy: EncodePolicy
    model: ModelSet | None
    encoder: EntryEncoder
    cancel: CancelToken
    progress: ProgressSink
    report: CompressReport
    seen: dict[str, str]
    tracker: ProgressTracker


def _write_volumes(output: Path, options: CompressOptions, members: list[Member], job: _Members) -> None:
    """Archive ``members`` into numbered volumes beside ``output``, renamed into place when all are done;
    with ``overwrite``, the later volumes of an older, longer set of that name are removed."""
    if options.split_every is None:
        raise ValueError("no volume size")
    report = job.report
    with volumes.VolumeSet(output, options.split_every, options.overwrite, job.cancel.check) as split:
        archive_members(
            split,
            members,
            job.policy,
            job.model,
            job.encoder,
            job.cancel,
            job.progress,
            report,
            job.seen,
            job.tracker,
            split=split,
        )
        done = split.finished()
        published: list[Path] = []
        try:
            for tmp, final in done:
                _publish(tmp, final, options.overwrite)
                published.append(final)
        except BaseException:
            if not options.overwrite:  # a volume appeared meanwhile: no part of the new set stays behind
                for path in published:
                    path.unlink(missing_ok=True)
            raise
    report.volumes = [final for _, final in done]
    for stale in volumes.stale_volumes(output, len(done)):
        stale.unlink(missing_ok=True)  # overwrite: an older set's later volumes would be read with these
    report.archive = report.volumes[0]
    report.archive_size = sum(path.stat().st_size for path in report.volumes)


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

    pool = OrderedPool(model.workers, in_flight_for(model.workers), cancel.check) if model.workers > 1 else None
    try:
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
            ordered_map=pool.map if pool is not None else None,
        )
    finally:
        if pool is not None:
            pool.close()
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


def _dedup_key(prepared: PreparedMember) -> str | None:
    """The content hash a member is deduplicated by; None: it never is (not a file, or unreadable)."""
    member = prepared.member
    return member.sha256 or "" if member.kind == FILE and not prepared.failed else None


def _with_source(prepared: PreparedMember, policy: EncodePolicy, cancel: CancelToken) -> PreparedMember:
    """A member held back as a likely copy without its rewritten bytes (``--strip-location``), prepared
    again when it has to be encoded after all (its first copy failed, or a new volume began)."""
    if prepared.locations_removed and prepared.source is None and not prepared.failed:
        return prepare_member(prepared.member, policy, cancel.check)
    return prepared


def _write_prepared(
    sink: EntrySink,
    prepared: PreparedMember,
    entry: EncodedEntry | None,
    policy: EncodePolicy,
    model: ModelSet | None,
    cancel: CancelToken,
    progress: ProgressSink,
    report: CompressReport,
    seen: dict[str, str],
    split: volumes.VolumeSet | None = None,
) -> FileOutcome | None:
    """Write one prepared member to ``sink``: a DUPLICATE entry when ``seen`` holds its content, else
    ``entry`` (its encoding, done elsewhere; None: encode it here); its warnings and failure go to
    ``progress`` and ``report``, and its hash to ``seen`` once written.

    ``split``: the volumes ``sink`` writes into, when there are. Before an entry that would take the
    current volume past its size a new volume starts and ``seen`` is forgotten; a DUPLICATE then
    becomes the new volume's own copy (encoded now): no entry points into another volume."""
    if prepared.locations_removed:
        report.locations_removed += 1
    member = prepared.member
    key = _dedup_key(prepared)
    first = seen.get(key) if key is not None else None
    if first is not None:
        entry = duplicate_entry(member, first)
    elif entry is None:
        entry = encode_member(_with_source(prepared, policy, cancel), policy, model, cancel.check)
    if split is not None and split.needs_new_volume(entry):
        split.next_volume()
        seen.clear()
        if first is not None:
            first, entry = None, encode_member(_with_source(prepared, policy, cancel), policy, model, cancel.check)
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


@dataclass
class _Turn:
    """One member in input order: refused (``refusal``), sent to the encoder, or kept back as a likely duplicate."""

    member: Member
    prepared: PreparedMember | None = None
    refusal: str = ""
    encoded_elsewhere: bool = False


def archive_members(
    sink: EntrySink,
    members: Iterable[Member],
    policy: EncodePolicy,
    model: ModelSet | None,
    encoder: EntryEncoder,
    cancel: CancelToken,
    progress: ProgressSink,
    report: CompressReport,
    seen: dict[str, str],
    tracker: ProgressTracker,
    on_outcome: Callable[[Member, FileOutcome], None] | None = None,
    split: volumes.VolumeSet | None = None,
) -> None:
    """Archive ``members`` into ``sink`` in input order, the encoding done by ``encoder`` (several at once).

    ``seen`` maps the content hashes already in the archive to their entry path: a file with one of them
    becomes a DUPLICATE entry (deduplication), and a file written adds its own. The archive is the one
    a loop that prepares, encodes and writes each member in turn writes (``SerialEncoder``). Members are prepared
    (hashed) here, in order; one whose content an earlier member already holds or is being encoded for
    is not encoded: at its turn it becomes a DUPLICATE of the copy written, or, when that copy failed
    (unreadable meanwhile), it is encoded here, as the sequential run would. Refused members
    (``unarchivable``) are reported at their turn. ``on_outcome``: called for each member written.
    ``split``: ``sink`` is numbered volumes (``_write_prepared``); a copy whose first is in an earlier
    volume is encoded at its turn, as one whose first failed.
    """
    turns: deque[_Turn] = deque()  # taken from ``members``, not yet written, in order
    dispatched = set(seen)  # content held or sent to the encoder

    def feed() -> Iterator[PreparedMember]:
        for member in members:
            cancel.check()
            refusal = unarchivable(member)
            if refusal:
                turns.append(_Turn(member, refusal=refusal))
                continue
            prepared = prepare_member(member, policy, cancel.check)
            key = _dedup_key(prepared)
            if key is not None and key in dispatched:  # held back without its bytes: a run of copies stays small
                turns.append(_Turn(member, replace(prepared, source=None)))
                continue
            if key is not None:
                dispatched.add(key)
            turns.append(_Turn(member, prepared, encoded_elsewhere=True))
            yield prepared

    with closed_after(encoder.encode_ordered(feed(), policy)) as results:
        taken: deque[tuple[PreparedMember, EncodedEntry]] = deque()  # results whose turn has not come
        fed = False  # every member has been taken by the feed
        while True:
            cancel.check()
            if not turns:  # the feed has not reached the next member: taking a result pulls it along
                if fed:
                    return
                result = next(results, None)
                if result is None:
                    fed = True
                else:
                    taken.append(result)
                continue
            turn = turns.popleft()
            member = turn.member
            tracker.start_file(member.name)
            if turn.prepared is None:
                report.failed.append((member.name, turn.refusal))
                progress.warning(member.name, turn.refusal)
                tracker.advance(files=1, nbytes=member.size)
                continue
            entry = None
            if turn.encoded_elsewhere:
                prepared, entry = taken.popleft() if taken else next(results)
                if prepared.member.name != member.name:  # (a cluster's encoder returns copies: compare names)
                    raise RuntimeError(f"the encoder returned {prepared.member.name} out of turn for {member.name}")
            outcome = _write_prepared(sink, turn.prepared, entry, policy, model, cancel, progress, report, seen, split)
            if outcome is not None:
                report.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(member, outcome)
            tracker.advance(files=1, nbytes=member.size)
