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

CHECKPOINT_NAMES = ("A", "B", "C")
MODEL_FILES = ("encoder.onnx", "hyper_encoder.onnx", "decoder.onnx", "hyper_decoder.npz", "tables.npz", "gains.npz")
MODELS_ENV = "LATENTZIP_MODELS"  # an extra folder of model sets (tests, development)


@dataclass(frozen=True)
class Checkpoint:
    """One rate point of a model set: its gains and fixed-point log-gains."""

    name: str
    id: int
    gain: np.ndarray
    inv_gain: np.ndarray
    log_gain_fixed: np.ndarray


def models_root() -> Path:
    """The package's bundled models folder (works from source and in a bundle)."""
    return Path(str(resources.files("latentzip.resources") / "models"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelSet:
    """A validated model set; ONNX sessions are created on first use."""

    folder: Path
    manifest: dict
    tables: EntropyTables
    hyper_decoder: dict[str, np.ndarray]
    checkpoints: dict[str, Checkpoint]
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
        for fname, digest in files.items():
            path = folder / fname
            if not path.is_file():
                raise ModelIntegrityError(f"missing model file {fname}", name)
            if _sha256(path) != digest:
                raise ModelIntegrityError(f"model file {fname} does not match its hash", name)
        content = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        if content != manifest.get("content_hash"):
            raise ModelIntegrityError("content hash does not match the files", name)
        tables = EntropyTables.load(folder / "tables.npz")
        with np.load(folder / "hyper_decoder.npz", allow_pickle=False) as data:
            hyper = {k: data[k] for k in data.files}
        checkpoints = {}
        with np.load(folder / "gains.npz", allow_pickle=False) as data:
            for cname, info in manifest.get("checkpoints", {}).items():
                try:
                    checkpoints[cname] = Checkpoint(
                        cname, int(info["id"]), data[f"gain_{cname}"].astype(np.float32),
                        data[f"inv_gain_{cname}"].astype(np.float32), data[f"log_gain_fixed_{cname}"].astype(np.int64))
                except KeyError as exc:
                    raise ModelIntegrityError(f"checkpoint {cname} lacks {exc}", name) from exc
        if not checkpoints:
            raise ModelIntegrityError("model set has no checkpoints", name)
        return cls(folder, manifest, tables, hyper, checkpoints)

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

    def session(self, which: str) -> object:
        """An ONNX Runtime session for encoder, hyper_encoder or decoder (cached)."""
        with self._lock:
            sess = self._sessions.get(which)
            if sess is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = max(1, os.cpu_count() or 1)
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                sess = ort.InferenceSession(str(self.folder / f"{which}.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
                self._sessions[which] = sess
            return sess


class ModelRegistry:
    """All model sets found in the bundled folder (and ``$LATENTZIP_MODELS``)."""

    def __init__(self, roots: list[Path] | None = None) -> None:
        if roots is None:
            roots = [models_root()]
            extra = os.environ.get(MODELS_ENV)
            if extra:
                roots.insert(0, Path(extra))
        self.roots = roots
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
            self._loaded[key] = model_set
            return model_set

    def hashes(self) -> list[str]:
        return list(self._folders)


_REGISTRY: ModelRegistry | None = None


def default_registry() -> ModelRegistry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = ModelRegistry()
    return _REGISTRY
