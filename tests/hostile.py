"""Test helper: builds raw Latentzip archives byte by byte, bypassing every writer check.

Checksums are computed correctly unless a test overrides them, so what the
reader refuses is refused for its content, not for a bad crc.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

FILE_HEADER = struct.Struct("<6sHH")
TRAILER = struct.Struct("<QII8s")
MAGIC = b"LTZ\x89\r\n"
END_MAGIC = b"LTZEND\r\n"


def header(path: str, kind: int = 1, size: int = 0, **extra: Any) -> dict[str, Any]:
    """An entry header with the container keys filled in."""
    return {"path": path, "kind": kind, "size": size, "mtime_ns": 0, "mode": 0o644, **extra}


def stored(path: str, data: bytes = b"") -> tuple[dict[str, Any], bytes]:
    return header(path, 1, len(data)), data


def encode(obj: Any) -> bytes:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")  # lets a test write invalid UTF-8


def entry(
    head: dict[str, Any], payload: bytes = b"", *, payload_len: int | None = None, header_len: int | None = None
) -> bytes:
    """One raw entry with a valid crc over what is actually written."""
    hb = encode(head)
    body = hb + struct.pack("<Q", len(payload) if payload_len is None else payload_len) + payload
    length = len(hb) if header_len is None else header_len
    return b"LTZE" + struct.pack("<I", length) + body + struct.pack("<I", zlib.crc32(body))


def build(
    items: list[tuple[dict[str, Any], bytes]],
    *,
    version: int = 1,
    payload_lens: dict[int, int] | None = None,
    header_lens: dict[int, int] | None = None,
    edit_index: Callable[[list[dict[str, Any]]], Any] | None = None,
    raw_index: bytes | None = None,
    index_len: int | None = None,
    index_offset: int | None = None,
    with_index: bool = True,
    gaps: dict[int, bytes] | None = None,
) -> bytes:
    """A whole archive. ``payload_lens``/``header_lens`` override item i's declared lengths on disk
    and (payload_lens) in the index; ``edit_index`` may change or replace the index objects;
    ``gaps`` puts bytes before item i (or before the index, for i == len(items))."""
    gaps = gaps or {}
    payload_lens = payload_lens or {}
    header_lens = header_lens or {}
    out = bytearray(FILE_HEADER.pack(MAGIC, version, 0))
    objs = []
    for i, (head, payload) in enumerate(items):
        out += gaps.get(i, b"")
        blob = entry(head, payload, payload_len=payload_lens.get(i), header_len=header_lens.get(i))
        objs.append(
            {
                **head,
                "offset": len(out),
                "payload_len": payload_lens.get(i, len(payload)),
                "crc": struct.unpack("<I", blob[-4:])[0],
            }
        )
        out += blob
    out += gaps.get(len(items), b"")
    if not with_index:
        return bytes(out)
    if edit_index is not None:
        objs = edit_index(objs) or objs
    comp = zlib.compress(encode(objs) if raw_index is None else raw_index)
    at = len(out)
    out += b"LTZI" + struct.pack("<I", len(comp)) + comp
    out += TRAILER.pack(
        at if index_offset is None else index_offset,
        len(comp) if index_len is None else index_len,
        zlib.crc32(comp),
        END_MAGIC,
    )
    return bytes(out)


def rewrite_index(data: bytes, edit: Callable[[list[dict[str, Any]]], Any]) -> bytes:
    """Replace a valid archive's index by an edited one, with a correct crc and trailer."""
    at, length, _crc, _end = TRAILER.unpack(data[-TRAILER.size :])
    objs = json.loads(zlib.decompress(data[at + 8 : at + 8 + length]))
    objs = edit(objs) or objs
    comp = zlib.compress(encode(objs))
    return (
        data[:at]
        + b"LTZI"
        + struct.pack("<I", len(comp))
        + comp
        + TRAILER.pack(at, len(comp), zlib.crc32(comp), END_MAGIC)
    )
