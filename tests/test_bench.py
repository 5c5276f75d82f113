"""The benchmark's own logic on two tiny generated images: bisection, tables, CSV, charts (no timing checks)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import peers
from common import folder_bytes, read_csv, write_csv

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _image(seed: int, height: int = 168, width: int = 200) -> np.ndarray:
    """A photo-like test image: smooth gradients, a few edges, mild noise (MS-SSIM needs >= 161 px)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack(
        [
            120 + 80 * np.sin(x / (17 + seed)) * np.cos(y / 23),
            90 + 0.6 * x,
            60 + 0.8 * y + 40 * ((x // 25 + y // 25) % 2),
        ],
        -1,
    )
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "tiny"
    out.mkdir()
    for i in range(2):
        Image.fromarray(_image(i)).save(out / f"img{i}.png")
    return out


@pytest.mark.parametrize("key", ["jpeg", "webp"])
def test_bisection_lands_within_tolerance(folder: Path, key: str) -> None:
    codec = peers.CODECS[key]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]
    ev = peers.Evaluator(images, log=lambda *_: None)
    lo, hi = ev.point(codec, 40), ev.point(codec, 80)
    assert lo.ms_ssim < hi.ms_ssim
    target = (lo.ms_ssim + hi.ms_ssim) / 2
    p = ev.match(codec, target)
    assert abs(p.ms_ssim - target) <= peers.TOLERANCE
    assert 40 <= p.quality <= 80
    assert len(ev.cache) <= 2 + 8  # the two probes above plus at most log2(101) bisection steps
    # a target no quality reaches ends at the top quality, said in the note
    top = ev.match(codec, 1.5)
    assert top.quality == codec.qmax and "above the highest" in top.note


def test_interpolation_is_linear_in_ms_ssim() -> None:
    a = peers.Point("jpeg", 10, 1000, 0.5, 0.90, 25.0, 1.0, 0.2)
    b = peers.Point("jpeg", 11, 1400, 0.7, 0.92, 26.0, 1.2, 0.4)
    p = peers.interpolate(a, b, 0.905)
    assert p.ms_ssim == 0.905
    assert p.quality == pytest.approx(10.25) and p.bpp == pytest.approx(0.55)
    assert p.bytes == pytest.approx(1100)
    assert "interpolated" in p.note


@pytest.mark.parametrize("key", ["avif", "jxl"])
def test_optional_codecs_accept_their_settings(key: str) -> None:
    codec = peers.CODECS[key]
    why = codec.available()
    if why:
        pytest.skip(why)
    data = codec.encode(Image.fromarray(_image(3)), 50)
    with Image.open(io.BytesIO(data)) as im:
        assert im.convert("RGB").size == (200, 168)


def test_run_all_writes_tables_csv_and_charts(folder: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    import run_all

    results = tmp_path / "results"
    monkeypatch.setattr(run_all, "RESULTS", results)
    # Latentzip rows as an earlier kodak_table run would leave them (the engine itself is tested elsewhere)
    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]
    ev = peers.Evaluator(images, log=lambda *_: None)
    target = (ev.point(peers.CODECS["jpeg"], 50).ms_ssim + ev.point(peers.CODECS["jpeg"], 75).ms_ssim) / 2
    fake = [
        {
            "checkpoint": "A",
            "entropy": e,
            "archive_bytes": 5000 + 500 * i,
            "ratio": folder_bytes(folder) / 5000,
            "bpp": 0.6,
            "ms_ssim": target,
            "ms_ssim_ref": "",
            "psnr": 30.0,
            "compress_s": 1.0,
            "extract_s": 0.5,
            "coded": 2,
            "images": 2,
        }
        for i, e in enumerate(("range", "lzma"))
    ]
    write_csv(results / "tiny.csv", fake)

    assert (
        run_all.main(
            [
                "--folder",
                str(folder),
                "--reuse-latentzip",
                "--codecs",
                "jpeg",
                "webp",
                "--paper",
                "--no-jpeg",
                "--no-hires",
                "--no-install",
            ]
        )
        == 0
    )

    md = (results / "tiny-bench.md").read_text()
    for needle in ("Latentzip (range)", "tar+xz", "JPEG", "WebP", "quoted", "[1] Mentzer", "Machine:"):
        assert needle in md
    rows = read_csv(results / "tiny-bench.csv")
    matched = [r for r in rows if r["codec"] in ("JPEG", "WebP")]
    assert len(matched) == 2
    for r in matched:
        assert abs(r["ms_ssim"] - target) <= peers.TOLERANCE, r
    assert {r["codec"] for r in rows} >= {"Latentzip (lzma)", "tar", "tar+xz", "Paper (LZMA latents)"}
    assert all(r["note"] == "lossless" for r in rows if r["codec"] in ("tar", "tar+xz", "7-Zip"))
    with open(results / "tiny-rd.csv", newline="") as fh:
        assert {r["codec"] for r in csv.DictReader(fh)} == {"JPEG", "WebP"}
    for chart in ("tiny-bubble.png", "tiny-rd.png"):
        assert (results / chart).read_bytes()[:8] == PNG_MAGIC


def test_generated_sets(tmp_path: Path, folder: Path) -> None:
    import hires
    import jpeg_sources

    mosaics = hires.build_tiled_set(folder, tmp_path / "hires", count=1, megapixels=0.06)
    with Image.open(mosaics[0]) as im:
        assert im.width == im.height * 3 // 2 and 0.04e6 < im.width * im.height < 0.08e6
    jpegs = jpeg_sources.build_jpeg_folder(folder, tmp_path / "jpeg", quality=90)
    assert sorted(p.name for p in jpegs.iterdir()) == ["img0.jpg", "img1.jpg"]
    assert hires.peak_rss_kib() > 0


def test_photos_lossless_row_checks_the_round_trip(tmp_path: Path) -> None:
    import photos_lossless

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(_image(i)).save(photos / f"p{i}.jpg", quality=90)
    (photos / "notes.txt").write_text("kept as it is\n")
    row = photos_lossless.latentzip_lossless_row(photos, log=lambda *_: None)
    assert row["bytes"] < folder_bytes(photos)
    assert row["note"].startswith("2/3 files re-packed") and row["note"].endswith("bit for bit")


def _bundled_sets_with_int8() -> list:
    """The bundled model sets that carry int8 networks (the first released set does)."""
    from latentzip.codec.runtime.model_set import INT8_FILES, ModelRegistry

    registry = ModelRegistry()
    sets = [registry.get(h) for h in registry.hashes()]
    sets = [m for m in sets if all(m.has_int8(w) for w in INT8_FILES)]
    if not sets:
        pytest.skip("no bundled model set has int8 files")
    return sets


def test_int8_screen_ranks_each_sets_losses_against_fp32() -> None:
    import int8_screen

    with_int8 = [m.folder for m in _bundled_sets_with_int8()]
    assets = Path(__file__).parent / "assets"
    images = [assets / "photo_crop.png", assets / "metric_a.png"]
    rows = int8_screen.screen(with_int8[:1], images)
    assert [r["checkpoint"] for r in rows] == ["A", "B", "C"]
    assert rows[0]["set"].startswith(f"{with_int8[0]} (float: ")  # the folder and its recipe
    for r in rows:
        assert r["images"] == 2 and r["worst_image"] in {p.name for p in images}
        assert r["worst_loss"] >= r["second_loss"] and r["second_loss"] <= r["mean_loss"] <= r["worst_loss"]
        assert r["worst_loss"] != 0.0  # int8 computes something else than fp32
        assert 0.0 < r["colour_fp32"] < 10.0 and 0.0 < r["colour_int8"] < 10.0
    md = int8_screen.report(rows, "cmd", "machine")
    assert md.count("\n| ") == 4  # the header and one row per checkpoint
    assert f"({rows[0]['worst_image']})" in md
    assert f"| {rows[0]['colour_fp32']:.2f} / {rows[0]['colour_int8']:.2f} |" in md


def test_int8_bench_times_each_configuration_through_its_own_files() -> None:
    import int8

    sets = _bundled_sets_with_int8()
    configs = int8.configs_for(sets[0], mixed=False, variants=[], threads=1)
    assert [c.name for c in configs] == ["fp32", "int8"]
    rows = int8.run(sets[0], [Path(__file__).parent / "assets" / "photo_crop.png"], "B", configs)
    by_name = {r["precision"]: r for r in rows}
    for c in configs:  # each configuration ran its own networks
        assert c.enc.seconds > 0 and c.dec.seconds > 0
    assert by_name["fp32"]["ms_ssim"] != by_name["int8"]["ms_ssim"]
    assert by_name["int8"]["transform_bytes"] < by_name["fp32"]["transform_bytes"]


def test_heldout_screen_summarises_each_set_and_checkpoint() -> None:
    import heldout_screen

    from latentzip.codec.runtime.model_set import ModelRegistry

    folder = ModelRegistry().get().folder
    assets = Path(__file__).parent / "assets"
    images = [assets / "photo_crop.png", assets / "metric_a.png"]
    rows = heldout_screen.screen([folder], images)
    assert [r["checkpoint"] for r in rows] == ["A", "B", "C"]
    assert rows[0]["bpp"] < rows[1]["bpp"] < rows[2]["bpp"]  # each checkpoint at its own level
    assert rows[0]["level"] < rows[1]["level"] < rows[2]["level"]
    for r in rows:
        assert r["images"] == 2 and r["colour_worst_image"] in {p.name for p in images}
        assert 0.9 < r["ms_ssim"] < 1.0 and 20.0 < r["psnr"] < 60.0
        assert r["over_1.0"] <= r["over_0.5"] <= 2 and (r["over_0.5"] > 0) == (r["colour_worst"] > 0.5)
    assert "psnr_gain_min" not in rows[0] and "psnr_gain_min" not in rows[1]
    assert rows[2]["psnr_gain_min"] > 0  # C codes each image at a higher rate than A
    assert rows[2]["psnr_gain_image"] in {p.name for p in images} and 0 <= rows[2]["psnr_gain_under"] <= 2
    md = heldout_screen.report(rows, "cmd", "machine")
    assert md.count("\n| ") == 4 and f"({rows[0]['colour_worst_image']})" in md
    assert f"({rows[2]['psnr_gain_image']}) / {rows[2]['psnr_gain_under']} |" in md


def test_heldout_copies_carry_the_training_augmentations(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import heldout

    def chroma(rgb: np.ndarray) -> float:
        return float(np.abs(rgb - (rgb @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]).mean())

    source = Path(__file__).parent / "assets" / "photo_crop.png"
    original = np.asarray(Image.open(source).convert("RGB")).astype(np.float32)
    (boosted,) = heldout.augmented_copies([source], "chroma", tmp_path)
    assert boosted.parent == tmp_path and boosted.suffix == ".png"
    assert chroma(np.asarray(Image.open(boosted)).astype(np.float32)) > 1.5 * chroma(original)
    (tmp_path / "again").mkdir()
    (noisy,) = heldout.augmented_copies([source], "noise", tmp_path)
    (again,) = heldout.augmented_copies([source], "noise", tmp_path / "again")
    first = np.asarray(Image.open(noisy)).astype(np.float32)
    assert 2.0 < (first - original).std() < 6.0
    assert np.array_equal(first, np.asarray(Image.open(again)))  # seeded by the image's name


def test_ladder_codes_an_image_at_a_b_c_and_every_level_above_c() -> None:
    import ladder

    from latentzip.codec.runtime.model_set import ModelRegistry
    from latentzip.codec.runtime.rate_ladder import LEVEL_STEPS

    model = ModelRegistry().get().at("fp32")
    image = Path(__file__).parent / "assets" / "photo_crop.png"
    rows = ladder.ladder_rows(model, image)
    top = model.ladder.top_step / LEVEL_STEPS
    assert [r["point"] for r in rows[:3]] == ["A", "B", "C"] and rows[-1]["level"] == top
    assert all(r["level"] == int(r["level"]) for r in rows[3:]) and rows[3]["level"] > rows[2]["level"]
    levels = [r["level"] for r in rows]
    bpps = [r["bpp"] for r in rows]
    assert levels == sorted(levels) and bpps == sorted(bpps)  # a higher level spends more bits
    md = ladder.report(rows, model.id, "cmd", "machine")
    c_minus_a = rows[2]["psnr"] - rows[0]["psnr"]
    assert f"| photo_crop.png | {rows[0]['bpp']:.3f} / {rows[0]['psnr']:.2f} |" in md and f"{c_minus_a:+.2f}" in md
