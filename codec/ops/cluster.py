"""Coding on a Ray cluster: ``compress --cluster`` and ``extract --cluster``.

Ray actors (``_Worker``) each hold a model registry, so a worker loads a model set's ONNX sessions once and
codes image after image with them. Only images travel: the coordinator reads each image file and sends its
bytes (the workers need not see its disks); everything else (folders, links, files that are not images)
is encoded here, where it costs little. Results come back in input order through a bounded window
(``_OrderedPool``), so the coordinator writes the archive exactly as one machine would and holds at most
``max_in_flight`` images at once, whatever the library's size.

A worker process that dies mid-image is restarted and its task retried (Ray's ``max_restarts`` and
``max_task_retries``); an entry reaches the archive only once complete. Leaving early (Ctrl-C, a cancel,
an error) kills the workers. Ray is an optional extra: this module imports it only when a cluster is used.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from ..api import errors
from ..api.errors import ClusterError, LatentzipError
from ..api.progress import CancelToken
from ..container import EntryRecord
from ..entries.encode import EncodePolicy, PreparedMember, encode_member
from ..entries.entry import EncodedEntry
from ..images.probe import MAX_FILE_BYTES, PROBED_EXTENSIONS
from ..runtime.model_set import ModelRegistry, default_registry, models_root
from .encoders import DecodeJob
from .entry_check import Restored, restore_content
from .scan import FILE

INSTALL_HINT = 'pip install "latentzip[cluster]"'
LOCAL = "ray"  # --cluster ray: RAY_ADDRESS, else the cluster `ray start` runs on this machine, else a new local one
MAX_RESTARTS = 4  # a worker process that dies is started again this many times
MAX_TASK_RETRIES = 4  # and the image it was coding is sent again
PER_WORKER = 2  # tasks queued on one worker: one running, one waiting, so it never idles between images
WAIT_S = 0.5  # how often the coordinator looks at its cancel token while it waits
ENV_PREFIX = "LATENTZIP_"  # settings the workers get from the coordinator (threads, model folder, provider...)
FAULT_ENV = "LATENTZIP_CLUSTER_FAULT"
"""Fault injection for the tests: a file path; the first worker call that creates that file kills its process."""

T = TypeVar("T")
J = TypeVar("J")
R = TypeVar("R")
K = TypeVar("K")


def import_ray() -> Any:
    """The ``ray`` module, or ClusterError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(f"--cluster needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


class RayCluster:
    """A connection to a Ray cluster: ``"ray"`` (RAY_ADDRESS, a cluster started on this machine, else a new
    local one) or an address (``ray://HEAD:10001``, ``HEAD:6379``). Closing it disconnects only what it
    connected: a Ray already running in this process (a test's) is left as it is."""

    def __init__(self, address: str = LOCAL) -> None:
        self.ray = import_ray()
        self.address = None if address == LOCAL else address
        self._connected_here = False
        if not self.ray.is_initialized():
            try:
                self.ray.init(address=self.address, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Ray cluster: {exc}", address) from exc
            self._connected_here = True

    def cpus(self) -> int:
        """The cluster's CPUs (at least 1)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self._connected_here:
            self.ray.shutdown()
            self._connected_here = False


@dataclass(frozen=True)
class _Failure:
    """A LatentzipError raised on a worker, carried back as data (the engine's errors do not all pickle)."""

    kind: str
    text: str
    name: str | None

    @classmethod
    def of(cls, exc: LatentzipError) -> _Failure:
        return cls(type(exc).__name__, str(exc), exc.name)

    def error(self) -> LatentzipError:
        """The error again, as its own class when the engine has it, with its words."""
        kind = getattr(errors, self.kind, None)
        if not (isinstance(kind, type) and issubclass(kind, LatentzipError)):
            kind = LatentzipError
        exc = kind.__new__(kind)
        Exception.__init__(exc, self.text)
        exc.name = self.name
        return exc


def _injected_fault() -> None:
    """Tests only (``FAULT_ENV``): the first call that creates the named file ends this worker's process."""
    marker = os.environ.get(FAULT_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(1)


class _Worker:
    """A Ray actor: codes and decodes images with the model sets of its registry, loaded once."""

    def __init__(self, roots: list[str], precision: str | None) -> None:
        folders = [Path(r) for r in roots if Path(r).is_dir()]
        bundled = models_root()
        self.registry = ModelRegistry([*(f for f in folders if f != bundled), bundled]).at(precision)

    def pid(self) -> int:
        return os.getpid()

    def encode(self, prepared: PreparedMember, policy: EncodePolicy, model_hash: str, from_disk: bool) -> Any:
        """``prepared``'s entry (its bytes in ``source``); ``from_disk``: those bytes are the coordinator's file
        as it is, which the coordinator reads again itself if the image is stored (not sent back)."""
        _injected_fault()
        try:
            entry = encode_member(prepared, policy, self.registry.get(model_hash))
        except LatentzipError as exc:
            return _Failure.of(exc)
        if from_disk and entry.stream is not None:
            entry = replace(entry, stream=replace(entry.stream, data=None))
        return entry

    def decode(self, name: str, record: EntryRecord, payload: bytes, as_png: bool) -> Any:
        """An IMAGE or JPEG_REPACK entry's restored file bytes (``restore_content``)."""
        _injected_fault()
        try:
            return restore_content(record, payload, self.registry, as_png, name, CancelToken().check)
        except LatentzipError as exc:
            return _Failure.of(exc)


class _OrderedPool:
    """Workers (Ray actors) fed from an iterable, results given back in input order; at most ``max_in_flight``
    items taken and not yet given back, at most ``PER_WORKER`` tasks on one worker."""

    def __init__(self, cluster: RayCluster, make_actor: Callable[[], Any], workers: int, max_in_flight: int) -> None:
        self.ray = cluster.ray
        self.make_actor, self.workers, self.max_in_flight = make_actor, workers, max_in_flight
        self.actors: list[Any] = []

    def ordered(
        self,
        items: Iterable[T],
        job: Callable[[T], J | None],
        call: Callable[[Any, J], Any],
        local: Callable[[T], R],
        check: Callable[[], None],
    ) -> Generator[tuple[T, Any], None, None]:
        """(item, result): ``call(worker, job(item))``'s result (a ``_Failure`` for an engine error on the
        worker), or ``local(item)`` where ``job`` gives None."""
        ray = self.ray
        loads = [0] * self.workers
        pending: deque[tuple[T, Any]] = deque()  # taken, not yet given back: (item, its task or None)
        running: dict[Any, int] = {}  # task -> its worker, until it is done
        source = iter(items)
        held: tuple[T, J | None] | None = None  # taken, waiting for a worker
        exhausted = finished = False
        try:
            while True:
                while not exhausted and len(pending) < self.max_in_flight:
                    if held is None:
                        try:
                            item = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        held = (item, job(item))
                    item, args = held
                    if args is None:
                        pending.append((item, None))
                        held = None
                        continue
                    if not self.actors:  # started for the first image (none when there is no image)
                        self.actors = [self.make_actor() for _ in range(self.workers)]
                    idx = min(range(len(loads)), key=loads.__getitem__)
                    if loads[idx] >= PER_WORKER:
                        break
                    task = call(self.actors[idx], args)
                    running[task], loads[idx] = idx, loads[idx] + 1
                    pending.append((item, task))
                    held = None
                if not pending:
                    finished = True
                    return
                item, task = pending[0]
                if task is not None and task in running:  # wait for any task, then take in more
                    check()
                    done, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
                    for ready in done:
                        loads[running.pop(ready)] -= 1
                    continue
                pending.popleft()
                yield item, (local(item) if task is None else self._result(task))
        finally:
            if not finished:  # left early (Ctrl-C, a cancel, an error): stop the workers
                self.close()

    def _result(self, task: Any) -> Any:
        try:
            result = self.ray.get(task)
        except self.ray.exceptions.RayError as exc:
            raise ClusterError(f"a cluster worker failed: {exc}") from exc
        return result

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # already gone: nothing to stop
                pass
        self.actors = []


def _make_actor_factory(cluster: RayCluster, registry: ModelRegistry | None, precision: str | None) -> Callable:
    roots = [str(r) for r in (registry or default_registry()).roots]
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    remote = cluster.ray.remote(_Worker).options(
        num_cpus=1,
        max_restarts=MAX_RESTARTS,
        max_task_retries=MAX_TASK_RETRIES,
        runtime_env={"env_vars": env} if env else None,
    )
    return lambda: remote.remote(roots, precision)


def _workers(cluster: RayCluster, workers: int | None) -> int:
    if workers is not None and workers < 1:
        raise ValueError("a cluster needs at least one worker")
    return workers or cluster.cpus()


class RayEncoder:
    """An ``EntryEncoder`` (ops/encoders.py) that codes images on a Ray cluster.

    ``workers``: Ray actors (None: one per CPU of the cluster); ``max_in_flight``: images taken and not yet given
    back (None: two per worker and two more). ``registry``: the coordinator's; workers look the job's model
    set up by its content hash in a registry of the same folders (those they have) and the bundled one.
    """

    def __init__(
        self,
        cluster: RayCluster,
        workers: int | None = None,
        max_in_flight: int | None = None,
        registry: ModelRegistry | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        self.cluster, self.registry = cluster, registry
        self.workers = _workers(cluster, workers)
        self.max_in_flight = max_in_flight or 2 * self.workers + 2
        self.check = check or CancelToken().check
        self._pool: _OrderedPool | None = None
        self._precision: str | None = None

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        options = policy.options
        model = None
        if options.images == "lossy":
            model = (self.registry or default_registry()).get(options.model_hash, options.precision)
        pool = self._pool_for(model.precision if model is not None else None)
        policy_ref = self.cluster.ray.put(policy)
        model_hash = model.content_hash if model is not None else ""

        def job(item: PreparedMember) -> tuple[PreparedMember, bool] | None:
            return _image_job(item) if model is not None else None

        def call(actor: Any, args: tuple[PreparedMember, bool]) -> Any:
            return actor.encode.remote(args[0], policy_ref, model_hash, args[1])

        def local(item: PreparedMember) -> EncodedEntry:
            return encode_member(item, policy, model, self.check)

        with closing(pool.ordered(prepared, job, call, local, self.check)) as results:
            for item, entry in results:
                if isinstance(entry, _Failure):  # raised where one machine raises it
                    raise entry.error()
                yield item, entry

    def _pool_for(self, precision: str | None) -> _OrderedPool:
        if self._pool is None or precision != self._precision:
            self.close()
            factory = _make_actor_factory(self.cluster, self.registry, precision)
            self._pool = _OrderedPool(self.cluster, factory, self.workers, self.max_in_flight)
            self._precision = precision
        return self._pool

    def worker_pids(self) -> list[int]:
        """The workers' process ids (empty before the first image)."""
        pool = self._pool
        return [] if pool is None else self.cluster.ray.get([a.pid.remote() for a in pool.actors])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _image_job(prepared: PreparedMember) -> tuple[PreparedMember, bool] | None:
    """What a worker needs to code ``prepared`` (its bytes inside, and whether they are the file's as it is),
    or None to encode it here: not an image file, or it cannot be read as hashed (encoded here, the
    same rule gives the same entry or says why)."""
    member = prepared.member
    if (
        prepared.failed
        or member.kind != FILE
        or member.path.suffix.lower() not in PROBED_EXTENSIONS
        or member.size > MAX_FILE_BYTES
    ):
        return None
    if prepared.source is not None:
        return prepared, False
    try:
        data = member.path.read_bytes()
    except OSError:
        return None
    if member.sha256 is not None and hashlib.sha256(data).hexdigest() != member.sha256:
        return None  # changed since it was hashed: the local rule reports it
    return replace(prepared, source=data), True


class RayDecoder:
    """An ``ImageDecoder`` (ops/encoders.py): restores IMAGE and JPEG_REPACK entries on a Ray cluster for
    ``extract --cluster``, in input order, bounded."""

    def __init__(
        self,
        cluster: RayCluster,
        workers: int | None = None,
        max_in_flight: int | None = None,
        registry: ModelRegistry | None = None,
        precision: str | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.workers = _workers(cluster, workers)
        self.max_in_flight = max_in_flight or 2 * self.workers + 2
        self.check = check or CancelToken().check
        factory = _make_actor_factory(cluster, registry, precision)
        self._pool = _OrderedPool(cluster, factory, self.workers, self.max_in_flight)

    def decode_ordered(
        self, jobs: Iterable[tuple[K, DecodeJob | None]], as_png: bool
    ) -> Iterator[tuple[K, Restored | None]]:
        """For each (key, job), in order: (key, the restored file's bytes, or the error that refuses the
        entry, for the caller to report in its place); None where there is no job."""

        def job(item: tuple[K, DecodeJob | None]) -> DecodeJob | None:
            return item[1]

        def call(actor: Any, args: DecodeJob) -> Any:
            return actor.decode.remote(args[0], args[1], args[2], as_png)

        def nothing(item: tuple[K, DecodeJob | None]) -> None:
            return None

        with closing(self._pool.ordered(jobs, job, call, nothing, self.check)) as results:
            for (key, _), data in results:
                if data is None:
                    yield key, None
                else:
                    yield key, Restored(error=data.error()) if isinstance(data, _Failure) else Restored(data)

    def close(self) -> None:
        self._pool.close()
