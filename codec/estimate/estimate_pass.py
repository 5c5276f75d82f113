"""The estimate pass of a size or quality target: every member measured the way the compressor will store it.

Images get their exact coded size at every checkpoint (``image_estimate``),
other files their exact stored or LZMA size, and every entry its own framing and
header (``container.overhead``). A size target then misses only by the index's
estimate and the granularity of the choices (``make bench-targets``: targets of
0.8 and 1.2 MB on Kodak land 0.09 % and 0.08 % under).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..api.errors import LatentzipError
from ..api.options import CHECKPOINTS, QUALITY_FLOORS
from ..container.format import EntryKind
from ..container.overhead import ARCHIVE_OVERHEAD, entry_overhead, image_header, index_bytes
from ..entries.image import encode_alpha
from ..entropy.latent_streams import ENTROPY_NAMES
from ..images import DecodedImage
from ..images.jpeg_tables import HEADER_KEY as JPEG_TABLES_KEY
from ..ops.scan import DIRECTORY, FILE, SYMLINK, Member
from ..runtime.model_set import ModelSet
from .image_estimate import estimate_image, measure_stored_size
from .planner import STORED_NOTE, ItemEstimate, image_options


@dataclass(frozen=True)
class CompressorRules:
    """The compressor's own rules, passed in (the compressor imports this module, not the reverse)."""

    decode: Callable[[Path], tuple[object, DecodedImage | None]]
    lzma_pays: Callable[[Path], bool]
    base_header: Callable[[Member, EntryKind], dict]


@dataclass(frozen=True)
class MemberEstimate:
    """One file measured: its header as estimated, its fixed bytes, and an image's options (None: stored)."""

    header: dict
    fixed: int  # bytes that do not depend on a target's choices (0 for an image with options)
    item: ItemEstimate | None
    tables_bytes: int = 0  # a JPEG source's quantisation tables in its coded header (not in ``item``'s sizes)


# ``OrderedPool.map``: fn over items on workers, (item, result) in input order
OrderedMap = Callable[
    [Callable[[Member], MemberEstimate | None], Iterable[Member]], Iterator[tuple[Member, MemberEstimate | None]]
]


def quality_floors(quality_floor: float | None = None) -> dict[str, float]:
    """Per checkpoint, the MS-SSIM a coded image must reach (one floor for all when given)."""
    return {cp: QUALITY_FLOORS[cp] if quality_floor is None else quality_floor for cp in CHECKPOINTS}


def estimate_file(
    member: Member,
    model: ModelSet,
    rules: CompressorRules,
    *,
    entropy: str = "range",
    floors: dict[str, float] | None = None,
    check: Callable[[], None] | None = None,
) -> MemberEstimate | None:
    """One file (not a duplicate) the way the compressor will store it; None: unreadable (the compressor
    reports it)."""
    floors = floors or quality_floors()
    try:
        use_lzma = rules.lzma_pays(member.path)
        stored = measure_stored_size(member.path, member.size, use_lzma)
    except OSError:
        return None
    stored_header = {
        **rules.base_header(member, EntryKind.LZMA if use_lzma else EntryKind.STORED),
        "note": STORED_NOTE,
    }
    decoded = None
    try:
        _, decoded = rules.decode(member.path)
    except (LatentzipError, OSError):
        decoded = None
    estimates = None
    tables = None
    if decoded is not None:
        tables = decoded.jpeg_tables.to_header() if decoded.jpeg_tables is not None else None
        try:
            extra = len(decoded.metadata.to_bytes()) + len(encode_alpha(decoded.alpha))
            estimates = estimate_image(
                model,
                decoded.rgb,
                grayscale=bool(decoded.grayscale),
                extra_bytes=extra,
                entropy=ENTROPY_NAMES[entropy],
                check=check,
            )
        except (LatentzipError, ValueError, MemoryError):
            estimates = None
        del decoded
    if estimates is None:
        return MemberEstimate(stored_header, entry_overhead(stored_header) + stored, None)
    coded_header = image_header(rules.base_header(member, EntryKind.IMAGE))
    tables_bytes = (
        0
        if tables is None
        else entry_overhead({**coded_header, JPEG_TABLES_KEY: tables}) - entry_overhead(coded_header)
    )
    item = image_options(
        member.name,
        estimates,
        member.size,
        stored,
        entry_overhead(coded_header),
        entry_overhead(stored_header),
        floors,
    )
    return MemberEstimate(coded_header, 0, item, tables_bytes)


def estimate_members(
    members: list[Member],
    model: ModelSet,
    *,
    decode: Callable[[Path], tuple[object, DecodedImage | None]],
    lzma_pays: Callable[[Path], bool],
    base_header: Callable[[Member, EntryKind], dict],
    entropy: str = "range",
    quality_floor: float | None = None,
    check: Callable[[], None] | None = None,
    on_file: Callable[[Member], None] | None = None,
    ordered_map: OrderedMap | None = None,
) -> tuple[list[ItemEstimate], int]:
    """Estimate every member the way the compressor will store it: (the images' options, the fixed bytes).

    ``decode``, ``lzma_pays`` and ``base_header`` are the compressor's own; the fixed bytes are everything
    that does not depend on the choices (other entries, the archive's header, index and trailer).
    ``ordered_map``: measures the files on workers (``OrderedPool.map``: results in input order), else
    one at a time here; the estimate is the same.
    """
    rules = CompressorRules(decode, lzma_pays, base_header)
    floors = quality_floors(quality_floor)
    items: list[ItemEstimate] = []
    headers: list[dict] = []
    first_with: dict[str, str] = {}  # content hash -> the first member's name (later ones are duplicates)
    duplicate_of: dict[str, str] = {}  # a later member's name -> the first one with its content
    measured_files: list[Member] = []
    for member in members:
        if member.kind != FILE:
            continue
        if member.sha256 is not None and member.sha256 in first_with:  # stored once: a header only
            duplicate_of[member.name] = first_with[member.sha256]
            continue
        if member.sha256 is not None:
            first_with[member.sha256] = member.name
        measured_files.append(member)

    def measure(member: Member) -> MemberEstimate | None:
        return estimate_file(member, model, rules, entropy=entropy, floors=floors, check=check)

    serial = ((m, measure(m)) for m in measured_files)
    results = ordered_map(measure, measured_files) if ordered_map is not None else serial
    fixed = ARCHIVE_OVERHEAD
    for member in members:
        if check:
            check()
        if on_file:
            on_file(member)
        if member.kind == DIRECTORY or member.kind == SYMLINK:
            header = base_header(member, EntryKind.DIRECTORY if member.kind == DIRECTORY else EntryKind.SYMLINK)
            headers.append(header)
            fixed += entry_overhead(header)
            continue
        if member.kind != FILE:
            continue
        if member.name in duplicate_of:
            header = {**base_header(member, EntryKind.DUPLICATE), "same_as": duplicate_of[member.name]}
            headers.append(header)
            fixed += entry_overhead(header)
            continue
        _, measured = next(results)
        if measured is None:
            continue  # the compressor will report it as unreadable
        headers.append(measured.header)
        fixed += measured.fixed
        if measured.item is not None:
            items.append(measured.item)
    return items, fixed + index_bytes(headers)
