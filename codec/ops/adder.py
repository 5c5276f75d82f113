"""Add files to an existing archive: new and changed files only, identical content stored once.

A file whose path is already in the archive with the same content hash is
skipped (and counted); a file at an existing path with other content replaces
that entry; a file whose content is already in the archive under another path
becomes a DUPLICATE entry. Nothing already in the archive is recoded: the new
archive is written to a temporary file beside the old one by copying the kept
entries' raw bytes (each one's crc checked as it is copied), then the new
files are appended, and the temporary file atomically replaces the archive.
An interrupted add (error, cancel, kill) therefore leaves the previous archive
untouched and readable.

Entries from a version-1 archive carry no content hash: those are compared by
size and modification time, and new files are not deduplicated against them.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..api.errors import InputError, LatentzipError
from ..api.options import CompressOptions
from ..api.progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from ..api.reports import CompressReport
from ..container import ArchiveReader, ArchiveWriter, EntryKind, EntryRecord
from ..container.format import FILE_KINDS
from ..entries.encode import EncodePolicy
from ..entries.member import file_sha256, unarchivable
from ..entries.sink import WriterSink
from ..runtime.model_set import ModelRegistry, default_registry, job_workers
from . import partial_file
from .compressor import archive_members
from .pipeline import local_encoder
from .scan import DIRECTORY, FILE, SYMLINK, Member, scan_inputs
from .volumes import volumes_of

CHUNK = 1 << 20


@dataclass
class AddReport(CompressReport):
    """What ``add`` did. ``outcomes`` holds the files written (added or replaced)."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # same path, same content: left as it was
    archive_size_before: int = 0
    images: str = "lossy"  # the image mode used for the new files

    @property
    def deduplicated(self) -> list[str]:
        """Added or replaced files stored as a reference to identical content already in the archive."""
        return [o.name for o in self.outcomes if o.kind == "duplicate"]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def infer_options(records: Iterable[EntryRecord]) -> CompressOptions:
    """Options matching an archive's own: lossy (with its checkpoint and entropy) only when it holds
    lossy-coded images, else lossless, so that adding never loses quality the archive did not."""
    for record in records:
        if record.kind == EntryKind.IMAGE:
            checkpoint = record.extra.get("checkpoint")
            entropy = record.extra.get("entropy")
            return CompressOptions(
                images="lossy",
                checkpoint=checkpoint if checkpoint in ("A", "B", "C") else "B",
                entropy=entropy if entropy in ("range", "lzma") else "range",
            )
    return CompressOptions(images="lossless")


def _unchanged(record: EntryRecord, member: Member) -> bool:
    if member.kind == SYMLINK:
        return record.kind == EntryKind.SYMLINK and record.link == member.link
    if record.kind not in FILE_KINDS:
        return False
    if record.sha256 is not None:
        return record.sha256 == member.sha256 and record.size == member.size
    return record.size == member.size and record.mtime_ns == member.mtime_ns  # version-1 entry


def add(
    archive: Path,
    inputs: list[Path],
    options: CompressOptions | None = None,
    sink: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    registry: ModelRegistry | None = None,
    precision: str | None = None,
    threads: int | None = None,
) -> AddReport:
    """Add ``inputs`` (files and folders, stored under their own names as in ``compress``) to
    ``archive``. ``options`` None: the archive's own image mode (see ``infer_options``), with the
    networks at ``precision`` and ``threads`` workers (``CompressOptions.threads``)."""
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    archive = Path(archive)
    if not archive.is_file():
        raise InputError("no such archive", str(archive))
    if len(volumes_of(archive)) > 1:  # a file added to one volume would stand beside its old copy in another
        raise InputError("this archive is one volume of a set: files cannot be added to a set", str(archive))
    start = time.monotonic()
    before = archive.stat()
    report = AddReport(archive=archive, archive_size_before=before.st_size)
    scan = scan_inputs([Path(p) for p in inputs], exclude=archive)
    for issue in scan.skipped:
        (report.failed if issue.is_failure else report.warnings).append((issue.path, issue.message))
        sink.warning(issue.path, issue.message)
    reader = ArchiveReader.open(archive)
    try:
        old = list(reader.entries)
        options = options or replace(infer_options(old), precision=precision, threads=threads)
        report.images = options.images
        plan, drop = _plan(scan.members, {r.path: r for r in old}, report, sink, cancel)
        if not plan:
            report.archive_size = before.st_size
            report.seconds = time.monotonic() - start
            return report
        model = None
        workers = job_workers(options.threads)
        if options.images == "lossy" and any(m.kind == FILE for m in plan):
            model = (registry or default_registry()).get(options.model_hash, options.precision).with_workers(workers)
        kept = [r for r in old if r.path not in drop]
        tracker = ProgressTracker(
            sink, "add", len(kept) + len(plan), sum(r.payload_len for r in kept) + sum(m.size for m in plan)
        )
        with partial_file.writing(archive, "the archive was left as it was", partial_file.ADD_TAG) as (fh, tmp):
            with ArchiveWriter(fh) as writer:
                _copy_kept(reader, writer, old, drop, tracker, cancel)
                seen: dict[str, str] = {}
                for rec in writer.records:
                    if rec.sha256 is not None and rec.kind != EntryKind.DUPLICATE:
                        seen.setdefault(rec.sha256, rec.path)
                entries, policy = WriterSink(writer, cancel.check), EncodePolicy(options)

                def written(member: Member, _outcome: object) -> None:
                    (report.replaced if member.name in drop else report.added).append(member.name)

                encoder = local_encoder(model, workers, cancel.check)
                try:
                    archive_members(entries, plan, policy, model, encoder, cancel, sink, report, seen, tracker, written)
                finally:
                    encoder.close()
            partial_file.finish(fh)
            reader.close()  # before the rename: Windows cannot replace an open file
            now = archive.stat()
            if (now.st_size, now.st_mtime_ns, now.st_ino) != (before.st_size, before.st_mtime_ns, before.st_ino):
                raise LatentzipError(
                    "the archive changed while files were being added; it was not replaced", str(archive)
                )
            os.chmod(tmp, stat.S_IMODE(before.st_mode))
            os.replace(tmp, archive)
    finally:
        reader.close()
    report.archive_size = archive.stat().st_size
    report.seconds = time.monotonic() - start
    return report


def _plan(
    members: list[Member], by_path: dict[str, EntryRecord], report: AddReport, sink: ProgressSink, cancel: CancelToken
) -> tuple[list[Member], set[str]]:
    """The members to write (files with their sha256 filled in) and the archive paths they replace."""
    plan: list[Member] = []
    drop: set[str] = set()
    for member in members:
        cancel.check()
        refusal = unarchivable(member)
        if refusal:
            report.failed.append((member.name, refusal))
            sink.warning(member.name, refusal)
            continue
        record = by_path.get(member.name)
        if member.kind == FILE:
            try:
                member = replace(member, sha256=file_sha256(member.path, cancel.check))
            except OSError as exc:
                reason = f"cannot read: {exc.strerror or exc}"
                report.failed.append((member.name, reason))
                sink.warning(member.name, reason)
                continue
        if record is None:
            plan.append(member)
        elif member.kind == DIRECTORY and record.kind == EntryKind.DIRECTORY:
            continue  # the folder is there already
        elif _unchanged(record, member):
            report.skipped.append(member.name)
        else:
            plan.append(member)
            drop.add(member.name)
    return plan, drop


def _copy_kept(
    reader: ArchiveReader,
    writer: ArchiveWriter,
    old: list[EntryRecord],
    drop: set[str],
    tracker: ProgressTracker,
    cancel: CancelToken,
) -> None:
    """Copy every entry not replaced, raw and crc-checked, in order. A duplicate of a replaced entry
    takes over its data (the first one), and later duplicates of it point at that one."""
    by_path = {r.path: r for r in old}
    promoted: dict[str, str] = {}  # replaced path -> the duplicate that now holds its data
    for record in old:
        if record.path in drop:
            continue
        cancel.check()
        tracker.start_file(record.path)
        header, source = record.header(), record
        if record.kind == EntryKind.DUPLICATE and record.same_as in drop:
            target = record.same_as or ""
            if target in promoted:
                header["same_as"] = promoted[target]
            else:
                source = by_path[target]
                header = source.header()
                header.update(path=record.path, mode=record.mode, mtime_ns=record.mtime_ns)
                promoted[target] = record.path
        writer.add_stream(header, _checked_copy(reader, source, cancel))
        tracker.advance(files=1, nbytes=record.payload_len)


def _checked_copy(reader: ArchiveReader, record: EntryRecord, cancel: CancelToken) -> Iterator[bytes]:
    """The entry's raw payload; its crc is checked after the last chunk (an error stops the add)."""
    for chunk in reader.iter_payload(record, CHUNK):
        cancel.check()
        yield chunk
