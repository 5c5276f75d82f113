"""What a job is asked to do: the options of compress and extract, the checkpoints and their floors."""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime.model_set import PRECISIONS

CHECKPOINTS = ("A", "B", "C")
# An image whose MS-SSIM is under its checkpoint's floor is coded again at a higher rate level (sets with a
# rate ladder), and kept exactly only when even the top of the rate axis misses it.
QUALITY_FLOORS = {"A": 0.95, "B": 0.97, "C": 0.98}
# ... and so is an image whose whole-image colour error (the mean of a channel, extracted minus original)
# is over this many grey levels at any checkpoint: a cast over the whole picture, which MS-SSIM barely sees.
COLOUR_LIMIT = 1.0
# Why an image that was coded is stored instead (FileOutcome.fallback, the entry header's "fallback"):
FALLBACK_FLOOR = "floor"  # under its checkpoint's floor even at the top rate level (or its set cannot raise)
FALLBACK_LARGER = "larger"  # coded, it would not be smaller than the file (or its lossless JPEG re-pack)
FALLBACK_LIMIT = "limit"  # coded, it would pass the format's pixels-per-byte limit (a nearly flat image)
ENTROPY_MODES = ("range", "lzma")
IMAGE_MODES = ("lossy", "lossless")


@dataclass(frozen=True)
class CompressOptions:
    checkpoint: str = "B"
    entropy: str = "range"
    images: str = "lossy"
    overwrite: bool = False
    resume: bool = False  # continue the partial archive a killed run left beside the output
    model_hash: str | None = None  # None: the newest bundled model set
    quality_floor: float | None = None  # None: the checkpoint's floor (QUALITY_FLOORS)
    colour_limit: float | None = COLOUR_LIMIT  # grey levels a coded image's channel means may move (None: any)
    # A target instead of a checkpoint (at most one; estimate/planner.py chooses A, B, C or exact storage per image):
    target_size: int | None = None  # bytes of the whole archive, headers and index included
    min_quality: float | None = None  # MS-SSIM every coded image must reach
    strip_location: bool = False  # remove GPS / XMP / IPTC location fields from the stored images
    # The networks' precision for this job: "auto" (the model set's default per checkpoint), "fp32" or
    # "int8"; None: the registry's (itself "auto" unless made with ``ModelRegistry.at``). Archives name
    # the model set, never the precision, and any precision decodes any archive.
    precision: str | None = None
    # The workers that code images at once (files, and tiles of a large image); None: LATENTZIP_THREADS
    # (the app's Settings), else one per core. The archive's bytes are the same for any number.
    threads: int | None = None
    # numbered volumes (library.001.ltz, ...) of at most this many bytes each, every one a complete archive
    split_every: int | None = None

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
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        check_threads(self.threads)
        if self.colour_limit is not None and (isinstance(self.colour_limit, bool) or not self.colour_limit > 0):
            raise ValueError("the colour limit must be a positive number of grey levels (or None: no limit)")
        if self.target_size is not None and self.min_quality is not None:
            raise ValueError("give a size target or a quality target, not both")
        if self.target_size is not None and (
            isinstance(self.target_size, bool) or not isinstance(self.target_size, int) or self.target_size < 1
        ):
            raise ValueError("the size target must be a whole number of bytes, at least 1")
        if self.min_quality is not None and not 0.0 < self.min_quality <= 1.0:
            raise ValueError("the quality target must be an MS-SSIM between 0 and 1")
        if self.split_every is not None and (
            isinstance(self.split_every, bool) or not isinstance(self.split_every, int) or self.split_every < 1
        ):
            raise ValueError("the volume size must be a whole number of bytes, at least 1")
        if self.split_every is not None and (self.resume or self.targeted):
            raise ValueError("volumes (split_every) cannot be resumed nor given a size or quality target")
        if self.targeted and self.images != "lossy":
            raise ValueError("a size or quality target needs lossy images (lossless keeps every file as it is)")

    @property
    def targeted(self) -> bool:
        return self.target_size is not None or self.min_quality is not None


@dataclass(frozen=True)
class ExtractOptions:
    patterns: tuple[str, ...] = ()
    overwrite: bool = False
    keep_going: bool = False
    as_png: bool = False
    precision: str | None = None  # the decoder's precision for this job (see CompressOptions.precision)
    threads: int | None = None  # the workers that decode images at once (see CompressOptions.threads)

    def __post_init__(self) -> None:
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        check_threads(self.threads)


def check_threads(threads: int | None) -> None:
    """ValueError unless ``threads`` is None or a whole number of at least 1."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError("threads must be a whole number, at least 1")
