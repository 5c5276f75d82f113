"""Work on several members at once, results in input order, with a bounded number in flight.

The coordinator (compress, add, extract) keeps everything that decides the archive's bytes in input
order: scanning, hashing, deduplication, writing. What takes the time, ``encode_member`` (decoding an
image, the networks, entropy coding, the quality check) or decoding an image entry, runs here on worker
threads while the coordinator writes the previous result and prepares the next. ONNX Runtime, NumPy,
Pillow, hashlib and lzma release the GIL, so threads keep the cores busy.

``ordered_map`` is the executor: ``fn`` over ``items`` on ``workers`` threads, yielded in input order,
at most ``max_in_flight`` submitted and not yet yielded (so memory stays flat however many items
come). ``EntryEncoder`` (ops/encoders.py) is the contract the compressor codes through: ``SerialEncoder``
(one worker: no thread at all), ``ThreadEncoder`` (local threads), and ``RayEncoder`` (ops/cluster.py).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ..api.errors import CancelledError
from ..entries.encode import EncodePolicy, PreparedMember, encode_member
from ..entries.entry import EncodedEntry
from ..runtime.model_set import ModelSet
from .encoders import EntryEncoder

T = TypeVar("T")
R = TypeVar("R")


def _no_check() -> None:
    return None


def in_flight_for(workers: int) -> int:
    """How many items a job of ``workers`` keeps submitted: each worker has the next one queued."""
    return 2 * max(1, workers)


class OrderedPool:
    """Threads that map a function over items in input order, bounded; ``close`` stops them.

    ``check`` (the job's cancellation) runs before each item; ``stop_check`` is what the work itself
    should call between steps: it raises ``CancelledError`` once the pool is closed or ``check`` does.
    """

    def __init__(self, workers: int, max_in_flight: int | None = None, check: Callable[[], None] = _no_check) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.max_in_flight = max(workers, max_in_flight or in_flight_for(workers))
        self.check = check
        self._stopped = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="latentzip-worker")

    def stop_check(self) -> None:
        if self._stopped.is_set():
            raise CancelledError("stopped")
        self.check()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """``(item, fn(item))`` in the order of ``items``, which are pulled lazily as results are taken.

        An exception from ``fn`` is raised when its item's turn comes, as a loop over the items would.
        """
        pending: deque[tuple[T, Future[R]]] = deque()
        source = iter(items)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.max_in_flight:
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    self.stop_check()
                    pending.append((item, self._pool.submit(self._run, fn, item)))
                if not pending:
                    return
                item, future = pending.popleft()
                yield item, future.result()
        finally:
            for _, future in pending:
                future.cancel()

    def _run(self, fn: Callable[[T], R], item: T) -> R:
        self.stop_check()
        return fn(item)

    def close(self) -> None:
        """Stop: queued items are dropped, running ones stop at their next ``stop_check``; returns when
        every worker is idle, so nothing is still reading or writing files afterwards."""
        self._stopped.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


class SerialEncoder:
    """One member at a time on the caller's thread: the run every parallel one must match byte for byte."""

    def __init__(self, model: ModelSet | None, check: Callable[[], None] = _no_check) -> None:
        self.model, self.check = model, check

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        for item in prepared:
            yield item, encode_member(item, policy, self.model, self.check)

    def close(self) -> None:
        pass


class ThreadEncoder:
    """Members encoded on ``workers`` local threads, ``max_in_flight`` at most taken and not yet yielded."""

    def __init__(
        self,
        model: ModelSet | None,
        workers: int,
        max_in_flight: int | None = None,
        check: Callable[[], None] = _no_check,
    ) -> None:
        self.model = model
        self._pool = OrderedPool(workers, max_in_flight, check)

    @property
    def max_in_flight(self) -> int:
        return self._pool.max_in_flight

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        def encode(item: PreparedMember) -> EncodedEntry:
            return encode_member(item, policy, self.model, self._pool.stop_check)

        return self._pool.map(encode, prepared)

    def close(self) -> None:
        self._pool.close()


def local_encoder(model: ModelSet | None, workers: int, check: Callable[[], None] = _no_check) -> EntryEncoder:
    """The encoder for a job on this machine: serial for one worker, else threads."""
    if workers <= 1:
        return SerialEncoder(model, check)
    return ThreadEncoder(model, workers, in_flight_for(workers), check)
