"""Turn the user's input paths into an ordered list of archive members.

Each input folder is stored under its own name (``PHOTOS/...``), a single
file under its file name. Links are recorded as links and never followed;
FIFOs, sockets and devices are skipped with a warning and never opened. The
archive being written is never archived into itself.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..api.errors import InputError
from ..api.outcomes import Issue, IssueCode
from ..api.progress import CancelToken

FILE, DIRECTORY, SYMLINK = "file", "directory", "symlink"


@dataclass(frozen=True)
class Member:
    """One thing to archive."""

    name: str  # posix archive path
    path: Path  # where it is on disk
    kind: str  # FILE, DIRECTORY or SYMLINK
    size: int
    mtime_ns: int
    mode: int
    link: str | None = None
    sha256: str | None = None  # hex SHA-256 of a file's content, filled in by the compressor


@dataclass
class ScanResult:
    members: list[Member]
    skipped: list[Issue]  # specials (warnings), unreadable files and folders (failures)

    @property
    def total_bytes(self) -> int:
        return sum(m.size for m in self.members if m.kind == FILE)


def _member(name: str, path: Path, st: os.stat_result) -> Member | None:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return Member(name, path, SYMLINK, 0, st.st_mtime_ns, stat.S_IMODE(mode), os.readlink(path))
    if stat.S_ISDIR(mode):
        return Member(name, path, DIRECTORY, 0, st.st_mtime_ns, stat.S_IMODE(mode))
    if stat.S_ISREG(mode):
        return Member(name, path, FILE, st.st_size, st.st_mtime_ns, stat.S_IMODE(mode))
    return None


def _same_file(a: os.stat_result, b: os.stat_result | None) -> bool:
    return b is not None and a.st_ino == b.st_ino and a.st_dev == b.st_dev


def scan_inputs(inputs: list[Path], exclude: Path | None = None, cancel: CancelToken | None = None) -> ScanResult:
    """Walk the inputs in a stable (sorted) order. ``exclude`` is the output archive; ``cancel`` is
    checked before each folder is listed (CancelledError)."""
    if not inputs:
        raise InputError("nothing to compress: no input given")
    seen_names: dict[str, Path] = {}
    for p in inputs:
        top = Path(os.path.abspath(p)).name or str(p)
        if top in seen_names:
            raise InputError(f"two inputs are both named {top!r} ({seen_names[top]} and {p}); rename one", top)
        seen_names[top] = p
        if not os.path.lexists(p):
            raise InputError("no such file or folder", str(p))
    try:
        excluded = os.stat(exclude) if exclude is not None and exclude.exists() else None
    except OSError:
        excluded = None
    members: list[Member] = []
    skipped: list[Issue] = []

    def visit(name: str, path: Path) -> None:
        try:
            st = os.lstat(path)
        except OSError as exc:
            skipped.append(Issue(IssueCode.UNREADABLE, name, f"cannot read: {exc.strerror or exc}"))
            return
        if _same_file(st, excluded):
            return
        member = _member(name, path, st)
        if member is None:
            skipped.append(Issue(IssueCode.SPECIAL_FILE, name, "special file (FIFO, socket or device) skipped"))
            return
        members.append(member)
        if member.kind == DIRECTORY:
            if cancel is not None:
                cancel.check()
            try:
                children = sorted(os.listdir(path))
            except OSError as exc:
                skipped.append(Issue(IssueCode.UNREADABLE, name, f"cannot list folder: {exc.strerror or exc}"))
                return
            for child in children:
                visit(f"{name}/{child}", path / child)

    for p in inputs:
        visit(Path(os.path.abspath(p)).name, Path(p))
    return ScanResult(members, skipped)
