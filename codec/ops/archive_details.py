"""Per-entry metadata details of an archive (``latentzip list --details``), without decoding pixels.

A lossy image entry carries its metadata blob in the payload; a re-packed JPEG is
rebuilt (JPEG XL's JPEG reconstruction, no pixels decoded); a stored (or LZMA) entry
is the original file, of which the first ``HEAD_BYTES`` are read (enough for the
metadata of a JPEG, which comes before the image data; PNG, WebP and TIFF files up to
that size are read whole). An entry naming another one (``same_as``, a duplicate)
shows that one's details.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..api.errors import InputError, LatentzipError
from ..container import ArchiveReader, EntryKind, EntryRecord
from ..entries import jpeg_repack
from ..entries.image import ImagePayload
from ..images import ImageMetadata
from ..images.details import MetadataSummary, summarize_file, summarize_metadata
from .extractor import file_chunks

__all__ = ["entry_details", "entry_floor_row", "HEAD_BYTES"]

HEAD_BYTES = 4 << 20


def _head(reader: ArchiveReader, record: EntryRecord, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of a stored or LZMA entry's file; (bytes, all of the file)."""
    out, total = [], 0
    for chunk in file_chunks(reader, record):
        out.append(chunk)
        total += len(chunk)
        if total >= limit:
            break
    data = b"".join(out)[:limit]
    return data, len(data) >= record.size


def _summary(reader: ArchiveReader, record: EntryRecord, limit: int) -> MetadataSummary | None:
    if record.kind == EntryKind.IMAGE:
        payload = ImagePayload.from_bytes(reader.read_payload(record), record.path)
        return summarize_metadata(ImageMetadata.from_bytes(payload.metadata))
    if record.kind in (EntryKind.STORED, EntryKind.LZMA):
        data, complete = _head(reader, record, limit)
        return summarize_file(data, complete)
    if record.kind == EntryKind.JPEG_REPACK:  # the JPEG is rebuilt (a transcode, not a pixel decode)
        data = jpeg_repack.rebuild(
            reader.read_payload(record), name=record.path, size=record.size, sha256=str(record.extra.get("sha256", ""))
        )
        return summarize_file(data, True)
    return None


def entry_floor_row(record: EntryRecord) -> tuple[str | None, bool, str]:
    """(checkpoint, raised, fallback) of an entry, from its header, for ``reports.floor_tallies``: a coded image's
    checkpoint and whether it was raised, or the checkpoint an image kept exactly was coded for, and why."""
    extra = record.extra
    if record.kind == EntryKind.IMAGE:
        return extra.get("checkpoint"), bool(extra.get("raised")), ""
    return extra.get("fallback_checkpoint"), False, str(extra.get("fallback", ""))


def entry_details(
    archive: Path, head_bytes: int = HEAD_BYTES
) -> Iterator[tuple[EntryRecord, MetadataSummary | None, str]]:
    """(record, metadata summary or None, problem) for every entry, in archive order.

    The summary is None for folders, links, files that are not JPEG/PNG/WebP/TIFF and
    entries of kinds this reader does not look into; ``problem`` says why an entry could
    not be read ('' otherwise).
    """
    archive = Path(archive)
    if not archive.is_file():
        raise InputError("no such archive", str(archive))
    seen: dict[str, MetadataSummary | None] = {}
    with ArchiveReader.open(archive) as reader:
        for record in reader.entries:
            if record.kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
                yield record, None, ""
                continue
            same_as = record.extra.get("same_as")
            problem = ""
            if isinstance(same_as, str) and same_as in seen:
                summary = seen[same_as]
            else:
                try:
                    summary = _summary(reader, record, head_bytes)
                except (LatentzipError, OSError, ValueError) as exc:
                    summary, problem = None, str(exc)
            if summary is not None:
                seen[record.path] = summary
            yield record, summary, problem
