"""Precision is a field of each job's options, never global state; previews are cached per precision."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import engine
from latentzip.codec.runtime.model_set import ModelRegistry, ModelSet, default_registry, models_root

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture
def sessions(monkeypatch) -> list[tuple[str, str]]:
    """(transform, precision) of every session a model set opens."""
    seen: list[tuple[str, str]] = []
    real = ModelSet.session_file

    def spy(self, which, checkpoint=None, precision=None):
        seen.append((which, self.precision if precision is None else precision))
        return real(self, which, checkpoint, precision)

    monkeypatch.setattr(ModelSet, "session_file", spy)
    return seen


def test_registry_and_model_sets_are_immutable() -> None:
    registry = ModelRegistry([models_root()])
    assert not hasattr(registry, "set_precision")
    model = registry.get()
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.precision = "fp32"  # type: ignore[misc]
    fp32 = registry.at("fp32")
    assert registry.precision == "auto" and fp32.precision == "fp32"
    assert fp32.get().precision == "fp32" and registry.get().precision == "auto"
    assert fp32.get().tables is model.tables  # one load, shared
    assert registry.get(precision="int8").precision == "int8" and model.at("auto") is model
    with pytest.raises(ValueError):
        engine.CompressOptions(precision="fp16")
    with pytest.raises(ValueError):
        engine.ExtractOptions(precision="fast")


def test_jobs_run_at_their_options_precision(tmp_path: Path, sessions) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    Image.open(ASSETS / "photo_crop.png").convert("RGB").save(src / "a.png")
    archive = tmp_path / "a.ltz"
    engine.compress([src], archive, engine.CompressOptions(checkpoint="B", quality_floor=0.0, precision="fp32"))
    # the job's precision codes; the floor check decodes as extraction will by default (issue 13)
    assert sessions and {p for w, p in sessions if w != "decoder"} == {"fp32"}
    assert {p for w, p in sessions if w == "decoder"} == {"auto"}
    sessions.clear()
    engine.extract(archive, tmp_path / "out", engine.ExtractOptions(precision="int8"))
    assert ("decoder", "int8") in sessions and {p for _, p in sessions} == {"int8"}
    sessions.clear()
    assert engine.test_archive(archive, precision="int8").ok  # test judges with extract's decoder
    assert ("decoder", "int8") in sessions and {p for _, p in sessions} == {"int8"}
    sessions.clear()
    engine.preview_image(src / "a.png", checkpoints=("A",), precision="fp32")
    assert {p for _, p in sessions} == {"fp32"}
    assert default_registry().precision == "auto"


@pytest.mark.gui
def test_preview_cache_key_holds_the_precision(qtbot, monkeypatch, tmp_path: Path) -> None:
    from latentzip.gui import analysis
    from latentzip.gui.worker import JobRunner

    asked: list[str | None] = []

    def fake_preview(path, cancel=None, precision=None):
        asked.append(precision)
        rgb = np.full((16, 16, 3), 100 if precision == "fp32" else 50, np.uint8)
        result = engine.CheckpointPreview("B", rgb, 10, 0.3, 0.9 if precision == "fp32" else 0.8, 30.0, "MS-SSIM")
        return engine.PreviewReport(rgb, (0, 0, 16, 16), (16, 16), {"B": result})

    monkeypatch.setattr(analysis.engine, "preview_image", fake_preview)
    image = tmp_path / "a.png"
    Image.new("RGB", (16, 16)).save(image)
    runner = JobRunner("test-analysis")
    service = analysis.AnalysisService(runner)
    try:
        ready: list = []
        service.preview_ready.connect(lambda path, figures, pixels: ready.append(figures))
        service.request_preview(image)
        qtbot.waitUntil(lambda: len(ready) == 1, timeout=10_000)
        assert asked == ["auto"] and service.figures(image).results["B"].ms_ssim == 0.8
        service.precision = "fp32"
        assert service.figures(image) is None and service.pixels(image) is None  # never the other precision's
        service.request_preview(image)
        qtbot.waitUntil(lambda: len(ready) == 2, timeout=10_000)
        assert asked == ["auto", "fp32"] and ready[1].results["B"].ms_ssim == 0.9
        service.precision = "auto"
        service.request_preview(image)  # both are cached now: no new job
        assert len(ready) == 3 and asked == ["auto", "fp32"] and ready[2].results["B"].ms_ssim == 0.8
    finally:
        runner.shutdown()


@pytest.mark.gui
def test_window_jobs_carry_the_precision_chosen_before_they_start(qtbot, window, tmp_path: Path) -> None:
    from gui_support import make_folder, wait_scanned

    window.add_paths([make_folder(tmp_path, "trip", images=1)])
    wait_scanned(qtbot, window)
    window.set_precision("int8")
    request = window.compress_request()
    window.set_precision("fp32")  # a later switch does not reach a request already made
    assert request is not None and request.precision == "int8"
    assert window.compress_request().precision == "fp32"
    assert window.settings.precision == "fp32" and default_registry().precision == "auto"
