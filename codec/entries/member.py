"""What every entry's header holds, which members can be archived at all, and a file's content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..api.errors import LatentzipError, UnsafePathError
from ..container import EntryKind, check_archive_name, check_link_target
from ..ops.scan import Member

CHUNK = 1 << 20


def unarchivable(member: Member) -> str:
    """Why a member cannot be stored portably ('' when it can)."""
    try:
        check_archive_name(member.name)
        if member.link is not None:
            check_link_target(member.name, member.link)
    except UnsafePathError as exc:
        what = "link target" if member.link is not None else "name"
        return f"not archived: its {what} cannot be restored safely ({exc})"
    return ""


def base_header(member: Member, kind: EntryKind) -> dict[str, Any]:
    """The header fields of every entry kind: path, kind, size, times, mode, and the link or hash if any."""
    header: dict[str, Any] = {
        "path": member.name,
        "kind": int(kind),
        "size": member.size,
        "mtime_ns": member.mtime_ns,
        "mode": member.mode,
    }
    if member.link is not None:
        header["link"] = member.link
    if member.sha256 is not None:
        header["sha256"] = member.sha256
    return header


def read_chunks(path: Path, check: Callable[[], None], data: bytes | None = None) -> Iterator[bytes | memoryview]:
    """``data`` (or the file at ``path``) in chunks of ``CHUNK`` bytes, ``check`` called before each."""
    if data is not None:
        view = memoryview(data)
        for pos in range(0, len(data), CHUNK):
            check()
            yield view[pos : pos + CHUNK]
        return
    with open(path, "rb") as fh:
        while True:
            check()
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk


def file_sha256(path: Path, check: Callable[[], None]) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    for chunk in read_chunks(path, check):
        digest.update(chunk)
    return digest.hexdigest()


def hash_checked(chunks: Iterator[bytes | memoryview], name: str, sha256: str) -> Iterator[bytes | memoryview]:
    """Pass the chunks on; at the end, refuse a file whose content changed since it was hashed."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise LatentzipError("the file changed while it was being archived", name)
