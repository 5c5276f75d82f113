"""Options and results of engine operations (plain dataclasses, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINTS = ("A", "B", "C")
# After coding, an image whose MS-SSIM is under its checkpoint's floor is stored byte-exact instead.
QUALITY_FLOORS = {"A": 0.95, "B": 0.97, "C": 0.98}
ENTROPY_MODES = ("range", "lzma")
IMAGE_MODES = ("lossy", "lossless")


@dataclass(frozen=True)
class CompressOptions:
    checkpoint: str = "B"
    entropy: str = "range"
    images: str = "lossy"
    overwrite: bool = False
    model_hash: str | None = None  # None: the newest bundled model set
    quality_floor: float | None = None  # None: the checkpoint's floor (QUALITY_FLOORS)
    strip_location: bool = False  # remove GPS / XMP / IPTC location fields from the stored images

    @property
    def floor(self) -> float:
        return QUALITY_FLOORS[self.checkpoint] if self.quality_floor is None else self.quality_floor

    def __post_init__(self) -> None:
        if self.checkpoint not in CHECKPOINTS:
            raise ValueError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}")
        if self.entropy not in ENTROPY_MODES:
            raise ValueError(f"entropy must be one of {', '.join(ENTROPY_MODES)}")
        if self.images not in IMAGE_MODES:
            raise ValueError(f"images must be one of {', '.join(IMAGE_MODES)}")


@dataclass(frozen=True)
class ExtractOptions:
    patterns: tuple[str, ...] = ()
    overwrite: bool = False
    keep_going: bool = False
    as_png: bool = False


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one archived file."""

    name: str
    kind: str  # "lossy", "stored", "lzma", "directory", "symlink"
    original_size: int
    stored_size: int
    pixels: int = 0
    ms_ssim: float | None = None
    psnr: float | None = None
    note: str = ""


@dataclass
class CompressReport:
    archive: Path
    archive_size: int = 0
    outcomes: list[FileOutcome] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    locations_removed: int = 0  # files whose location was stripped (strip_location)

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
        return sum(o.pixels for o in self.outcomes if o.kind == "lossy")


@dataclass
class ExtractReport:
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    salvaged: bool = False
    seconds: float = 0.0

    @property
    def partial(self) -> bool:
        return bool(self.failed)


@dataclass
class TestReport:
    checked: int = 0
    damaged: list[tuple[str, str]] = field(default_factory=list)
    index_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.index_ok and not self.damaged
