"""``compress --resume``: the finished entries of a killed compression, kept and continued.

A killed ``compress`` leaves its hidden ``.NAME.PID.partial`` file: the file
header, then entries written back to back, the last one possibly cut off. The
entries from the start whose framing, header and crc hold (stopping at the
first that does not) are the good prefix. Resuming copies that prefix into a
new temporary file, skips the inputs it already holds, and writes the rest as
an uninterrupted run would: with the same inputs and options, the archive is
byte for byte the one an uninterrupted run writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..api.errors import ArchiveFormatError, LatentzipError
from ..api.outcomes import OutcomeKind
from ..api.reports import FileOutcome
from ..container import EntryKind, EntryRecord
from ..container.entries import DEFAULT_CHUNK, file_size, iter_checked, read_file_header, read_head
from ..container.format import DEFAULT_LIMITS, FILE_HEADER_LEN, FORMAT_VERSION
from ..container.namespace import EntryNamespace
from ..container.records import check_duplicate, make_record
from ..runtime.rate_ladder import LEVEL_STEPS

OUTCOME_KINDS = {
    EntryKind.STORED: OutcomeKind.STORED,
    EntryKind.LZMA: OutcomeKind.LZMA,
    EntryKind.IMAGE: OutcomeKind.LOSSY,
    EntryKind.DIRECTORY: OutcomeKind.DIRECTORY,
    EntryKind.SYMLINK: OutcomeKind.SYMLINK,
    EntryKind.JPEG_REPACK: OutcomeKind.LOSSLESS_JPEG,
    EntryKind.DUPLICATE: OutcomeKind.DUPLICATE,
}


@dataclass(frozen=True)
class GoodPrefix:
    """The entries of a partial archive that can be kept, and where they end."""

    path: Path
    records: tuple[EntryRecord, ...]
    end: int


def good_prefix(path: Path) -> GoodPrefix:
    """The longest run of intact entries from the start of the partial archive at ``path``."""
    name = os.fspath(path)
    with open(path, "rb") as f:
        size = file_size(f)
        if size < FILE_HEADER_LEN:  # killed before its file header reached the disk: nothing to keep
            return GoodPrefix(path, (), 0)
        version = read_file_header(f, size, name)
        if version != FORMAT_VERSION:
            raise ArchiveFormatError(f"written with format version {version}; it cannot be continued", name)
        records: list[EntryRecord] = []
        names = EntryNamespace()
        earlier: dict[str, EntryRecord] = {}
        pos = FILE_HEADER_LEN
        while pos < size:
            try:
                head = read_head(f, pos, size, DEFAULT_LIMITS, version)
                for _ in iter_checked(f, head, DEFAULT_CHUNK):
                    pass
                f.seek(head.end - 4)
                crc = int.from_bytes(f.read(4), "little")
                record = make_record(head.header, head.offset, head.payload_len, crc)
                if record.kind == EntryKind.DUPLICATE:
                    check_duplicate(record.path, record.size, record.sha256, record.same_as, earlier)
                names.add(record.path, record.kind)
            except LatentzipError:
                break  # the entry the kill cut off (or damage): everything from here is written again
            records.append(record)
            earlier[record.path] = record
            pos = head.end
    return GoodPrefix(path, tuple(records), pos)


def copy_prefix(prefix: GoodPrefix, out: BinaryIO) -> None:
    """Copy the prefix's bytes (file header and kept entries) to ``out``, leaving it positioned after them."""
    with open(prefix.path, "rb") as f:
        left = prefix.end
        while left:
            chunk = f.read(min(DEFAULT_CHUNK, left))
            if not chunk:
                raise ArchiveFormatError("the partial archive changed while it was being resumed", str(prefix.path))
            out.write(chunk)
            left -= len(chunk)


def outcome_of(record: EntryRecord) -> FileOutcome:
    """The report line of an entry taken over from the partial archive."""
    extra = record.extra
    pixels = int(extra.get("width", 0)) * int(extra.get("height", 0)) if record.kind == EntryKind.IMAGE else 0
    return FileOutcome(
        record.path,
        OUTCOME_KINDS.get(EntryKind(record.kind), OutcomeKind.STORED),
        record.size,
        record.payload_len,
        pixels=pixels,
        ms_ssim=extra.get("ms_ssim"),
        checkpoint=extra.get("checkpoint"),
        note=str(extra.get("note", "")),
        source_format=str(extra.get("format", "")) if record.kind == EntryKind.IMAGE else "",
        level=extra["level_step"] / LEVEL_STEPS if isinstance(extra.get("level_step"), int) else None,
        raised=extra.get("raised") is True,
        fallback=str(extra.get("fallback", "")),
        fallback_checkpoint=extra.get("fallback_checkpoint"),
    )


def changed_since(
    record: EntryRecord,
    member_size: int | None,
    member_mtime_ns: int,
    options_checkpoint: str | None,
    options_entropy: str,
) -> str:
    """Why an entry of the partial archive no longer stands for its input ('' when it still does):
    the file's size or time changed, or an image was coded with other options than this run's.
    ``member_size`` None: not compared (a location-stripped file is stored at another size)."""
    if record.kind in (EntryKind.STORED, EntryKind.LZMA, EntryKind.IMAGE, EntryKind.JPEG_REPACK, EntryKind.DUPLICATE):
        if (member_size is not None and record.size != member_size) or record.mtime_ns != member_mtime_ns:
            return "the file changed since the interrupted run"
    if record.kind == EntryKind.IMAGE:
        extra = record.extra
        if extra.get("entropy") != options_entropy or (
            options_checkpoint is not None and extra.get("checkpoint") != options_checkpoint
        ):
            return "the interrupted run coded images with other settings"
    return ""


def members_done(names: list[str], prefix: GoodPrefix) -> int:
    """How many of the run's members (archive names, in order) the prefix has dealt with: those up
    to the last one it holds. Raises if the prefix holds an entry that is not among them there."""
    if not prefix.records:
        return 0
    last = prefix.records[-1].path
    cut = max((i for i, n in enumerate(names) if n == last), default=-1) + 1
    missing = {r.path for r in prefix.records} - set(names[:cut])
    if cut == 0 or missing:
        raise ArchiveFormatError(
            "the partial archive holds entries that are not among these inputs; "
            "resume with the inputs of the interrupted run",
            str(prefix.path),
        )
    return cut
