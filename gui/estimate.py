"""The archive size estimate in the window: the engine's, scheduled in the background and shown as a range.

The estimate is the engine's (``engine.estimate``, codec/estimate/sampling.py): the
per-file plan, a few images measured exactly as compress will code them, the
rest extrapolated, with a stated range. This module only schedules the work on
the analysis worker (one job for the plan, then one per sampled image, so
previews can slip in between; samples are cached per file and precision) and
publishes each new estimate; ``range_text`` and ``estimate_text`` say it in words.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..codec.engine import CompressOptions, Estimate, FilePlan, ImageSample, TargetEstimate, estimate
from ..codec.estimate.sampling import pick_sample
from ..codec.estimate.sizes import range_text
from .analysis import AnalysisService
from .worker import Job

__all__ = ["Estimate", "Estimator", "TargetEstimate", "estimate_target", "size_or_range"]


def estimate_target(est: Estimate, mode: str, target: float) -> TargetEstimate | None:
    """What a size or quality target would choose (None until a sample is in)."""
    return est.target(mode, target)


def size_or_range(est: Estimate, checkpoint: str) -> str:
    """The archive at ``checkpoint`` in words: a range ("2.4-3.1 MB") until every sample is in, then the
    estimate with its range ("≈ 2.7 MB, 2.5-2.9 MB")."""
    r = est.ranges[checkpoint]
    if not est.done:
        return range_text(r.low, r.high)
    return f"≈ {range_text(r.estimate, r.estimate)} ({range_text(r.low, r.high)})"


class Estimator(QObject):
    """Plans the inputs, then measures the sample one image at a time, and emits each new estimate."""

    updated = Signal(object)  # Estimate, or None when there is nothing to estimate

    def __init__(self, analysis: AnalysisService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._analysis = analysis
        self._generation = 0
        self._job: Job | None = None
        self._rows: list[FilePlan] = []
        self._queue: list[FilePlan] = []
        self._samples: dict[str, ImageSample] = {}
        self._target = 0
        self._options = CompressOptions()
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

    def start(self, paths: list[Path], options: CompressOptions | None = None) -> None:
        """Estimate ``paths`` (lossy images; the "kept exactly" figure comes with it)."""
        self.stop()
        self._options = replace(options or CompressOptions(), images="lossy", target_size=None, min_quality=None)
        self._rows, self._samples, self._queue = [], {}, []
        if not paths:
            self.latest = None
            self.updated.emit(None)
            return
        generation = self._generation

        def planned(rows: list[FilePlan] | None) -> None:
            if generation != self._generation:
                return
            self._job = None
            if rows is None:  # the inputs could not be walked: nothing to show
                self.latest = None
                self.updated.emit(None)
                return
            self._rows = rows
            self._queue = pick_sample(rows)
            self._target = len(self._queue)
            self._publish()
            self._next(generation)

        self._job = self._analysis.request_plan(list(paths), self._options, planned)

    def _publish(self) -> None:
        self.latest = estimate(self._rows, self._samples, self._target)
        self.updated.emit(self.latest)

    def _next(self, generation: int) -> None:
        if generation != self._generation or not self._queue:
            self._job = None
            return
        row = self._queue.pop(0)

        def landed(sample: ImageSample | None) -> None:
            if generation != self._generation:
                return
            self._job = None
            if sample is not None:
                self._samples[row.name] = sample
            else:  # unreadable: compress will report it; the others still count
                self._target -= 1
            self._publish()
            self._next(generation)

        job = self._analysis.request_sample(row, self._options, landed)
        if job is not None:  # None: answered from the cache (and already moved on)
            self._job = job
