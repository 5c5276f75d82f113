"""A JPEG source's quantisation tables and chroma subsampling, kept to re-encode it alike.

A lossy-coded JPEG comes back as a JPEG. Written at a fixed quality 95, 4:4:4, it
would be 1.05-2.7 times the original's size; written with the original's own tables
and subsampling (Pillow's ``qtables=`` and ``subsampling=``), it comes back at about
the original's size and quality. The tables travel in the image entry's header as
hex strings (64 bytes each, natural order, as Pillow reports them), a few hundred
bytes per image. Header values are untrusted on extraction: ``from_header`` accepts
only what a baseline JPEG can hold and returns None otherwise (the fixed settings
then apply).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

__all__ = ["JpegTables", "HEADER_KEY"]

HEADER_KEY = "jpeg_tables"  # image entry header key: {"q": [hex, ...], "subsampling": n}
_TABLE_SIZE = 64
_MAX_TABLES = 4
_SUBSAMPLINGS = (0, 1, 2)  # 4:4:4, 4:2:2, 4:2:0 (Pillow's numbers)


@dataclass(frozen=True)
class JpegTables:
    """Up to four 64-entry quantisation tables (values 1-255) and Pillow's subsampling number (None: grayscale)."""

    qtables: tuple[tuple[int, ...], ...]
    subsampling: int | None

    @classmethod
    def from_image(cls, im: Image.Image) -> JpegTables | None:
        """The tables of an open JPEG, or None when it has none a baseline encoder can reuse."""
        if im.format != "JPEG":
            return None
        from PIL import JpegImagePlugin

        raw = getattr(im, "quantization", None) or {}
        try:
            tables = tuple(tuple(int(v) for v in raw[k]) for k in sorted(raw))
            sampling = JpegImagePlugin.get_sampling(im)
        except (TypeError, ValueError, KeyError):
            return None
        return cls._checked(tables, None if sampling < 0 else sampling)

    @classmethod
    def _checked(cls, tables: tuple[tuple[int, ...], ...], subsampling: int | None) -> JpegTables | None:
        if not 0 < len(tables) <= _MAX_TABLES:
            return None
        if any(len(t) != _TABLE_SIZE or not all(1 <= v <= 255 for v in t) for t in tables):
            return None
        if subsampling is not None and subsampling not in _SUBSAMPLINGS:
            return None
        return cls(tables, subsampling)

    def to_header(self) -> dict:
        """The JSON-ready form stored under ``HEADER_KEY``."""
        return {"q": [bytes(t).hex() for t in self.qtables], "subsampling": self.subsampling}

    @classmethod
    def from_header(cls, value: object) -> JpegTables | None:
        """Parse a header value; None for anything missing or malformed."""
        if not isinstance(value, dict):
            return None
        hexes, subsampling = value.get("q"), value.get("subsampling")
        if not isinstance(hexes, list) or not (subsampling is None or type(subsampling) is int):
            return None
        try:
            tables = tuple(tuple(bytes.fromhex(h)) for h in hexes if isinstance(h, str))
        except ValueError:
            return None
        if len(tables) != len(hexes):
            return None
        return cls._checked(tables, subsampling)

    def save_options(self, mode: str) -> dict:
        """Pillow ``save`` keywords for an image of ``mode`` ("RGB" or "L")."""
        if mode == "L":
            return {"qtables": [list(self.qtables[0])]}
        options: dict = {"qtables": [list(t) for t in self.qtables]}
        if self.subsampling is not None:
            options["subsampling"] = self.subsampling
        return options
