"""Extract, test and list archives.

Every output file is written to a temporary name in its folder and renamed
into place once its checksum has been verified, so a damaged entry never
leaves a half-written file. Paths are checked before anything is created:
nothing is written outside the target, through a link, or over an existing
file unless ``overwrite`` is set.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..api.errors import (
    ArchiveFormatError,
    CancelledError,
    DestinationLinkError,
    ExistingFileError,
    InputError,
    LatentzipError,
    OutputWriteError,
    UnsafePathError,
    UnsupportedVersionError,
)
from ..api.options import ExtractOptions
from ..api.outcomes import Issue, IssueCode
from ..api.progress import CancelToken, NullSink, ProgressSink, ProgressTracker
from ..api.reports import ExtractReport, TestReport
from ..container import (
    ArchiveReader,
    EntryKind,
    EntryRecord,
    check_symlink_target,
    iter_salvaged_payload,
    safe_target,
    scan_entries,
)
from ..runtime.model_set import ModelRegistry, default_registry, job_workers
from .decode_ahead import decode_ahead, local_decoder
from .encoders import ImageDecoder
from .entry_check import (
    Restored,
    check_entry_header,
    decode_image_entry,
    duplicate_source,
    file_chunks,
    restored_chunks,
    verify_entry,
)

CHUNK = 1 << 20

__all__ = [
    "SalvageReader",
    "decode_image_entry",
    "extract",
    "file_chunks",
    "list_entries",
    "output_name",
    "test_archive",
]


def list_entries(archive: Path) -> list[EntryRecord]:
    """The archive's entries, from its index alone."""
    if not Path(archive).is_file():
        raise InputError("no such archive", str(archive))
    with ArchiveReader.open(Path(archive)) as reader:
        return list(reader.entries)


def _selected(record: EntryRecord, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(record.path, p) or record.path.startswith(p.rstrip("/") + "/") for p in patterns)


def output_name(record: EntryRecord, as_png: bool, kind: EntryKind | None = None) -> str:
    """Where an entry goes: its own path, or ``.png`` for lossy images with ``as_png``.

    ``kind``: the kind whose data the entry holds (a DUPLICATE's target's kind), if not its own.
    """
    if as_png and (kind or record.kind) == EntryKind.IMAGE:
        stem, dot, ext = record.path.rpartition(".")
        return (stem if dot and "/" not in ext else record.path) + ".png"
    return record.path


@contextmanager
def _writing_to(target: Path) -> Iterator[None]:
    """An OSError in this block is the destination's (read-only, full disk...): an OutputWriteError."""
    try:
        yield
    except OSError as exc:
        raise OutputWriteError(exc, str(target)) from exc


def failure_code(exc: BaseException) -> IssueCode:
    """Why an entry was not extracted: the destination refused it, or the entry is damaged (or undecodable)."""
    refused = (OutputWriteError, ExistingFileError, DestinationLinkError)
    return IssueCode.CANNOT_WRITE if isinstance(exc, refused) else IssueCode.DAMAGED


def _write_atomically(target: Path, chunks: Iterable[bytes], overwrite: bool) -> None:
    """Write ``chunks`` to a temporary file beside ``target``, then rename it over ``target`` (which
    replaces a link there, never writes through it). A full disk names the file being written."""
    tmp = target.parent / f".{target.name}.{os.getpid()}.partial"
    try:
        with _writing_to(target):
            fh = open(tmp, "xb")  # exclusive: never through a link planted at the temporary name
        try:
            for chunk in chunks:  # an error reading the archive is not the destination's
                with _writing_to(target):
                    fh.write(chunk)
        finally:
            with _writing_to(target):
                fh.close()
        if not overwrite and os.path.lexists(target):
            raise ExistingFileError("exists; use overwrite to replace it", str(target))
        with _writing_to(target):
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class SalvageReader:
    """Reads entries found by scanning an archive whose index is lost or damaged."""

    def __init__(self, path: Path, records: Iterable[EntryRecord] = ()) -> None:
        self.path = path
        self._by_path = {r.path: r for r in records}

    def find(self, path: str) -> EntryRecord | None:
        return self._by_path.get(path)

    def __enter__(self) -> SalvageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def iter_payload(self, record: EntryRecord, chunk_size: int = CHUNK) -> Iterator[bytes]:
        return iter_salvaged_payload(self.path, record, chunk_size=chunk_size)

    def read_payload(self, record: EntryRecord) -> bytes:
        return b"".join(self.iter_payload(record))


Opened = tuple["ArchiveReader | SalvageReader", list[EntryRecord], str, list[tuple[str, str]]]


def _skip_or_raise(
    exc: LatentzipError | OSError, path: str, options: ExtractOptions, report: ExtractReport, sink: ProgressSink
) -> None:
    """An entry refused at planning or at writing: raised, or with ``keep_going`` skipped and named."""
    if not options.keep_going:
        raise exc
    report.failed.append((path, str(exc)))
    report.issues.append(Issue(failure_code(exc), path, str(exc)))
    sink.warning(path, str(exc))


def _allow_open_files(needed: int) -> None:
    """Raise this process's soft limit of open files towards ``needed`` (macOS starts at 256), within the
    hard limit; where that is not enough, opening a volume fails with the system's "too many open files"
    before anything is written."""
    try:
        import resource
    except ImportError:  # Windows: no such limit for files opened this way
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return


def _open_for_reading(archive: Path, keep_going: bool) -> Opened:
    """(reader, entries, index problem, entries lost). The index is checked whole (names, layout);
    with keep_going an index that is refused or lost gives way to a scan of the entries, and every
    entry the scan finds damaged or unsafe is named in the entries lost."""
    if not archive.is_file():
        raise InputError("no such archive", str(archive))
    indexed: list[EntryRecord] = []  # what the index knew of, when it could be read
    try:
        reader = ArchiveReader.open(archive)
    except UnsupportedVersionError:
        raise  # nothing to salvage: this Latentzip cannot read that version
    except (ArchiveFormatError, UnsafePathError) as exc:
        if not keep_going:
            raise
        problem = str(exc)
    else:
        try:
            reader.check_layout()
            return reader, list(reader.entries), "", []
        except ArchiveFormatError as exc:
            reader.close()
            if not keep_going:
                raise
            problem, indexed = str(exc), list(reader.entries)
    records: list[EntryRecord] = []
    lost: list[tuple[str, str]] = []
    at_offset = {f"entry at offset {r.offset}": r.path for r in indexed}
    for rec, err in scan_entries(archive):
        if rec is not None:
            records.append(rec)
        elif err is not None:
            if isinstance(err, UnsupportedVersionError):
                raise err
            name = at_offset.get(err.name or "", err.name) or "(an entry whose name is unreadable)"
            lost.append((name, str(err)))
    found = {r.path for r in records} | {name for name, _ in lost}
    lost += [(r.path, "listed in the index but not found intact by the scan") for r in indexed if r.path not in found]
    return SalvageReader(archive, records), records, problem, lost


def extract(
    archive: Path | Sequence[Path],
    out_dir: Path,
    options: ExtractOptions = ExtractOptions(),
    sink: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    registry: ModelRegistry | None = None,
    decoder: ImageDecoder | None = None,
) -> ExtractReport:
    """Restore the selected entries under ``out_dir``.

    Every destination is checked (safe name and link target, no existing file
    without ``overwrite``, a header the extractor can restore) before the first
    file is written: without ``keep_going`` one refusal refuses the archive and
    nothing is written; with it, the refused entries are skipped and named.
    ``archive``: one archive, or the volumes of one (``compress --split-every``), all checked first.
    ``decoder``: decodes the images elsewhere (``extract --cluster``), in order; None: here.
    """
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    workers = job_workers(options.threads)
    registry = (registry or default_registry()).at(options.precision).with_workers(workers)
    archives = [Path(archive)] if isinstance(archive, (str, os.PathLike)) else [Path(a) for a in archive]
    out_dir = Path(out_dir)
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise ExistingFileError(
            "the destination is a file, not a folder; choose a folder to extract into", str(out_dir)
        )
    report = ExtractReport()
    start = time.monotonic()
    _allow_open_files(len(archives) + 64)  # every volume stays open from the plan to the last write
    with ExitStack() as readers:
        planned: list[tuple[ArchiveReader | SalvageReader, EntryRecord, Path]] = []
        for path in archives:
            reader, records, problem, lost = _open_for_reading(path, options.keep_going)
            readers.enter_context(reader)
            if problem:
                named = f"{path.name}: {problem}" if len(archives) > 1 else problem
                report.index_problem = f"{report.index_problem}; {named}" if report.index_problem else named
            for name, reason in lost:
                report.failed.append((name, reason))
                report.issues.append(Issue(IssueCode.DAMAGED, name, reason))
                sink.warning(name, reason)
            for record in (r for r in records if _selected(r, options.patterns)):
                try:
                    planned.append((reader, record, _destination(reader, record, out_dir, options)))
                except (LatentzipError, OSError) as exc:
                    _skip_or_raise(exc, record.path, options, report, sink)
        report.salvaged = bool(report.index_problem)
        tracker = ProgressTracker(sink, "extract", len(planned), sum(r.size for _, r, _ in planned))
        with _writing_to(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
        dir_times: list[tuple[Path, int]] = []
        with _decoder(decoder, registry, workers, cancel) as ahead_by:
            for (reader, record, target), ahead in decode_ahead(planned, _entry, options.as_png, ahead_by):
                cancel.check()
                tracker.start_file(record.path)
                try:
                    _extract_one(reader, record, out_dir, target, options, registry, cancel, dir_times, ahead)
                    report.written.append(record.path)
                except CancelledError:
                    raise
                except (LatentzipError, OSError) as exc:
                    _skip_or_raise(exc, record.path, options, report, sink)
                tracker.advance(files=1, nbytes=record.size)
        for path, mtime_ns in sorted(dir_times, key=lambda t: -len(t[0].parts)):
            try:
                os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
            except OSError:
                pass
    report.seconds = time.monotonic() - start
    return report


Planned = tuple["ArchiveReader | SalvageReader", EntryRecord, Path]


def _entry(planned: Planned) -> tuple[ArchiveReader | SalvageReader, EntryRecord]:
    return planned[0], planned[1]


@contextmanager
def _decoder(
    given: ImageDecoder | None, registry: ModelRegistry, workers: int, cancel: CancelToken
) -> Iterator[ImageDecoder | None]:
    """``given`` (the caller closes it), else the job's local decoder (None for one worker), closed on leaving."""
    if given is not None:
        yield given
        return
    local = local_decoder(registry, workers, cancel.check)
    try:
        yield local
    finally:
        if local is not None:
            local.close()


def _destination(
    reader: ArchiveReader | SalvageReader, record: EntryRecord, out_dir: Path, options: ExtractOptions
) -> Path:
    """Where ``record`` goes, checked before anything is written: a safe name and link target, a
    header the extractor can restore, and no existing file (or folder) in the way without overwrite.
    With overwrite, an existing link there is replaced (never written through)."""
    source = duplicate_source(reader, record)
    check_entry_header(source, options.as_png)
    name = output_name(record, options.as_png, source.kind)
    target = safe_target(out_dir, name, allow_existing_link=options.overwrite)
    if record.kind == EntryKind.SYMLINK:
        check_symlink_target(out_dir, record.path, record.link or "")
    if not os.path.lexists(target):
        return target
    is_link, is_dir = os.path.islink(target), target.is_dir()
    if record.kind == EntryKind.DIRECTORY:
        if not is_dir and not (is_link and options.overwrite):
            raise ExistingFileError("exists and is not a folder", str(target))
    elif is_dir and not is_link:
        raise ExistingFileError("exists and is a folder", str(target))
    elif not options.overwrite:
        raise ExistingFileError("exists; use overwrite to replace it", str(target))
    return target


def _make_folders(out_dir: Path, target: Path) -> None:
    """Create the folders from ``out_dir`` down to ``target`` one by one (no recursion on the
    archive's depth), refusing any link met on the way."""
    base = out_dir.resolve()
    folder = base
    for part in target.relative_to(base).parts:
        folder = folder / part
        if _is_link_or_junction(folder):
            raise DestinationLinkError(f"folder {part!r} on the way is a symbolic link", str(target))
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not folder.is_dir():
                raise ExistingFileError("exists and is not a folder", str(folder)) from None


def _is_link_or_junction(path: Path) -> bool:
    isjunction = getattr(os.path, "isjunction", None)  # Python 3.12+
    return os.path.islink(path) or bool(isjunction and isjunction(path))


def _extract_one(
    reader: ArchiveReader | SalvageReader,
    record: EntryRecord,
    out_dir: Path,
    target: Path,
    options: ExtractOptions,
    registry: ModelRegistry,
    cancel: CancelToken,
    dir_times: list[tuple[Path, int]],
    ahead: Restored | None = None,
) -> None:
    chunks = restored_chunks(reader, record, registry, options.as_png, cancel, ahead)
    name = target.relative_to(out_dir.resolve()).as_posix()
    if record.kind == EntryKind.DIRECTORY:
        for _ in chunks:  # verifies the entry's own header and crc
            pass
        if os.path.islink(target) and options.overwrite:
            target.unlink()
        with _writing_to(target):
            _make_folders(out_dir, target)
        safe_target(out_dir, name)  # re-check: nothing became a link meanwhile
        dir_times.append((target, record.mtime_ns))
        return
    with _writing_to(target):
        _make_folders(out_dir, target.parent)
    # re-check after creating the parents
    target = safe_target(out_dir, name, allow_existing_link=options.overwrite)
    if os.path.lexists(target) and not options.overwrite:
        raise ExistingFileError("exists; use overwrite to replace it", str(target))
    if record.kind == EntryKind.SYMLINK:
        for _ in chunks:
            pass
        check_symlink_target(out_dir, record.path, record.link or "")
        with _writing_to(target):
            if os.path.lexists(target):
                target.unlink()
            os.symlink(record.link or "", target)
            if os.utime in os.supports_follow_symlinks:
                os.utime(target, ns=(record.mtime_ns, record.mtime_ns), follow_symlinks=False)
        return
    _write_atomically(target, chunks, options.overwrite)
    with _writing_to(target):
        os.chmod(target, record.mode & 0o777)
        os.utime(target, ns=(record.mtime_ns, record.mtime_ns))


def test_archive(
    archive: Path,
    sink: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    registry: ModelRegistry | None = None,
    precision: str | None = None,
    threads: int | None = None,
) -> TestReport:
    """Check every entry as ``extract`` would (the same judge, ``entry_check``): the layout, each
    entry's header and crc, and its content restored to the last byte (images decoded to pixels
    and written back in their format), writing nothing. ``precision`` and ``threads``: the decoder's,
    as ``ExtractOptions`` (None: the registry's; the default workers)."""
    sink = sink or NullSink()
    cancel = cancel or CancelToken()
    workers = job_workers(threads)
    registry = (registry or default_registry()).with_workers(workers)
    if precision is not None:
        registry = registry.at(precision)
    report = TestReport()
    if not Path(archive).is_file():
        raise InputError("no such archive", str(archive))
    try:
        reader = ArchiveReader.open(Path(archive))
    except (ArchiveFormatError, UnsafePathError) as exc:
        report.index_ok = False
        report.damaged.append(("(index)", str(exc)))
        if not isinstance(exc, UnsupportedVersionError):
            for _rec, err in scan_entries(Path(archive)):
                if err is not None:
                    report.damaged.append((err.name or "(entry)", str(err)))
        return report
    with reader:
        layout: tuple[str, str] | None = None
        try:
            reader.check_layout()
        except ArchiveFormatError as exc:
            layout = (exc.name or str(archive), str(exc))
        records = list(reader.entries)
        tracker = ProgressTracker(sink, "test", len(records), sum(r.payload_len for r in records))

        def entry_of(record: EntryRecord) -> tuple[ArchiveReader, EntryRecord]:
            return reader, record

        with _decoder(None, registry, workers, cancel) as ahead_by:
            for record, ahead in decode_ahead(records, entry_of, False, ahead_by, follow_duplicates=False):
                cancel.check()
                tracker.start_file(record.path)
                try:
                    verify_entry(reader, record, registry, cancel, ahead)
                except CancelledError:
                    raise
                except (LatentzipError, OSError, ValueError) as exc:
                    report.damaged.append((record.path, str(exc)))
                    sink.warning(record.path, str(exc))
                report.checked += 1
                tracker.advance(files=1, nbytes=record.payload_len)
    if layout is not None and layout[0] not in {name for name, _ in report.damaged}:
        report.damaged.insert(0, layout)  # (an entry whose own damage breaks the layout is named once)
        sink.warning(*layout)
    return report
