"""The engine's exception tree. Every error names the file or entry concerned.

The CLI and the GUI worker are the only places that turn these into a message
and an exit code or a dialog.
"""

from __future__ import annotations


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
