"""Int8 transforms: close to the float ones, and either precision decodes any archive.

The int8 files are optional (``python -m training.quantize`` writes them);
the tests that need them skip when the bundled set has none.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import engine, metrics
from latentzip.codec.api.errors import ModelIntegrityError
from latentzip.codec.cli import build_parser
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import INT8_FILES, ModelRegistry, ModelSet, default_registry
from latentzip.codec.runtime.transforms import analysis, pad_to_multiple, synthesis

ASSETS = Path(__file__).parent / "assets"
CROPS = ("photo_crop.png", "metric_a.png", "metric_b.png")


def _load(folder: Path, precision: str) -> ModelSet:
    return ModelSet.load(folder).at(precision)


@pytest.fixture(scope="module")
def folder() -> Path:
    model = default_registry().get()
    if not all(model.has_int8(which) for which in INT8_FILES):
        pytest.skip("the bundled model set has no int8 files (python -m training.quantize writes them)")
    return model.folder


@pytest.fixture(scope="module")
def fp32(folder) -> ModelSet:
    return _load(folder, "fp32")


@pytest.fixture(scope="module")
def int8(folder) -> ModelSet:
    return _load(folder, "int8")


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    return [np.asarray(Image.open(ASSETS / name).convert("RGB")) for name in CROPS]


def test_int8_sessions_are_the_int8_files(fp32, int8):
    for which, fname in INT8_FILES.items():
        assert int8.precision_for(which) == "int8"
        assert fp32.precision_for(which) == "fp32"
        assert int8.session_file(which) == fname and fp32.session_file(which) == f"{which}.onnx"
        assert int8.session(which) is not fp32.session(which)


def test_int8_encoder_tracks_fp32(fp32, int8, crops):
    for rgb in crops:
        x = pad_to_multiple(rgb)
        y32, y8 = analysis(fp32, x), analysis(int8, x)
        rel = np.abs(y8 - y32).mean() / np.abs(y32).mean()
        assert rel < 0.15, f"int8 latents are {rel:.3f} off (mean relative error)"


def test_int8_decoder_tracks_fp32(fp32, int8, crops):
    for rgb in crops:
        y_hat = np.round(analysis(fp32, pad_to_multiple(rgb)) * 4) / 4
        a, b = synthesis(fp32, y_hat), synthesis(int8, y_hat)
        assert metrics.psnr(a, b) > 32, "int8 and fp32 decoders disagree"


def test_int8_round_trip_quality_close_to_fp32(fp32, int8, crops):
    drops = []
    for rgb in crops:
        ref = metrics.ms_ssim(rgb, image_codec.decode_image(fp32, image_codec.encode_image(fp32, rgb, "B").data))
        got = metrics.ms_ssim(rgb, image_codec.decode_image(int8, image_codec.encode_image(int8, rgb, "B").data))
        drops.append(ref - got)
        assert ref - got < 0.015
    assert float(np.mean(drops)) < 0.008


@pytest.mark.parametrize("writer, reader", [("int8", "fp32"), ("fp32", "int8")])
def test_either_precision_decodes_the_other_s_bitstream(fp32, int8, crops, writer, reader):
    models = {"fp32": fp32, "int8": int8}
    rgb = crops[0]
    enc = image_codec.encode_image(models[writer], rgb, "C")
    # The integer part (hyper-latents, symbols, table indexes) does not depend on the reader's precision.
    a = image_codec.decode_symbols(models[reader], enc.data)
    b = image_codec.decode_symbols(models[writer], enc.data)
    for x, y in zip(a[:3], b[:3], strict=False):
        np.testing.assert_array_equal(x, y)
    out_reader = image_codec.decode_image(models[reader], enc.data)
    out_writer = image_codec.decode_image(models[writer], enc.data)
    assert out_reader.shape == rgb.shape
    assert metrics.psnr(out_reader, out_writer) > 32
    assert metrics.ms_ssim(rgb, out_reader) > metrics.ms_ssim(rgb, out_writer) - 0.01


def test_archive_written_in_int8_extracts_in_fp32_and_back(folder, crops, tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(crops[0]).save(src / "a.png")
    root = folder.parent
    for writer, reader in (("int8", "fp32"), ("fp32", "int8")):
        w, r = ModelRegistry([root]).at(writer), ModelRegistry([root]).at(reader)
        archive = tmp_path / f"{writer}.ltz"
        report = engine.compress([src], archive, engine.CompressOptions(checkpoint="B", quality_floor=0.0), registry=w)
        assert [o.kind for o in report.outcomes if o.name.endswith("a.png")] == ["lossy"]
        entry = next(e for e in engine.list_entries(archive) if e.path.endswith("a.png"))
        assert entry.extra["model"] == w.get().content_hash  # archives name the set, never the precision
        out = tmp_path / f"out-{writer}"
        engine.extract(archive, out, registry=r)
        got = np.asarray(Image.open(out / "photos" / "a.png").convert("RGB"))
        assert metrics.ms_ssim(crops[0], got) > 0.8


def test_variants_leave_the_content_hash_alone(fp32):
    import hashlib

    files = dict(fp32.manifest.files)
    assert not set(files) & set(INT8_FILES.values())
    assert hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest() == fp32.content_hash


def test_tampered_int8_file_is_refused(folder, tmp_path):
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    data = bytearray((copy / INT8_FILES["decoder"]).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / INT8_FILES["decoder"]).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="decoder.int8.onnx"):
        ModelSet.load(copy)
    (copy / INT8_FILES["decoder"]).unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        ModelSet.load(copy)


def test_int8_files_are_stored_compressed_and_a_damaged_one_is_refused(folder, tmp_path):
    import lzma

    from latentzip.codec.runtime.model_set import read_model

    for name in INT8_FILES.values():
        raw = read_model(folder / name)
        assert len(raw) > (folder / name).stat().st_size  # xz makes int8 weights smaller
        assert raw == lzma.decompress((folder / name).read_bytes())
    bad = tmp_path / INT8_FILES["decoder"]
    bad.write_bytes((folder / INT8_FILES["decoder"]).read_bytes()[:-100])
    with pytest.raises(ModelIntegrityError, match="decoder.int8.onnx.xz"):
        read_model(bad)


def test_precision_setting(tmp_path):
    model = default_registry().get()
    copy = tmp_path / model.folder.name
    shutil.copytree(model.folder, copy)
    for name in INT8_FILES.values():
        (copy / name).unlink(missing_ok=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["variants"] = {"default_precision": {"A": "int8", "B": "fp32"}}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bare = ModelSet.load(copy)
    assert bare.default_precision("A") == "int8" and bare.default_precision("C") == "fp32"
    for precision in ("auto", "fp32", "int8"):
        assert bare.at(precision).precision_for("encoder", "A") == "fp32"  # no int8 file: float, whatever the setting
    with pytest.raises(ValueError):
        bare.at("fast")
    with pytest.raises(ValueError):
        ModelRegistry([tmp_path]).at("fp16")
    with pytest.raises(ValueError):
        ModelRegistry([tmp_path]).get(precision="fp16")


def test_auto_follows_the_manifest_per_checkpoint(folder, tmp_path):
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["variants"]["default_precision"] = {"A": "int8", "B": "fp32", "C": "int8"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    model = ModelSet.load(copy)
    assert model.precision == "auto"
    assert [model.precision_for("decoder", cp) for cp in "ABC"] == ["int8", "fp32", "int8"]
    assert [model.at("fp32").precision_for("decoder", cp) for cp in "ABC"] == ["fp32"] * 3


def test_cli_takes_a_precision():
    parser = build_parser()
    for command in (["compress", "x"], ["extract", "x.ltz"], ["preview", "x.png"]):
        assert parser.parse_args(command).precision == "auto"
        assert parser.parse_args([*command, "--precision", "int8"]).precision == "int8"
    with pytest.raises(SystemExit):
        parser.parse_args(["compress", "x", "--precision", "fp16"])


@pytest.mark.slow
def test_quantize_pipeline_writes_a_valid_variant(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime.quantization")
    train = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "train"
    if not train.is_dir():
        pytest.skip("../shared/data/train is not available")
    from training.quantize import quantize_set

    model = default_registry().get()
    copy = tmp_path / model.folder.name
    shutil.copytree(model.folder, copy)
    for name in INT8_FILES.values():
        (copy / name).unlink(missing_ok=True)
    manifest = quantize_set(copy, crops=2, crop=128, defaults={"A": "int8"})
    assert manifest["content_hash"] == model.content_hash
    assert manifest["variants"]["default_precision"] == {"A": "int8", "B": "fp32", "C": "fp32"}
    loaded = ModelSet.load(copy)
    assert all(loaded.has_int8(which) for which in INT8_FILES)
    rgb = np.asarray(Image.open(ASSETS / "photo_crop.png").convert("RGB"))
    out = image_codec.decode_image(loaded, image_codec.encode_image(loaded, rgb, "A").data)
    assert out.shape == rgb.shape


def test_quantize_set_defaults_are_the_chosen_recipe():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime.quantization")
    import inspect

    from training.quantize import DEFAULTS, quantize_set

    params = inspect.signature(quantize_set).parameters
    for name in ("recipe", "method", "percentile", "crops", "crop", "seed", "cover"):
        assert params[name].default == DEFAULTS[name], name
