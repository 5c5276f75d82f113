"""Compress: input paths -> one .ltz archive, written atomically.

The archive is written to a hidden temporary file beside the target and
renamed into place only when complete, so a failed, interrupted or cancelled
run leaves nothing under the final name, and an existing archive is replaced
only when ``overwrite`` is set.
"""

from __future__ import annotations

import errno
import lzma
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np

from . import metrics
from .container import ArchiveWriter, EntryKind, check_archive_name, check_link_target
from .entropy.latent_streams import ENTROPY_NAMES
from .errors import CancelledError, ExistingFileError, LatentzipError, UnsafePathError
from .image_entry import ImagePayload, encode_alpha
from .images import DecodedImage, classify_and_decode
from .images.location import strip_location_bytes
from .images.probe import MAX_FILE_BYTES, PROBED_EXTENSIONS
from .progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from .reports import CompressOptions, CompressReport, FileOutcome
from .runtime import image_codec
from .runtime.model_set import ModelRegistry, ModelSet, default_registry
from .scan import DIRECTORY, FILE, SYMLINK, Member, scan_inputs

CHUNK = 1 << 20
LZMA_TRIAL_BYTES = 256 << 10
LZMA_MIN_GAIN = 0.95  # use LZMA only when the trial shrinks the sample below 95 %


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
        model = (registry or default_registry()).get(options.model_hash)
    scan = scan_inputs([Path(p) for p in inputs], exclude=output)
    report = CompressReport(archive=output)
    for name, reason in scan.skipped:
        report.failed.append((name, reason)) if reason.startswith("cannot") else report.warnings.append((name, reason))
        sink.warning(name, reason)
    tracker = ProgressTracker(sink, "compress", len(scan.members), scan.total_bytes)
    start = time.monotonic()
    tmp = output.parent / f".{output.name}.{os.getpid()}.partial"
    try:
        with open(tmp, "w+b") as fh:
            with ArchiveWriter(fh) as writer:
                for member in scan.members:
                    cancel.check()
                    tracker.start_file(member.name)
                    refusal = _unarchivable(member)
                    if refusal:
                        report.failed.append((member.name, refusal))
                        sink.warning(member.name, refusal)
                        tracker.advance(files=1, nbytes=member.size)
                        continue
                    outcome = _add_member(writer, member, options, model, cancel, sink, report)
                    if outcome is not None:
                        report.outcomes.append(outcome)
                    tracker.advance(files=1, nbytes=member.size)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, output, options.overwrite)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise LatentzipError("the disk is full; no archive was written", str(output)) from exc
        raise LatentzipError(f"cannot write the archive: {exc.strerror or exc}", str(output)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    report.archive_size = output.stat().st_size
    report.seconds = time.monotonic() - start
    return report


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
    return header


def _add_member(writer: ArchiveWriter, member: Member, options: CompressOptions, model: ModelSet | None,
                cancel: CancelToken, sink: ProgressSink, report: CompressReport) -> FileOutcome | None:
    if member.kind == DIRECTORY:
        writer.add(_base_header(member, EntryKind.DIRECTORY))
        return FileOutcome(member.name, "directory", 0, 0)
    if member.kind == SYMLINK:
        writer.add(_base_header(member, EntryKind.SYMLINK))
        return FileOutcome(member.name, "symlink", 0, 0)
    if member.kind != FILE:  # scan yields only files, folders and links
        raise ValueError(f"unexpected member kind {member.kind}")
    source = _source_bytes(member, options)  # None: the file as it is on disk
    if source is not None:
        member = replace(member, size=len(source))
        report.locations_removed += 1
    note = ""
    if model is not None:
        try:
            info, decoded = classify_and_decode(member.path, source)
        except (LatentzipError, OSError) as exc:
            info, decoded = None, None
            note = f"could not be inspected ({exc}); stored byte-exact"
        if decoded is not None:
            try:
                outcome = _add_image(writer, member, decoded, options, model, cancel)
            except CancelledError:
                raise
            except (LatentzipError, ValueError, MemoryError) as exc:
                outcome, note = None, f"could not be coded ({exc}); stored byte-exact"
                sink.warning(member.name, note)
                report.warnings.append((member.name, note))
            if outcome is not None and outcome.kind == "lossy":
                return outcome
            if outcome is not None:
                note = outcome.note
        elif info is not None:
            note = info.reason
            if info.reason.startswith("does not decode"):
                sink.warning(member.name, f"{info.reason}; stored byte-exact")
                report.warnings.append((member.name, info.reason))
    try:
        return _add_stored(writer, member, cancel, note, source)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        sink.warning(member.name, reason)
        report.failed.append((member.name, reason))
        return None


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
               model: ModelSet, cancel: CancelToken) -> FileOutcome:
    """Code one image; a "stored" outcome says why it must be stored byte-exact instead."""
    rgb = decoded.rgb
    encoded = image_codec.encode_image(model, rgb, options.checkpoint, ENTROPY_NAMES[options.entropy], cancel.check,
                                       keep_latents=True)
    # The decoder's exact input is known here, so the check needs no entropy decoding.
    recon = image_codec.reconstruct(model, encoded, cancel.check)
    data = encoded.data
    del encoded  # the latents are no longer needed: keep peak memory down on huge photos
    if decoded.grayscale:
        recon = np.repeat(np.round(recon.mean(axis=2, keepdims=True)).astype(np.uint8), 3, axis=2)
    score = metrics.ms_ssim(recon, rgb)
    payload = ImagePayload(data, decoded.metadata.to_bytes(), encode_alpha(decoded.alpha)).to_bytes()
    floor = options.floor
    if score < floor:
        return FileOutcome(member.name, "stored", member.size, 0,
                           note=f"MS-SSIM {score:.4f} under the {options.checkpoint} floor {floor}; stored byte-exact")
    if len(payload) >= member.size:
        return FileOutcome(member.name, "stored", member.size, 0, note="coding would not make it smaller; stored byte-exact")
    height, width = rgb.shape[:2]
    header = _base_header(member, EntryKind.IMAGE)
    header.update(width=width, height=height, format=decoded.format, grayscale=bool(decoded.grayscale),
                  alpha=decoded.alpha is not None, model=model.content_hash, checkpoint=options.checkpoint,
                  entropy=options.entropy, ms_ssim=round(float(score), 6),
                  bpp=round(len(payload) * 8 / (height * width), 6))
    writer.add(header, payload)
    return FileOutcome(member.name, "lossy", member.size, len(payload), pixels=height * width,
                       ms_ssim=float(score), psnr=metrics.psnr(recon, rgb))


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


def _lzma_chunks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=6)
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
    return len(lzma.compress(sample, preset=1)) < LZMA_MIN_GAIN * len(sample)


def _add_stored(writer: ArchiveWriter, member: Member, cancel: CancelToken, note: str,
                source: bytes | None = None) -> FileOutcome:
    use_lzma = _lzma_pays(member.path, source)
    kind = EntryKind.LZMA if use_lzma else EntryKind.STORED
    chunks = _read_chunks(member.path, cancel, source)
    header = _base_header(member, kind)
    if note:
        header["note"] = note
    record = writer.add_stream(header, _lzma_chunks(chunks) if use_lzma else chunks)
    stored = record.payload_len
    return FileOutcome(member.name, "lzma" if use_lzma else "stored", member.size, stored, note=note)
