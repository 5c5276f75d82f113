"""One tolerant walker per image file format.

Each module walks the container structure of one format (JPEG markers, PNG chunks,
RIFF/WebP chunks, TIFF directories) and returns the byte spans it found plus why it
stopped; it never raises on damaged input. The rules over those spans (what metadata
is kept, where a location is, what a file carries) live in ``images/metadata.py``,
``images/location.py`` and ``images/details.py``.
"""

from . import jpeg, png, tiff, webp

__all__ = ["jpeg", "png", "tiff", "webp"]
