"""The bytes an archive spends around its payloads, from the container's own framing (docs/FORMAT.md).

An entry costs ``ENTRY_OVERHEAD`` (its framing) plus its header's JSON; the
archive adds its file header, the index prefix and trailer, and the compressed
index. For entries not written yet, ``typical_header`` and ``image_header`` fill
the figures that are not known (times, hashes, MS-SSIM) with values of the same
length, and ``index_bytes`` fills offsets and CRCs with random digits (they
compress as badly as the real ones).
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Iterable, Mapping

from .format import ENTRY_OVERHEAD, FILE_HEADER_LEN, INDEX_PREFIX, TRAILER_LEN, EntryKind
from .records import encode_json

ARCHIVE_OVERHEAD = FILE_HEADER_LEN + INDEX_PREFIX.size + TRAILER_LEN
IMAGE_HEADER_EXTRA = {
    "width": 10000,
    "height": 10000,
    "format": "JPEG",
    "grayscale": False,
    "alpha": False,
    "model": "0" * 64,
    "checkpoint": "B",
    "entropy": "range",
    "ms_ssim": 0.987654,
    "bpp": 1.234567,
    "precision": "int8",
    "level_step": 1000,
}
TYPICAL_MTIME_NS = 1_700_000_000_000_000_000
TYPICAL_FILE_MODE, TYPICAL_FOLDER_MODE = 0o644, 0o755  # permission bits, as the scan records them


def entry_overhead(header: Mapping[str, object]) -> int:
    """Bytes an entry adds around its payload in the file: framing and header JSON (its index item apart)."""
    return ENTRY_OVERHEAD + len(encode_json(dict(header)))


def typical_header(
    name: str,
    kind: EntryKind,
    size: int,
    *,
    mtime_ns: int | None = None,
    mode: int | None = None,
    link: str | None = None,
    hashed: bool = True,
) -> dict[str, object]:
    """The header an entry for ``name`` gets; typical values stand in for the figures not given."""
    folder = kind == EntryKind.DIRECTORY
    header: dict[str, object] = {
        "path": name,
        "kind": int(kind),
        "size": size,
        "mtime_ns": TYPICAL_MTIME_NS if mtime_ns is None else mtime_ns,
        "mode": (TYPICAL_FOLDER_MODE if folder else TYPICAL_FILE_MODE) if mode is None else mode,
    }
    if link is not None:
        header["link"] = link
    if hashed and not folder and kind != EntryKind.SYMLINK:
        header["sha256"] = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()  # as random as a real one
    return header


def archive_bytes(headers_and_payloads: Iterable[tuple[Mapping[str, object], int]], index_len: int) -> int:
    """The archive's size from its entries' headers and payload lengths and its compressed index's length."""
    entries = sum(entry_overhead(h) + n for h, n in headers_and_payloads)
    return ARCHIVE_OVERHEAD + entries + index_len


def image_header(base: Mapping[str, object]) -> dict[str, object]:
    """A coded image's header as the compressor writes it, with typical values for the figures."""
    return {**base, **IMAGE_HEADER_EXTRA}


def index_bytes(headers: Iterable[Mapping[str, object]]) -> int:
    """The compressed index for these headers: offsets, lengths, CRCs and figures not known yet are filled
    with random digits of the same length (they compress as badly as the real ones)."""
    rng = random.Random(1)
    objs, offset = [], 10
    for h in headers:
        obj = dict(h)
        if "ms_ssim" in obj:
            obj.update(ms_ssim=round(rng.uniform(0.95, 0.999), 6), bpp=round(rng.uniform(0.2, 2.0), 6))
        length = rng.randrange(10_000, 1_000_000)
        obj.update(offset=offset, payload_len=length, crc=rng.randrange(1 << 32))
        offset += length + 400
        objs.append(obj)
    return len(zlib.compress(encode_json(objs), 6))
