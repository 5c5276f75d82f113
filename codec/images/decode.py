"""Decode an eligible image file to pixels plus its metadata.

Pixels stay in the file's stored layout: the EXIF orientation is *not* applied (the
tag travels in the metadata, so the extracted file displays like the original).
``upright_preview`` applies it for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..api.errors import ImageDecodeError
from .jpeg_tables import JpegTables
from .metadata import ImageMetadata
from .probe import ImageClass, inspect_image

__all__ = ["DecodedImage", "decode_image", "classify_and_decode", "upright_preview"]


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """Pixels and metadata of one image.

    ``rgb`` is HxWx3 uint8 (a grayscale image is replicated into the three channels),
    ``alpha`` HxW uint8 or None (both read-only), ``format`` the Pillow format name of
    the file, ``jpeg_tables`` a JPEG's quantisation tables and subsampling (to re-encode
    it alike on extraction).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    grayscale: bool
    format: str
    metadata: ImageMetadata
    jpeg_tables: JpegTables | None = None

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


def rebuild_grayscale(rgb: np.ndarray) -> np.ndarray:
    """The grayscale rule: a grey source's decoded RGB is rebuilt grey, the rounded mean of its channels
    in all three (the compressor scores, the estimate predicts and extraction writes exactly this)."""
    return np.repeat(np.round(rgb.mean(axis=2, keepdims=True)).astype(np.uint8), 3, axis=2)


def classify_and_decode(path: Path, data: bytes | None = None) -> tuple[ImageClass, DecodedImage | None]:
    """Classify ``path`` and, when it is lossy-eligible, decode it (one read, one decode).

    ``data``: the file's content, when it is not to be read from ``path``. Raises
    InputError when the file cannot be read.
    """
    result = inspect_image(Path(path), data)
    im = result.image
    if im is None or result.metadata is None:
        return result.verdict, None
    try:
        pixels = np.asarray(im)
        jpeg_tables = JpegTables.from_image(im)
    finally:
        im.close()
    mode = result.verdict.mode
    grayscale = mode in ("L", "LA")
    alpha = None
    if mode in ("LA", "RGBA"):
        alpha = np.ascontiguousarray(pixels[:, :, -1])
        pixels = pixels[:, :, :-1]
    if grayscale:
        plane = pixels if pixels.ndim == 2 else pixels[:, :, 0]
        rgb = np.repeat(plane[:, :, np.newaxis], 3, axis=2)
    else:
        rgb = np.ascontiguousarray(pixels)
    for array in (rgb, alpha):
        if array is not None:
            array.setflags(write=False)
    decoded = DecodedImage(rgb, alpha, grayscale, result.verdict.format or "", result.metadata, jpeg_tables)
    return result.verdict, decoded


def decode_image(path: Path) -> DecodedImage:
    """Decode a lossy-eligible image; raises ImageDecodeError (with the probe's reason) otherwise."""
    verdict, decoded = classify_and_decode(path)
    if decoded is None:
        raise ImageDecodeError(verdict.reason, str(path))
    return decoded


def upright_preview(rgb: np.ndarray, metadata: ImageMetadata) -> np.ndarray:
    """``rgb`` (HxW or HxWxC) turned upright according to the EXIF orientation in ``metadata``."""
    o = metadata.orientation
    if o == 2:
        out = rgb[:, ::-1]
    elif o == 3:
        out = rgb[::-1, ::-1]
    elif o == 4:
        out = rgb[::-1]
    elif o == 5:
        out = rgb.swapaxes(0, 1)
    elif o == 6:
        out = np.rot90(rgb, -1)
    elif o == 7:
        out = np.rot90(rgb, 2).swapaxes(0, 1)
    elif o == 8:
        out = np.rot90(rgb, 1)
    else:
        return rgb
    return np.ascontiguousarray(out)
