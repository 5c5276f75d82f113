"""Large photos in the background: the overview at once, the region in view coded tile by tile.

``TileService`` keeps the open image's ``engine.RegionPreview`` (at the
window's precision) and runs its work on its own worker: ``open`` makes the
overview; ``request_region`` asks for the original and coded tiles that cover
the region in view at one checkpoint, then that region's figures. A new
request (the view moved, the checkpoint changed) cancels every pending tile
it no longer covers (those it still covers keep their place); a new image
cancels all, and "whole image" is only cancelled by a new image. Tiles
already made come from the caches without a job: the engine's (a
``RegionPreview`` keeps its coded tiles; the last ``OPEN_IMAGES`` images stay
open) and QImages here, per (image, precision, kind, tile).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from ..codec import engine
from .analysis import CheckpointFigures, PreviewFigures, to_qimage
from .worker import Job, JobError, JobRunner

QIMAGE_CACHE_SIZE = 96
OPEN_IMAGES = 2  # decoded photos kept with their coded tiles (about 60 MB each for 20 MP, plus tiles)
ORIGINAL = "original"  # the tile kind of the original's pixels (else a checkpoint's name)

Box = tuple[int, int, int, int]


def region_figures(figures: engine.RegionFigures, full_size: tuple[int, int]) -> PreviewFigures:
    fig = CheckpointFigures(figures.bpp, figures.ms_ssim, figures.psnr, figures.metric, figures.coded_bytes)
    return PreviewFigures(tuple(figures.region), full_size, {figures.checkpoint: fig})


def _image_key(path: Path, precision: str) -> tuple:
    """The file as it is now (a changed file is a new image) at one precision."""
    try:
        st = os.stat(path)
        return str(path), st.st_size, st.st_mtime_ns, precision
    except OSError:
        return str(path), -1, -1, precision


class TileService(QObject):
    """Signals arrive on the GUI thread; every one names the image it is for."""

    overview_ready = Signal(object, object, object)  # Path, QImage, (width, height)
    tile_ready = Signal(object, str, object, object)  # Path, ORIGINAL or checkpoint, box, QImage
    figures_ready = Signal(object, object, bool)  # Path, PreviewFigures, whole image?
    failed = Signal(object, object)  # Path, JobError

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._open: OrderedDict[tuple, tuple[engine.RegionPreview, QImage]] = OrderedDict()
        self._key: tuple | None = None  # the image asked for last
        self._path: Path | None = None
        self._jobs: list[Job] = []
        self._tile_jobs: dict[tuple[str, Box], Job] = {}  # pending tiles by (kind, box)
        self._whole_job: Job | None = None
        self._images: OrderedDict[tuple, QImage] = OrderedDict()
        self.requested: list[tuple[str, Box]] = []  # the tiles asked of the worker by the last request

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def _preview(self) -> engine.RegionPreview | None:
        opened = self._open.get(self._key) if self._key is not None else None
        return opened[0] if opened else None

    def pending(self) -> list[Job]:
        return [j for j in self._jobs if not j.cancelled]

    def pending_tiles(self) -> set[tuple[str, Box]]:
        """The (kind, box) of every tile asked for and not yet made or cancelled."""
        return {key for key, job in self._tile_jobs.items() if not job.cancelled and job in self._jobs}

    def cancel(self) -> None:
        for job in self._jobs:
            job.cancel()
        self._jobs, self._tile_jobs, self._whole_job = [], {}, None

    def close(self) -> None:
        self.cancel()
        self._key, self._path = None, None

    def open(self, path: Path, precision: str) -> None:
        """Send ``path``'s overview: at once if it is open, else decoded on the worker (cancelling the rest)."""
        path = Path(path)
        self.cancel()
        key = _image_key(path, precision)
        self._key, self._path = key, path
        if key in self._open:
            self._open.move_to_end(key)
            preview, overview = self._open[key]
            self.overview_ready.emit(path, overview, preview.size)
            return

        def run(sink, token):
            preview = engine.RegionPreview(path, precision=None if precision == "auto" else precision)
            token.check()
            return preview, to_qimage(preview.overview())

        def done(result: tuple[engine.RegionPreview, QImage]) -> None:
            self._open[key] = result
            self._open.move_to_end(key)
            while len(self._open) > OPEN_IMAGES:
                self._open.popitem(last=False)
            if self._key == key:
                self.overview_ready.emit(path, result[1], result[0].size)

        self._submit(Job("preview", run, on_done=done, on_error=lambda e: self._failed(path, e), tag=path))

    def cached_tiles(self, kind: str) -> dict[Box, QImage]:
        """Every tile of the open image already made for ``kind`` (ORIGINAL or a checkpoint)."""
        return {key[2]: image for key, image in self._images.items() if key[:2] == (self._key, kind)}

    def request_region(self, region: Box, checkpoint: str | None, with_figures: bool = True) -> Box:
        """Ask for the tiles covering ``region`` (clipped; the centre's when huge) at ``checkpoint`` (None:
        the original's only), nearest the centre first, then their figures; returns the region they cover."""
        preview, path = self._preview, self._path
        if preview is None or path is None:
            self.cancel()
            return region
        width, height = preview.size
        boxes = engine.tiles_for(engine.clip_region(region, width, height), width, height)
        kinds = (ORIGINAL,) if checkpoint is None else (ORIGINAL, checkpoint)
        wanted = [(kind, tuple(box)) for box in boxes for kind in kinds]
        keep = {key: job for key, job in self._tile_jobs.items() if key in wanted and not job.cancelled}
        for job in self._jobs:
            if job not in keep.values() and job is not self._whole_job:  # the whole image is only asked on purpose
                job.cancel()
        self._jobs = [j for j in self._jobs if not j.cancelled]
        self._tile_jobs = keep
        self.requested = []
        for kind, box in wanted:
            made = (self._key, kind, box) in self._images and (kind == ORIGINAL or preview.cached(box, kind))
            if not made and (kind, box) not in keep:
                self.requested.append((kind, box))
                self._tile_jobs[(kind, box)] = self._submit_tile(preview, path, kind, box)
        if checkpoint is not None and with_figures:
            self._submit_figures(preview, path, boxes, checkpoint)
        return _bounds(boxes)

    def request_whole(self, checkpoint: str) -> None:
        """The whole image coded at ``checkpoint`` (as the archive codes it): its figures; its tiles are kept."""
        self.cancel()
        preview, path = self._preview, self._path
        if preview is None or path is None:
            return

        def done(figures: engine.RegionFigures) -> None:
            if self._whole_job is job:
                self._whole_job = None
            self.figures_ready.emit(path, region_figures(figures, preview.size), True)

        job = Job(
            "preview",
            lambda sink, token: preview.whole(checkpoint, token),
            on_done=done,
            on_error=lambda e: self._failed(path, e),
            tag=path,
        )
        self._whole_job = job
        self._submit(job)

    # internals -----------------------------------------------------------------
    def _submit(self, job: Job) -> None:
        """Submit ``job``, forgetting it once it has ended (done, failed or cancelled)."""
        for name in ("on_done", "on_error", "on_cancelled"):
            setattr(job, name, _then_forget(self._forget, job, getattr(job, name), name == "on_done"))
        self._jobs.append(job)
        self._runner.submit(job)

    def _forget(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)

    def _submit_tile(self, preview: engine.RegionPreview, path: Path, kind: str, box: Box) -> Job:
        key = (self._key, kind, box)

        def run(sink, token):
            if kind == ORIGINAL:
                return to_qimage(preview.original(box))
            return to_qimage(preview.tile(box, kind, token).reconstruction)

        def done(image: QImage) -> None:
            self._images[key] = image
            self._images.move_to_end(key)
            while len(self._images) > QIMAGE_CACHE_SIZE:
                self._images.popitem(last=False)
            if self._key == key[0]:
                self.tile_ready.emit(path, kind, box, image)

        job = Job("preview", run, on_done=done, on_error=lambda e: self._failed(path, e), tag=(path, box))
        self._submit(job)
        return job

    def _submit_figures(self, preview: engine.RegionPreview, path: Path, boxes: list[Box], checkpoint: str) -> None:
        key = self._key

        def done(figures: engine.RegionFigures | None) -> None:
            if figures is not None and self._key == key:
                self.figures_ready.emit(path, region_figures(figures, preview.size), False)

        job = Job(
            "preview",
            lambda sink, token: preview.figures(boxes, checkpoint),
            on_done=done,
            on_error=lambda e: self._failed(path, e),
            tag=path,
        )
        self._submit(job)

    def _failed(self, path: Path, error: JobError) -> None:
        if self._path == path:
            self.failed.emit(path, error)


def _then_forget(forget, job: Job, callback, skip_if_cancelled: bool):
    """``callback``, after forgetting ``job``; never a result that came after the job was cancelled."""

    def call(*args) -> None:
        forget(job)
        if callback is not None and not (skip_if_cancelled and job.cancelled):
            callback(*args)

    return call


def _bounds(boxes: list[Box]) -> Box:
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0
