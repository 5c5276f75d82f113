"""Background jobs: one QObject worker on its own QThread runs engine calls in order.

The GUI builds a ``Job`` (a function of a progress sink and a cancel token,
plus callbacks) and submits it to a ``JobRunner``. The worker thread calls the
function with a sink that turns the engine's typed ``ProgressEvent`` into Qt
signals; the runner, living on the GUI thread, receives them (queued
connections) and calls the job's callbacks there, so callbacks may touch
widgets and models. Cancelling sets the job's ``CancelToken``; the engine stops
at its next check. ``shutdown()`` cancels everything and joins the thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..codec.api.errors import CancelledError, LatentzipError, OutputError, os_problem
from ..codec.engine import CancelToken, ProgressEvent
from . import qt_refcounts

qt_refcounts.install()  # before any job runs (see qt_refcounts: the bool_dealloc crash on quit)

log = logging.getLogger(__name__)
_ids = itertools.count(1)
LOGGED_KINDS = ("compress", "add", "extract", "test")


@dataclass(frozen=True)
class JobError:
    """A failure in plain words (no errno, no internal path, no exception text); the details go to the log.

    ``problem`` and ``output`` are set for a write failure at the destination (the engine's ``OutputError``):
    why in words, and the file the user asked for, so the window can offer another folder.
    """

    message: str
    details: str
    expected: bool  # a LatentzipError or OSError (bad input...), not a bug
    problem: str = ""
    output: str = ""
    reason: str = ""  # the message without the file it names (for a sentence that names it itself)


def _shown_name(filename: object) -> str:
    """The file an OSError names, as a person knows it: an internal temporary file is never shown."""
    name = str(filename or "")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "" if base.endswith(".partial") else name


def describe_error(exc: BaseException) -> JobError:
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, OutputError):
        return JobError(f"“{exc.output}” could not be written: {exc.problem}.", details, True, exc.problem, exc.output)
    if isinstance(exc, LatentzipError):
        text = str(exc)
        reason = text[len(exc.name) + 2 :] if exc.name and text.startswith(f"{exc.name}: ") else text
        return JobError(text, details, True, reason=reason)
    if isinstance(exc, OSError):
        name, problem = _shown_name(exc.filename), os_problem(exc)
        return JobError(
            f"“{name}”: {problem}." if name else problem[0].upper() + problem[1:] + ".", details, True, problem
        )
    if isinstance(exc, MemoryError):
        return JobError("There is not enough memory for this operation.", details, True)
    return JobError(
        "Something went wrong inside Latentzip. Your files are untouched; the log (Help ▸ Open log "
        "folder) has the details.",
        details,
        False,
    )


@dataclass(eq=False)
class Job:
    """One unit of background work and what to call (on the GUI thread) as it goes."""

    kind: str
    fn: Callable[[Any, CancelToken], Any]
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[JobError], None] | None = None
    on_cancelled: Callable[[], None] | None = None
    on_progress: Callable[[ProgressEvent], None] | None = None
    on_warning: Callable[[str, str], None] | None = None
    on_started: Callable[[], None] | None = None
    tag: Any = None
    token: CancelToken = field(default_factory=CancelToken)
    id: int = field(default_factory=lambda: next(_ids))

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled


class _SignalSink:
    """The engine's ProgressSink for one job: calls become queued signals.

    Progress events are coalesced: while one is queued and not yet handled by the GUI
    thread, newer events only replace it, so 10,000 small files never flood the GUI's
    event queue (the GUI always gets the latest event).
    """

    def __init__(self, worker: Worker, job: Job) -> None:
        self._worker, self._job = worker, job
        self._lock = threading.Lock()
        self._latest: ProgressEvent | None = None

    def progress(self, event: ProgressEvent) -> None:
        with self._lock:
            queued = self._latest is not None
            self._latest = event
        if not queued:
            self._worker.progress.emit(self._job, self)

    def take(self) -> ProgressEvent | None:
        """The latest event (on the GUI thread); the next one queues a new signal."""
        with self._lock:
            event, self._latest = self._latest, None
        return event

    def warning(self, name: str, message: str) -> None:
        self._worker.warning.emit(self._job, name, message)


class Worker(QObject):
    """Lives on the worker thread; runs one job at a time, in submission order."""

    started = Signal(object)
    progress = Signal(object, object)
    warning = Signal(object, str, str)
    finished = Signal(object, object)
    failed = Signal(object, object)
    cancelled = Signal(object)
    run_job = Signal(object)  # emitted by the runner on the GUI thread; queued to ``_execute``

    def __init__(self) -> None:
        super().__init__()
        self.run_job.connect(self._execute)

    @Slot(object)
    def _execute(self, job: Job) -> None:
        if job.cancelled:
            self.cancelled.emit(job)
            return
        self.started.emit(job)
        start = time.monotonic()
        if job.kind in LOGGED_KINDS:
            log.info("%s job %d started", job.kind, job.id)
        try:
            result = job.fn(_SignalSink(self, job), job.token)
        except CancelledError:
            if job.kind in LOGGED_KINDS:
                log.info("%s job %d cancelled after %.1f s", job.kind, job.id, time.monotonic() - start)
            self.cancelled.emit(job)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none is silent
            error = describe_error(exc)
            if error.expected:
                log.info("%s job failed: %s\n%s", job.kind, error.message, error.details)
            else:
                log.error("%s job crashed:\n%s", job.kind, error.details)
            self.failed.emit(job, error)
        else:
            if job.kind in LOGGED_KINDS:
                log.info("%s job %d done in %.1f s", job.kind, job.id, time.monotonic() - start)
            if job.cancelled and job.kind in ("preview", "estimate", "scan"):
                self.cancelled.emit(job)  # finished, but nobody wants the result any more
            else:
                self.finished.emit(job, result)


class JobRunner(QObject):
    """Owns a worker thread; submit jobs from the GUI thread, get callbacks on it."""

    busy_changed = Signal(bool)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: list[Job] = []
        self._current: Job | None = None
        self._closed = False
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = Worker()
        self._worker.moveToThread(self._thread)
        w = self._worker
        w.started.connect(self._on_started)
        # Bound methods of this GUI-thread object (never lambdas): the calls are queued to the GUI thread.
        w.progress.connect(self._on_progress)
        w.warning.connect(self._on_warning)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return bool(self._pending) or self._current is not None

    @property
    def current(self) -> Job | None:
        return self._current

    def submit(self, job: Job) -> Job:
        if self._closed:  # a late request during shutdown: never run
            job.cancel()
            return job
        was_busy = self.busy
        self._pending.append(job)
        self._worker.run_job.emit(job)
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    def cancel_all(self, kind: str | None = None) -> None:
        for job in [*self._pending, *([self._current] if self._current else [])]:
            if kind is None or job.kind == kind:
                job.cancel()

    @Slot(object)
    def _on_started(self, job: Job) -> None:
        self._current = job
        if job.on_started:
            job.on_started()

    @Slot(object, object)
    def _on_progress(self, job: Job, event: ProgressEvent | _SignalSink) -> None:
        if isinstance(event, _SignalSink):
            event = event.take()
        if event is not None and job.on_progress and not job.cancelled:
            job.on_progress(event)

    @Slot(object, str, str)
    def _on_warning(self, job: Job, name: str, message: str) -> None:
        if job.on_warning:
            job.on_warning(name, message)

    def _end(self, job: Job) -> None:
        if job in self._pending:
            self._pending.remove(job)
        if self._current is job:
            self._current = None
        if not self.busy:
            self.busy_changed.emit(False)

    @Slot(object, object)
    def _on_finished(self, job: Job, result: object) -> None:
        self._end(job)
        if job.on_done:
            job.on_done(result)

    @Slot(object, object)
    def _on_failed(self, job: Job, error: JobError) -> None:
        self._end(job)
        if job.on_error:
            job.on_error(error)

    @Slot(object)
    def _on_cancelled(self, job: Job) -> None:
        self._end(job)
        if job.on_cancelled:
            job.on_cancelled()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job, stop the thread and wait for it; True when it has ended."""
        if self._closed:
            return True
        self._closed = True
        self.cancel_all()
        self._thread.quit()
        ended = self._thread.wait(timeout_ms)
        if not ended:
            log.warning("worker thread %s did not stop within %d ms", self._thread.objectName(), timeout_ms)
        return bool(ended)
