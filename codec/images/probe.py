"""Which files go through the lossy codec, and why the others are stored byte-exact.

Lossy-eligible: JPEG, PNG, WebP, BMP and TIFF files that decode completely to 8-bit
RGB, RGBA, L or LA, single frame, at most ``MAX_PIXELS`` pixels, with a file
structure the metadata walker understands. Everything else is stored byte-exact:
palette, bilevel, CMYK, 16-bit and float images, PNGs with a transparent colour key
(tRNS), BMPs with alpha, animated or multi-page files, JPEGs with an MPF segment (MPO,
Ultra HDR gain maps), other formats (GIF, HEIC, AVIF, RAW...), files that are not
images, and files with an image extension that do not decode (code
``IssueCode.DOES_NOT_DECODE``, which the engine reports as a warning).

Only files whose name has an extension in ``PROBED_EXTENSIONS`` are opened, and
Pillow is limited to the plugins in ``OPEN_FORMATS``. Eligible images are decoded in
full (truncated files are refused; ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never
set). Importing this module sets ``PIL.Image.MAX_IMAGE_PIXELS`` to ``MAX_PIXELS`` so
that Pillow itself refuses images over twice the limit when opening them (it warns
with ``DecompressionBombWarning`` between 1x and 2x; the probe refuses those too).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..api.errors import InputError
from ..api.outcomes import IssueCode
from .metadata import ImageMetadata, extract_metadata, jpeg_has_mpf, parse_png_chunks

__all__ = [
    "ImageClass",
    "classify",
    "inspect_image",
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "LOSSY_EXTENSIONS",
    "LOSSY_FORMATS",
    "PROBED_EXTENSIONS",
    "OPEN_FORMATS",
]

MAX_PIXELS = 250_000_000
MAX_FILE_BYTES = 1 << 30
LOSSY_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
LOSSY_MODES = ("RGB", "RGBA", "L", "LA")
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF")
LOSSY_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff"})
"""Files the engine may code with the learned codec (the others are stored byte-exact)."""
PROBED_EXTENSIONS = frozenset(LOSSY_EXTENSIONS | {".gif"})
# Image files that are stored without being opened (no warning for them).
_OTHER_IMAGE_EXTENSIONS = {
    ".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".jpx", ".ico", ".icns", ".cur", ".tga", ".psd",
    ".svg", ".svgz", ".ppm", ".pgm", ".pbm", ".pnm", ".pcx", ".exr", ".hdr", ".dds", ".apng", ".mpo",
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf",
    ".pef", ".srw", ".x3f", ".raw", ".rwl", ".3fr", ".erf", ".kdc", ".mrw", ".iiq",
}  # fmt: skip

Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_T = Image.Transpose
# Inverse of what Pillow's TIFF loader applies for each EXIF orientation (ImageOps.exif_transpose).
_UNDO_TIFF_ORIENTATION = {
    2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE,
    6: _T.ROTATE_90, 7: _T.TRANSVERSE, 8: _T.ROTATE_270,
}  # fmt: skip


def _replace(old: Image.Image, new: Image.Image) -> Image.Image:
    old.close()
    return new


@dataclass(frozen=True)
class ImageClass:
    """The probe's verdict on one file."""

    lossy: bool
    format: str | None
    reason: str  # for people
    width: int = 0
    height: int = 0
    mode: str | None = None
    code: IssueCode | None = None  # why it is stored as it is (None for a coded image)


@dataclass(frozen=True, eq=False)
class Inspection:
    """An ``ImageClass`` plus, for eligible files, the loaded Pillow image and its metadata."""

    verdict: ImageClass
    image: Image.Image | None = None
    metadata: ImageMetadata | None = None


def classify(path: Path) -> ImageClass:
    """Whether ``path`` goes through the lossy codec (decodes it in full to be sure).

    Raises InputError when the file cannot be read.
    """
    result = inspect_image(path)
    if result.image is not None:
        result.image.close()
    return result.verdict


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def _stored(
    reason: str, fmt: str | None = None, im: Image.Image | None = None, code: IssueCode = IssueCode.STORED_LOSSLESSLY
) -> Inspection:
    # Pillow's messages may hold an object's repr with its memory address: drop it, so that the
    # note stored in the archive (and the archive's bytes) are the same on every run.
    reason = _ADDRESS.sub("", reason)
    if im is None:
        return Inspection(ImageClass(False, fmt, reason, code=code))
    return Inspection(ImageClass(False, fmt, reason, im.size[0], im.size[1], im.mode, code=code))


def _unsupported_mode(fmt: str, mode: str) -> str:
    if mode in ("P", "PA"):
        return "palette image stored losslessly"
    if mode == "1":
        return "bilevel (1-bit) image stored losslessly"
    if mode.startswith("I;16"):
        return f"16-bit {fmt} stored losslessly"
    if mode == "I":
        return f"32-bit integer {fmt} stored losslessly"
    if mode == "F":
        return f"floating-point {fmt} stored losslessly"
    if mode == "CMYK":
        return f"CMYK {fmt} stored losslessly"
    return f"{mode} {fmt} stored losslessly"


def _format_specific_reason(data: bytes, im: Image.Image) -> str | None:
    """Why an 8-bit-looking image of an eligible format must still be stored, or None."""
    fmt = im.format
    if fmt == "PNG":
        chunks = parse_png_chunks(data)
        depth = chunks[0][1][8] if chunks[0][0] == b"IHDR" and len(chunks[0][1]) == 13 else 0
        if depth != 8:
            return f"{depth}-bit PNG stored losslessly"
        if any(t == b"acTL" for t, _ in chunks):
            return "animated PNG stored losslessly"
        if "transparency" in im.info:
            return "PNG with a transparent colour key stored losslessly"
    elif fmt == "TIFF":
        bits = im.tag_v2.get(258, (1,))  # type: ignore[attr-defined]
        bits = bits if isinstance(bits, tuple) else (bits,)
        if any(b != 8 for b in bits):
            return f"{max(bits)}-bit TIFF stored losslessly"
        if im.tag_v2.get(339, 1) not in (1, (1,) * len(bits)):  # type: ignore[attr-defined]
            return "TIFF with non-integer samples stored losslessly"
    elif fmt == "BMP" and "A" in im.mode:
        return "BMP with an alpha channel stored losslessly"
    return None


def inspect_image(path: Path, data: bytes | None = None) -> Inspection:
    """Classify ``path``; for an eligible image also return it loaded, with its metadata.

    ``data``, when given, is the file's content to use instead of reading ``path`` (a
    rewritten file: location stripped). The caller owns (and should close)
    ``Inspection.image``. Raises InputError when the file cannot be read.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in PROBED_EXTENSIONS:
        if ext in _OTHER_IMAGE_EXTENSIONS:
            return _stored(f"{ext[1:].upper()} image stored losslessly")
        return _stored("not an image", code=IssueCode.NOT_AN_IMAGE)
    try:
        size = path.stat().st_size if data is None else len(data)
        if size > MAX_FILE_BYTES:
            return _stored(f"file too large to code ({size} bytes, limit {MAX_FILE_BYTES}); stored losslessly")
        if data is None:
            data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", str(path)) from e
    if not data:
        return _stored("does not decode: empty file", code=IssueCode.DOES_NOT_DECODE)

    try:
        im: Image.Image = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except Image.DecompressionBombError as e:
        return _stored(f"image too large to code ({e}); stored losslessly")
    except Exception as e:  # hostile or broken input: any failure means "does not decode"
        return _stored(f"does not decode: {e}", code=IssueCode.DOES_NOT_DECODE)

    keep_open = False
    try:
        fmt = im.format or "unknown"
        if fmt == "MPO":
            return _stored("multi-picture JPEG (MPO) stored losslessly", fmt, im)
        if fmt not in LOSSY_FORMATS:
            return _stored(f"{fmt} image stored losslessly", fmt, im)
        if getattr(im, "n_frames", 1) > 1:
            what = "multi-page TIFF" if fmt == "TIFF" else f"animated {fmt}"
            return _stored(f"{what} stored losslessly", fmt, im)
        if im.mode not in LOSSY_MODES:
            return _stored(_unsupported_mode(fmt, im.mode), fmt, im)
        w, h = im.size
        orientation = im.tag_v2.get(274, 1) if fmt == "TIFF" else 1  # type: ignore[attr-defined]
        if orientation in (5, 6, 7, 8):  # Pillow reports a TIFF's size already turned upright
            w, h = h, w
        if w * h > MAX_PIXELS:
            return _stored(f"image too large to code ({w}x{h}, limit {MAX_PIXELS} pixels); stored losslessly", fmt, im)
        try:
            reason = _format_specific_reason(data, im)
        except ValueError as e:
            return _stored(f"does not decode: {e}", fmt, im, code=IssueCode.DOES_NOT_DECODE)
        if reason:
            return _stored(reason, fmt, im)
        metadata = None
        if fmt == "TIFF":  # before load(): Pillow drops the Orientation tag when it loads a TIFF
            try:
                metadata = extract_metadata(data, fmt, im)
            except Exception as e:  # Pillow's tag parsing on hostile input
                return _stored(f"TIFF tags not understood ({e}); stored losslessly", fmt, im)
        try:
            im.load()
        except Exception as e:  # any decoder failure: truncated, corrupt, unsupported coding
            return _stored(f"does not decode: {e}", fmt, im, code=IssueCode.DOES_NOT_DECODE)
        if orientation in _UNDO_TIFF_ORIENTATION:  # Pillow turned it upright: back to the stored layout
            im = _replace(im, im.transpose(_UNDO_TIFF_ORIENTATION[orientation]))
        if im.mode not in LOSSY_MODES or im.size != (w, h):
            return _stored(
                f"does not decode: {fmt} decoded to {im.mode} {im.size}", fmt, im, code=IssueCode.DOES_NOT_DECODE
            )
        try:
            if fmt == "JPEG" and jpeg_has_mpf(data):
                return _stored("multi-picture JPEG (MPF) stored losslessly", fmt, im)
            if metadata is None:
                metadata = extract_metadata(data, fmt, im)
        except ValueError as e:  # Pillow decoded it, but the metadata walker cannot follow it
            return _stored(f"{fmt} file structure not understood ({e}); stored losslessly", fmt, im)
        keep_open = True
        verdict = ImageClass(True, fmt, f"{im.mode} {fmt} image, coded lossily", w, h, im.mode)
        return Inspection(verdict, im, metadata)
    finally:
        if not keep_open:
            im.close()
