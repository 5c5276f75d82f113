"""The model manifest as a validated, frozen type (codec/runtime/manifest.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from latentzip.codec.api.errors import ModelIntegrityError, UnsupportedModelFormatError
from latentzip.codec.runtime.manifest import MANIFEST_FORMATS, Manifest
from latentzip.codec.runtime.model_set import ModelRegistry, ModelSet, models_root


@pytest.fixture(scope="module")
def bundled() -> Path:
    return ModelRegistry([models_root()]).get().folder


def _copy_with(bundled: Path, tmp_path: Path, **changes: object) -> Path:
    copy = tmp_path / bundled.name
    shutil.copytree(bundled, copy)
    raw = json.loads((copy / "manifest.json").read_text())
    raw.update(changes)
    (copy / "manifest.json").write_text(json.dumps(raw))
    return copy


def test_bundled_manifest_is_typed_and_frozen(bundled: Path) -> None:
    manifest = Manifest.load(bundled)
    raw = json.loads((bundled / "manifest.json").read_text())
    assert manifest.format in MANIFEST_FORMATS and manifest.id == bundled.name
    assert manifest.content_hash == raw["content_hash"] and dict(manifest.files) == raw["files"]
    assert manifest.released is raw["released"]
    assert {n: c.id for n, c in manifest.checkpoints.items()} == {n: c["id"] for n, c in raw["checkpoints"].items()}
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.released = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.files["decoder.onnx"] = "0" * 64  # type: ignore[index]
    model = ModelSet.load(bundled)
    assert model.manifest == manifest and model.released is manifest.released


@pytest.mark.parametrize("fmt", [2, 99])
def test_unknown_format_is_refused_clearly(bundled: Path, tmp_path: Path, fmt: int) -> None:
    copy = _copy_with(bundled, tmp_path, format=fmt)
    with pytest.raises(UnsupportedModelFormatError, match=rf"format {fmt} is not supported.*newer version") as err:
        ModelSet.load(copy)
    assert bundled.name in str(err.value)
    registry = ModelRegistry([tmp_path])  # the registry still finds it, and names the problem on use
    with pytest.raises(UnsupportedModelFormatError):
        registry.get(json.loads((copy / "manifest.json").read_text())["content_hash"])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format": "1"}, "no format number"),
        ({"format": None}, "no format number"),
        ({"released": "yes"}, "'released'"),
        ({"id": 7}, "'id'"),
        ({"files": ["encoder.onnx"]}, "'files'"),
        ({"checkpoints": {"A": {"level": 1.0}}}, "checkpoint A"),
        ({"variants": {"default_precision": {"A": "int4"}}}, "unknown precision"),
        ({"architecture": None}, "'architecture'"),
    ],
)
def test_malformed_fields_are_refused(bundled: Path, tmp_path: Path, changes: dict, message: str) -> None:
    copy = _copy_with(bundled, tmp_path, **changes)
    with pytest.raises(ModelIntegrityError, match=message):
        Manifest.load(copy)


def test_not_an_object() -> None:
    with pytest.raises(ModelIntegrityError, match="not a JSON object"):
        Manifest.parse([1, 2], "set")


def test_export_never_replaces_or_drops_a_released_set(bundled: Path, tmp_path: Path) -> None:
    export = pytest.importorskip("training.export")
    released = _copy_with(bundled, tmp_path / "r", released=True)
    unreleased = _copy_with(bundled, tmp_path / "u", released=False)
    newer = _copy_with(bundled, tmp_path / "n", format=2)
    assert export._is_released(released) and not export._is_released(unreleased)
    assert export._is_released(newer)  # unreadable: kept, never deleted
    root = tmp_path / "root"
    root.mkdir()
    for name, folder in (("r", released), ("u", unreleased), ("n", newer), ("keep", unreleased)):
        shutil.copytree(folder, root / name)
    export.drop_unreleased(root, keep=root / "keep")
    assert sorted(p.name for p in root.iterdir()) == ["keep", "n", "r"]
