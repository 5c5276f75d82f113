"""Wall time per stage of a run, by wrapping the functions that make up each stage at run time.

Nothing in codec/ changes: ``install`` replaces a function (or a class's method) with a timed
wrapper in the module that defines it and in every module that imported it by name, and
``undo`` puts the originals back. Times are exclusive: a stage nested in another (a model
session created inside the analysis transform) counts for itself only, so the stages of one
thread never add up to more than its wall time. Each thread keeps its own stack; stages that
run at once in several threads add up to more than the wall time (their sum is reported beside
the wall, never instead of it). Work in child processes is not seen.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class StageTargetError(LookupError):
    """A stage names a function that is not where the profile expects it (renamed or moved)."""


@dataclass(frozen=True)
class Target:
    """A function that belongs to a stage: ``module`` and ``name`` ("func" or "Class.method").

    ``producer``: the name of an iterable argument that the function consumes (chunks to write);
    the time spent producing its items belongs to whoever produces them, not to this stage.
    """

    module: str
    name: str
    stage: str
    producer: str | None = None


class StageTimer:
    """Exclusive wall seconds and call counts per stage, accumulated over every thread."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.threads: set[int] = set()
        self._local = threading.local()
        self._lock = threading.Lock()

    def _stack(self) -> list[list[float]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @contextmanager
    def stage(self, name: str | None) -> Iterator[None]:
        """Time the block as ``name``, less the stages nested in it. ``None``: time the block for nobody
        (it leaves the enclosing stage's time, but counts for no stage either)."""
        stack = self._stack()
        frame = [self.clock(), 0.0]  # start, seconds of the stages nested in it
        stack.append(frame)
        try:
            yield
        finally:
            stack.pop()
            elapsed = self.clock() - frame[0]
            if stack:
                stack[-1][1] += elapsed
            if name is not None:
                with self._lock:
                    self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - frame[1]
                    self.calls[name] = self.calls.get(name, 0) + 1
                    self.threads.add(threading.get_ident())

    def untimed(self, items: Iterable[Any]) -> Iterator[Any]:
        """``items``, with the time spent producing each one taken out of the consumer's stage."""
        it = iter(items)
        while True:
            with self.stage(None):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def wrap(self, fn: Callable[..., Any], stage: str, producer: str | None = None) -> Callable[..., Any]:
        """``fn`` timed as ``stage``; a generator function is timed at every step it runs."""
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
                gen = fn(*args, **kwargs)
                while True:
                    with self.stage(stage):
                        try:
                            item = next(gen)
                        except StopIteration as stop:
                            return stop.value
                    yield item

            return steps
        signature = inspect.signature(fn) if producer else None

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if signature is not None and producer is not None:
                bound = signature.bind(*args, **kwargs)
                if producer in bound.arguments:
                    bound.arguments[producer] = self.untimed(bound.arguments[producer])
                args, kwargs = bound.args, bound.kwargs
            with self.stage(stage):
                return fn(*args, **kwargs)

        return timed


def _resolve(target: Target) -> tuple[Any, str, Any]:
    """(owner, attribute, raw value) of a target: a module or class, and the object stored there."""
    try:
        owner: Any = importlib.import_module(target.module)
    except ImportError as exc:
        raise StageTargetError(f"{target.module} cannot be imported for stage {target.stage!r}: {exc}") from exc
    *path, attr = target.name.split(".")
    try:
        for part in path:
            owner = getattr(owner, part)
        raw = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    except (AttributeError, KeyError):
        raise StageTargetError(
            f"{target.module}.{target.name} is gone (stage {target.stage!r}): update the profile's stage list"
        ) from None
    return owner, attr, raw


def install(timer: StageTimer, targets: Iterable[Target], scope: str = "latentzip") -> Callable[[], None]:
    """Wrap every target with ``timer``; returns the function that undoes it.

    A module-level function is replaced wherever a module under ``scope`` holds it (``from x import f``
    copies included), so import the code under test before installing. Every target is resolved
    before anything changes: a missing one raises ``StageTargetError`` and nothing is wrapped.
    """
    resolved = [(t, *_resolve(t)) for t in targets]
    undo: list[tuple[Any, str, Any]] = []
    for target, owner, attr, raw in resolved:
        if isinstance(owner, type):
            if isinstance(raw, (classmethod, staticmethod)):
                new: Any = type(raw)(timer.wrap(raw.__func__, target.stage, target.producer))
            else:
                new = timer.wrap(raw, target.stage, target.producer)
            undo.append((owner, attr, raw))
            setattr(owner, attr, new)
            continue
        new = timer.wrap(raw, target.stage, target.producer)
        for name, module in list(sys.modules.items()):
            if module is None or not (name == scope or name.startswith(scope + ".")):
                continue
            for key, value in list(vars(module).items()):
                if value is raw:
                    undo.append((module, key, raw))
                    setattr(module, key, new)

    def restore() -> None:
        for owner, attr, raw in reversed(undo):
            setattr(owner, attr, raw)

    return restore
