"""Entry names: the portable naming rules, and safe destinations on disk.

An archive name is a relative POSIX path of UTF-8 components joined by "/".
A backslash is refused everywhere, on every platform, when writing and when
reading: it is a separator on Windows, so ``a\\..\\..\\x`` would escape there.
The Windows-only rules (reserved device names, ``<>:"|?*``, trailing dots or
spaces) are applied on Windows (``os.name == "nt"``), or when ``windows=True``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

from ..api.errors import DestinationLinkError, UnsafePathError

MAX_COMPONENT_BYTES = 255
MAX_NAME_BYTES = 4096
MAX_NAME_DEPTH = 512  # components in one name: deeper folders are refused, never walked

_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS_CHARS = frozenset('<>:"|?*')
_WINDOWS_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{dev}{n}" for dev in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"}
)


def _shown(name: object) -> str:
    """A printable form of a (possibly hostile) name for error messages."""
    return name if isinstance(name, str) and name.isprintable() else repr(name)


def _on_windows(windows: bool | None) -> bool:
    return os.name == "nt" if windows is None else windows


def _check_chars(text: str, name: str, what: str) -> None:
    if "\x00" in text:
        raise UnsafePathError(f"{what} contains a NUL character", _shown(name))
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise UnsafePathError(f"{what} contains a control character", _shown(name))
    if "\\" in text:
        raise UnsafePathError(f"{what} contains a backslash", _shown(name))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(f"{what} is not valid Unicode (undecodable file name?)", _shown(name)) from None


def _check_component(part: str, name: str, windows: bool) -> None:
    if part in ("", ".", ".."):
        raise UnsafePathError(f"empty, '.' or '..' component {part!r}", _shown(name))
    if _DRIVE.match(part):
        raise UnsafePathError("a component looks like a drive letter", _shown(name))
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise UnsafePathError(f"a component is longer than {MAX_COMPONENT_BYTES} bytes", _shown(name))
    if windows:
        if any(c in _WINDOWS_CHARS for c in part):
            raise UnsafePathError('a component contains one of <>:"|?* (not allowed on Windows)', _shown(name))
        if part[-1] in ". ":
            raise UnsafePathError("a component ends with a dot or a space (not allowed on Windows)", _shown(name))
        if part.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_NAMES:
            raise UnsafePathError(f"{part!r} is a reserved device name on Windows", _shown(name))


def check_archive_name(name: str, *, windows: bool | None = None) -> None:
    """Raise UnsafePathError unless ``name`` is a safe relative archive name.

    ``windows`` selects the Windows-only rules; None means "when running on Windows".
    """
    if not isinstance(name, str):
        raise UnsafePathError("entry name is not a string", _shown(name))
    if not name:
        raise UnsafePathError("empty entry name")
    _check_chars(name, name, "entry name")
    if name.startswith("/"):
        raise UnsafePathError("absolute entry name", _shown(name))
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafePathError(f"entry name is longer than {MAX_NAME_BYTES} bytes", _shown(name))
    win = _on_windows(windows)
    parts = name.split("/")
    if len(parts) > MAX_NAME_DEPTH:
        raise UnsafePathError(f"entry name is more than {MAX_NAME_DEPTH} folders deep", _shown(name[:200] + "…"))
    for part in parts:
        _check_component(part, name, win)


def normalize_archive_name(rel: PurePath | str) -> str:
    """The archive name for a relative path (writer side); raise UnsafePathError if it has none.

    A ``PurePath`` uses its own flavour's separators; a ``str`` is read as POSIX
    ("/" only). Empty and "." components are dropped; "..", absolute paths and
    anything ``check_archive_name`` refuses (portable rules) are refused.
    """
    if isinstance(rel, PurePath):
        if rel.anchor:
            raise UnsafePathError("absolute path", _shown(str(rel)))
        parts = list(rel.parts)
    elif isinstance(rel, str):
        if rel.startswith("/"):
            raise UnsafePathError("absolute path", _shown(rel))
        parts = rel.split("/")
    else:
        raise UnsafePathError("entry name is not a string or path", _shown(rel))
    name = "/".join(p for p in parts if p not in ("", "."))
    check_archive_name(name, windows=False)
    return name


def _is_link(path: Path) -> bool:
    isjunction = getattr(os.path, "isjunction", None)  # Python 3.12+
    return os.path.islink(path) or bool(isjunction and isjunction(path))


def _inside(root: Path, path: str | Path) -> bool:
    try:
        return os.path.commonpath([str(root), str(path)]) == str(root)
    except ValueError:  # different drives
        return False


def safe_target(root: Path, name: str, *, allow_existing_link: bool = False) -> Path:
    """The destination of entry ``name`` under ``root``; raise UnsafePathError if it is unsafe.

    Refuses names ``check_archive_name`` refuses (with this platform's rules),
    anything outside ``root``, and any existing symlink or junction among the
    folders between ``root`` and the destination. The destination itself may
    be an existing link only with ``allow_existing_link`` (the caller then
    replaces the link; it must never write through it). Links at or above
    ``root`` are the user's and are followed.
    """
    check_archive_name(name)
    base = Path(root).resolve()
    parts = name.split("/")
    target = base.joinpath(*parts)
    if not _inside(base, target):
        raise UnsafePathError("resolves outside the destination folder", _shown(name))
    folder = base
    for part in parts[:-1]:
        folder = folder / part
        if _is_link(folder):
            raise DestinationLinkError(f"folder {part!r} on the way is a symbolic link", _shown(name))
    if not allow_existing_link and _is_link(target):
        raise DestinationLinkError("the destination is an existing symbolic link", _shown(name))
    return target


def check_link_target(name: str, link_target: str, *, windows: bool | None = None) -> None:
    """Raise UnsafePathError unless a symlink at ``name`` pointing to ``link_target`` stays inside the root.

    Needs no folder: the target must be relative and made of leading ".."
    components followed by plain names, with no more ".." than the link's
    folder depth. (A ".." after a name is refused: if that name were itself a
    link, the real resolution would differ from the lexical one.)
    """
    if not isinstance(link_target, str) or not link_target:
        raise UnsafePathError("symbolic link with an empty or non-string target", _shown(name))
    _check_chars(link_target, name, "symbolic link target")
    if link_target.startswith("/") or _DRIVE.match(link_target):
        raise UnsafePathError(f"symbolic link to an absolute path {_shown(link_target)}", _shown(name))
    depth = name.count("/")
    win = _on_windows(windows)
    ups = 0
    named = False
    for part in link_target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if named:
                raise UnsafePathError(f"symbolic link target {_shown(link_target)} has '..' after a name", _shown(name))
            ups += 1
        else:
            named = True
            _check_component(part, name, win)
    if ups > depth:
        raise UnsafePathError(f"symbolic link points outside the archive ({_shown(link_target)})", _shown(name))


def check_symlink_target(root: Path, name: str, link_target: str) -> None:
    """Raise UnsafePathError unless creating symlink ``name`` -> ``link_target`` under ``root`` is safe."""
    check_archive_name(name)
    check_link_target(name, link_target)
    base = Path(root).resolve()
    folder = base.joinpath(*name.split("/")[:-1])
    resolved = os.path.normpath(os.path.join(folder, *link_target.split("/")))
    if not _inside(base, resolved):
        raise UnsafePathError(f"symbolic link points outside the destination ({_shown(link_target)})", _shown(name))
