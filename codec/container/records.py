"""Entry records: header validation, JSON encoding, and the index (encode / bounded decode)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import ArchiveFormatError, ArchiveLimitError, TruncatedArchiveError
from .format import FILE_KINDS, FIRST_VERSION, FORMAT_VERSION, I64_MAX, I64_MIN, U32_MAX, U64_MAX, EntryKind, Limits
from .safe_paths import check_archive_name, check_link_target

CONTAINER_KEYS = frozenset({"path", "kind", "size", "mtime_ns", "mode", "link"})
INDEX_KEYS = frozenset({"offset", "payload_len", "crc"})
_NO_PAYLOAD = (EntryKind.DIRECTORY, EntryKind.SYMLINK, EntryKind.DUPLICATE)
_HEX = frozenset("0123456789abcdef")
_KIND_IDS = frozenset(int(k) for k in EntryKind)


@dataclass(frozen=True)
class EntryRecord:
    """One entry as the index (or a salvage scan) describes it. ``extra`` holds the engine's keys."""

    path: str
    kind: EntryKind
    size: int
    mtime_ns: int
    mode: int
    link: str | None
    offset: int
    payload_len: int
    crc: int
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def sha256(self) -> str | None:
        """Hex SHA-256 of the original file's bytes (version 2 file entries; None in version 1)."""
        return self.extra.get("sha256")

    @property
    def same_as(self) -> str | None:
        """A DUPLICATE entry's earlier entry with the same content."""
        return self.extra.get("same_as")

    def header(self) -> dict[str, Any]:
        """The entry header as stored before the payload."""
        head = dict(self.extra)
        head.update(path=self.path, kind=int(self.kind), size=self.size, mtime_ns=self.mtime_ns, mode=self.mode)
        if self.link is not None:
            head["link"] = self.link
        return head

    def index_object(self) -> dict[str, Any]:
        """The entry's object in the index: its header plus offset, payload_len and crc."""
        obj = self.header()
        obj.update(offset=self.offset, payload_len=self.payload_len, crc=self.crc)
        return obj


def encode_json(obj: Any, where: str | None = None) -> bytes:
    """Canonical JSON: UTF-8, sorted keys, no spaces, no NaN."""
    try:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ArchiveFormatError(f"header is not encodable as JSON: {exc}", where) from None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in JSON object")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant)
_WS = re.compile(r"[ \t\n\r]*")


def _ws_end(text: str, pos: int = 0) -> int:
    """The position after the JSON whitespace at ``pos`` (``_WS`` also matches nothing, so it always matches)."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


def decode_json(data: bytes, where: str | None = None) -> Any:
    """Parse UTF-8 JSON strictly (no duplicate keys, no NaN); ArchiveFormatError on any problem."""
    try:
        text = data.decode("utf-8")
        obj, end = _DECODER.raw_decode(text, _ws_end(text))
    except (ValueError, RecursionError) as exc:
        raise ArchiveFormatError(f"invalid JSON: {exc}", where) from None
    if _ws_end(text, end) != len(text):
        raise ArchiveFormatError("invalid JSON: trailing data", where)
    return obj


def _int(obj: dict[str, Any], key: str, lo: int, hi: int, where: str | None) -> int:
    value = obj.get(key)
    if type(value) is not int:  # bool is refused too
        raise ArchiveFormatError(f"'{key}' is missing or not an integer", where)
    if not lo <= value <= hi:
        raise ArchiveFormatError(f"'{key}' is out of range ({value})", where)
    return value


def validate_header(header: Any, where: str | None = None, version: int = FORMAT_VERSION) -> dict[str, Any]:
    """Check an entry header's container keys; return it. Paths and links follow the portable rules.

    ``version`` is the archive's format version: kinds newer than it are refused.
    """
    if not isinstance(header, dict) or not all(isinstance(k, str) for k in header):
        raise ArchiveFormatError("entry header is not a JSON object with string keys", where)
    path = header.get("path")
    if not isinstance(path, str):
        raise ArchiveFormatError("entry header has no string 'path'", where)
    check_archive_name(path, windows=False)
    where = path
    reserved = sorted(INDEX_KEYS & header.keys())
    if reserved:
        raise ArchiveFormatError(f"entry header uses reserved keys {reserved}", where)
    kind = _int(header, "kind", 0, U32_MAX, where)
    if kind not in _KIND_IDS:
        raise ArchiveFormatError(f"unknown entry kind {kind} (written by a newer Latentzip?)", where)
    if version < FIRST_VERSION.get(EntryKind(kind), 1):
        raise ArchiveFormatError(
            f"{EntryKind(kind).name.lower()} entry (kind {kind}) in a version {version} "
            f"archive (it needs version {FIRST_VERSION[EntryKind(kind)]})",
            where,
        )
    _int(header, "size", 0, I64_MAX, where)
    _int(header, "mtime_ns", I64_MIN, I64_MAX, where)
    _int(header, "mode", 0, 0o7777, where)
    if kind == EntryKind.SYMLINK:
        if not isinstance(header.get("link"), str):
            raise ArchiveFormatError("symbolic link entry has no string 'link'", where)
        check_link_target(path, header["link"], windows=False)
    elif "link" in header:
        raise ArchiveFormatError("only symbolic link entries may have a 'link'", where)
    _check_content_keys(header, kind, path, where)
    return header


def _check_content_keys(header: dict[str, Any], kind: int, path: str, where: str | None) -> None:
    """``sha256`` (64 lowercase hex digits; required on JPEG_REPACK and DUPLICATE, file kinds only)
    and ``same_as`` (DUPLICATE only: an archive name other than the entry's own)."""
    digest = header.get("sha256")
    if digest is not None or kind in (EntryKind.JPEG_REPACK, EntryKind.DUPLICATE):
        if not isinstance(digest, str) or len(digest) != 64 or not _HEX.issuperset(digest):
            raise ArchiveFormatError("'sha256' is missing or not 64 lowercase hex digits", where)
        if kind not in FILE_KINDS:
            raise ArchiveFormatError("only file entries may have a 'sha256'", where)
    if kind == EntryKind.DUPLICATE:
        same_as = header.get("same_as")
        if not isinstance(same_as, str):
            raise ArchiveFormatError("duplicate entry has no string 'same_as'", where)
        check_archive_name(same_as, windows=False)
        if same_as == path:
            raise ArchiveFormatError("duplicate entry refers to itself", where)
    elif "same_as" in header:
        raise ArchiveFormatError("only duplicate entries may have a 'same_as'", where)


def check_duplicate(
    path: str, size: int, sha256: str | None, same_as: str | None, earlier: dict[str, EntryRecord]
) -> None:
    """A DUPLICATE entry's target must be an earlier file entry (not itself a duplicate) of the
    same size and content hash; ``earlier`` maps the paths of the entries before it."""
    target = earlier.get(same_as or "")
    if target is None:
        raise ArchiveFormatError(f"duplicate of {same_as!r}, which is not an earlier entry of the archive", path)
    if target.kind == EntryKind.DUPLICATE:
        raise ArchiveFormatError(f"duplicate of {same_as!r}, which is itself a duplicate", path)
    if target.kind not in FILE_KINDS:
        raise ArchiveFormatError(
            f"duplicate of {same_as!r}, which is a {target.kind.name.lower()} entry, not a file", path
        )
    if target.size != size:
        raise ArchiveFormatError(
            f"duplicate of {same_as!r}, which has another size ({target.size} bytes, not {size})", path
        )
    if target.sha256 != sha256:
        raise ArchiveFormatError(f"duplicate of {same_as!r}, whose content hash differs", path)


def make_record(header: dict[str, Any], offset: int, payload_len: int, crc: int) -> EntryRecord:
    """An EntryRecord from a validated header; checks the payload length against the kind."""
    kind = EntryKind(header["kind"])
    path = header["path"]
    if kind in _NO_PAYLOAD and payload_len != 0:
        raise ArchiveFormatError(f"{kind.name.lower()} entry with a payload", path)
    if kind == EntryKind.STORED and payload_len != header["size"]:
        raise ArchiveFormatError("stored entry whose payload length differs from its size", path)
    extra = {k: v for k, v in header.items() if k not in CONTAINER_KEYS}
    return EntryRecord(
        path=path,
        kind=kind,
        size=header["size"],
        mtime_ns=header["mtime_ns"],
        mode=header["mode"],
        link=header.get("link"),
        offset=offset,
        payload_len=payload_len,
        crc=crc,
        extra=extra,
    )


def encode_index(records: Iterable[EntryRecord], limits: Limits) -> bytes:
    """The compressed index; ArchiveLimitError if a reader with ``limits`` would refuse it."""
    raw = encode_json([r.index_object() for r in records], "index")
    if len(raw) > limits.max_index_raw_len:
        raise ArchiveLimitError(f"index would be {len(raw)} bytes, over {limits.max_index_raw_len}", "index")
    data = zlib.compress(raw, 6)
    if len(data) > limits.max_index_len:
        raise ArchiveLimitError(f"compressed index would be {len(data)} bytes, over {limits.max_index_len}", "index")
    return data


def _index_record(obj: Any, where: str, version: int) -> EntryRecord:
    if not isinstance(obj, dict):
        raise ArchiveFormatError("index item is not a JSON object", where)
    header = {k: v for k, v in obj.items() if k not in INDEX_KEYS}
    name = header.get("path") if isinstance(header.get("path"), str) else where
    offset = _int(obj, "offset", 0, U64_MAX, name)
    payload_len = _int(obj, "payload_len", 0, U64_MAX, name)
    crc = _int(obj, "crc", 0, U32_MAX, name)
    return make_record(validate_header(header, where, version), offset, payload_len, crc)


def decode_index(data: bytes, limits: Limits, where: str = "index", version: int = FORMAT_VERSION) -> list[EntryRecord]:
    """Decompress (bounded) and parse the index, one validated record per item."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, limits.max_index_raw_len + 1)
    except zlib.error as exc:
        raise ArchiveFormatError(f"index is not valid zlib data: {exc}", where) from None
    if len(raw) > limits.max_index_raw_len:
        raise ArchiveLimitError(f"index decompresses to over {limits.max_index_raw_len} bytes", where)
    if not inflater.eof:
        raise TruncatedArchiveError("index compressed stream is incomplete", where)
    if inflater.unused_data:
        raise ArchiveFormatError("trailing bytes after the compressed index", where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveFormatError(f"index is not UTF-8: {exc}", where) from None
    del raw
    return _parse_list(text, limits, where, version)


def _parse_list(text: str, limits: Limits, where: str, version: int) -> list[EntryRecord]:
    """Parse a JSON list item by item, so the entry cap applies before everything is built."""
    records: list[EntryRecord] = []
    pos = _ws_end(text)
    if text[pos : pos + 1] != "[":
        raise ArchiveFormatError("index is not a JSON list", where)
    pos = _ws_end(text, pos + 1)
    if text[pos : pos + 1] == "]":
        pos += 1
    else:
        while True:
            if len(records) >= limits.max_entries:
                raise ArchiveLimitError(f"index lists more than {limits.max_entries} entries", where)
            try:
                obj, pos = _DECODER.raw_decode(text, pos)
            except (ValueError, RecursionError) as exc:
                raise ArchiveFormatError(f"invalid index JSON: {exc}", where) from None
            records.append(_index_record(obj, where, version))
            pos = _ws_end(text, pos)
            sep = text[pos : pos + 1]
            pos = _ws_end(text, pos + 1)
            if sep == "]":
                break
            if sep != ",":
                raise ArchiveFormatError("invalid index JSON: expected ',' or ']'", where)
    if _ws_end(text, pos) != len(text):
        raise ArchiveFormatError("invalid index JSON: trailing data", where)
    return records
