"""What a job did: per-file outcomes and the reports of compress, extract and test (plain dataclasses, no Qt)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .options import CHECKPOINTS, FALLBACK_FLOOR, FALLBACK_LARGER, FALLBACK_LIMIT
from .outcomes import Issue, IssueCode, OutcomeKind


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one archived file.

    ``kind`` is an ``OutcomeKind`` (a plain string is converted, and an unknown one
    refused); ``reason`` says in code why a file was stored as it is, ``note`` in words.
    """

    name: str
    kind: OutcomeKind
    original_size: int
    stored_size: int
    pixels: int = 0
    ms_ssim: float | None = None
    psnr: float | None = None
    note: str = ""
    source_format: str = ""  # the image file's format ("JPEG", "PNG"...) when it was decoded
    checkpoint: str | None = None  # for coded images: the checkpoint used
    level: float | None = None  # for coded images of a set with a rate ladder: the level (0 = lowest trained)
    raised: bool = False  # coded above its checkpoint's level to meet the checkpoint's floor
    fallback: str = ""  # FALLBACK_FLOOR, _LARGER or _LIMIT: why an image that was coded is stored instead
    fallback_checkpoint: str | None = None  # ... and the checkpoint it was coded for
    reason: IssueCode | None = None  # why it was stored as it is (None: coded, or no reason given)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", OutcomeKind(self.kind))
        if self.reason is not None:
            object.__setattr__(self, "reason", IssueCode(self.reason))


@dataclass(frozen=True)
class TargetResult:
    """What a size or quality target chose, and whether it was met."""

    mode: str  # "size" (target in bytes) or "quality" (target MS-SSIM)
    target: float
    estimated: float  # the plan's estimate: archive bytes, or the lowest image MS-SSIM
    achieved: float  # archive bytes, or the lowest MS-SSIM of the images (1.0 when all are exact)
    met: bool
    choices: dict[str, int]  # images per choice: "A", "B", "C", "exact"
    planned: dict[str, int]  # the same, as planned from the estimates
    feasible: bool = True  # False: even the smallest choices were estimated over the size target
    estimate_seconds: float = 0.0

    @property
    def error(self) -> float:
        """(achieved - target) / target: for a size target, how far the archive is from it."""
        return (self.achieved - self.target) / self.target if self.target else 0.0


@dataclass
class CompressReport:
    archive: Path
    archive_size: int = 0
    outcomes: list[FileOutcome] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    target: TargetResult | None = None
    locations_removed: int = 0  # files whose location was stripped (strip_location)
    volumes: list[Path] = field(default_factory=list)  # split_every: the numbered volumes written, in order

    @property
    def original_size(self) -> int:
        return sum(o.original_size for o in self.outcomes)

    @property
    def ratio(self) -> float:
        return self.original_size / self.archive_size if self.archive_size else 0.0

    @property
    def partial(self) -> bool:
        return bool(self.failed)

    @property
    def lossy_pixels(self) -> int:
        return sum(o.pixels for o in self.outcomes if o.kind is OutcomeKind.LOSSY)

    @property
    def lossy_jpeg_sources(self) -> int:
        """JPEG files that were lossily re-coded: a second generation of loss on top of the JPEG's own."""
        return sum(1 for o in self.outcomes if o.kind is OutcomeKind.LOSSY and o.source_format == "JPEG")

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.outcomes if o.kind is OutcomeKind.DUPLICATE)

    @property
    def floors(self) -> dict[str, FloorTally]:
        """Per checkpoint: images coded, raised to meet the floor, and stored instead (and why)."""
        return floor_tallies(
            (o.checkpoint if o.kind == "lossy" else o.fallback_checkpoint, o.raised, o.fallback) for o in self.outcomes
        )


@dataclass
class FloorTally:
    """What the floors did at one checkpoint."""

    coded: int = 0  # images kept coded (raised ones included)
    raised: int = 0  # coded above the checkpoint's level to meet its floor
    stored_floor: int = 0  # stored: under the floor even at the top level (or the model set cannot raise)
    stored_larger: int = 0  # stored: coding would not make them smaller
    stored_limit: int = 0  # stored: coded, they would pass the pixels-per-byte limit (nearly flat)

    @property
    def stored(self) -> int:
        return self.stored_floor + self.stored_larger + self.stored_limit


def floor_tallies(rows: Iterable[tuple[str | None, bool, str]]) -> dict[str, FloorTally]:
    """(checkpoint, raised, fallback) per image -> a FloorTally per checkpoint, in the order A, B, C.

    ``fallback`` is '' for a coded image; rows without a checkpoint (files never coded) are skipped.
    """
    tallies: dict[str, FloorTally] = {}
    for checkpoint, raised, fallback in rows:
        if not checkpoint:
            continue
        t = tallies.setdefault(str(checkpoint), FloorTally())
        if fallback == FALLBACK_FLOOR:
            t.stored_floor += 1
        elif fallback == FALLBACK_LARGER:
            t.stored_larger += 1
        elif fallback == FALLBACK_LIMIT:
            t.stored_limit += 1
        else:
            t.coded += 1
            t.raised += bool(raised)
    return {cp: tallies[cp] for cp in sorted(tallies, key=lambda c: (c not in CHECKPOINTS, c))}


def floor_lines(tallies: dict[str, FloorTally]) -> list[str]:
    """One line per checkpoint where an image was raised or stored (none when the floors changed nothing)."""
    lines = []
    for cp, t in tallies.items():
        if not t.raised and not t.stored:
            continue
        why = []
        if t.stored_floor:
            why.append(f"{t.stored_floor} under the floor (at the top rate, or the model set cannot raise it)")
        if t.stored_larger:
            why.append(f"{t.stored_larger} not smaller coded")
        if t.stored_limit:
            why.append(f"{t.stored_limit} over the pixels-per-byte limit coded")
        stored = f"{t.stored} stored ({', '.join(why)})" if t.stored else "none stored"
        lines.append(f"{cp}: {t.raised} of {t.coded + t.stored} image(s) raised to meet the floor, {stored}")
    return lines


def second_generation_note(jpeg_count: int, remedy: str = "use --images lossless") -> str:
    """The one honest line about lossy mode on JPEG sources ('' when there were none)."""
    if not jpeg_count:
        return ""
    return (
        f"{jpeg_count} JPEG source(s) were re-coded lossily: a second generation of loss on top of "
        f"the JPEG's own. To keep them exactly (and still smaller), {remedy}."
    )


@dataclass
class ExtractReport:
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    salvaged: bool = False  # the entries were found by scanning: the index was lost or refused
    index_problem: str = ""  # why the index was not used (when salvaged)
    seconds: float = 0.0
    issues: list[Issue] = field(default_factory=list)  # ``failed``, typed: DAMAGED or CANNOT_WRITE

    @property
    def partial(self) -> bool:
        return bool(self.failed)

    @property
    def damaged(self) -> list[tuple[str, str]]:
        """Entries not extracted because their data is damaged (or cannot be decoded here)."""
        return [(i.path, i.message) for i in self.issues if i.code is IssueCode.DAMAGED]

    @property
    def unwritten(self) -> list[tuple[str, str]]:
        """Entries not extracted because the destination refused them: nothing is wrong with the archive."""
        return [(i.path, i.message) for i in self.issues if i.code is IssueCode.CANNOT_WRITE]


@dataclass
class TestReport:
    checked: int = 0
    damaged: list[tuple[str, str]] = field(default_factory=list)
    index_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.index_ok and not self.damaged
