"""A lossy-coded JPEG comes back with its own quantisation tables and subsampling, near its size."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from latentzip.codec import engine
from latentzip.codec.images import ImageMetadata, encode_image
from latentzip.codec.images.jpeg_tables import JpegTables


def _jpeg(rgb: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", **options)
    return buf.getvalue()


def _photo(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(3)
    rgb = np.stack([(xx * 2) % 256, (yy * 3) % 256, (xx + yy) % 256], axis=2).astype(np.int16)
    return np.clip(rgb + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("quality,subsampling", [(60, 2), (85, 1), (92, 0)])
def test_tables_read_and_reused(quality: int, subsampling: int) -> None:
    data = _jpeg(_photo(), quality=quality, subsampling=subsampling)
    with Image.open(io.BytesIO(data)) as im:
        tables = JpegTables.from_image(im)
        original_q = {k: list(v) for k, v in im.quantization.items()}
    assert tables is not None and tables.subsampling == subsampling
    header = json.loads(json.dumps(tables.to_header()))
    assert JpegTables.from_header(header) == tables
    out = encode_image(_photo(), None, False, "JPEG", ImageMetadata("JPEG"), jpeg_tables=tables)
    with Image.open(io.BytesIO(out)) as back:
        assert {k: list(v) for k, v in back.quantization.items()} == original_q
        assert JpegImagePlugin.get_sampling(back) == subsampling


def test_grayscale_source_keeps_its_single_table() -> None:
    gray = _photo()[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(gray, "L").save(buf, "JPEG", quality=70)
    with Image.open(buf) as im:
        tables = JpegTables.from_image(im)
        q0 = list(im.quantization[0])
    assert tables is not None and tables.subsampling is None and len(tables.qtables) == 1
    out = encode_image(
        np.repeat(gray[:, :, None], 3, axis=2), None, True, "JPEG", ImageMetadata("JPEG"), jpeg_tables=tables
    )
    with Image.open(io.BytesIO(out)) as back:
        assert back.mode == "L" and list(back.quantization[0]) == q0


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        {},
        {"q": "zz"},
        {"q": []},
        {"q": ["00" * 64]},
        {"q": ["01" * 63]},
        {"q": ["01" * 64] * 5},
        {"q": ["zz" * 64]},
        {"q": [1]},
        {"q": ["01" * 64], "subsampling": 7},
        {"q": ["01" * 64], "subsampling": True},
    ],
)
def test_malformed_header_values_are_ignored(value: object) -> None:
    assert JpegTables.from_header(value) is None


def test_non_jpeg_has_no_tables() -> None:
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, "PNG")
    with Image.open(buf) as im:
        assert JpegTables.from_image(im) is None


def test_extracted_jpeg_near_its_original_size(tmp_path) -> None:
    """Through the engine: a q90 4:2:0 JPEG coded at C comes back with its tables, not larger than +10 %.

    (At quality 95, 4:4:4, the old fixed setting, the same pixels came back larger.)"""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:320]
    smooth = np.stack([128 + 60 * np.sin(xx / 23), 128 + 60 * np.cos(yy / 17), 128 + 40 * np.sin((xx + yy) / 31)], 2)
    rgb = np.clip(smooth + rng.normal(0, 1.5, smooth.shape), 0, 255).astype(np.uint8)
    original = _jpeg(rgb, quality=90, subsampling=2)
    (src / "p.jpg").write_bytes(original)
    archive = tmp_path / "a.ltz"
    report = engine.compress([src], archive, engine.CompressOptions(checkpoint="C", quality_floor=0.0))
    outcome = [o for o in report.outcomes if o.name.endswith("p.jpg")]
    assert [o.kind for o in outcome] == ["lossy"], outcome
    out = tmp_path / "out"
    engine.extract(archive, out)
    back = (out / "in" / "p.jpg").read_bytes()
    with Image.open(io.BytesIO(back)) as b, Image.open(io.BytesIO(original)) as o:
        assert {k: list(v) for k, v in b.quantization.items()} == {k: list(v) for k, v in o.quantization.items()}
        assert JpegImagePlugin.get_sampling(b) == 2
    assert len(back) <= 1.10 * len(original)
    with Image.open(io.BytesIO(back)) as b:
        fixed = _jpeg(np.asarray(b.convert("RGB")), quality=95, subsampling=0)
    assert len(fixed) > 1.10 * len(original)
