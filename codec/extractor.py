"""Extract, test and list archives.

Every output file is written to a temporary name in its folder and renamed
into place once its checksum has been verified, so a damaged entry never
leaves a half-written file. Paths are checked before anything is created:
nothing is written outside the target, through a link, or over an existing
file unless ``overwrite`` is set.
"""

from __future__ import annotations

import fnmatch
import hashlib
import lzma
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .container import (
    ArchiveReader,
    EntryKind,
    EntryRecord,
    check_symlink_target,
    iter_salvaged_payload,
    safe_target,
    scan_entries,
)
from . import jpeg_repack
from .errors import (ArchiveFormatError, CancelledError, ContentHashError, ExistingFileError, InputError,
                     LatentzipError, OutputWriteError)
from .image_entry import ImagePayload, decode_alpha
from .images import ImageMetadata, encode_image
from .images.jpeg_tables import HEADER_KEY as JPEG_TABLES_KEY
from .images.jpeg_tables import JpegTables
from .outcomes import Issue, IssueCode
from .progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from .reports import ExtractOptions, ExtractReport, TestReport
from .runtime import image_codec
from .runtime.model_set import ModelRegistry, default_registry

CHUNK = 1 << 20


def list_entries(archive: Path) -> list[EntryRecord]:
    """The archive's entries, from its index alone."""
    if not Path(archive).is_file():
        raise InputError("no such archive", str(archive))
    with ArchiveReader.open(Path(archive)) as reader:
        return list(reader.entries)


def _selected(record: EntryRecord, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(record.path, p) or record.path.startswith(p.rstrip("/") + "/")
               for p in patterns)


def output_name(record: EntryRecord, as_png: bool, kind: EntryKind | None = None) -> str:
    """Where an entry goes: its own path, or ``.png`` for lossy images with ``as_png``.

    ``kind``: the kind whose data the entry holds (a DUPLICATE's target's kind), if not its own.
    """
    if as_png and (kind or record.kind) == EntryKind.IMAGE:
        stem, dot, ext = record.path.rpartition(".")
        return (stem if dot and "/" not in ext else record.path) + ".png"
    return record.path


def decode_image_entry(record: EntryRecord, payload: bytes, registry: ModelRegistry, as_png: bool,
                       cancel: CancelToken) -> bytes:
    """An IMAGE entry's payload -> the bytes of the restored image file."""
    extra = record.extra
    image = ImagePayload.from_bytes(payload, record.path)
    model = registry.get(str(extra.get("model", "")))
    rgb = image_codec.decode_image(model, image.bitstream, cancel.check)
    height, width = rgb.shape[:2]
    if (width, height) != (extra.get("width"), extra.get("height")):
        raise ArchiveFormatError("image size differs from the entry's header", record.path)
    alpha = decode_alpha(image.alpha_png, height, width, record.path)
    grayscale = bool(extra.get("grayscale", False))
    if grayscale:
        rgb = np.repeat(np.round(rgb.mean(axis=2, keepdims=True)).astype(np.uint8), 3, axis=2)
    metadata = ImageMetadata.from_bytes(image.metadata)
    tables = JpegTables.from_header(extra.get(JPEG_TABLES_KEY))
    return encode_image(rgb, alpha, grayscale, str(extra.get("format", "PNG")), metadata, as_png=as_png,
                        jpeg_tables=tables)


def _hash_verified(chunks: Iterable[bytes], sha256: str | None, name: str) -> Iterator[bytes]:
    """Pass the chunks on; after the last one, raise ContentHashError if they do not match ``sha256``."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if sha256 is not None and digest.hexdigest() != sha256:
        raise ContentHashError(name, sha256, digest.hexdigest())


def duplicate_source(reader: "ArchiveReader | SalvageReader", record: EntryRecord) -> EntryRecord:
    """The entry whose data ``record`` holds: itself, or a DUPLICATE's earlier entry."""
    if record.kind != EntryKind.DUPLICATE:
        return record
    source = reader.find(record.same_as or "")
    if source is None or source.kind in (EntryKind.DUPLICATE, EntryKind.DIRECTORY, EntryKind.SYMLINK) \
            or source.size != record.size or source.sha256 != record.sha256:
        raise ArchiveFormatError(f"duplicate of {record.same_as!r}, which is not a readable file entry "
                                 "with the same content", record.path)
    return source


@contextmanager
def _destination(target: Path) -> Iterator[None]:
    """An OSError in this block is the destination's (read-only, full disk...): an OutputWriteError."""
    try:
        yield
    except OSError as exc:
        raise OutputWriteError(exc, str(target)) from exc


def failure_code(exc: BaseException) -> IssueCode:
    """Why an entry was not extracted: the destination refused it, or the entry is damaged (or undecodable)."""
    return IssueCode.CANNOT_WRITE if isinstance(exc, (OutputWriteError, ExistingFileError)) else IssueCode.DAMAGED


def _write_atomically(target: Path, chunks: Iterable[bytes], overwrite: bool) -> None:
    tmp = target.parent / f".{target.name}.{os.getpid()}.partial"
    try:
        with _destination(target):
            fh = open(tmp, "wb")
        try:
            for chunk in chunks:  # an error reading the archive is not the destination's
                with _destination(target):
                    fh.write(chunk)
        finally:
            with _destination(target):
                fh.close()
        if not overwrite and os.path.lexists(target):
            raise ExistingFileError("exists; use overwrite to replace it", str(target))
        with _destination(target):
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_chunks(reader: ArchiveReader | SalvageReader, record: EntryRecord) -> Iterator[bytes]:
    """The original file's bytes of a STORED or LZMA entry, in bounded chunks, checked as read."""
    if record.kind == EntryKind.LZMA:
        return _lzma_stream(reader, record)
    return reader.iter_payload(record, CHUNK)


def _lzma_stream(reader: ArchiveReader | SalvageReader, record: EntryRecord) -> Iterator[bytes]:
    """Decompress an LZMA entry in bounded chunks; never past its stated size."""
    decomp = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    produced = 0
    try:
        for chunk in reader.iter_payload(record, CHUNK):
            if decomp.eof:
                raise ArchiveFormatError("data follows the end of the LZMA stream", record.path)
            data = chunk
            while True:
                out = decomp.decompress(data, max_length=CHUNK)
                data = b""
                produced += len(out)
                if produced > record.size:
                    raise ArchiveFormatError("LZMA data expands past the stated size", record.path)
                if out:
                    yield out
                if decomp.eof or decomp.needs_input:
                    break
    except lzma.LZMAError as exc:
        raise ArchiveFormatError(f"LZMA data is corrupt: {exc}", record.path) from exc
    if not decomp.eof or decomp.unused_data or produced != record.size:
        raise ArchiveFormatError("LZMA data does not match the stated size", record.path)


class SalvageReader:
    """Reads entries found by scanning an archive whose index is lost or damaged."""

    def __init__(self, path: Path, records: Iterable[EntryRecord] = ()) -> None:
        self.path = path
        self._by_path = {r.path: r for r in records}

    def find(self, path: str) -> EntryRecord | None:
        return self._by_path.get(path)

    def __enter__(self) -> "SalvageReader":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def iter_payload(self, record: EntryRecord, chunk_size: int = CHUNK) -> Iterator[bytes]:
        return iter_salvaged_payload(self.path, record, chunk_size=chunk_size)

    def read_payload(self, record: EntryRecord) -> bytes:
        return b"".join(self.iter_payload(record))


def _open_for_reading(archive: Path, keep_going: bool) -> tuple[ArchiveReader | SalvageReader, list[EntryRecord], bool]:
    """The reader and its entries; with keep_going, salvage by scanning when the index is unusable."""
    if not archive.is_file():
        raise InputError("no such archive", str(archive))
    try:
        reader = ArchiveReader.open(archive)
        return reader, list(reader.entries), False
    except ArchiveFormatError:
        if not keep_going:
            raise
    records = [rec for rec, err in scan_entries(archive) if rec is not None]
    return SalvageReader(archive, records), records, True


def extract(archive: Path, out_dir: Path, options: ExtractOptions = ExtractOptions(),
            sink: ProgressSink | None = None, cancel: CancelToken | None = None,
            registry: ModelRegistry | None = None) -> ExtractReport:
    """Restore the selected entries under ``out_dir``."""
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    registry = (registry or default_registry()).at(options.precision)
    out_dir = Path(out_dir)
    report = ExtractReport()
    start = time.monotonic()
    reader, records, report.salvaged = _open_for_reading(Path(archive), options.keep_going)
    with reader:
        chosen = [r for r in records if _selected(r, options.patterns)]
        tracker = ProgressTracker(sink, "extract", len(chosen), sum(r.size for r in chosen))
        with _destination(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
        dir_times: list[tuple[Path, int]] = []
        for record in chosen:
            cancel.check()
            tracker.start_file(record.path)
            try:
                _extract_one(reader, record, out_dir, options, registry, cancel, dir_times)
                report.written.append(record.path)
            except CancelledError:
                raise
            except (LatentzipError, OSError) as exc:
                if not options.keep_going:
                    raise
                report.failed.append((record.path, str(exc)))
                report.issues.append(Issue(failure_code(exc), record.path, str(exc)))
                sink.warning(record.path, str(exc))
            tracker.advance(files=1, nbytes=record.size)
        for path, mtime_ns in sorted(dir_times, key=lambda t: -len(t[0].parts)):
            try:
                os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
            except OSError:
                pass
    report.seconds = time.monotonic() - start
    return report


def _extract_one(reader: ArchiveReader | SalvageReader, record: EntryRecord, out_dir: Path, options: ExtractOptions,
                 registry: ModelRegistry, cancel: CancelToken, dir_times: list[tuple[Path, int]]) -> None:
    source = duplicate_source(reader, record)
    name = output_name(record, options.as_png, source.kind)
    target = safe_target(out_dir, name)
    if record.kind == EntryKind.DIRECTORY:
        if os.path.lexists(target) and not target.is_dir():
            raise ExistingFileError("exists and is not a folder", str(target))
        with _destination(target):
            target.mkdir(parents=True, exist_ok=True)
        dir_times.append((target, record.mtime_ns))
        return
    with _destination(target):
        target.parent.mkdir(parents=True, exist_ok=True)
    target = safe_target(out_dir, name)  # re-check after creating parents
    if os.path.lexists(target) and not options.overwrite:
        raise ExistingFileError("exists; use overwrite to replace it", str(target))
    if record.kind == EntryKind.SYMLINK:
        check_symlink_target(out_dir, record.path, record.link or "")
        with _destination(target):
            if os.path.lexists(target):
                target.unlink()
            os.symlink(record.link or "", target)
            if os.utime in os.supports_follow_symlinks:
                os.utime(target, ns=(record.mtime_ns, record.mtime_ns), follow_symlinks=False)
        return
    if source.kind == EntryKind.STORED:
        chunks = _hash_verified(reader.iter_payload(source, CHUNK), source.sha256, record.path)
        _write_atomically(target, chunks, options.overwrite)
    elif source.kind == EntryKind.LZMA:
        chunks = _hash_verified(_lzma_stream(reader, source), source.sha256, record.path)
        _write_atomically(target, chunks, options.overwrite)
    elif source.kind == EntryKind.IMAGE:
        data = decode_image_entry(source, reader.read_payload(source), registry, options.as_png, cancel)
        _write_atomically(target, [data], options.overwrite)
    elif source.kind == EntryKind.JPEG_REPACK:
        data = jpeg_repack.rebuild(reader.read_payload(source), name=record.path, size=source.size,
                                   sha256=source.sha256 or "")
        _write_atomically(target, [data], options.overwrite)
    else:
        raise ArchiveFormatError(f"unknown entry kind {record.kind}", record.path)
    with _destination(target):
        os.chmod(target, record.mode & 0o777)
        os.utime(target, ns=(record.mtime_ns, record.mtime_ns))


def test_archive(archive: Path, sink: ProgressSink | None = None, cancel: CancelToken | None = None,
                 registry: ModelRegistry | None = None) -> TestReport:
    """Verify every entry (checksums, LZMA streams, image bitstreams) without writing files."""
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    registry = registry or default_registry()
    report = TestReport()
    if not Path(archive).is_file():
        raise InputError("no such archive", str(archive))
    try:
        reader = ArchiveReader.open(Path(archive))
    except ArchiveFormatError as exc:
        report.index_ok = False
        report.damaged.append(("(index)", str(exc)))
        for rec, err in scan_entries(Path(archive)):
            if err is not None:
                report.damaged.append((getattr(rec, "path", "(entry)"), str(err)))
        return report
    with reader:
        records = list(reader.entries)
        tracker = ProgressTracker(sink, "test", len(records), sum(r.payload_len for r in records))
        for record in records:
            cancel.check()
            tracker.start_file(record.path)
            try:
                if record.kind == EntryKind.LZMA:
                    for _ in _hash_verified(_lzma_stream(reader, record), record.sha256, record.path):
                        pass
                elif record.kind == EntryKind.STORED:
                    for _ in _hash_verified(reader.iter_payload(record, CHUNK), record.sha256, record.path):
                        pass
                elif record.kind == EntryKind.JPEG_REPACK:
                    jpeg_repack.rebuild(reader.read_payload(record), name=record.path, size=record.size,
                                        sha256=record.sha256 or "")
                elif record.kind == EntryKind.IMAGE:
                    image = ImagePayload.from_bytes(reader.read_payload(record), record.path)
                    model = registry.get(str(record.extra.get("model", "")))
                    image_codec.decode_latents(model, image.bitstream)
                    ImageMetadata.from_bytes(image.metadata)
                else:
                    for _ in reader.iter_payload(record, CHUNK):
                        pass
            except CancelledError:
                raise
            except (LatentzipError, OSError, ValueError) as exc:
                report.damaged.append((record.path, str(exc)))
                sink.warning(record.path, str(exc))
            report.checked += 1
            tracker.advance(files=1, nbytes=record.payload_len)
    return report
