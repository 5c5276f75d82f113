"""The payload of a lossy image entry: bitstream, metadata and alpha plane.

Layout (little-endian): u32 len + codec bitstream | u32 len + metadata blob
(``ImageMetadata.to_bytes``) | u32 len + alpha plane (a PNG of mode L, or
empty). The lengths are checked against the payload before slicing.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .errors import ArchiveFormatError, ArchiveLimitError

_LEN = struct.Struct("<I")

MAX_PIXELS_PER_BYTE = 1024
"""The decode-bomb limit L (docs/FORMAT.md): an IMAGE entry declares at most L pixels (width x height)
per byte of its payload. Writers store an image that would code smaller than that losslessly instead;
readers refuse an entry above it before reading or allocating anything. Real coded images stay far
below it (a flat grey frame codes at about 250 pixels per byte)."""


@dataclass(frozen=True)
class ImagePayload:
    bitstream: bytes
    metadata: bytes
    alpha_png: bytes

    def to_bytes(self) -> bytes:
        parts = (self.bitstream, self.metadata, self.alpha_png)
        return b"".join(_LEN.pack(len(p)) + p for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "") -> ImagePayload:
        parts, pos = [], 0
        for _ in range(3):
            if pos + 4 > len(data):
                raise ArchiveFormatError("image payload is truncated", name)
            (n,) = _LEN.unpack_from(data, pos)
            pos += 4
            if pos + n > len(data):
                raise ArchiveFormatError("image payload part runs past its end", name)
            parts.append(bytes(data[pos : pos + n]))
            pos += n
        if pos != len(data):
            raise ArchiveFormatError("image payload has trailing bytes", name)
        return cls(*parts)


def encode_alpha(alpha: np.ndarray | None) -> bytes:
    """Alpha plane -> lossless PNG bytes (empty when there is no alpha)."""
    if alpha is None:
        return b""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(alpha, dtype=np.uint8), mode="L").save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def decode_alpha(data: bytes, height: int, width: int, name: str = "") -> np.ndarray | None:
    """PNG bytes -> alpha plane, refusing anything but an L image of the stated size."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG" or im.size != (width, height) or im.mode != "L":
                raise ArchiveLimitError("alpha plane does not match the image", name)
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ArchiveFormatError(f"alpha plane does not decode: {exc}", name) from exc
