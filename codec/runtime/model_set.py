"""Model sets: the bundled models, their manifest, hashes and sessions.

A model set is a folder ``resources/models/<id>/`` holding ONNX transforms,
the integer hyper-decoder, the entropy tables, per-checkpoint gains and a
``manifest.json`` with the sha256 of every file and a content hash over them.
Archives name the content hash of the set that wrote each image; every
released set stays loadable so old archives keep decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..entropy.tables import EntropyTables
from ..errors import MissingModelError, ModelIntegrityError
from .rate_ladder import RateLadder

CHECKPOINT_NAMES = ("A", "B", "C")
MODEL_FILES = ("encoder.onnx", "hyper_encoder.onnx", "decoder.onnx", "hyper_decoder.npz", "tables.npz", "gains.npz")
MODELS_ENV = "LATENTZIP_MODELS"  # an extra folder of model sets (tests, development)
# Optional int8 transforms, listed in manifest["variants"]["int8"]["files"] with their hashes. They are
# not part of "files" nor of the content hash: archives name the set, not the precision that wrote them.
# They are stored xz-compressed: int8 weights entropy-code to about 82 % of their bytes (the third
# stage of "deep compression", after pruning and quantization); a session decompresses them in memory.
PRECISIONS = ("auto", "fp32", "int8")
COMPRESSED_SUFFIX = ".xz"
INT8_FILES = {"encoder": "encoder.int8.onnx.xz", "hyper_encoder": "hyper_encoder.int8.onnx.xz",
              "decoder": "decoder.int8.onnx.xz"}
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


def session_options(threads: int | None = None) -> object:
    """The ONNX Runtime options of every session the app runs (benchmarks reuse them)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # ORT's arena keeps activation buffers between runs: faster, but it holds on to the
    # largest tile's memory (bounded by the tile size). LATENTZIP_ORT_ARENA=1/0 overrides the default.
    opts.enable_cpu_mem_arena = os.environ.get("LATENTZIP_ORT_ARENA", ARENA_DEFAULT) == "1"
    # ORT's worker threads spin after each run, waiting for the next. A model set has three sessions,
    # each with its own pool, and between runs the engine works in NumPy (h_s, entropy coding, MS-SSIM):
    # the spinning threads take the cores from it. On small images this was most of the time (64x48,
    # 2 cores: 94 -> 18 ms per image, bench/many_files.py). LATENTZIP_ORT_SPIN=1 restores spinning.
    # Only scheduling changes: the kernels, their thread count and results are the same.
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


@dataclass
class ModelSet:
    """A validated model set; ONNX sessions are created on first use."""

    folder: Path
    manifest: dict
    tables: EntropyTables
    hyper_decoder: dict[str, np.ndarray]
    checkpoints: dict[str, Checkpoint]
    ladder: RateLadder | None = None  # None: an older set, whose images cannot be raised above their checkpoint
    precision: str = "auto"  # "auto": the manifest's default per checkpoint; "fp32" or "int8" forces one
    _sessions: dict[str, object] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def arch(self) -> dict:
        return dict(self.manifest["architecture"])

    @classmethod
    def load(cls, folder: Path) -> "ModelSet":
        """Read and validate: every file's hash, the content hash, the tables."""
        name = folder.name
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelIntegrityError(f"unreadable manifest: {exc}", name) from exc
        files = manifest.get("files", {})
        if sorted(files) != sorted(MODEL_FILES):
            raise ModelIntegrityError("manifest lists the wrong files", name)
        _check_hashes(folder, files)
        content = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        if content != manifest.get("content_hash"):
            raise ModelIntegrityError("content hash does not match the files", name)
        variant_files = manifest.get("variants", {}).get("int8", {}).get("files", {})
        if not set(variant_files) <= set(INT8_FILES.values()):
            raise ModelIntegrityError("manifest lists unknown variant files", name)
        _check_hashes(folder, variant_files)
        tables = EntropyTables.load(folder / "tables.npz")
        with np.load(folder / "hyper_decoder.npz", allow_pickle=False) as data:
            hyper = {k: data[k] for k in data.files}
        with np.load(folder / "gains.npz", allow_pickle=False) as data:
            gains = {k: data[k] for k in data.files}
        ladder = RateLadder.from_arrays(gains, int(manifest.get("architecture", {}).get("M", 0)), name)
        checkpoints = {}
        for cname, info in manifest.get("checkpoints", {}).items():
            try:
                if ladder is not None:  # the checkpoint is a point of the ladder: gains derived as a stream's are
                    checkpoints[cname] = _on_ladder(cname, int(info["id"]), ladder, int(info["level_step"]), name)
                else:
                    checkpoints[cname] = Checkpoint(
                        cname, int(info["id"]), gains[f"gain_{cname}"].astype(np.float32),
                        gains[f"inv_gain_{cname}"].astype(np.float32), gains[f"log_gain_fixed_{cname}"].astype(np.int64))
            except KeyError as exc:
                raise ModelIntegrityError(f"checkpoint {cname} lacks {exc}", name) from exc
        if not checkpoints:
            raise ModelIntegrityError("model set has no checkpoints", name)
        return cls(folder, manifest, tables, hyper, checkpoints, ladder)

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
        return INT8_FILES.get(which) in self.manifest.get("variants", {}).get("int8", {}).get("files", {})

    def default_precision(self, checkpoint: str | None) -> str:
        """The manifest's precision for ``checkpoint`` ("fp32" when it names none)."""
        defaults = self.manifest.get("variants", {}).get("default_precision", {})
        return str(defaults.get(checkpoint, "fp32")) if checkpoint else "fp32"

    def precision_for(self, which: str, checkpoint: str | None = None, precision: str | None = None) -> str:
        """The precision ``session(which, checkpoint)`` runs: "int8" only where the set has that file.

        ``precision`` overrides ``self.precision`` ("auto": what extraction uses by default).
        """
        chosen = self.precision if precision is None else precision
        if chosen not in PRECISIONS:
            raise ValueError(f"unknown precision {chosen!r}; use one of {', '.join(PRECISIONS)}")
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

                sess = ort.InferenceSession(read_model(self.folder / fname), session_options(),
                                            providers=["CPUExecutionProvider"])
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
    """All model sets found in the bundled folder (and ``$LATENTZIP_MODELS``)."""

    def __init__(self, roots: list[Path] | None = None) -> None:
        if roots is None:
            roots = [models_root()]
            extra = os.environ.get(MODELS_ENV)
            if extra:
                roots.insert(0, Path(extra))
        self.roots = roots
        self.precision = "auto"  # given to every set this registry loads (see ModelSet.precision)
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

    def get(self, content_hash: str | None = None) -> ModelSet:
        key = content_hash or self.default_hash()
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            folder = self._folders.get(key)
            if folder is None:
                raise MissingModelError(
                    f"this archive needs model {key[:12]}, which this version of Latentzip does not have")
            model_set = ModelSet.load(folder)
            model_set.precision = self.precision
            self._loaded[key] = model_set
            return model_set

    def set_precision(self, precision: str) -> None:
        """"auto" (each set's default per checkpoint), "fp32" or "int8", for loaded and later sets."""
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        with self._lock:
            self.precision = precision
            for model_set in self._loaded.values():
                model_set.precision = precision

    def hashes(self) -> list[str]:
        return list(self._folders)


_REGISTRY: ModelRegistry | None = None


def default_registry() -> ModelRegistry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = ModelRegistry()
    return _REGISTRY
