"""The engine's exception tree. Every error names the file or entry concerned.

The CLI and the GUI worker are the only places that turn these into a message
and an exit code or a dialog.
"""

from __future__ import annotations

import errno


class LatentzipError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str, name: str | None = None) -> None:
        self.name = name
        super().__init__(f"{name}: {message}" if name else message)


class InputError(LatentzipError):
    """An input path is missing, unreadable or not allowed (duplicate names...)."""


class ArchiveFormatError(LatentzipError):
    """The archive is not a Latentzip archive, or its structure is broken."""


class TruncatedArchiveError(ArchiveFormatError):
    """The archive ends early (its index or an entry is cut off)."""


class ChecksumError(ArchiveFormatError):
    """An entry or the index fails its checksum."""

    expected: int | str  # a crc32 here; a hex SHA-256 in ContentHashError
    actual: int | str

    def __init__(self, name: str, expected: int, actual: int) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"checksum mismatch (stored {expected:08x}, computed {actual:08x})", name)


class ContentHashError(ChecksumError):
    """A rebuilt or extracted file's SHA-256 differs from the one its entry records."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        self.expected, self.actual = expected, actual
        ArchiveFormatError.__init__(
            self, f"content does not match its SHA-256 (stored {expected[:16]}…, rebuilt {actual[:16]}…)", name
        )


class UnsupportedVersionError(ArchiveFormatError):
    """The archive was written by a newer format version."""


class ArchiveLimitError(ArchiveFormatError):
    """A declared size or dimension is beyond what the reader accepts (decompression bomb)."""


class UnsafePathError(LatentzipError):
    """An entry would be written outside the target folder, or through a link."""


class DestinationLinkError(UnsafePathError):
    """A folder on the way to a file at the destination is a symbolic link (never followed): the
    destination's state, not the archive's damage."""


class OutputWriteError(LatentzipError):
    """A file or folder could not be written at the destination (read-only, full disk...): not damage."""

    def __init__(self, exc: OSError, name: str) -> None:
        self.errno = exc.errno
        if exc.errno == errno.ENOSPC:
            message = "the disk is full; this file was not written"
        else:
            message = f"could not write: {exc.strerror or exc}"
        super().__init__(message, name)


class OutputError(LatentzipError):
    """The output could not be written where the user asked (a read-only folder, no permission, a full disk).

    ``problem`` says why in words a person can act on ("the folder is read-only"); ``output`` is the file
    the user asked for (never an internal temporary name).
    """

    def __init__(self, message: str, output: str, problem: str) -> None:
        self.output, self.problem = output, problem
        super().__init__(message, output)


_OS_PROBLEMS = {
    errno.EROFS: "the folder is on a read-only disk",
    errno.EACCES: "permission was refused",
    errno.EPERM: "permission was refused",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.ENOENT: "the file or folder does not exist (any more)",
    errno.ENOTDIR: "a file stands where a folder should be",
    errno.ENAMETOOLONG: "the name is too long for that disk",
    errno.EIO: "the disk reported an error",
}
_WRITE_PROBLEMS = {
    errno.EACCES: "you may not write in that folder",
    errno.EPERM: "you may not write in that folder",
    errno.ENOENT: "the folder does not exist (any more)",
}


def os_problem(exc: OSError, writing: bool = False) -> str:
    """Why an OSError happened, in words (no errno, no path); ``writing``: it happened writing the output."""
    code = exc.errno or 0
    if writing and code in _WRITE_PROBLEMS:
        return _WRITE_PROBLEMS[code]
    return _OS_PROBLEMS.get(code, "the system refused the operation")


class ExistingFileError(LatentzipError):
    """A file exists where output would go, and overwriting was not asked for."""


class MissingModelError(LatentzipError):
    """An entry needs a model that this installation does not have."""


class ModelIntegrityError(LatentzipError):
    """A bundled model or its entropy tables fail validation."""


class UnsupportedModelFormatError(ModelIntegrityError):
    """A model set's manifest is of a format this version does not read (a newer Latentzip wrote it)."""


class ImageDecodeError(LatentzipError):
    """A file with an image extension could not be decoded."""


class CancelledError(LatentzipError):
    """The operation was cancelled by the user."""


class ClusterError(LatentzipError):
    """The cluster asked for cannot be used (Ray not installed, not reachable) or lost its workers."""
