"""Whether an entry is sound, and the bytes it restores: the one judge that ``extract`` and ``test`` share.

``check_entry_header`` looks at an entry's header alone, before any payload is
read (an IMAGE entry's size, format, alpha and the decode-bomb limit
``MAX_PIXELS_PER_BYTE``). ``restored_chunks`` then reads and checks the payload
and yields the restored file's bytes; for a folder or a link it yields nothing
but still verifies the entry. ``extract`` writes what it yields, ``test``
discards it: an archive that ``test`` passes is one that ``extract`` restores.
"""

from __future__ import annotations

import hashlib
import lzma
from collections.abc import Iterable, Iterator
from typing import Protocol

from ..api.errors import ArchiveFormatError, ArchiveLimitError, ContentHashError, LatentzipError
from ..api.progress import CancelToken
from ..container import EntryKind, EntryRecord
from ..entries import jpeg_repack
from ..entries.image import MAX_PIXELS_PER_BYTE, MAX_PIXELS_PER_BYTE_LZMA, ImageHeader, ImagePayload, decode_alpha
from ..entropy.latent_streams import ENTROPY_NAMES
from ..images import ImageMetadata, encode_image, rebuild_grayscale
from ..images.jpeg_tables import JpegTables
from ..images.probe import LOSSY_FORMATS
from ..runtime import image_codec
from ..runtime.model_set import ModelRegistry

CHUNK = 1 << 20


class EntryReader(Protocol):
    """What the judge needs from an archive: ``ArchiveReader`` or a salvage reader."""

    def find(self, path: str) -> EntryRecord | None: ...

    def iter_payload(self, record: EntryRecord, chunk_size: int = ...) -> Iterator[bytes]: ...

    def read_payload(self, record: EntryRecord) -> bytes: ...


def duplicate_source(reader: EntryReader, record: EntryRecord) -> EntryRecord:
    """The entry whose data ``record`` holds: itself, or a DUPLICATE's earlier entry."""
    if record.kind != EntryKind.DUPLICATE:
        return record
    source = reader.find(record.same_as or "")
    if (
        source is None
        or source.kind in (EntryKind.DUPLICATE, EntryKind.DIRECTORY, EntryKind.SYMLINK)
        or source.size != record.size
        or source.sha256 != record.sha256
    ):
        raise ArchiveFormatError(
            f"duplicate of {record.same_as!r}, which is not a readable file entry with the same content", record.path
        )
    return source


def check_entry_header(record: EntryRecord, as_png: bool = False) -> None:
    """Refuse, from its header alone, an entry that could not be restored (nothing is read or allocated).

    IMAGE entries: integer ``width`` and ``height`` within the decoder's limits,
    at most ``MAX_PIXELS_PER_BYTE`` declared pixels per payload byte (a decode
    bomb otherwise), a ``format`` the extractor can write, and no alpha plane in
    a format that cannot hold one.
    """
    if record.kind != EntryKind.IMAGE:
        return
    extra = record.extra
    width, height = extra.get("width"), extra.get("height")
    if type(width) is not int or type(height) is not int or width < 1 or height < 1:
        raise ArchiveFormatError("image entry without a valid width and height", record.path)
    if max(width, height) > image_codec.MAX_SIDE or width * height > image_codec.MAX_PIXELS:
        raise ArchiveLimitError(f"image dimensions {width}x{height} are beyond the limit", record.path)
    limit = MAX_PIXELS_PER_BYTE_LZMA if extra.get("entropy") == "lzma" else MAX_PIXELS_PER_BYTE
    if width * height > limit * record.payload_len:
        raise ArchiveLimitError(
            f"image declares {width}x{height} pixels for {record.payload_len} bytes of "
            f"data, over the limit of {limit} pixels per byte (a decode "
            "bomb)",
            record.path,
        )
    fmt = extra.get("format", "PNG")
    if fmt not in LOSSY_FORMATS:
        raise ArchiveFormatError(f"image format {fmt!r} cannot be written by this Latentzip", record.path)
    if extra.get("alpha") and not as_png and fmt in ("JPEG", "BMP"):
        raise ArchiveFormatError(f"image has an alpha plane but its format {fmt} cannot hold one", record.path)


def _named(exc: ArchiveFormatError, name: str) -> ArchiveFormatError:
    """``exc`` naming the entry (the codec's errors do not know it)."""
    if exc.name:
        return exc
    return (ArchiveLimitError if isinstance(exc, ArchiveLimitError) else ArchiveFormatError)(str(exc), name)


def decode_image_entry(
    record: EntryRecord, payload: bytes, registry: ModelRegistry, as_png: bool, cancel: CancelToken
) -> bytes:
    """An IMAGE entry's payload -> the bytes of the restored image file."""
    check_entry_header(record, as_png)
    fields = ImageHeader.from_header(record.extra, record.path)
    image = ImagePayload.from_bytes(payload, record.path)
    model = registry.get(fields.model)
    try:
        entropy, _, height, width = image_codec.read_header(image.bitstream)
    except ArchiveFormatError as exc:
        raise _named(exc, record.path) from exc
    if (width, height) != (fields.width, fields.height):
        raise ArchiveFormatError("image size differs from the entry's header", record.path)
    if record.extra.get("entropy") == "lzma" and ENTROPY_NAMES.get("lzma") != entropy:
        # the looser LZMA limit was granted on the header's word: the stream must agree
        raise ArchiveFormatError("the entry's header says lzma but its stream is range-coded", record.path)
    try:
        rgb = image_codec.decode_image(model, image.bitstream, cancel.check)
    except ArchiveFormatError as exc:
        raise _named(exc, record.path) from exc
    if rgb.shape[:2] != (height, width):
        raise ArchiveFormatError("decoded image size differs from the entry's header", record.path)
    alpha = decode_alpha(image.alpha_png, height, width, record.path)
    if fields.alpha != (alpha is not None):
        raise ArchiveFormatError("the alpha plane does not match the entry's header", record.path)
    if fields.grayscale:
        rgb = rebuild_grayscale(rgb)
    try:
        metadata = ImageMetadata.from_bytes(image.metadata)
        tables = JpegTables.from_header(fields.jpeg_tables)
        return encode_image(rgb, alpha, fields.grayscale, fields.format, metadata, as_png=as_png, jpeg_tables=tables)
    except ValueError as exc:
        raise ArchiveFormatError(f"image cannot be written back: {exc}", record.path) from exc


def hash_verified(chunks: Iterable[bytes], sha256: str | None, name: str) -> Iterator[bytes]:
    """Pass the chunks on; after the last one, raise ContentHashError if they do not match ``sha256``."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if sha256 is not None and digest.hexdigest() != sha256:
        raise ContentHashError(name, sha256, digest.hexdigest())


def lzma_stream(reader: EntryReader, record: EntryRecord) -> Iterator[bytes]:
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


def file_chunks(reader: EntryReader, record: EntryRecord) -> Iterator[bytes]:
    """The original file's bytes of a STORED or LZMA entry, in bounded chunks, checked as read."""
    if record.kind == EntryKind.LZMA:
        return lzma_stream(reader, record)
    return reader.iter_payload(record, CHUNK)


def restored_chunks(
    reader: EntryReader,
    record: EntryRecord,
    registry: ModelRegistry,
    as_png: bool,
    cancel: CancelToken,
    decoded: bytes | LatentzipError | None = None,
) -> Iterator[bytes]:
    """The restored file's bytes, every check passed (a failure raises, naming the entry, after or
    before some chunks: write nothing final before the iteration ends). Folders, links and the
    DUPLICATE entry itself yield nothing, but their own entry (header and crc) is verified.
    ``decoded``: an IMAGE source's restored bytes, or the error that refused them, from a decoder
    elsewhere (``extract --cluster``); None: decoded here."""
    source = duplicate_source(reader, record)
    check_entry_header(source, as_png)
    if source is not record or record.kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
        for _ in reader.iter_payload(record, CHUNK):  # no payload: its header and crc are checked
            pass
    if record.kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
        return
    if source.kind in (EntryKind.STORED, EntryKind.LZMA):
        yield from hash_verified(file_chunks(reader, source), source.sha256, record.path)
    elif source.kind == EntryKind.IMAGE and decoded is not None:
        if isinstance(decoded, LatentzipError):
            raise decoded
        yield decoded
    elif source.kind == EntryKind.IMAGE:
        yield decode_image_entry(source, reader.read_payload(source), registry, as_png, cancel)
    elif source.kind == EntryKind.JPEG_REPACK:
        yield jpeg_repack.rebuild(
            reader.read_payload(source), name=record.path, size=source.size, sha256=source.sha256 or ""
        )
    else:
        raise ArchiveFormatError(f"unknown entry kind {record.kind}", record.path)


def verify_entry(reader: EntryReader, record: EntryRecord, registry: ModelRegistry, cancel: CancelToken) -> None:
    """Everything ``extract`` checks for ``record``, with its output discarded (``test``). A
    DUPLICATE's data is checked under its source's name, so here only its own entry and the
    reference are."""
    if record.kind == EntryKind.DUPLICATE:
        check_entry_header(duplicate_source(reader, record))
        for _ in reader.iter_payload(record, CHUNK):
            pass
        return
    for _ in restored_chunks(reader, record, registry, False, cancel):
        pass
