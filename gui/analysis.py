"""Preview figures in the background, cached: what each checkpoint does to one image.

``AnalysisService`` runs ``engine.preview_image`` on the analysis worker.
Figures (bpp, MS-SSIM, PSNR per checkpoint) are kept for every image seen;
the pixels (before and after, as QImages made on the worker) only for the
last few. A new preview request cancels the previous one; estimate requests
(``request_figures``) are queued behind and are not cancelled by previews.

``precision`` (the networks' precision, chosen in the window) goes into every job
when it is submitted and into the cache key, so a switch never shows figures or
pixels made at the other precision, and a running job keeps its own.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from ..codec import engine
from ..codec.estimate.sampling import ImageSample, renamed, sample_planned_image
from .worker import Job, JobError, JobRunner

PIXEL_CACHE_SIZE = 6


def to_qimage(rgb: np.ndarray) -> QImage:
    """An HxWx3 uint8 array -> an independent QImage (safe to make on any thread)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


@dataclass(frozen=True)
class CheckpointFigures:
    bpp: float
    ms_ssim: float
    psnr: float
    metric: str
    coded_bytes: int


@dataclass(frozen=True)
class PreviewFigures:
    region: tuple[int, int, int, int]
    full_size: tuple[int, int]
    results: dict[str, CheckpointFigures]

    @property
    def cropped(self) -> bool:
        return tuple(self.region[2:]) != tuple(self.full_size)

    @classmethod
    def from_report(cls, report: engine.PreviewReport) -> PreviewFigures:
        results = {
            name: CheckpointFigures(r.bpp, r.ms_ssim, r.psnr, r.metric, r.coded_bytes)
            for name, r in report.results.items()
        }
        return cls(tuple(report.region), tuple(report.full_size), results)


@dataclass(frozen=True)
class PreviewPixels:
    before: QImage
    after: dict[str, QImage]


def _key(path: Path, precision: str) -> tuple[str, int, int, str]:
    try:
        st = os.stat(path)
        return str(path), st.st_size, st.st_mtime_ns, precision
    except OSError:
        return str(path), -1, -1, precision


def _compute(path: Path, token, precision: str) -> tuple[PreviewFigures, PreviewPixels]:
    report = engine.preview_image(path, cancel=token, precision=precision)
    token.check()
    pixels = PreviewPixels(
        to_qimage(report.original), {name: to_qimage(r.reconstruction) for name, r in report.results.items()}
    )
    return PreviewFigures.from_report(report), pixels


class AnalysisService(QObject):
    """Cached previews; signals arrive on the GUI thread."""

    preview_started = Signal(object)  # Path
    preview_ready = Signal(object, object, object)  # Path, PreviewFigures, PreviewPixels
    preview_failed = Signal(object, object)  # Path, JobError
    figures_added = Signal(object)  # Path

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._figures: dict[tuple, PreviewFigures] = {}
        self._pixels: OrderedDict[tuple, PreviewPixels] = OrderedDict()
        self._preview_job: Job | None = None
        self._samples: dict[tuple, ImageSample] = {}  # the estimate's measured images, per file and precision
        self.precision = "auto"  # for the jobs submitted from now on (see the module's docstring)

    def figures(self, path: Path) -> PreviewFigures | None:
        return self._figures.get(_key(path, self.precision))

    def pixels(self, path: Path) -> PreviewPixels | None:
        return self._pixels.get(_key(path, self.precision))

    def _store(self, key: tuple, figures: PreviewFigures, pixels: PreviewPixels) -> None:
        new = key not in self._figures
        self._figures[key] = figures
        self._pixels[key] = pixels
        self._pixels.move_to_end(key)
        while len(self._pixels) > PIXEL_CACHE_SIZE:
            self._pixels.popitem(last=False)
        if new:
            self.figures_added.emit(Path(key[0]))

    def cancel_preview(self) -> None:
        if self._preview_job is not None:
            self._preview_job.cancel()
            self._preview_job = None

    def request_preview(self, path: Path) -> None:
        """Show ``path``: from the cache at once, or computed (cancelling the previous request)."""
        path = Path(path)
        self.cancel_preview()
        precision = self.precision
        key = _key(path, precision)
        if key in self._pixels:
            self._pixels.move_to_end(key)
            self.preview_ready.emit(path, self._figures[key], self._pixels[key])
            return
        self.preview_started.emit(path)

        def done(result: tuple[PreviewFigures, PreviewPixels]) -> None:
            self._store(key, *result)
            if self._preview_job is job:
                self._preview_job = None
                self.preview_ready.emit(path, *result)

        def failed(error: JobError) -> None:
            if self._preview_job is job:
                self._preview_job = None
                self.preview_failed.emit(path, error)

        job = Job(
            "preview", lambda sink, token: _compute(path, token, precision), on_done=done, on_error=failed, tag=path
        )
        self._preview_job = job
        self._runner.submit(job)

    def request_plan(
        self, paths: list[Path], options: engine.CompressOptions, on_done: Callable[[list | None], None]
    ) -> Job:
        """The engine's per-file plan of ``paths`` for the estimate, in the background (None on failure)."""
        job = Job(
            "estimate",
            lambda sink, token: engine.plan_inputs(paths, options, token),
            on_done=on_done,
            on_error=lambda error: on_done(None),
        )
        self._runner.submit(job)
        return job

    def request_sample(
        self, row: engine.FilePlan, options: engine.CompressOptions, on_done: Callable[[ImageSample | None], None]
    ) -> Job | None:
        """One image measured for the estimate as compress will code it: cached, or computed in the background
        (None on failure)."""
        path = Path(row.path or row.name)
        precision = self.precision
        key = (*_key(path, precision), options.entropy, options.quality_floor, options.model_hash)
        if key in self._samples:
            on_done(renamed(self._samples[key], row.name))
            return None
        job_options = replace(options, precision=precision)

        def done(sample: ImageSample | None) -> None:
            if sample is not None:
                self._samples[key] = sample
            on_done(sample)

        job = Job(
            "estimate",
            lambda sink, token: sample_planned_image(row, job_options, cancel=token),
            on_done=done,
            on_error=lambda error: on_done(None),
            tag=path,
        )
        return self._runner.submit(job)

    def request_figures(self, path: Path, on_done: Callable[[PreviewFigures | None], None]) -> Job | None:
        """Figures for the estimate: cached, or computed in the background (None on failure)."""
        path = Path(path)
        precision = self.precision
        key = _key(path, precision)
        if key in self._figures:
            on_done(self._figures[key])
            return None

        def done(result: tuple[PreviewFigures, PreviewPixels]) -> None:
            self._store(key, *result)
            on_done(result[0])

        job = Job(
            "estimate",
            lambda sink, token: _compute(path, token, precision),
            on_done=done,
            on_error=lambda error: on_done(None),
            tag=path,
        )
        return self._runner.submit(job)
