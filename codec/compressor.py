"""Compress: input paths -> one .ltz archive, written atomically.

The archive is written to a hidden temporary file beside the target and
renamed into place only when complete, so a failed, interrupted or cancelled
run leaves nothing under the final name, and an existing archive is replaced
only when ``overwrite`` is set.
"""

from __future__ import annotations

import errno
import hashlib
import lzma
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np

from . import jpeg_repack, metrics, targets
from .container import ArchiveWriter, EntryKind, check_archive_name, check_link_target
from .entropy.latent_streams import ENTROPY_NAMES
from .errors import (CancelledError, ExistingFileError, LatentzipError, OutputError, UnsafePathError,
                     os_problem)
from .image_entry import ImagePayload, encode_alpha
from .images import DecodedImage, classify_and_decode
from .images.jpeg_tables import HEADER_KEY as JPEG_TABLES_KEY
from .images.location import strip_location_bytes
from .images.probe import MAX_FILE_BYTES, PROBED_EXTENSIONS
from .lzma_entries import lzma_filters
from .outcomes import IssueCode
from .progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from .reports import CompressOptions, CompressReport, FileOutcome
from .runtime import image_codec
from .runtime.model_set import ModelRegistry, ModelSet, default_registry
from .scan import DIRECTORY, FILE, SYMLINK, Member, scan_inputs

CHUNK = 1 << 20
LZMA_TRIAL_BYTES = 256 << 10
LZMA_MIN_GAIN = 0.95  # use LZMA only when the trial shrinks the sample below 95 %
REPACK_MAX_BYTES = 512 << 20  # a JPEG is re-packed in memory; bigger ones are stored plain


def compress(inputs: list[Path], output: Path, options: CompressOptions = CompressOptions(),
             sink: ProgressSink | None = None, cancel: CancelToken | None = None,
             registry: ModelRegistry | None = None) -> CompressReport:
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
        plan = _plan(members, options, model, sink, cancel)
    estimate_seconds = time.monotonic() - start
    tracker = ProgressTracker(sink, "compress", len(scan.members), scan.total_bytes)
    tmp = output.parent / f".{output.name}.{os.getpid()}.partial"
    seen: dict[str, str] = {}  # sha256 -> archive path of the first file with that content
    try:
        with open(tmp, "w+b") as fh:
            with ArchiveWriter(fh) as writer:
                for member in members:
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
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, output, options.overwrite)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        problem = os_problem(exc, writing=True)
        if exc.errno == errno.ENOSPC:
            raise OutputError("the disk is full; no archive was written", str(output), problem) from exc
        raise OutputError(f"cannot write the archive: {exc.strerror or exc}", str(output), problem) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    report.archive_size = output.stat().st_size
    report.seconds = time.monotonic() - start
    if plan is not None:
        report.target = targets.target_result(plan, report.outcomes, report.archive_size, estimate_seconds)
    return report


def _hashed(member: Member, cancel: CancelToken) -> Member:
    """``member`` with its content hash (unchanged if it is not a file or cannot be read now)."""
    if member.kind != FILE or member.sha256 is not None:
        return member
    try:
        return replace(member, sha256=file_sha256(member.path, cancel))
    except OSError:
        return member  # reported when it is archived


def _plan(members: list[Member], options: CompressOptions, model: ModelSet | None, sink: ProgressSink,
          cancel: CancelToken) -> targets.Plan:
    """The estimate pass of a size or quality target: which checkpoint (or exact storage) each image gets."""
    members = [m for m in members if not _unarchivable(m)]
    tracker = ProgressTracker(sink, "estimate", len(members), sum(m.size for m in members))
    mode, target = ((targets.SIZE, options.target_size) if options.target_size is not None
                    else (targets.QUALITY, options.min_quality))

    pending: list[Member] = []

    def on_file(member: Member | None) -> None:  # the previous file is done; this one starts
        for done in pending:
            tracker.advance(files=1, nbytes=done.size)
        pending[:] = [member] if member is not None else []
        if member is not None:
            tracker.start_file(member.name)

    items, fixed = targets.estimate_members(members, model, decode=classify_and_decode, lzma_pays=_lzma_pays,
                                            base_header=_base_header, entropy=options.entropy,
                                            quality_floor=options.quality_floor, check=cancel.check, on_file=on_file)
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
    header = {"path": member.name, "kind": int(kind), "size": member.size,
              "mtime_ns": member.mtime_ns, "mode": member.mode}
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


def _add_member(writer: ArchiveWriter, member: Member, options: CompressOptions, model: ModelSet | None,
                cancel: CancelToken, sink: ProgressSink, report: CompressReport,
                seen: dict[str, str] | None = None, plan: targets.Plan | None = None) -> FileOutcome | None:
    """Write one member. ``seen`` maps the content hashes already in the archive to their entry
    path: a file with one of them becomes a DUPLICATE entry (deduplication). ``plan``: a target's
    per-image checkpoint choices."""
    if member.kind == DIRECTORY:
        writer.add(_base_header(member, EntryKind.DIRECTORY))
        return FileOutcome(member.name, "directory", 0, 0)
    if member.kind == SYMLINK:
        writer.add(_base_header(member, EntryKind.SYMLINK))
        return FileOutcome(member.name, "symlink", 0, 0)
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
            return _unreadable(member, exc, sink, report)
    first = seen.get(member.sha256 or "")
    if first is not None:
        header = _base_header(member, EntryKind.DUPLICATE)
        header["same_as"] = first
        writer.add(header)
        return FileOutcome(member.name, "duplicate", member.size, 0, note=f"same content as {first}")
    outcome = _add_file(writer, member, options, model, cancel, sink, report, plan, source)
    if outcome is not None:
        seen[member.sha256 or ""] = member.name
    return outcome


def _unreadable(member: Member, exc: OSError, sink: ProgressSink, report: CompressReport) -> None:
    reason = f"cannot read: {exc.strerror or exc}"
    sink.warning(member.name, reason)
    report.failed.append((member.name, reason))
    return None


def _add_file(writer: ArchiveWriter, member: Member, options: CompressOptions, model: ModelSet | None,
              cancel: CancelToken, sink: ProgressSink, report: CompressReport,
              plan: targets.Plan | None = None, source: bytes | None = None) -> FileOutcome | None:
    """Store one file's content (``source``, or the file on disk when None) the best way the options allow."""
    note, reason = "", None
    if options.images == "lossless" and _is_jpeg(member):
        try:
            outcome = _add_jpeg_repack(writer, member, cancel, source)
        except OSError as exc:
            return _unreadable(member, exc, sink, report)
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
            try:
                outcome = _add_image(writer, member, decoded, options, model, cancel, plan)
            except CancelledError:
                raise
            except (LatentzipError, ValueError, MemoryError) as exc:
                outcome, reason = None, IssueCode.CODING_FAILED
                note = f"could not be coded ({exc}); stored byte-exact"
                sink.warning(member.name, note)
                report.warnings.append((member.name, note))
            if outcome is not None and outcome.kind == "lossy":
                return outcome
            if outcome is not None:
                note, reason = outcome.note, outcome.reason
        elif info is not None:
            note, reason = info.reason, info.code
            if info.code is IssueCode.DOES_NOT_DECODE:
                sink.warning(member.name, f"{info.reason}; stored byte-exact")
                report.warnings.append((member.name, info.reason))
    try:
        return _add_stored(writer, member, cancel, note, source, reason)
    except OSError as exc:
        return _unreadable(member, exc, sink, report)


def _is_jpeg(member: Member) -> bool:
    """A JPEG by its first bytes (whatever its name says)."""
    try:
        with open(member.path, "rb") as fh:
            return jpeg_repack.looks_like_jpeg(fh.read(3))
    except OSError:
        return False


def _add_jpeg_repack(writer: ArchiveWriter, member: Member, cancel: CancelToken,
                     source: bytes | None = None) -> FileOutcome:
    """Re-pack a JPEG with JPEG XL, verified; a "stored" outcome says why it must be stored plain."""
    if member.size > REPACK_MAX_BYTES:
        return FileOutcome(member.name, "stored", member.size, 0, note="too large to re-pack; stored byte-exact",
                           reason=IssueCode.TOO_LARGE)
    data = member.path.read_bytes() if source is None else source
    if hashlib.sha256(data).hexdigest() != member.sha256:
        raise LatentzipError("the file changed while it was being archived", member.name)
    cancel.check()
    attempt = jpeg_repack.try_repack(data)
    cancel.check()
    payload = attempt.payload
    if payload is None:
        return FileOutcome(member.name, "stored", member.size, 0, note=attempt.note, reason=attempt.reason)
    width, height = jpeg_repack.jxl_size(payload, member.name)
    header = _base_header(member, EntryKind.JPEG_REPACK)
    header.update(width=width, height=height, format="JPEG")
    writer.add(header, payload)
    return FileOutcome(member.name, "lossless-jpeg", member.size, len(payload), source_format="JPEG")


def _source_bytes(member: Member, options: CompressOptions) -> bytes | None:
    """The bytes to archive for a file when they differ from the file on disk, else None.

    With ``strip_location``, an image file carrying a location is rewritten in memory
    (metadata only); that rewritten file is what gets coded or stored.
    """
    if not options.strip_location or member.path.suffix.lower() not in PROBED_EXTENSIONS \
            or member.size > MAX_FILE_BYTES:
        return None
    try:
        data = member.path.read_bytes()
    except OSError:
        return None  # reported when the file is read for archiving
    return strip_location_bytes(data)


def _add_image(writer: ArchiveWriter, member: Member, decoded: DecodedImage, options: CompressOptions,
               model: ModelSet, cancel: CancelToken, plan: targets.Plan | None = None) -> FileOutcome:
    """Code one image; a "stored" outcome says why it must be stored byte-exact instead.

    With a target's ``plan``, the planned checkpoint comes first, then the next ones (``targets.attempts``).
    """
    rgb = decoded.rgb
    outcome = FileOutcome(member.name, "stored", member.size, 0, note=targets.STORED_NOTE)
    for checkpoint, floor in targets.image_attempts(plan, member.name, options.checkpoint, options.floor,
                                                    options.quality_floor):
        encoded = image_codec.encode_image(model, rgb, checkpoint, ENTROPY_NAMES[options.entropy], cancel.check,
                                           keep_latents=True)
        # The decoder's exact input is known here, so the check needs no entropy decoding.
        recon = image_codec.reconstruct(model, encoded, cancel.check)
        data = encoded.data
        del encoded  # the latents are no longer needed: keep peak memory down on huge photos
        if decoded.grayscale:
            recon = np.repeat(np.round(recon.mean(axis=2, keepdims=True)).astype(np.uint8), 3, axis=2)
        score = metrics.ms_ssim(recon, rgb)
        payload = ImagePayload(data, decoded.metadata.to_bytes(), encode_alpha(decoded.alpha)).to_bytes()
        if score < floor:
            outcome = FileOutcome(member.name, "stored", member.size, 0,
                                  note=f"MS-SSIM {score:.4f} under the {checkpoint} floor {floor}; stored byte-exact")
            continue
        if len(payload) >= member.size:
            return FileOutcome(member.name, "stored", member.size, 0,
                               note="coding would not make it smaller; stored byte-exact")
        height, width = rgb.shape[:2]
        header = _base_header(member, EntryKind.IMAGE)
        header.update(width=width, height=height, format=decoded.format, grayscale=bool(decoded.grayscale),
                      alpha=decoded.alpha is not None, model=model.content_hash, checkpoint=checkpoint,
                      entropy=options.entropy, ms_ssim=round(float(score), 6),
                      bpp=round(len(payload) * 8 / (height * width), 6))
        if decoded.jpeg_tables is not None:
            header[JPEG_TABLES_KEY] = decoded.jpeg_tables.to_header()
        writer.add(header, payload)
        return FileOutcome(member.name, "lossy", member.size, len(payload), pixels=height * width,
                           ms_ssim=float(score), psnr=metrics.psnr(recon, rgb), checkpoint=checkpoint,
                           source_format=decoded.format)
    return outcome


def _read_chunks(path: Path, cancel: CancelToken, data: bytes | None = None) -> Iterator[bytes]:
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


def _lzma_chunks(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
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


def _add_stored(writer: ArchiveWriter, member: Member, cancel: CancelToken, note: str,
                source: bytes | None = None, reason: IssueCode | None = None) -> FileOutcome:
    use_lzma = _lzma_pays(member.path, source)
    kind = EntryKind.LZMA if use_lzma else EntryKind.STORED
    chunks = _read_chunks(member.path, cancel, source)
    if member.sha256 is not None:
        chunks = _hash_checked(chunks, member)
    header = _base_header(member, kind)
    if note:
        header["note"] = note
    record = writer.add_stream(header, _lzma_chunks(chunks, member.size) if use_lzma else chunks)
    stored = record.payload_len
    return FileOutcome(member.name, "lzma" if use_lzma else "stored", member.size, stored, note=note, reason=reason)


def _hash_checked(chunks: Iterator[bytes], member: Member) -> Iterator[bytes]:
    """Pass the chunks on; at the end, refuse a file whose content changed since it was hashed."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != member.sha256:
        raise LatentzipError("the file changed while it was being archived", member.name)
