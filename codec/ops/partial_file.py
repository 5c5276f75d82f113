"""The hidden temporary file an archive is written to, and what a failure to write it says.

``compress`` and ``add`` write ``.NAME.PID.partial`` beside the archive and
rename it into place only when it is complete, so a failure, a cancel or a kill
never leaves a half archive under the final name. ``writing`` owns that file:
it is removed on any failure, and an OSError becomes one message that names the
archive the user asked for (never the hidden file) and says what became of it.
A file left by a killed run (its process gone) is "stale": ``stale_partials``
finds it, so that the next run can name it and ``compress --resume`` continue it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..api.errors import OutputError, os_problem

SUFFIX = ".partial"


ADD_TAG = ".add"  # add's temporary file: never offered for compress --resume (it holds a copied archive)


def partial_path(final: Path, pid: int | None = None, tag: str = "") -> Path:
    """The temporary file of this process (or of ``pid``) for the archive ``final``."""
    return final.parent / f".{final.name}.{os.getpid() if pid is None else pid}{tag}{SUFFIX}"


def _pid_of(path: Path, final: Path) -> int | None:
    middle = path.name[len(final.name) + 2 : -len(SUFFIX)]
    return int(middle) if middle.isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def stale_partials(final: Path) -> list[Path]:
    """Temporary files left beside ``final`` by runs that no longer live, newest first."""
    found = []
    try:
        candidates = list(final.parent.glob(f".{_glob_escape(final.name)}.*{SUFFIX}"))
    except OSError:
        return []
    for path in candidates:
        pid = _pid_of(path, final)
        if pid is not None and not _alive(pid) and path.is_file() and not path.is_symlink():
            try:
                found.append((path.stat().st_mtime_ns, path))
            except OSError:  # gone meanwhile
                continue
    return [path for _, path in sorted(found, reverse=True)]


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def stale_note(final: Path, stale: Path) -> str:
    """What to tell the user about a stale temporary file (it is never deleted unasked)."""
    return (
        f"an interrupted run left {stale} ({stale.stat().st_size} bytes of finished entries): "
        f"run compress again with --resume to continue it, or delete it"
    )


def describe_failure(exc: OSError, final: Path, left: str) -> OutputError:
    """The error for an OSError while writing ``final``; ``left`` says what became of it. Its
    ``problem`` says why in words (for the window), its message the same for the command line."""
    problem = os_problem(exc, writing=True)
    if exc.errno == errno.ENOSPC:
        return OutputError(f"the disk is full; {left}", str(final), problem)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(
            f"cannot write in the folder {final.parent} ({exc.strerror}); {left}. Choose a folder you can write to",
            str(final),
            problem,
        )
    return OutputError(f"cannot write the archive: {exc.strerror or exc}; {left}", str(final), problem)


@contextmanager
def writing(final: Path, left: str, tag: str = "") -> Iterator[tuple[BinaryIO, Path]]:
    """Open this process's temporary file for ``final``; yield (file, its path).

    The caller writes it and moves it into place inside the block. Leaving the
    block removes the temporary file if it is still there (a failure, or nothing
    to publish); an OSError is raised again as a LatentzipError
    from ``describe_failure`` (``left``: "no archive was written", ...).
    """
    tmp = partial_path(final, tag=tag)
    try:
        with open(tmp, "x+b") as fh:  # exclusive: never through a link planted at the temporary name
            yield fh, tmp
    except OSError as exc:
        raise describe_failure(exc, final, left) from exc
    finally:
        tmp.unlink(missing_ok=True)  # already gone once it was moved into place


def finish(fh: BinaryIO) -> None:
    """Flush the temporary file to the disk before it is renamed into place."""
    fh.flush()
    os.fsync(fh.fileno())
