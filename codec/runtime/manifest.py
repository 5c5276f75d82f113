"""The manifest of a model set (``manifest.json``), read and validated once.

``Manifest.parse`` turns the JSON into a frozen ``Manifest``: every field the runtime
uses is checked for presence and type here, and a manifest of a format this version
does not know is refused with ``UnsupportedModelFormatError`` (a newer Latentzip wrote
it), so no other module reads the JSON or guesses at a missing key.

Fields: ``format`` (1), ``id`` (``lz1-<hash prefix>``), ``content_hash`` (sha256 over
``files``), ``files`` (name -> sha256), ``architecture`` (channel counts and strides),
``checkpoints`` (name -> id, level and, in a set with a rate ladder, ``level_step``),
``released`` (a released set's files never change and it stays loadable for good),
``variants`` (optional int8 files, not in the content hash, and the default precision
per checkpoint).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..api.errors import ModelIntegrityError, UnsupportedModelFormatError

__all__ = ["Manifest", "CheckpointInfo", "MANIFEST_FORMATS"]

#: Manifest formats this version reads.
MANIFEST_FORMATS = (1,)
_PRECISION_VALUES = ("fp32", "int8")


@dataclass(frozen=True)
class CheckpointInfo:
    """One rate point as the manifest lists it."""

    id: int
    level: float | None = None
    level_step: int | None = None  # the checkpoint's point on the set's rate ladder (1/256 level steps)


@dataclass(frozen=True)
class Manifest:
    """A validated ``manifest.json`` (read-only; mappings are read-only views)."""

    format: int
    id: str
    content_hash: str
    files: Mapping[str, str]
    architecture: Mapping[str, Any]
    checkpoints: Mapping[str, CheckpointInfo]
    released: bool = False
    int8_files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    default_precision: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    note: str = ""

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """Read ``folder/manifest.json``; ModelIntegrityError (or UnsupportedModelFormatError) names the set."""
        try:
            raw = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelIntegrityError(f"unreadable manifest: {exc}", folder.name) from exc
        return cls.parse(raw, folder.name)

    @classmethod
    def parse(cls, raw: object, name: str) -> Manifest:
        """Validate the decoded JSON of a manifest; ``name`` (the set's folder) goes into every error."""

        def fail(what: str) -> ModelIntegrityError:
            return ModelIntegrityError(f"manifest: {what}", name)

        if not isinstance(raw, dict):
            raise fail("not a JSON object")
        fmt = raw.get("format")
        if not isinstance(fmt, int) or isinstance(fmt, bool):
            raise fail("no format number")
        if fmt not in MANIFEST_FORMATS:
            known = ", ".join(str(f) for f in MANIFEST_FORMATS)
            raise UnsupportedModelFormatError(
                f"model manifest format {fmt} is not supported (this version reads format {known}); "
                "a newer version of Latentzip is needed",
                name,
            )

        def text(key: str) -> str:
            value = raw.get(key)
            if not isinstance(value, str) or not value:
                raise fail(f"{key!r} missing or not a string")
            return value

        def str_map(value: object, what: str) -> Mapping[str, str]:
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise fail(f"{what} is not a mapping of strings")
            return MappingProxyType(dict(value))

        architecture = raw.get("architecture")
        if not isinstance(architecture, dict):
            raise fail("'architecture' missing")
        checkpoints = raw.get("checkpoints", {})
        if not isinstance(checkpoints, dict):
            raise fail("'checkpoints' is not a mapping")
        infos = {}
        for cname, info in checkpoints.items():
            cid = info.get("id") if isinstance(info, dict) else None
            if not isinstance(cid, int) or isinstance(cid, bool):
                raise fail(f"checkpoint {cname} has no integer id")
            level, step = info.get("level"), info.get("level_step")
            if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
                raise fail(f"checkpoint {cname} has a bad level_step")
            infos[str(cname)] = CheckpointInfo(cid, float(level) if isinstance(level, (int, float)) else None, step)
        released = raw.get("released", False)
        if not isinstance(released, bool):
            raise fail("'released' is not true or false")
        variants = raw.get("variants", {})
        if not isinstance(variants, dict):
            raise fail("'variants' is not a mapping")
        int8 = variants.get("int8", {})
        if not isinstance(int8, dict):
            raise fail("'variants.int8' is not a mapping")
        defaults = str_map(variants.get("default_precision", {}), "'variants.default_precision'")
        if not set(defaults.values()) <= set(_PRECISION_VALUES):
            raise fail("'variants.default_precision' names an unknown precision")
        note = raw.get("note", "")
        return cls(
            format=fmt,
            id=text("id"),
            content_hash=text("content_hash"),
            files=str_map(raw.get("files", {}), "'files'"),
            architecture=MappingProxyType(dict(architecture)),
            checkpoints=MappingProxyType(infos),
            released=released,
            int8_files=str_map(int8.get("files", {}), "'variants.int8.files'"),
            default_precision=defaults,
            note=note if isinstance(note, str) else "",
        )
