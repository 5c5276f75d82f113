"""Training code: resumable steps, ONNX export parity, escape-safe tables. Needs torch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_msssim")
pytest.importorskip("onnx")

from training import train  # noqa: E402
from training.export import export  # noqa: E402
from training.model import LatentzipNet  # noqa: E402

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture()
def tiny_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ASSETS / "photo_crop.png", data / "a.png")
    shutil.copy(ASSETS / "photo_crop.png", data / "b.png")
    return data


def _run(data: Path, run: Path, steps: int, *extra: str) -> None:
    train.main(
        [
            *extra,
            "--data",
            str(data),
            "--run",
            str(run),
            "--init",
            str(run / "none.pt"),
            "--max-steps",
            str(steps),
            "--batch",
            "1",
            "--crop",
            "192",
            "--val-every",
            "1000",
            "--log-every",
            "1",
            "--threads",
            "1",
        ]
    )


def test_training_stops_and_resumes_with_its_state(tiny_data, tmp_path):
    run = tmp_path / "run"
    _run(tiny_data, run, 2)
    first = torch.load(run / "last.pt", weights_only=False)
    assert first["step"] == 2
    _run(tiny_data, run, 3)
    second = torch.load(run / "last.pt", weights_only=False)
    assert second["step"] == 3
    adam_steps = {int(s["step"]) for s in second["optimizer"]["state"].values()}
    assert adam_steps == {3}  # the optimizer's own counters carried on, not restarted
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "resume" and e["step"] == 2 for e in events)
    changed = any(not torch.equal(first["model"][k], second["model"][k]) for k in first["model"])
    assert changed


def test_a_weight_average_follows_each_step_by_its_decay():
    from training.ema import WeightAverage

    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average = WeightAverage(layer, 0.75)
    with torch.no_grad():
        layer.weight.fill_(5.0)
    average.update(layer)
    assert torch.allclose(average.weights["weight"], torch.full((1, 2), 0.75 * 1.0 + 0.25 * 5.0))
    twin = average.averaged_model(layer)
    assert torch.allclose(twin.weight, torch.full((1, 2), 2.0)) and torch.equal(layer.weight, torch.full((1, 2), 5.0))
    with pytest.raises(ValueError):
        WeightAverage(layer, 1.0)


def test_a_run_keeps_its_weight_average_across_resumes_and_hands_it_out(tiny_data, tmp_path):
    from training.checkpoint import averaged, load_checkpoint, pack

    run = tmp_path / "run"
    _run(tiny_data, run, 2, "--ema", "0.5")
    _run(tiny_data, run, 3, "--ema", "0.5")
    state = torch.load(run / "last.pt", weights_only=False)
    assert state["ema"]["decay"] == 0.5
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e.get("event") == "stop_ema"] == [2, 3]
    assert any(not torch.equal(state["ema"]["weights"][k], state["model"][k]) for k in state["model"])
    out = tmp_path / "averaged.pt"
    averaged(run / "last.pt", out)
    model = LatentzipNet(levels=len(train.LAMBDAS))
    loaded = load_checkpoint(out, model, None)
    assert loaded["weights"] == "ema" and loaded["step"] == 3
    assert torch.equal(model.state_dict()["log_gain"], state["ema"]["weights"]["log_gain"])
    packed = tmp_path / "packed.pt"
    pack(run / "last.pt", packed)
    assert torch.load(packed, weights_only=False)["ema"]["weights"]["log_gain"].dtype == torch.float16
    with pytest.raises(SystemExit):
        averaged(_without_average(run / "last.pt", tmp_path), out)


def _without_average(path: Path, tmp_path: Path) -> Path:
    state = torch.load(path, weights_only=False)
    state.pop("ema")
    plain = tmp_path / "plain.pt"
    torch.save(state, plain)
    return plain


def test_a_level_weight_grows_geometrically_from_the_lowest_to_the_highest_level():
    weights = train.level_weights(3.0, 12.0, 5)
    assert weights[0] == pytest.approx(3.0) and weights[-1] == pytest.approx(12.0)
    ratios = weights[1:] / weights[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, 12.0**0.25 / 3.0**0.25))
    assert torch.equal(train.level_weights(3.0, None, 5), torch.full((5,), 3.0))
    with pytest.raises(ValueError):
        train.level_weights(0.0, 12.0, 5)  # no geometric path from zero


def test_a_per_level_weight_prices_each_sample_at_its_own_level():
    torch.manual_seed(0)
    model = LatentzipNet(levels=2).eval()  # rounded latents: the same output every call
    x = torch.rand(2, 3, 192, 192)
    levels = torch.tensor([0, 1])
    lambdas = torch.tensor([1.0, 1.0])
    with torch.no_grad():
        flat = train.rd_loss(model, x, levels, lambdas, w_mse=2.0)
        per_level = train.rd_loss(model, x, levels, lambdas, w_mse=torch.tensor([2.0, 2.0]))
        heavier = train.rd_loss(model, x, levels, lambdas, w_mse=torch.tensor([2.0, 50.0]))
        swapped = train.rd_loss(model, x, levels, lambdas, w_mse=torch.tensor([50.0, 2.0]))
        mse = (model(x, levels)["x_hat"].clamp(0, 1) - x).pow(2).mean((1, 2, 3))
    assert per_level["loss"] == pytest.approx(float(flat["loss"]), rel=1e-5)
    assert float(heavier["loss"]) > float(flat["loss"])
    # the weight follows each sample's level: swapping it moves the loss by the two samples' MSE gap
    gap = float(heavier["loss"] - swapped["loss"])
    assert gap == pytest.approx(48.0 * float(mse[1] - mse[0]) / 2, rel=1e-3, abs=1e-6)
    with torch.no_grad():
        lowpass = train.lowpass_mse(model(x, levels)["x_hat"].clamp(0, 1), x)
        heavier = train.rd_loss(model, x, levels, lambdas, w_lowpass=torch.tensor([2.0, 50.0]))
        swapped = train.rd_loss(model, x, levels, lambdas, w_lowpass=torch.tensor([50.0, 2.0]))
    gap = float(heavier["loss"] - swapped["loss"])
    assert gap == pytest.approx(48.0 * float(lowpass[1] - lowpass[0]) / 2, rel=1e-3, abs=1e-7)


def _export_fresh(
    tmp_path: Path, seed: int, out: str = "models", weights: str = "fp16", model: LatentzipNet | None = None
) -> Path:
    """Export a freshly initialised (or the given) network's model set into ``tmp_path / out``."""
    if model is None:
        torch.manual_seed(seed)
        model = LatentzipNet()
    ckpt = tmp_path / f"init-{seed}.pt"
    torch.save({"model": model.state_dict(), "step": 0}, ckpt)
    return export(ckpt, {"A": 0.5, "B": 2.0, "C": 3.5}, tmp_path / out, weights=weights, colour_crops=0)


def test_exported_onnx_matches_pytorch(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(0)
    model = LatentzipNet()
    folder = _export_fresh(tmp_path, 0, weights="fp32", model=model)
    x = torch.rand(1, 3, 128, 192)
    with torch.no_grad():
        y = model.g_a(x)
        x_hat = model.g_s(torch.round(y))
    enc = ort.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    y_onnx = enc.run(None, {"image": x.numpy()})[0]
    np.testing.assert_allclose(y_onnx, y.numpy(), atol=1e-4, rtol=1e-4)
    x_onnx = dec.run(None, {"y_hat": torch.round(y).numpy()})[0]
    np.testing.assert_allclose(x_onnx, x_hat.numpy(), atol=1e-4, rtol=1e-4)


def test_export_writes_a_loadable_model_set(tmp_path):
    from latentzip.codec.runtime.model_set import ModelSet

    folder = _export_fresh(tmp_path, 1)
    model_set = ModelSet.load(folder)
    assert model_set.checkpoint("B").gain.shape == (model_set.arch["M"],)
    assert json.loads((tmp_path / "models" / "default.json").read_text())["id"] == model_set.id


def test_fp16_weight_storage_halves_the_files_and_stays_close(tmp_path):
    import onnx
    import onnxruntime as ort

    from training.onnx_weights import stored_fp16, to_fp32_storage

    full = _export_fresh(tmp_path, 2, "full", weights="fp32")
    half = _export_fresh(tmp_path, 2, "half", weights="fp16")
    assert json.loads((half / "manifest.json").read_text())["weight_storage"] == "fp16"
    for name in ("encoder.onnx", "decoder.onnx", "hyper_encoder.onnx"):
        assert (half / name).stat().st_size < 0.55 * (full / name).stat().st_size
    x = np.random.default_rng(0).random((1, 3, 128, 192), dtype=np.float32)
    run = lambda path: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]  # noqa: E731
    y_full, y_half = run(full / "encoder.onnx"), run(half / "encoder.onnx")
    # float16 weights: a relative rounding of at most 2^-11 per weight
    assert np.abs(y_half - y_full).max() <= 2e-3 * np.abs(y_full).max()
    assert not np.array_equal(y_half, y_full)
    widened = to_fp32_storage(onnx.load(str(half / "encoder.onnx")))
    assert stored_fp16(onnx.load(str(half / "encoder.onnx"))) and not stored_fp16(widened)
    sess = ort.InferenceSession(widened.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"image": x})[0], y_half, atol=1e-6, rtol=1e-6)


def test_a_checkpoint_with_fewer_levels_grows_its_gain_rows(tmp_path):
    from training.checkpoint import load_checkpoint

    old = LatentzipNet(levels=5)
    optimizer = torch.optim.Adam(old.parameters(), lr=1e-3)
    for p in old.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    ckpt = tmp_path / "five.pt"
    torch.save({"model": old.state_dict(), "optimizer": optimizer.state_dict(), "step": 7}, ckpt)

    new = LatentzipNet(levels=6)
    new_opt = torch.optim.Adam(new.parameters(), lr=1e-3)
    state = load_checkpoint(ckpt, new, new_opt)
    assert state["step"] == 7
    torch.testing.assert_close(new.log_gain[:5], old.log_gain)
    torch.testing.assert_close(new.log_gain[5], 2 * old.log_gain[4] - old.log_gain[3])
    torch.testing.assert_close(new.log_inv_gain[5], 2 * old.log_inv_gain[4] - old.log_inv_gain[3])
    for p in new.parameters():
        p.grad = torch.ones_like(p)
    new_opt.step()  # the moments were padded to the new shapes
    moments = new_opt.state[new.log_gain]["exp_avg"]
    assert moments.shape == new.log_gain.shape


def _photo_crops(count: int) -> list:
    """``count`` 128 px crops of the test photo, 1x3xHxW in [0, 1]."""
    from PIL import Image

    with Image.open(ASSETS / "photo_crop.png") as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    return [x[:, :, i * 16 : i * 16 + 128, i * 16 : i * 16 + 128].contiguous() for i in range(count)]


def test_colour_bias_correction_removes_a_cast_from_the_decoder():
    from training.colour_bias import correct_colour_bias, mean_colour_error
    from training.qat_core import load_teacher

    model = load_teacher().eval()
    crops, levels = _photo_crops(3), [0.5, 3.5]
    cast = torch.tensor([0.02, 0.0, -0.03])  # +5.1 red, -7.7 blue grey levels
    with torch.no_grad():
        model.g_s[-1][0].bias += cast.repeat_interleave(4)
    before, after = correct_colour_bias(model, levels, crops)
    assert before[0] > 4 and before[2] < -6
    assert max(abs(v) for v in after) < 0.1
    np.testing.assert_allclose(mean_colour_error(model, levels, crops).numpy() * 255, after, atol=1e-3)


def test_export_records_the_colour_correction(tmp_path, monkeypatch):
    import training.export as export_module

    monkeypatch.setattr(export_module, "training_crops", lambda count: _photo_crops(count))
    torch.manual_seed(1)
    ckpt = tmp_path / "init.pt"
    torch.save({"model": LatentzipNet().state_dict(), "step": 0}, ckpt)
    folder = export(ckpt, {"A": 0.5, "B": 2.0, "C": 3.5}, tmp_path / "models", colour_crops=2)
    record = json.loads((folder / "manifest.json").read_text())["colour_bias_correction"]
    assert record["crops"] == 2 and len(record["error_before"]) == len(record["error_after"]) == 3


def test_auto_amp_takes_bf16_only_where_the_cpu_computes_it(monkeypatch) -> None:
    """bf16 autocast is emulated, several times slower, on a CPU without AMX or AVX512-BF16 (session 9's AMD)."""
    import torch

    from training import train

    assert train.amp_dtype("none", "cpu") is None and train.amp_dtype("bf16", "cpu") is torch.bfloat16
    for amx, avx512 in ((False, False), (True, False), (False, True)):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512: v)
        assert train.amp_dtype("auto", "cpu") is (torch.bfloat16 if amx or avx512 else None)


def test_validation_reports_the_ceiling_the_top_level_reaches_as_its_steps_vanish():
    from PIL import Image

    from training.checkpoint import load_checkpoint

    model = LatentzipNet(levels=len(train.LAMBDAS))
    load_checkpoint(train.COMMITTED, model, None)
    with torch.no_grad():
        model.log_gain[-1] += 12.0  # steps e^12 times finer: the top level codes y almost exactly
        model.log_inv_gain[-1] -= 12.0
    photo = np.asarray(Image.open(ASSETS / "photo_crop.png").convert("RGB"))[:192, :192]
    crops = [torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255]
    figures = train.validate(model, crops, "cpu")
    assert set(figures) == {f"L{i}" for i in range(len(train.LAMBDAS))} | {"ceiling"}
    top = figures[f"L{len(train.LAMBDAS) - 1}"]["psnr"]
    assert abs(top - figures["ceiling"]["psnr"]) < 0.05
    assert figures["L0"]["psnr"] < figures["ceiling"]["psnr"] - 0.5  # the lowest level quantizes coarsely


def test_validate_only_logs_the_held_out_figures_and_trains_nothing(tiny_data, tmp_path):
    shutil.copy(ASSETS / "photo_crop.png", tiny_data / "h5.png")  # a name the hash holds out
    run = tmp_path / "run"
    _run(tiny_data, run, 1)
    before = torch.load(run / "last.pt", weights_only=False)
    _run(tiny_data, run, 5, "--validate-only")
    after = torch.load(run / "last.pt", weights_only=False)
    assert after["step"] == 1 and all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    (figures,) = [e for e in events if e.get("event") == "validate"]
    assert figures["step"] == 1 and figures["ceiling"]["psnr"] > 0 and "L0" in figures
