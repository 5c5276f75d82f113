"""The archive size estimate, from a sample of the images coded in the background.

A few images spread over the input list are previewed by the engine (on the
analysis worker, through ``AnalysisService``, whose cache the preview shares).
Each sampled image gives, per checkpoint, its coded size relative to its file
size (bpp x full pixel count; an image the engine would store byte-exact,
under its checkpoint's quality floor or not smaller, counts at its file
size). The other images are estimated with the mean ratio of sampled images
of the same file type (or of all sampled images), the other files at their
size, plus a small per-entry overhead. The estimate refines as samples land.

"Keep originals exactly" (lossless) is estimated without coding anything, by the
engine's ``estimated_lossless_size`` (JPEGs at the re-pack ratio measured on the
shared photos, every other file at its size).

For a size or quality target, the same extrapolation gives every image its
options (each checkpoint's estimated bytes and MS-SSIM, and exact storage),
and the engine's planner (``codec.targets``) chooses among them, so the page
shows what the target would choose; it is re-planned, instantly, whenever the
target changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..codec import targets
from ..codec.engine import CHECKPOINTS, QUALITY_FLOORS, estimated_lossless_size
from .analysis import AnalysisService, PreviewFigures
from .input_list import ImageFile
from .worker import Job

SAMPLE_SIZE = 6
ENTRY_OVERHEAD = 180  # bytes per entry: header JSON, framing, index item (approximate)


def lossless_size(images: list[ImageFile], fixed: int) -> int:
    """The archive in "Keep originals exactly" mode: ``fixed`` (other files, per-entry overhead) plus the
    images, JPEGs at the measured re-pack ratio and the rest as is."""
    return fixed + sum(estimated_lossless_size(img.path.name, img.size) for img in images)


def pick_sample(images: list[ImageFile], k: int = SAMPLE_SIZE) -> list[ImageFile]:
    """``k`` images evenly spread over the (name-sorted) list, deterministic."""
    ordered = sorted(images, key=lambda i: i.name)
    if len(ordered) <= k:
        return ordered
    step = len(ordered) / k
    return [ordered[int(step * i + step / 2)] for i in range(k)]


def coded_size(image: ImageFile, figures: PreviewFigures, checkpoint: str) -> int:
    """What the archive would hold for this image at ``checkpoint``: coded, or stored by the engine's rule."""
    result = figures.results.get(checkpoint)
    if result is None:
        return image.size
    width, height = figures.full_size
    coded = int(result.bpp * width * height / 8)
    if targets.stored_instead(coded, result.ms_ssim, image.size, QUALITY_FLOORS[checkpoint]):
        return image.size
    return coded


@dataclass(frozen=True)
class Estimate:
    sizes: dict[str, int]  # checkpoint -> estimated archive bytes
    original: int
    sampled: int
    sample_target: int
    typical_ms_ssim: dict[str, float] = field(default_factory=dict)
    lossless: int = 0  # estimated archive bytes with "Keep originals exactly"
    items: tuple[targets.ItemEstimate, ...] = ()  # every image's options, for a target's plan
    fixed: int = 0  # the bytes that do not depend on the choices: other files, per-entry overhead
    own: dict[Path, dict[str, int]] = field(default_factory=dict)  # sampled image -> checkpoint -> bytes
    ext_ratios: dict[str, dict[str, float]] = field(default_factory=dict)  # checkpoint -> suffix -> bytes/file
    own_scores: dict[Path, dict[str, float]] = field(default_factory=dict)  # sampled image -> checkpoint -> MS-SSIM

    @property
    def done(self) -> bool:
        return self.sampled >= self.sample_target

    def image_bytes(self, path: Path, size: int, checkpoint: str) -> tuple[int, bool] | None:
        """One image's estimated bytes at ``checkpoint`` and whether they are its own sample's (None: no sample yet)."""
        own = self.own.get(path, {}).get(checkpoint)
        if own is not None:
            return own, True
        ratios = self.ext_ratios.get(checkpoint, {})
        ratio = ratios.get(path.suffix.lower(), ratios.get("", None))
        return (int(size * ratio), False) if ratio is not None else None


@dataclass(frozen=True)
class TargetEstimate:
    """What a size or quality target would choose for the selection, from the sampled estimates."""

    mode: str  # "size" or "quality"
    target: float
    size: int  # estimated archive bytes
    counts: dict[str, int]  # images per choice: A, B, C, exact
    min_ms_ssim: float
    feasible: bool


def estimate_target(est: Estimate, mode: str, target: float) -> TargetEstimate | None:
    """Plan ``est``'s images for a target (None until a sample has landed)."""
    if not est.items and est.sampled == 0 and est.sample_target:
        return None
    plan = targets.make_plan(list(est.items), est.fixed, mode, target)
    return TargetEstimate(mode, target, plan.estimated_size, plan.counts(), plan.estimated_min_ms_ssim, plan.feasible)


def _image_item(
    image: ImageFile, figures: PreviewFigures | None, ratios: dict[str, float], typical: dict[str, float]
) -> targets.ItemEstimate:
    """One image's options: its own figures when sampled, else the sampled ratios and typical MS-SSIM."""
    estimates = {}
    for ckpt in CHECKPOINTS:
        if figures is not None and ckpt in figures.results:
            width, height = figures.full_size
            r = figures.results[ckpt]
            estimates[ckpt] = targets.CheckpointEstimate(int(r.bpp * width * height / 8), r.ms_ssim)
        elif ckpt in ratios and ckpt in typical:
            estimates[ckpt] = targets.CheckpointEstimate(int(image.size * ratios[ckpt]), typical[ckpt])
    return targets.image_options(str(image.path), estimates, image.size, image.size, 0, 0)


def estimate_archive(
    images: list[ImageFile], other_bytes: int, entries: int, figures: dict[Path, PreviewFigures], sample_target: int
) -> Estimate:
    """Extrapolate the sampled figures to every image; see the module docstring."""
    original = sum(i.size for i in images) + other_bytes
    sampled = [(img, figures[img.path]) for img in images if img.path in figures]
    fixed = other_bytes + ENTRY_OVERHEAD * entries  # what does not depend on how the images are stored
    sizes: dict[str, int] = {}
    typical: dict[str, float] = {}
    ratios: dict[str, float] = {}  # coded/file bytes of the sampled images coded under their floor
    own_sizes: dict[Path, dict[str, int]] = {}
    ext_ratios: dict[str, dict[str, float]] = {}
    own_scores: dict[Path, dict[str, float]] = {}
    for ckpt in CHECKPOINTS:
        coded = [
            (fig.results[ckpt].bpp * fig.full_size[0] * fig.full_size[1] / 8, img.size)
            for img, fig in sampled
            if ckpt in fig.results and coded_size(img, fig, ckpt) < img.size
        ]
        if coded:
            ratios[ckpt] = sum(c for c, _ in coded) / sum(n for _, n in coded)
        own = {img.path: coded_size(img, fig, ckpt) for img, fig in sampled}
        by_ext: dict[str, list[int]] = {}
        for img, _ in sampled:
            acc = by_ext.setdefault(img.path.suffix.lower(), [0, 0])
            acc[0] += own[img.path]
            acc[1] += img.size
        all_coded, all_size = sum(v[0] for v in by_ext.values()), sum(v[1] for v in by_ext.values())
        overall = all_coded / all_size if all_size else 1.0
        for path, n in own.items():
            own_sizes.setdefault(path, {})[ckpt] = n
        for img, fig in sampled:
            if ckpt in fig.results:
                own_scores.setdefault(img.path, {})[ckpt] = fig.results[ckpt].ms_ssim
        if sampled:
            ext_ratios[ckpt] = {ext: c / n for ext, (c, n) in by_ext.items() if n} | {"": overall}
        total = fixed
        for img in images:
            if img.path in own:
                total += own[img.path]
            else:
                coded, size = by_ext.get(img.path.suffix.lower(), (0, 0))
                total += int(img.size * (coded / size if size else overall))
        sizes[ckpt] = total
        scores = [fig.results[ckpt].ms_ssim for _, fig in sampled if ckpt in fig.results]
        if scores:
            typical[ckpt] = sum(scores) / len(scores)
    items = tuple(_image_item(img, figures.get(img.path), ratios, typical) for img in images) if sampled else ()
    return Estimate(
        sizes,
        original,
        len(sampled),
        sample_target,
        typical,
        lossless_size(images, fixed),
        items,
        fixed,
        own_sizes,
        ext_ratios,
        own_scores,
    )


class Estimator(QObject):
    """Runs the sample one image at a time (so previews can slip in between) and emits updates."""

    updated = Signal(object)  # Estimate, or None when there is nothing to estimate

    def __init__(self, analysis: AnalysisService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._analysis = analysis
        self._generation = 0
        self._job: Job | None = None
        self._images: list[ImageFile] = []
        self._other_bytes = 0
        self._entries = 0
        self._sample: list[ImageFile] = []
        self._queue: list[ImageFile] = []
        self._figures: dict[Path, PreviewFigures] = {}
        self.latest: Estimate | None = None

    @property
    def running(self) -> bool:
        return bool(self._queue) or self._job is not None

    def stop(self) -> None:
        self._generation += 1
        was_running = self.running
        self._queue = []
        if self._job is not None:
            self._job.cancel()
            self._job = None
        if was_running and self.latest is not None:
            self.updated.emit(self.latest)  # no longer "refining"

    def start(self, images: list[ImageFile], other_bytes: int, entries: int) -> None:
        self.stop()
        self._images, self._other_bytes, self._entries = list(images), other_bytes, entries
        self._sample = pick_sample(self._images)
        self._figures = {}
        if not self._images and not other_bytes:
            self.latest = None
            self.updated.emit(None)
            return
        self._queue = list(self._sample)
        self._publish()
        self._next(self._generation)

    def _publish(self) -> None:
        self.latest = estimate_archive(self._images, self._other_bytes, self._entries, self._figures, len(self._sample))
        self.updated.emit(self.latest)

    def _next(self, generation: int) -> None:
        if generation != self._generation or not self._queue:
            self._job = None
            return
        image = self._queue.pop(0)

        def landed(figures: PreviewFigures | None) -> None:
            if generation != self._generation:
                return
            self._job = None
            if figures is not None:
                self._figures[image.path] = figures
            else:  # unreadable sample: count it as stored, keep the target honest
                self._sample_failed(image)
            self._publish()
            self._next(generation)

        job = self._analysis.request_figures(image.path, landed)
        if job is not None:  # None: answered from the cache (and already moved on)
            self._job = job

    def _sample_failed(self, image: ImageFile) -> None:
        self._sample = [s for s in self._sample if s.path != image.path]
