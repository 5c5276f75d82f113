"""Typed progress events, the sink protocol and cooperative cancellation.

The engine reports through a ``ProgressSink`` (the CLI prints, the GUI worker
emits Qt signals) and checks a ``CancelToken`` between images and tiles.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from .errors import CancelledError
from .outcomes import Operation


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot of a running operation."""

    operation: Operation  # a plain string is converted (an unknown one refused)
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: str = ""
    elapsed_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", Operation(self.operation))

    @property
    def fraction(self) -> float:
        if self.bytes_total > 0:
            return min(1.0, self.bytes_done / self.bytes_total)
        return self.files_done / self.files_total if self.files_total else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left, extrapolated from bytes done; None until there is a rate."""
        frac = self.fraction
        if frac <= 0.0 or self.elapsed_s <= 0.0:
            return None
        return self.elapsed_s * (1.0 - frac) / frac


class ProgressSink(Protocol):
    def progress(self, event: ProgressEvent) -> None: ...

    def warning(self, name: str, message: str) -> None: ...


class NullSink:
    """A sink that ignores everything."""

    def progress(self, event: ProgressEvent) -> None:
        pass

    def warning(self, name: str, message: str) -> None:
        pass


@dataclass
class CancelToken:
    """Set from any thread; the engine calls ``check()`` often and stops."""

    _event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise CancelledError("cancelled by the user")


class ProgressTracker:
    """Accumulates counts and emits events to a sink, rate-limited."""

    def __init__(
        self,
        sink: ProgressSink,
        operation: Operation | str,
        files_total: int,
        bytes_total: int,
        min_interval_s: float = 0.1,
    ) -> None:
        self.sink, self.operation = sink, Operation(operation)
        self.files_total, self.bytes_total = files_total, bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self.current = ""
        self.start = time.monotonic()
        self._last = 0.0
        self._min_interval = min_interval_s

    def start_file(self, name: str) -> None:
        self.current = name
        self.emit()

    def advance(self, files: int = 0, nbytes: int = 0, force: bool = False) -> None:
        self.files_done += files
        self.bytes_done += nbytes
        self.emit(force=force or files > 0)

    def emit(self, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._min_interval:
            return
        self._last = now
        self.sink.progress(
            ProgressEvent(
                self.operation,
                self.files_done,
                self.files_total,
                self.bytes_done,
                self.bytes_total,
                self.current,
                now - self.start,
            )
        )
