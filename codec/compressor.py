"""Compress: input paths -> one .ltz archive, written atomically.

The archive is written to a hidden temporary file beside the target and
renamed into place only when complete, so a failed, interrupted or cancelled
run leaves nothing under the final name, and an existing archive is replaced
only when ``overwrite`` is set.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

from . import floor_raise, jpeg_repack, partial_file, resume, targets
from .container import ArchiveWriteError, ArchiveWriter, EntryKind, check_archive_name, check_link_target
from .entropy.latent_streams import ENTROPY_NAMES
from .errors import (
    CancelledError,
    ExistingFileError,
    InputError,
    LatentzipError,
    UnsafePathError,
)
from .image_entry import MAX_PIXELS_PER_BYTE, ImagePayload, encode_alpha
from .image_trials import ImageCoder
from .images import DecodedImage, classify_and_decode
from .images.jpeg_tables import HEADER_KEY as JPEG_TABLES_KEY
from .images.location import strip_location_bytes
from .images.probe import MAX_FILE_BYTES, PROBED_EXTENSIONS
from .lzma_entries import lzma_filters
from .outcomes import IssueCode, OutcomeKind
from .progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from .reports import FALLBACK_FLOOR, FALLBACK_LARGER, CompressOptions, CompressReport, FileOutcome
from .runtime.model_set import ModelRegistry, ModelSet, default_registry
from .runtime.rate_ladder import LEVEL_STEPS
from .scan import DIRECTORY, FILE, SYMLINK, Member, scan_inputs

CHUNK = 1 << 20
LZMA_TRIAL_BYTES = 256 << 10
LZMA_MIN_GAIN = 0.95  # use LZMA only when the trial shrinks the sample below 95 %
REPACK_MAX_BYTES = 512 << 20  # a JPEG is re-packed in memory; bigger ones are stored plain


def compress(
    inputs: list[Path],
    output: Path,
    options: CompressOptions = CompressOptions(),
    sink: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    registry: ModelRegistry | None = None,
) -> CompressReport:
    """Archive ``inputs`` into ``output``. Raises on failure; per-file problems go in the report."""
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    output = Path(output)
    if output.exists() and not options.overwrite:
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
    prefix = _resume_or_note(output, options.resume, sink, report)
    seen: dict[str, str] = {}  # sha256 -> archive path of the first file with that content
    done = 0
    with partial_file.writing(output, "no archive was written") as (fh, tmp):
        if prefix is None:
            writer = ArchiveWriter(fh)
        else:
            done = resume.members_done([m.name for m in members], prefix)
            resume.copy_prefix(prefix, fh)
            writer = ArchiveWriter.resume(fh, prefix.records)
            _take_over(prefix, members[:done], seen, report, tracker)
        with writer:
            for member in members[done:]:
                cancel.check()
                tracker.start_file(member.name)
                refusal = _unarchivable(member)
                if refusal:
                    report.failed.append((member.name, refusal))
                    sink.warning(member.name, refusal)
                    tracker.advance(files=1, nbytes=member.size)
                    continue
                outcome = _add_member(writer, member, options, model, cancel, sink, report, seen, plan)
                if outcome is not None:
                    report.outcomes.append(outcome)
                tracker.advance(files=1, nbytes=member.size)
        partial_file.finish(fh)
        _publish(tmp, output, options.overwrite)
    if prefix is not None:
        prefix.path.unlink(missing_ok=True)  # resumed, as asked: its entries are in the archive now
    report.archive_size = output.stat().st_size
    report.seconds = time.monotonic() - start
    if plan is not None:
        report.target = targets.target_result(plan, report.outcomes, report.archive_size, estimate_seconds)
    return report


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
) -> None:
    """Account for the members the resumed prefix has dealt with (held, or not archivable then)."""
    by_path = {r.path: r for r in prefix.records}
    for held in prefix.records:
        if held.sha256 is not None and held.kind != EntryKind.DUPLICATE:
            seen.setdefault(held.sha256, held.path)
    for member in members:
        record = by_path.get(member.name)
        if record is not None:
            report.outcomes.append(resume.outcome_of(record))
        else:
            reason = (
                _unarchivable(member)
                or "not archived by the interrupted run (compress again without --resume to retry it)"
            )
            report.failed.append((member.name, reason))
        tracker.advance(files=1, nbytes=member.size)


def _hashed(member: Member, cancel: CancelToken) -> Member:
    """``member`` with its content hash (unchanged if it is not a file or cannot be read now)."""
    if member.kind != FILE or member.sha256 is not None:
        return member
    try:
        return replace(member, sha256=file_sha256(member.path, cancel))
    except OSError:
        return member  # reported when it is archived


def _plan(
    members: list[Member], options: CompressOptions, model: ModelSet, sink: ProgressSink, cancel: CancelToken
) -> targets.Plan:
    """The estimate pass of a size or quality target: which checkpoint (or exact storage) each image gets."""
    members = [m for m in members if not _unarchivable(m)]
    tracker = ProgressTracker(sink, "estimate", len(members), sum(m.size for m in members))
    target: float
    if options.target_size is not None:
        mode, target = targets.SIZE, options.target_size
    elif options.min_quality is not None:
        mode, target = targets.QUALITY, options.min_quality
    else:
        raise ValueError("no size or quality target to plan for")

    pending: list[Member] = []

    def on_file(member: Member | None) -> None:  # the previous file is done; this one starts
        for done in pending:
            tracker.advance(files=1, nbytes=done.size)
        pending[:] = [member] if member is not None else []
        if member is not None:
            tracker.start_file(member.name)

    items, fixed = targets.estimate_members(
        members,
        model,
        decode=classify_and_decode,
        lzma_pays=_lzma_pays,
        base_header=_base_header,
        entropy=options.entropy,
        quality_floor=options.quality_floor,
        check=cancel.check,
        on_file=on_file,
    )
    on_file(None)
    return targets.make_plan(items, fixed, mode, target)


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


def _unarchivable(member: Member) -> str:
    """Why a member cannot be stored portably ('' when it can)."""
    try:
        check_archive_name(member.name)
        if member.link is not None:
            check_link_target(member.name, member.link)
    except UnsafePathError as exc:
        what = "link target" if member.link is not None else "name"
        return f"not archived: its {what} cannot be restored safely ({exc})"
    return ""


def _base_header(member: Member, kind: EntryKind) -> dict:
    header = {
        "path": member.name,
        "kind": int(kind),
        "size": member.size,
        "mtime_ns": member.mtime_ns,
        "mode": member.mode,
    }
    if member.link is not None:
        header["link"] = member.link
    if member.sha256 is not None:
        header["sha256"] = member.sha256
    return header


def file_sha256(path: Path, cancel: CancelToken) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    for chunk in _read_chunks(path, cancel):
        digest.update(chunk)
    return digest.hexdigest()


def _add_member(
    writer: ArchiveWriter,
    member: Member,
    options: CompressOptions,
    model: ModelSet | None,
    cancel: CancelToken,
    sink: ProgressSink,
    report: CompressReport,
    seen: dict[str, str] | None = None,
    plan: targets.Plan | None = None,
) -> FileOutcome | None:
    """Write one member. ``seen`` maps the content hashes already in the archive to their entry
    path: a file with one of them becomes a DUPLICATE entry (deduplication). ``plan``: a target's
    per-image checkpoint choices."""
    if member.kind == DIRECTORY:
        writer.add(_base_header(member, EntryKind.DIRECTORY))
        return FileOutcome(member.name, OutcomeKind.DIRECTORY, 0, 0)
    if member.kind == SYMLINK:
        writer.add(_base_header(member, EntryKind.SYMLINK))
        return FileOutcome(member.name, OutcomeKind.SYMLINK, 0, 0)
    if member.kind != FILE:  # scan yields only files, folders and links
        raise ValueError(f"unexpected member kind {member.kind}")
    source = _source_bytes(member, options)  # None: the file as it is on disk
    if source is not None:  # what is stored is the rewritten file: its size and hash
        member = replace(member, size=len(source), sha256=hashlib.sha256(source).hexdigest())
        report.locations_removed += 1
    seen = {} if seen is None else seen
    if member.sha256 is None:  # ``add`` has hashed it already
        try:
            member = replace(member, sha256=file_sha256(member.path, cancel))
        except OSError as exc:
            _unreadable(member, exc, sink, report)
            return None
    first = seen.get(member.sha256 or "")
    if first is not None:
        header = _base_header(member, EntryKind.DUPLICATE)
        header["same_as"] = first
        writer.add(header)
        return FileOutcome(member.name, OutcomeKind.DUPLICATE, member.size, 0, note=f"same content as {first}")
    outcome = _add_file(writer, member, options, model, cancel, sink, report, plan, source)
    if outcome is not None:
        seen[member.sha256 or ""] = member.name
    return outcome


def _unreadable(member: Member, exc: OSError, sink: ProgressSink, report: CompressReport) -> None:
    if isinstance(exc, ArchiveWriteError):  # the archive, not the input, could not be written
        raise exc
    reason = f"cannot read: {exc.strerror or exc}"
    sink.warning(member.name, reason)
    report.failed.append((member.name, reason))


def _add_file(
    writer: ArchiveWriter,
    member: Member,
    options: CompressOptions,
    model: ModelSet | None,
    cancel: CancelToken,
    sink: ProgressSink,
    report: CompressReport,
    plan: targets.Plan | None = None,
    source: bytes | None = None,
) -> FileOutcome | None:
    """Store one file's content (``source``, or the file on disk when None) the best way the options allow."""
    note, reason = "", None
    outcome: FileOutcome | None
    if options.images == "lossless" and _is_jpeg(member):
        try:
            outcome = _add_jpeg_repack(writer, member, cancel, source)
        except OSError as exc:
            _unreadable(member, exc, sink, report)
            return None
        if outcome.kind == "lossless-jpeg":
            return outcome
        note, reason = outcome.note, outcome.reason
        if reason is IssueCode.REPACK_MISMATCH:
            sink.warning(member.name, note)
            report.warnings.append((member.name, note))
    if model is not None:
        try:
            info, decoded = classify_and_decode(member.path, source)
        except (LatentzipError, OSError) as exc:
            info, decoded = None, None
            note, reason = f"could not be inspected ({exc}); stored byte-exact", IssueCode.NOT_INSPECTED
        if decoded is not None:
            repack = _RepackCache(member, cancel, source) if _is_jpeg(member) else None
            try:
                outcome = _add_image(writer, member, decoded, options, model, cancel, plan, repack)
            except CancelledError:
                raise
            except (LatentzipError, ValueError, MemoryError) as exc:
                outcome, reason = None, IssueCode.CODING_FAILED
                note = f"could not be coded ({exc}); stored byte-exact"
                sink.warning(member.name, note)
                report.warnings.append((member.name, note))
            if outcome is not None and outcome.kind == "lossy":
                return outcome
            if outcome is not None and outcome.fallback:  # coded, but kept exactly: a JPEG's re-pack, else the file
                try:
                    return _store_fallback(writer, member, cancel, source, outcome, repack)
                except OSError as exc:
                    _unreadable(member, exc, sink, report)
                    return None
            if outcome is not None:
                note, reason = outcome.note, outcome.reason
        elif info is not None:
            note, reason = info.reason, info.code
            if info.code is IssueCode.DOES_NOT_DECODE:
                sink.warning(member.name, f"{info.reason}; stored byte-exact")
                report.warnings.append((member.name, info.reason))
    try:
        return _add_stored(writer, member, cancel, note, source, reason=reason)
    except OSError as exc:
        _unreadable(member, exc, sink, report)
        return None


def _is_jpeg(member: Member) -> bool:
    """A JPEG by its first bytes (whatever its name says)."""
    try:
        with open(member.path, "rb") as fh:
            return jpeg_repack.looks_like_jpeg(fh.read(3))
    except OSError:
        return False


def _add_jpeg_repack(
    writer: ArchiveWriter, member: Member, cancel: CancelToken, source: bytes | None = None
) -> FileOutcome:
    """Re-pack a JPEG with JPEG XL, verified; a "stored" outcome says why it must be stored plain."""
    if member.size > REPACK_MAX_BYTES:
        return FileOutcome(
            member.name,
            OutcomeKind.STORED,
            member.size,
            0,
            note="too large to re-pack; stored byte-exact",
            reason=IssueCode.TOO_LARGE,
        )
    data = member.path.read_bytes() if source is None else source
    if hashlib.sha256(data).hexdigest() != member.sha256:
        raise LatentzipError("the file changed while it was being archived", member.name)
    cancel.check()
    attempt = jpeg_repack.try_repack(data)
    cancel.check()
    payload = attempt.payload
    if payload is None:
        return FileOutcome(member.name, OutcomeKind.STORED, member.size, 0, note=attempt.note, reason=attempt.reason)
    width, height = jpeg_repack.jxl_size(payload, member.name)
    header = _base_header(member, EntryKind.JPEG_REPACK)
    header.update(width=width, height=height, format="JPEG")
    writer.add(header, payload)
    return FileOutcome(member.name, OutcomeKind.LOSSLESS_JPEG, member.size, len(payload), source_format="JPEG")


def _store_fallback(
    writer: ArchiveWriter,
    member: Member,
    cancel: CancelToken,
    source: bytes | None,
    coded: FileOutcome,
    repack: _RepackCache | None,
) -> FileOutcome:
    """Keep exactly an image that was coded but not kept coded (``coded.fallback`` says why): a JPEG as its
    lossless JPEG XL re-pack when that works, never the bigger raw file; anything else byte-exact. The entry
    header records why (``fallback``) and for which checkpoint."""
    fallback = {"fallback": coded.fallback, "fallback_checkpoint": coded.fallback_checkpoint}
    payload = repack.get() if repack is not None else None
    if payload is None:
        note = coded.note
        if repack is not None and repack.note:
            note = f"{coded.note} ({repack.note})"
        stored = _add_stored(writer, member, cancel, note, source, fallback)
        return replace(stored, fallback=coded.fallback, fallback_checkpoint=coded.fallback_checkpoint)
    reason = coded.note.replace("; stored byte-exact", "")
    width, height = jpeg_repack.jxl_size(payload, member.name)
    header = _base_header(member, EntryKind.JPEG_REPACK)
    note = f"{reason}; kept exactly as a lossless JPEG XL re-pack"
    header.update(width=width, height=height, format="JPEG", note=note, **fallback)
    writer.add(header, payload)
    return FileOutcome(
        member.name,
        OutcomeKind.LOSSLESS_JPEG,
        member.size,
        len(payload),
        note=note,
        source_format="JPEG",
        fallback=coded.fallback,
        fallback_checkpoint=coded.fallback_checkpoint,
    )


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


class _RepackCache:
    """A JPEG's lossless JPEG XL re-pack, made at most once: the fallback of a JPEG that is not coded."""

    def __init__(self, member: Member, cancel: CancelToken, source: bytes | None) -> None:
        self.member, self.cancel, self.source = member, cancel, source
        self._done = False
        self.payload: bytes | None = None
        self.note = ""

    def get(self) -> bytes | None:
        if not self._done:
            self._done = True
            if self.member.size > REPACK_MAX_BYTES:
                self.note = "too large to re-pack; stored byte-exact"
                return None
            data = self.member.path.read_bytes() if self.source is None else self.source
            if hashlib.sha256(data).hexdigest() != self.member.sha256:
                raise LatentzipError("the file changed while it was being archived", self.member.name)
            self.cancel.check()
            self.payload, self.note = jpeg_repack.repack(data)
            self.cancel.check()
        return self.payload


def _add_image(
    writer: ArchiveWriter,
    member: Member,
    decoded: DecodedImage,
    options: CompressOptions,
    model: ModelSet,
    cancel: CancelToken,
    plan: targets.Plan | None = None,
    repack: _RepackCache | None = None,
) -> FileOutcome:
    """Code one image; a "stored" outcome says why it must be stored instead (``fallback``).

    With a target's ``plan``, the planned checkpoint comes first, then the next ones (``targets.attempts``).
    An image under its floor at the last checkpoint tried is raised along the set's rate axis until it
    meets the floor (floor_raise.py); sets without a rate ladder cannot raise. ``repack``: a JPEG's
    lossless re-pack, which a raised coding must also undercut.
    """
    rgb = decoded.rgb
    outcome = FileOutcome(member.name, OutcomeKind.STORED, member.size, 0, note=targets.STORED_NOTE)
    coder = ImageCoder(model, rgb, bool(decoded.grayscale), ENTROPY_NAMES[options.entropy], cancel.check)
    attempts = targets.image_attempts(
        plan, member.name, options.checkpoint, options.floor, options.quality_floor, can_raise=model.ladder is not None
    )
    for i, (checkpoint, floor) in enumerate(attempts):
        trial = coder.code(checkpoint, last_use=i == len(attempts) - 1 and model.ladder is None)
        raised, tries = False, 0
        if trial.score < floor and i == len(attempts) - 1 and model.ladder is not None:
            found = floor_raise.search_level(
                trial.step, trial.score, floor, model.ladder.top_step, partial(coder.code, checkpoint)
            )
            tries = found.tries
            if found.passed is not None:
                trial, raised = found.passed, True
            elif found.best_failed is not None:
                trial = found.best_failed
        if trial.score < floor:
            if model.ladder is None:
                why = "and this model set cannot raise the rate"
            elif trial.step >= model.ladder.top_step:
                why = "even at the top rate level" + (f" after {tries} raise(s)" if tries else "")
            else:
                why = "at its level"
            outcome = FileOutcome(
                member.name,
                OutcomeKind.STORED,
                member.size,
                0,
                note=f"MS-SSIM {trial.score:.4f} under the {checkpoint} floor {floor} {why}; stored byte-exact",
                fallback=FALLBACK_FLOOR,
                fallback_checkpoint=checkpoint,
            )
            continue
        payload = ImagePayload(trial.result.data, decoded.metadata.to_bytes(), encode_alpha(decoded.alpha)).to_bytes()
        if rgb.shape[0] * rgb.shape[1] > MAX_PIXELS_PER_BYTE * len(payload):  # readers refuse such an entry
            return FileOutcome(
                member.name,
                OutcomeKind.STORED,
                member.size,
                0,
                note=f"codes to more than {MAX_PIXELS_PER_BYTE} pixels per byte, the format's "
                "limit (a nearly flat image); stored byte-exact",
            )
        repacked = repack.get() if raised and repack is not None and len(payload) < member.size else None
        if len(payload) >= member.size or (repacked is not None and len(payload) >= len(repacked)):
            than = "the file" if len(payload) >= member.size else "its lossless JPEG XL re-pack"
            return FileOutcome(
                member.name,
                OutcomeKind.STORED,
                member.size,
                0,
                note=f"coding would not make it smaller than {than}; stored byte-exact",
                fallback=FALLBACK_LARGER,
                fallback_checkpoint=checkpoint,
            )
        height, width = rgb.shape[:2]
        header = _base_header(member, EntryKind.IMAGE)
        header.update(
            width=width,
            height=height,
            format=decoded.format,
            grayscale=bool(decoded.grayscale),
            alpha=decoded.alpha is not None,
            model=model.content_hash,
            checkpoint=checkpoint,
            entropy=options.entropy,
            ms_ssim=round(trial.score, 6),
            bpp=round(len(payload) * 8 / (height * width), 6),
            precision=model.precision_for("decoder", checkpoint, "auto"),
        )
        level = None
        if trial.step >= 0:
            level = trial.step / LEVEL_STEPS
            header["level_step"] = trial.step
            if raised:
                header["raised"] = True
        if decoded.jpeg_tables is not None:
            header[JPEG_TABLES_KEY] = decoded.jpeg_tables.to_header()
        writer.add(header, payload)
        return FileOutcome(
            member.name,
            OutcomeKind.LOSSY,
            member.size,
            len(payload),
            pixels=height * width,
            ms_ssim=trial.score,
            psnr=trial.result.psnr,
            checkpoint=checkpoint,
            source_format=decoded.format,
            level=level,
            raised=raised,
        )
    return outcome


def _read_chunks(path: Path, cancel: CancelToken, data: bytes | None = None) -> Iterator[bytes | memoryview]:
    if data is not None:
        view = memoryview(data)
        for pos in range(0, len(data), CHUNK):
            cancel.check()
            yield view[pos : pos + CHUNK]
        return
    with open(path, "rb") as fh:
        while True:
            cancel.check()
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk


def _lzma_chunks(chunks: Iterator[bytes | memoryview], size: int) -> Iterator[bytes]:
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, filters=lzma_filters(size))
    for chunk in chunks:
        out = comp.compress(chunk)
        if out:
            yield out
    yield comp.flush()


def _lzma_pays(path: Path, data: bytes | None = None) -> bool:
    """A quick trial on the file's start: does LZMA shrink it enough to be worth it?"""
    if data is not None:
        sample = data[:LZMA_TRIAL_BYTES]
    else:
        with open(path, "rb") as fh:
            sample = fh.read(LZMA_TRIAL_BYTES)
    if len(sample) < 64:
        return False
    return len(lzma.compress(sample, filters=lzma_filters(len(sample), preset=1))) < LZMA_MIN_GAIN * len(sample)


def _add_stored(
    writer: ArchiveWriter,
    member: Member,
    cancel: CancelToken,
    note: str,
    source: bytes | None = None,
    extra: dict | None = None,
    reason: IssueCode | None = None,
) -> FileOutcome:
    use_lzma = _lzma_pays(member.path, source)
    kind = EntryKind.LZMA if use_lzma else EntryKind.STORED
    chunks = _read_chunks(member.path, cancel, source)
    if member.sha256 is not None:
        chunks = _hash_checked(chunks, member)
    header = _base_header(member, kind)
    if note:
        header["note"] = note
    header.update(extra or {})
    record = writer.add_stream(header, _lzma_chunks(chunks, member.size) if use_lzma else chunks)
    stored = record.payload_len
    return FileOutcome(
        member.name, OutcomeKind.LZMA if use_lzma else OutcomeKind.STORED, member.size, stored, note=note, reason=reason
    )


def _hash_checked(chunks: Iterator[bytes | memoryview], member: Member) -> Iterator[bytes | memoryview]:
    """Pass the chunks on; at the end, refuse a file whose content changed since it was hashed."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != member.sha256:
        raise LatentzipError("the file changed while it was being archived", member.name)
