"""Typed contracts for what happened: outcome kinds, operations and issues.

Code decides on these enums, never on the wording of a message: a message is for
people only and may change freely. The enums are ``str`` subclasses whose values are
the words used so far, so reports stay readable and old comparisons keep working.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["OutcomeKind", "Operation", "IssueCode", "Issue"]


class OutcomeKind(str, enum.Enum):
    """How one file went into an archive."""

    LOSSY = "lossy"  # coded by the learned codec
    STORED = "stored"  # its bytes as they are
    LZMA = "lzma"  # its bytes, LZMA-compressed
    LOSSLESS_JPEG = "lossless-jpeg"  # a JPEG re-packed with JPEG XL, rebuilt bit for bit
    DUPLICATE = "duplicate"  # the same content as an earlier entry
    DIRECTORY = "directory"
    SYMLINK = "symlink"

    def __str__(self) -> str:
        return self.value


class Operation(str, enum.Enum):
    """An engine operation, as progress events and jobs name it."""

    COMPRESS = "compress"
    ADD = "add"
    EXTRACT = "extract"
    TEST = "test"
    ESTIMATE = "estimate"  # a size or quality target's estimate pass, before compressing
    PREVIEW = "preview"
    LIST = "list"

    def __str__(self) -> str:
        return self.value


class IssueCode(str, enum.Enum):
    """Why a file was skipped, failed, or stored as it is."""

    UNREADABLE = "unreadable"  # a file or folder could not be read: it is not in the archive
    SPECIAL_FILE = "special-file"  # a FIFO, socket or device: skipped, never opened
    NOT_AN_IMAGE = "not-an-image"  # an ordinary file, stored as it is (not news)
    STORED_LOSSLESSLY = "stored-losslessly"  # an image the codec does not take (bit depth, size, format...)
    DOES_NOT_DECODE = "does-not-decode"  # an image file that does not decode
    NOT_INSPECTED = "not-inspected"  # the probe failed on it
    CODING_FAILED = "coding-failed"  # the codec failed on it
    REPACK_UNAVAILABLE = "repack-unavailable"  # JPEG XL support is missing, or cannot take this JPEG
    REPACK_MISMATCH = "repack-mismatch"  # the JPEG XL re-pack did not rebuild the original bytes
    REPACK_NOT_SMALLER = "repack-not-smaller"
    TOO_LARGE = "too-large"  # too large to re-pack in memory
    DAMAGED = "damaged"  # extract/test: the entry's data in the archive is damaged or cannot be decoded
    CANNOT_WRITE = "cannot-write"  # extract: the destination refused the file (read-only, full, exists)

    @property
    def is_failure(self) -> bool:
        """Whether the file is missing from the archive (else it is in, with a warning or a note)."""
        return self is IssueCode.UNREADABLE

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Issue:
    """A problem with one path: ``code`` for code, ``message`` for people."""

    code: IssueCode
    path: str
    message: str

    @property
    def is_failure(self) -> bool:
        return self.code.is_failure
