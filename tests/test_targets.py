"""Size and quality targets: size parsing, the planner on synthetic estimates, the CLI, an engine round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import cli, engine
from latentzip.codec.estimate import estimate_pass, image_estimate, planner, sizes
from latentzip.codec.estimate.planner import EXACT, ItemEstimate, Option

ASSETS = Path(__file__).resolve().parent / "assets"
SMALL = ("photo_crop.png", "metric_a.png", "metric_b.png")


# --- sizes -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2GB", 2_000_000_000),
        ("850KB", 850_000),
        ("850kB", 850_000),
        ("1.5MiB", 1_572_864),
        ("1200", 1200),
        ("1200B", 1200),
        ("0.5MB", 500_000),
        ("3 MB", 3_000_000),
        ("2gib", 2 << 30),
        ("1K", 1000),
        (".5M", 500_000),
        ("1TB", 10**12),
        ("4KiB", 4096),
    ],
)
def test_parse_size(text, expected):
    assert sizes.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "2 XB", "-1MB", "0", "0.1", "1e6", "1.5.2MB", "nan", "2 G B"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        sizes.parse_size(text)


# --- planner ---------------------------------------------------------------------------------------------------------


def _item(name: str, a=(100, 0.96), b=(150, 0.975), c=(200, 0.985), exact=1000) -> ItemEstimate:
    opts = [Option(cp, size, q) for cp, (size, q) in zip("ABC", (a, b, c), strict=False) if size is not None]
    return ItemEstimate(name, planner.prune([*opts, Option(EXACT, exact, 1.0)]))


def test_size_plan_fills_the_budget_by_gain_per_byte():
    # "steep" gains a lot per byte from A to B; "flat" gains little: the budget goes to "steep" first
    steep = _item("steep", b=(150, 0.990), c=(200, 0.992))
    flat = _item("flat", b=(150, 0.962), c=(200, 0.964))
    plan = planner.plan_for_size([steep, flat], target=260, fixed_bytes=10)
    assert plan.feasible and plan.choices == {"steep": "B", "flat": "A"}
    assert plan.estimated_size == 10 + 150 + 100 <= 260
    roomy = planner.plan_for_size([steep, flat], target=10_000)
    assert roomy.choices == {"steep": EXACT, "flat": EXACT} and roomy.estimated_size == 2000
    assert planner.plan_for_size([steep, flat], target=410).choices == {"steep": "C", "flat": "C"}


def test_size_plan_skips_a_checkpoint_when_the_jump_pays_better():
    # A -> B gains little, A -> C gains a lot: C is reachable directly
    item = _item("x", b=(150, 0.961), c=(200, 0.99))
    assert planner.plan_for_size([item], target=200).choices == {"x": "C"}
    assert planner.plan_for_size([item], target=199).choices == {"x": "B"}


def test_size_plan_stays_within_the_target_and_keeps_the_margin():
    items = [
        _item(f"i{n}", a=(100 + n, 0.96), b=(160 + 2 * n, 0.975 + n / 1e4), c=(230 + 3 * n, 0.985)) for n in range(30)
    ]
    for target in range(3500, 8200, 377):
        plan = planner.plan_for_size(items, target, fixed_bytes=50)
        assert plan.feasible and plan.estimated_size <= target
        # a greedy fill leaves less than the smallest possible upgrade unused
        assert target - plan.estimated_size < 200
        kept = planner.plan_for_size(items, target, fixed_bytes=50, margin=500)
        assert kept.feasible and kept.estimated_size <= max(target - 500, plan.estimated_size)
        assert kept.estimated_size <= plan.estimated_size


def test_size_plan_infeasible_keeps_the_smallest():
    items = [_item("a"), _item("b")]
    plan = planner.plan_for_size(items, target=150, fixed_bytes=10)
    assert not plan.feasible
    assert plan.choices == {"a": "A", "b": "A"} and plan.estimated_size == 210


def test_options_drop_checkpoints_under_their_floor_or_not_smaller():
    est = {
        "A": planner.CheckpointEstimate(90, 0.94),
        "B": planner.CheckpointEstimate(150, 0.98),
        "C": planner.CheckpointEstimate(600, 0.99),
    }
    item = planner.image_options("x", est, original_size=500, stored_size=480, coded_overhead=10, stored_overhead=20)
    assert [o.choice for o in item.options] == ["B", EXACT]  # A under 0.95, C not smaller than the file
    assert item.option("B").size == 160 and item.option(EXACT).size == 500
    # a dominated option (bigger, no better) is never offered
    assert [o.choice for o in planner.prune([Option("A", 10, 0.99), Option("B", 20, 0.98)])] == ["A"]


def test_quality_plan_picks_the_smallest_reaching_the_target_with_margin():
    items = [
        _item("easy", a=(100, 0.995)),
        _item("mid", b=(150, 0.9915), c=(200, 0.9935)),
        _item("hard", c=(200, 0.985)),
    ]
    plan = planner.plan_for_quality(items, 0.99, fixed_bytes=5)
    assert plan.choices == {"easy": "A", "mid": "C", "hard": EXACT}  # mid's B is within the 0.002 margin
    assert plan.estimated_size == 5 + 100 + 200 + 1000
    assert planner.plan_for_quality(items, 0.99, margin=0.0).choices["mid"] == "B"
    assert plan.counts() == {"A": 1, "B": 0, "C": 1, EXACT: 1}


def test_attempts_go_up_for_quality_and_down_for_size():
    assert planner.attempts("B", planner.QUALITY) == ("B", "C")
    assert planner.attempts("B", planner.SIZE) == ("B", "A")
    assert planner.attempts("A", planner.SIZE) == ("A",)
    assert planner.attempts(EXACT, planner.SIZE) == ()
    assert planner.floor_for("A", planner.QUALITY, 0.99) == 0.99
    assert planner.floor_for("C", planner.SIZE, 0.5) == engine.QUALITY_FLOORS["C"]


def test_sample_tiles_spread_and_small_images_decode_whole():
    assert image_estimate.sample_tiles(200, 300) is None
    assert image_estimate.sample_tiles(512, 768) is not None
    tiles = image_estimate.sample_tiles(3000, 4000)
    assert image_estimate.MIN_TILES <= len(tiles) <= image_estimate.MAX_TILES and len(set(tiles)) == len(tiles)
    for r, c in tiles:  # whole tiles inside the image (in latents of 16 px)
        assert 0 <= r and (r + image_estimate.TILE) * 16 <= 3000 and 0 <= c and (c + image_estimate.TILE) * 16 <= 4000


def test_options_validation():
    with pytest.raises(ValueError):
        engine.CompressOptions(target_size=1000, min_quality=0.99)
    with pytest.raises(ValueError):
        engine.CompressOptions(target_size=0)
    with pytest.raises(ValueError):
        engine.CompressOptions(min_quality=1.5)
    with pytest.raises(ValueError):
        engine.CompressOptions(target_size=1000, images="lossless")
    assert engine.CompressOptions(target_size=1000).targeted and not engine.CompressOptions().targeted


# --- engine and CLI --------------------------------------------------------------------------------------------------


@pytest.fixture()
def small_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in SMALL:
        shutil.copy(ASSETS / name, folder / name)
    (folder / "notes.txt").write_text("a note\n" * 50)
    return folder


def test_engine_size_target_round_trip(small_folder, tmp_path):
    out = tmp_path / "pics.ltz"
    report = engine.compress([small_folder], out, engine.CompressOptions(target_size=500_000))
    result = report.target
    assert result is not None and result.mode == "size" and result.met and result.feasible
    assert report.archive_size == out.stat().st_size <= 500_000
    assert sum(result.choices.values()) == len(SMALL)
    # a tight target: the smallest choices, reported as not met
    tight = engine.compress([small_folder], tmp_path / "tight.ltz", engine.CompressOptions(target_size=2000))
    assert not tight.target.met and not tight.target.feasible
    assert sum(tight.target.choices.values()) == len(SMALL) and tight.target.choices["B"] == 0
    records = {r.path: r for r in engine.list_entries(tmp_path / "tight.ltz")}
    assert all(r.extra.get("checkpoint") in ("A", None) for r in records.values())
    # the archive extracts
    assert engine.test_archive(out).ok
    restored = tmp_path / "restored"
    engine.extract(out, restored)
    for name in SMALL:
        assert Image.open(restored / "pics" / name).size == Image.open(ASSETS / name).size
    assert (restored / "pics" / "notes.txt").read_text() == (small_folder / "notes.txt").read_text()


def test_engine_size_target_between_smallest_and_largest_lands_close(small_folder, tmp_path):
    model = engine.default_registry().get(None)
    from latentzip.codec.entries.member import base_header
    from latentzip.codec.entries.stored import lzma_pays
    from latentzip.codec.ops import compressor
    from latentzip.codec.ops.scan import scan_inputs

    members = [compressor._hashed(m, engine.CancelToken()) for m in scan_inputs([small_folder]).members]
    items, fixed = estimate_pass.estimate_members(
        members,
        model,
        decode=compressor.classify_and_decode,
        lzma_pays=lzma_pays,
        base_header=base_header,
    )
    assert len(items) == len(SMALL)
    low = fixed + sum(i.options[0].size for i in items)
    coded = [o for i in items for o in i.options if o.choice != EXACT]
    high = fixed + sum(max((o.size for o in i.options if o.choice != EXACT), default=i.options[0].size) for i in items)
    assert coded and low < high
    target = (low + high) // 2
    report = engine.compress([small_folder], tmp_path / "mid.ltz", engine.CompressOptions(target_size=target))
    assert report.target.met
    # the sizes are exact and the overhead estimated: the estimate matches the archive within a few bytes/entry
    plan = planner.make_plan(items, fixed, planner.SIZE, target)
    assert abs(report.archive_size - plan.estimated_size) < 40 * 5
    assert report.archive_size <= target


def test_size_target_counts_a_duplicate_as_a_header_only(small_folder, tmp_path):
    import shutil

    plain = engine.compress([small_folder], tmp_path / "plain.ltz", engine.CompressOptions(target_size=10**9))
    shutil.copy(small_folder / SMALL[0], small_folder / ("copy-" + SMALL[0]))
    doubled = engine.compress([small_folder], tmp_path / "dup.ltz", engine.CompressOptions(target_size=10**9))
    assert any(o.kind == "duplicate" for o in doubled.outcomes)
    assert doubled.target.choices == plain.target.choices  # the copy is not an image to code
    assert doubled.archive_size - plain.archive_size < 400  # one more header, not one more image
    assert abs(doubled.target.estimated - doubled.archive_size) < 40 * (len(SMALL) + 3)


def test_engine_min_quality_meets_the_target(small_folder, tmp_path):
    report = engine.compress([small_folder], tmp_path / "q.ltz", engine.CompressOptions(min_quality=0.97))
    result = report.target
    assert result.mode == "quality" and result.met
    lossy = [o for o in report.outcomes if o.kind == "lossy"]
    assert all(o.ms_ssim >= 0.97 for o in lossy)
    assert result.achieved == min([o.ms_ssim for o in lossy], default=1.0)
    # an impossible quality for a coded image: everything exact
    exact = engine.compress([small_folder], tmp_path / "e.ltz", engine.CompressOptions(min_quality=1.0))
    assert exact.target.choices == {"A": 0, "B": 0, "C": 0, EXACT: len(SMALL)} and exact.target.met


def test_cli_flags_and_summary(small_folder, tmp_path, capsys):
    out = tmp_path / "c.ltz"
    assert cli.main(["compress", str(small_folder), "-o", str(out), "--target-size", "0.5MB"]) == 0
    text = capsys.readouterr().out
    assert "target: archive size 500.0 KB (500000 bytes)" in text and ", met" in text
    assert "images: A " in text and "exact" in text and "estimate:" in text
    assert cli.main(["compress", str(small_folder), "-o", str(out), "--overwrite", "--min-quality", "0.97"]) == 0
    text = capsys.readouterr().out
    assert "target: minimum MS-SSIM 0.9700: lowest image" in text
    assert cli.main(["compress", str(small_folder), "-o", str(out), "--overwrite", "--target-size", "1KB"]) == 0
    text = capsys.readouterr().out
    assert "NOT met" in text and "smallest" in text


def test_cli_refuses_bad_or_conflicting_targets(small_folder, tmp_path, capsys):
    out = str(tmp_path / "x.ltz")
    for argv in (["--target-size", "lots"], ["--min-quality", "2"], ["--target-size", "1MB", "--min-quality", "0.9"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["compress", str(small_folder), "-o", out, *argv])
        assert exc.value.code == 2
    capsys.readouterr()
    assert cli.main(["compress", str(small_folder), "-o", out, "-q", "A", "--target-size", "1MB"]) == 1
    assert "not both" in capsys.readouterr().err
    assert cli.main(["compress", str(small_folder), "-o", out, "--images", "lossless", "--min-quality", "0.9"]) == 1
    assert not Path(out).exists()


def test_gray_and_alpha_images_estimate_like_the_engine(tmp_path):
    rng = np.random.default_rng(3)
    gray = (np.add.outer(np.arange(180), np.arange(200)) % 256).astype(np.uint8)
    rgba = np.dstack(
        [rng.integers(0, 255, (180, 200, 3)).astype(np.uint8) // 4 + 100, np.full((180, 200), 200, np.uint8)]
    )
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(gray, "L").save(folder / "g.png")
    Image.fromarray(rgba, "RGBA").save(folder / "a.png")
    report = engine.compress([folder], tmp_path / "m.ltz", engine.CompressOptions(target_size=10**6))
    assert report.target.met and sum(report.target.choices.values()) == 2
    assert engine.test_archive(tmp_path / "m.ltz").ok


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_size_target_met_within_5_percent_on_kodak(kodak_dir, tmp_path):
    target = 800_000
    report = engine.compress([kodak_dir], tmp_path / "kodak.ltz", engine.CompressOptions(target_size=target))
    assert report.target.feasible and report.target.met
    assert abs(report.archive_size - target) / target <= 0.05, report.archive_size
