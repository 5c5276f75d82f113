"""Lossless JPEG re-packing with JPEG XL (entry kind 6, JPEG_REPACK).

JPEG XL can hold a JPEG's DCT coefficients plus the reconstruction data
("jbrd" box) that rebuilds the original file bit for bit, typically ~20 %
smaller. Through ``pillow_jxl`` (the pillow-jxl-plugin package):
``Encoder(...)(jpeg_bytes, w, h, jpeg_encode=True)`` transcodes, and
``Decoder()(jxl)`` returns ``(is_jpeg, info, data, icc, boxes)`` where ``data``
is the rebuilt JPEG file when ``is_jpeg`` is true.

Writing re-packs, decodes the result again and keeps it only when the rebuilt
bytes equal the original (else the caller stores the file plain). Reading
checks the JPEG XL size header against the decoder limits before decoding, and
the rebuilt bytes against the entry's size and SHA-256.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from ..api.errors import ArchiveFormatError, ArchiveLimitError, ContentHashError, LatentzipError
from ..api.outcomes import IssueCode
from ..runtime.image_codec import MAX_PIXELS, MAX_SIDE  # the same decoder caps as coded images

TYPICAL_RATIO = 0.811
"""Re-packed size / JPEG size, measured on ../shared/data/photos (10 camera JPEGs, 9.84 MB -> 7.98 MB);
what the app's size estimate uses for JPEGs in "Keep originals exactly" mode."""
EFFORT = 7  # libjxl's default: effort 9 gains ~0.5 % for ~7x the time (measured on the shared photos)
JPEG_MAGIC = b"\xff\xd8\xff"
_JXL_CODESTREAM = b"\xff\x0a"
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})


def estimated_lossless_size(name: str, size: int) -> int:
    """A quick estimate, without reading the file, of what ``--images lossless`` stores for it:
    JPEGs (by name) at ``TYPICAL_RATIO``, every other file at its size."""
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return int(size * TYPICAL_RATIO) if suffix in JPEG_SUFFIXES else size


def looks_like_jpeg(head: bytes) -> bool:
    """Whether a file's first bytes are a JPEG SOI marker followed by another marker."""
    return head[:3] == JPEG_MAGIC


def available() -> bool:
    """Whether the JPEG XL library is installed."""
    try:
        import pillow_jxl  # noqa: F401
    except ImportError:
        return False
    return True


def _encode(jpeg: bytes) -> bytes:
    from pillow_jxl import Encoder

    # the package's stub lags its extension, which takes these keywords (tests/test_photo_library.py)
    enc = Encoder(mode="RGB", lossless=True, quality=100, effort=EFFORT, use_container=True)  # type: ignore[call-arg]
    return enc(jpeg, 0, 0, jpeg_encode=True)  # width/height are unused when transcoding a JPEG


def _decode(payload: bytes) -> bytes | None:
    """The rebuilt JPEG file, or None when the JPEG XL holds no reconstruction data."""
    from pillow_jxl import Decoder

    is_jpeg, _info, data, *_rest = Decoder()(payload)
    return bytes(data) if is_jpeg else None


@dataclass(frozen=True)
class Repack:
    """A re-pack attempt: the payload, or why there is none (``reason`` for code, ``note`` for people)."""

    payload: bytes | None
    reason: IssueCode | None = None
    note: str = ""


def repack(data: bytes) -> tuple[bytes | None, str]:
    """(JPEG XL payload, "") when it rebuilds ``data`` exactly and is smaller; else (None, why)."""
    result = try_repack(data)
    return result.payload, result.note


def try_repack(data: bytes) -> Repack:
    """Re-pack ``data``; the payload only when it rebuilds ``data`` exactly and is smaller."""
    if not available():
        return Repack(
            None,
            IssueCode.REPACK_UNAVAILABLE,
            "JPEG XL support (pillow-jxl-plugin) is not installed; stored byte-exact",
        )
    try:
        payload = _encode(data)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust binding's panics derive from BaseException
        return Repack(
            None, IssueCode.REPACK_UNAVAILABLE, f"JPEG XL cannot re-pack this JPEG ({exc}); stored byte-exact"
        )
    try:
        rebuilt = _decode(payload)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        rebuilt, why = None, str(exc)
    else:
        why = "" if rebuilt is not None else "no reconstruction data"
    if rebuilt != data:
        detail = f" ({why})" if why else ""
        return Repack(
            None,
            IssueCode.REPACK_MISMATCH,
            f"the JPEG XL re-pack did not rebuild the original bytes{detail}; stored byte-exact",
        )
    if len(payload) >= len(data):
        return Repack(None, IssueCode.REPACK_NOT_SMALLER, "re-packing would not make it smaller; stored byte-exact")
    return Repack(payload)


def rebuild(payload: bytes, *, name: str, size: int, sha256: str) -> bytes:
    """The original JPEG from a JPEG_REPACK payload, checked against ``size`` and ``sha256``."""
    width, height = jxl_size(payload, name)
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ArchiveLimitError(f"re-packed JPEG of {width}x{height} pixels is over the decoder limits", name)
    if not available():
        raise LatentzipError("this entry needs JPEG XL support (pip install pillow-jxl-plugin)", name)
    try:
        rebuilt = _decode(payload)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust binding's panics derive from BaseException
        raise ArchiveFormatError(f"re-packed JPEG does not decode: {exc}", name) from None
    if rebuilt is None:
        raise ArchiveFormatError("re-packed JPEG holds no JPEG reconstruction data", name)
    actual = hashlib.sha256(rebuilt).hexdigest()
    if len(rebuilt) != size or actual != sha256:
        raise ContentHashError(name, sha256, actual)
    return rebuilt


def jxl_size(payload: bytes, name: str = "") -> tuple[int, int]:
    """(width, height) from a JPEG XL file's size header, without decoding anything."""
    stream = _codestream_start(payload, name)
    if stream[:2] != _JXL_CODESTREAM:
        raise ArchiveFormatError("re-packed JPEG is not a JPEG XL file", name)
    bits = _Bits(stream[2:34], name)
    small = bits.read(1)
    height = (bits.read(5) + 1) * 8 if small else _u32_size(bits)
    ratio = bits.read(3)
    if ratio == 0:
        width = (bits.read(5) + 1) * 8 if small else _u32_size(bits)
    else:
        num, den = ((1, 1), (12, 10), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1))[ratio - 1]
        width = height * num // den
    return width, height


def _u32_size(bits: _Bits) -> int:
    return bits.read((9, 13, 18, 30)[bits.read(2)]) + 1


def _codestream_start(data: bytes, name: str) -> bytes:
    """The first bytes of the codestream: the data itself, or the first jxlc/jxlp box's content."""
    if not data.startswith(_JXL_CONTAINER):
        return data[:64]
    pos = 0
    while pos + 8 <= len(data):
        size, box = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            if pos + 16 > len(data):
                break
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            head = 16
        elif size == 0:
            size = len(data) - pos
        if size < head or pos + size > len(data):
            raise ArchiveFormatError("re-packed JPEG has a damaged JPEG XL box", name)
        if box == b"jxlc":
            return data[pos + head : pos + head + 64]
        if box == b"jxlp":
            return data[pos + head + 4 : pos + head + 68]
        pos += size
    raise ArchiveFormatError("re-packed JPEG has no JPEG XL codestream", name)


class _Bits:
    """Least-significant-bit-first reader over a few bytes (JPEG XL's bit order)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.value = int.from_bytes(data, "little")
        self.left = len(data) * 8
        self.name = name

    def read(self, n: int) -> int:
        if n > self.left:
            raise ArchiveFormatError("re-packed JPEG's size header is truncated", self.name)
        out = self.value & ((1 << n) - 1)
        self.value >>= n
        self.left -= n
        return out
