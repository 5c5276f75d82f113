"""Model sets: the bundled models, their manifest, hashes and sessions.

A model set is a folder ``resources/models/<id>/`` holding ONNX transforms,
the integer hyper-decoder, the entropy tables, per-checkpoint gains and a
``manifest.json`` with the sha256 of every file and a content hash over them.
Archives name the content hash of the set that wrote each image; every
released set stays loadable so old archives keep decoding.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from ..api.errors import MissingModelError, ModelIntegrityError
from ..entropy.tables import EntropyTables
from .manifest import Manifest
from .rate_ladder import RateLadder

MODEL_FILES = ("encoder.onnx", "hyper_encoder.onnx", "decoder.onnx", "hyper_decoder.npz", "tables.npz", "gains.npz")
MODELS_ENV = "LATENTZIP_MODELS"  # an extra folder of model sets (tests, development)
# Optional int8 transforms, listed in manifest["variants"]["int8"]["files"] with their hashes. They are
# not part of "files" nor of the content hash: archives name the set, not the precision that wrote them.
# They are stored xz-compressed: int8 weights entropy-code to about 82 % of their bytes (the third
# stage of "deep compression", after pruning and quantization); a session decompresses them in memory.
PRECISIONS = ("auto", "fp32", "int8")
COMPRESSED_SUFFIX = ".xz"
INT8_FILES = {
    "encoder": "encoder.int8.onnx.xz",
    "hyper_encoder": "hyper_encoder.int8.onnx.xz",
    "decoder": "decoder.int8.onnx.xz",
}
MAX_MODEL_BYTES = 256 << 20  # a decompressed transform larger than this is refused (a damaged file)


@dataclass(frozen=True)
class Checkpoint:
    """One rate point of a model set: its gains and fixed-point log-gains.

    ``level_step``: the point on the set's rate ladder (rate_ladder.py), None for a set
    without a ladder, whose checkpoints are fixed gain vectors (bitstream version 1).
    """

    name: str
    id: int
    gain: np.ndarray
    inv_gain: np.ndarray
    log_gain_fixed: np.ndarray
    level_step: int | None = None


def models_root() -> Path:
    """The package's bundled models folder (works from source and in a bundle)."""
    return Path(str(resources.files("latentzip.resources") / "models"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


ARENA_DEFAULT = "1"
SPIN_DEFAULT = "0"


THREADS_ENV = "LATENTZIP_THREADS"  # the job's workers when the job does not say (the window's Settings)
# Every session's intra-op threads: one, so a network run is one thread's work and results never depend
# on the machine. A job runs ``workers`` networks at once instead: files, and tiles of one large image.
ORT_INTRA_OP_THREADS = 1
PROVIDER_ENV = "LATENTZIP_PROVIDER"  # "cpu": the CPU even where an accelerator's provider is installed
# ONNX Runtime execution providers, most preferred first: an NVIDIA GPU (onnxruntime-gpu), DirectML on
# Windows (onnxruntime-directml), Core ML on macOS. The entropy path is integer and runs on the CPU in
# any case, so an archive coded with one provider decodes with any other. Only the CPU is tested here.
ACCELERATED_PROVIDERS = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"


def execution_providers(available: list[str] | None = None) -> list[str]:
    """The providers every session asks for: the first installed accelerator (unless
    ``LATENTZIP_PROVIDER=cpu``), then the CPU, which runs whatever the accelerator cannot."""
    if available is None:
        import onnxruntime as ort

        available = list(ort.get_available_providers())
    if os.environ.get(PROVIDER_ENV, "").lower() == "cpu":
        return [CPU_PROVIDER]
    chosen = [p for p in ACCELERATED_PROVIDERS if p in available][:1]
    return [*chosen, CPU_PROVIDER]


def thread_limit() -> int | None:
    """The workers a job runs, from ``LATENTZIP_THREADS`` (a positive number; the window's Settings set it);
    None: not set (every core)."""
    try:
        value = int(os.environ.get(THREADS_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def job_workers(requested: int | None = None) -> int:
    """The workers a job runs: ``requested`` (``--threads``, the options), else ``LATENTZIP_THREADS``,
    else one per core. The archive's bytes never depend on it (see ``ORT_INTRA_OP_THREADS``)."""
    if requested is not None and requested > 0:
        return requested
    return thread_limit() or max(1, os.cpu_count() or 1)


def session_options(threads: int | None = None) -> object:
    """The ONNX Runtime options of every session the app runs (benchmarks reuse them; ``threads``
    overrides the intra-op thread count for them only)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # Fixed, whatever the cores or the job's workers: the parallelism comes from running networks on
    # several files and tiles at once (ModelSet.workers), so no result can depend on a thread count.
    opts.intra_op_num_threads = threads or ORT_INTRA_OP_THREADS
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # ORT's arena keeps activation buffers between runs: faster, but it holds on to the
    # largest tile's memory (bounded by the tile size). LATENTZIP_ORT_ARENA=1/0 overrides the default.
    opts.enable_cpu_mem_arena = os.environ.get("LATENTZIP_ORT_ARENA", ARENA_DEFAULT) == "1"
    # ORT's worker threads spin after each run, waiting for the next. Between runs the engine works in
    # NumPy (h_s, entropy coding, MS-SSIM): spinning threads would take the cores from it (64x48,
    # 2 cores: 94 -> 18 ms per image, bench/many_files.py, when sessions had one thread per core).
    # LATENTZIP_ORT_SPIN=1 restores spinning. Only scheduling changes: the kernels and results are the same.
    if os.environ.get("LATENTZIP_ORT_SPIN", SPIN_DEFAULT) != "1":
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts


def _check_hashes(folder: Path, files: dict[str, str]) -> None:
    """Every listed file exists and matches its sha256, or ModelIntegrityError names it."""
    for fname, digest in files.items():
        path = folder / fname
        if not path.is_file():
            raise ModelIntegrityError(f"missing model file {fname}", folder.name)
        if _sha256(path) != digest:
            raise ModelIntegrityError(f"model file {fname} does not match its hash", folder.name)


def read_model(path: Path) -> bytes:
    """An ONNX file's bytes, decompressed when it is stored as ``.xz``."""
    import lzma

    data = path.read_bytes()
    if path.name.endswith(COMPRESSED_SUFFIX):
        try:
            unpacker = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            data = unpacker.decompress(data, max_length=MAX_MODEL_BYTES)
        except lzma.LZMAError as exc:
            raise ModelIntegrityError(f"model file {path.name} does not decompress: {exc}", path.parent.name) from exc
        if not unpacker.eof:
            raise ModelIntegrityError(f"model file {path.name} is truncated or too large", path.parent.name)
    return data


def check_precision(precision: str) -> str:
    """``precision`` when it is one of PRECISIONS, else ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return precision


@dataclass(frozen=True)
class ModelSet:
    """A validated model set at one precision; ONNX sessions are created on first use.

    Immutable: ``at(precision)`` gives the same set at another precision, sharing the
    loaded tables and the session cache (sessions are keyed by file, so each precision
    has its own), so a job holds one precision from start to end.
    """

    folder: Path
    manifest: Manifest
    tables: EntropyTables
    hyper_decoder: dict[str, np.ndarray]
    checkpoints: dict[str, Checkpoint]
    ladder: RateLadder | None = None  # None: an older set, whose images cannot be raised above their checkpoint
    precision: str = "auto"  # "auto": the manifest's default per checkpoint; "fp32" or "int8" forces one
    # The networks a job may run at once (tiles of one image on this many threads) and the job's
    # semaphore that holds every run to that many, across its files; 1 and None: one at a time, no limit.
    workers: int = 1
    slots: threading.Semaphore | None = field(default=None, repr=False, compare=False)
    _sessions: dict[str, object] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def content_hash(self) -> str:
        return self.manifest.content_hash

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def released(self) -> bool:
        """Whether the set is released: its files never change and it stays loadable for good."""
        return self.manifest.released

    @property
    def arch(self) -> dict:
        return dict(self.manifest.architecture)

    @classmethod
    def load(cls, folder: Path) -> ModelSet:
        """Read and validate: the manifest, every file's hash, the content hash, the tables."""
        name = folder.name
        manifest = Manifest.load(folder)
        files = dict(manifest.files)
        if sorted(files) != sorted(MODEL_FILES):
            raise ModelIntegrityError("manifest lists the wrong files", name)
        _check_hashes(folder, files)
        content = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        if content != manifest.content_hash:
            raise ModelIntegrityError("content hash does not match the files", name)
        variant_files = dict(manifest.int8_files)
        if not set(variant_files) <= set(INT8_FILES.values()):
            raise ModelIntegrityError("manifest lists unknown variant files", name)
        _check_hashes(folder, variant_files)
        tables = EntropyTables.load(folder / "tables.npz")
        with np.load(folder / "hyper_decoder.npz", allow_pickle=False) as data:
            hyper = {k: data[k] for k in data.files}
        with np.load(folder / "gains.npz", allow_pickle=False) as data:
            gains = {k: data[k] for k in data.files}
        ladder = RateLadder.from_arrays(gains, int(manifest.architecture.get("M", 0)), name)
        checkpoints = {}
        for cname, info in manifest.checkpoints.items():
            try:
                if ladder is not None:  # the checkpoint is a point of the ladder: gains derived as a stream's are
                    if info.level_step is None:
                        raise ModelIntegrityError(f"checkpoint {cname} has no level_step", name)
                    checkpoints[cname] = _on_ladder(cname, info.id, ladder, info.level_step, name)
                else:
                    checkpoints[cname] = Checkpoint(
                        cname,
                        info.id,
                        gains[f"gain_{cname}"].astype(np.float32),
                        gains[f"inv_gain_{cname}"].astype(np.float32),
                        gains[f"log_gain_fixed_{cname}"].astype(np.int64),
                    )
            except KeyError as exc:
                raise ModelIntegrityError(f"checkpoint {cname} lacks {exc}", name) from exc
        if not checkpoints:
            raise ModelIntegrityError("model set has no checkpoints", name)
        return cls(folder, manifest, tables, hyper, checkpoints, ladder)

    def at(self, precision: str) -> ModelSet:
        """This set at ``precision`` ("auto", "fp32" or "int8"); ValueError for another word."""
        if check_precision(precision) == self.precision:
            return self
        return replace(self, precision=precision)

    def with_workers(self, workers: int, slots: threading.Semaphore | None = None) -> ModelSet:
        """This set (sharing its sessions) for a job of ``workers``: at most that many network runs at
        once (``slots``, the job's semaphore when several sets share it, else a new one)."""
        if workers <= 1:
            return replace(self, workers=1, slots=None)
        return replace(self, workers=workers, slots=slots or threading.BoundedSemaphore(workers))

    def checkpoint(self, name: str) -> Checkpoint:
        try:
            return self.checkpoints[name]
        except KeyError:
            raise MissingModelError(f"model set {self.id} has no checkpoint {name}") from None

    def checkpoint_by_id(self, cid: int) -> Checkpoint:
        for cp in self.checkpoints.values():
            if cp.id == cid:
                return cp
        raise MissingModelError(f"model set {self.id} has no checkpoint with id {cid}")

    @property
    def can_raise(self) -> bool:
        """Whether images can be coded at other levels than the checkpoints' (the set has a rate ladder)."""
        return self.ladder is not None

    def at_level(self, checkpoint: str, step: int) -> Checkpoint:
        """``checkpoint`` coded at ladder step ``step`` instead of its own (same id and precision)."""
        if self.ladder is None:
            raise MissingModelError(f"model set {self.id} has no rate ladder: its images keep their checkpoint's level")
        cp = self.checkpoint(checkpoint)
        return _on_ladder(cp.name, cp.id, self.ladder, step, self.id)

    def has_int8(self, which: str) -> bool:
        return INT8_FILES.get(which) in self.manifest.int8_files

    def default_precision(self, checkpoint: str | None) -> str:
        """The manifest's precision for ``checkpoint`` ("fp32" when it names none)."""
        return self.manifest.default_precision.get(checkpoint, "fp32") if checkpoint else "fp32"

    def precision_for(self, which: str, checkpoint: str | None = None, precision: str | None = None) -> str:
        """The precision ``session(which, checkpoint)`` runs: "int8" only where the set has that file.

        ``precision`` overrides ``self.precision`` ("auto": what extraction uses by default).
        """
        chosen = check_precision(self.precision if precision is None else precision)
        wanted = self.default_precision(checkpoint) if chosen == "auto" else chosen
        return "int8" if wanted == "int8" and self.has_int8(which) else "fp32"

    def session(self, which: str, checkpoint: str | None = None, precision: str | None = None) -> object:
        """An ONNX Runtime session for encoder, hyper_encoder or decoder (cached).

        The precision follows ``precision`` if given, else ``self.precision`` (for "auto", the manifest's
        default for ``checkpoint``).
        """
        fname = self.session_file(which, checkpoint, precision)
        with self._lock:
            sess = self._sessions.get(fname)
            if sess is None:
                import onnxruntime as ort

                sess = ort.InferenceSession(
                    read_model(self.folder / fname), session_options(), providers=execution_providers()
                )
                self._sessions[fname] = sess
            return sess

    def session_file(self, which: str, checkpoint: str | None = None, precision: str | None = None) -> str:
        """The file ``session(which, checkpoint, precision)`` runs."""
        return INT8_FILES[which] if self.precision_for(which, checkpoint, precision) == "int8" else f"{which}.onnx"


def _on_ladder(name: str, cid: int, ladder: RateLadder, step: int, set_name: str) -> Checkpoint:
    try:
        gains = ladder.at(step)
    except ValueError as exc:
        raise ModelIntegrityError(f"checkpoint {name}: {exc}", set_name) from exc
    return Checkpoint(name, cid, gains.gain, gains.inv_gain, gains.log_gain_fixed, step)


class ModelRegistry:
    """All model sets found in the bundled folder (and ``$LATENTZIP_MODELS``).

    Immutable once made: which folders it knows and its precision never change.
    ``get(hash)`` loads a set once and hands it out at the registry's precision (or the
    one asked for); ``at(precision)`` is the same registry, sharing its loaded sets, at
    another precision: what a job that carries a precision in its options uses.
    """

    precision: str = "auto"
    workers: int = 1
    _slots: threading.Semaphore | None = None

    def __init__(self, roots: list[Path] | None = None) -> None:
        if roots is None:
            roots = [models_root()]
            extra = os.environ.get(MODELS_ENV)
            if extra:
                roots.insert(0, Path(extra))
        self.roots = tuple(roots)
        self._folders: dict[str, Path] = {}
        self._loaded: dict[str, ModelSet] = {}
        self._lock = threading.Lock()
        for root in roots:
            if not root.is_dir():
                continue
            for folder in sorted(root.iterdir()):
                manifest = folder / "manifest.json"
                if manifest.is_file():
                    try:
                        info = json.loads(manifest.read_text())
                        self._folders.setdefault(str(info["content_hash"]), folder)
                    except (OSError, ValueError, KeyError):
                        continue

    def default_hash(self) -> str:
        """The newest set: the one named in ``default.json`` of the first root, else the only one."""
        for root in self.roots:
            pointer = root / "default.json"
            if pointer.is_file():
                try:
                    return str(json.loads(pointer.read_text())["content_hash"])
                except (OSError, ValueError, KeyError) as exc:
                    raise ModelIntegrityError(f"unreadable default model pointer: {exc}", str(pointer)) from exc
        if not self._folders:
            raise MissingModelError("no model set is installed (resources/models is empty)")
        return next(iter(self._folders))

    def at(self, precision: str | None) -> ModelRegistry:
        """This registry at ``precision`` (its sets are shared, loaded once for both); None: this one."""
        if precision is None or check_precision(precision) == self.precision:
            return self
        view = copy.copy(self)
        view.precision = precision
        return view

    def with_workers(self, workers: int) -> ModelRegistry:
        """This registry for one job of ``workers``: its sets run at most that many networks at once, all together."""
        if workers == self.workers:
            return self
        view = copy.copy(self)
        view.workers = workers
        view._slots = threading.BoundedSemaphore(workers) if workers > 1 else None
        return view

    def get(self, content_hash: str | None = None, precision: str | None = None) -> ModelSet:
        """The set with this content hash (None: the default one), loaded once, at ``precision``
        (None: the registry's)."""
        precision = self.precision if precision is None else check_precision(precision)
        key = content_hash or self.default_hash()
        with self._lock:
            model_set = self._loaded.get(key)
            if model_set is None:
                folder = self._folders.get(key)
                if folder is None:
                    raise MissingModelError(
                        f"this archive needs model {key[:12]}, which this version of Latentzip does not have"
                    )
                model_set = ModelSet.load(folder)
                self._loaded[key] = model_set
        model_set = model_set.at(precision)
        return model_set if self.workers <= 1 else model_set.with_workers(self.workers, self._slots)

    def hashes(self) -> list[str]:
        return list(self._folders)


_REGISTRY: ModelRegistry | None = None


def default_registry() -> ModelRegistry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = ModelRegistry()
    return _REGISTRY
