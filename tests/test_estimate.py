"""The engine's estimate before compressing: the pure planner, the overhead model against real archives, the range
against the archive written, ``compress --dry-run``."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from test_engine_roundtrip import make_mixed_folder

from latentzip.codec import cli, engine
from latentzip.codec.container import Limits
from latentzip.codec.container.overhead import ARCHIVE_OVERHEAD, archive_bytes, entry_overhead
from latentzip.codec.container.reader import ArchiveReader
from latentzip.codec.container.records import encode_index
from latentzip.codec.estimate import planner, sampling
from latentzip.codec.estimate.planner import CheckpointEstimate
from latentzip.codec.estimate.sampling import ImageSample, SizeRange, estimate, pick_sample
from latentzip.codec.ops.plan import FilePlan, PlanAction

GOLDEN = Path(__file__).parent / "golden"


# ---------------------------------------------------------------------------------------------------------------------
# the planner is pure


def test_the_planner_imports_nothing_that_reads_files_or_runs_networks():
    tree = ast.parse(inspect.getsource(planner))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "heapq", "collections.abc", "dataclasses", "api.options", "api.reports"}, imported


def test_the_planner_gives_the_same_plan_for_the_same_options_and_changes_nothing():
    def options(name: str, scale: int) -> planner.ItemEstimate:
        est = {
            "A": CheckpointEstimate(100 * scale, 0.975),
            "B": CheckpointEstimate(180 * scale, 0.985),
            "C": CheckpointEstimate(260 * scale, 0.99),
        }
        return planner.image_options(name, est, 1000 * scale, 1000 * scale, 30, 30)

    items = [options(f"img{i}", i + 1) for i in range(5)]
    before = [i.options for i in items]
    first = planner.make_plan(items, 500, planner.SIZE, 4000)
    again = planner.make_plan(list(items), 500, planner.SIZE, 4000)
    assert first == again and [i.options for i in items] == before
    assert first.feasible and first.estimated_size <= 4000
    assert not planner.make_plan(items, 500, planner.SIZE, 1000).feasible


# ---------------------------------------------------------------------------------------------------------------------
# the overhead model is the container's


def _archives(tmp_path: Path) -> list[Path]:
    src = make_mixed_folder(tmp_path / "in")
    lossy = tmp_path / "mixed-a.ltz"
    engine.compress([src], lossy, engine.CompressOptions(checkpoint="A"))
    exact = tmp_path / "mixed-exact.ltz"
    engine.compress([src], exact, engine.CompressOptions(images="lossless"))
    return [lossy, exact, *sorted(GOLDEN.glob("*.ltz"))[:2]]


def test_the_overhead_model_adds_up_to_the_archives_bytes(tmp_path):
    archives = _archives(tmp_path)
    assert len(archives) >= 3
    for path in archives:
        with ArchiveReader.open(path) as reader:
            records = reader.entries
            index_len = len(encode_index(records, Limits()))
            modelled = archive_bytes([(r.header(), r.payload_len) for r in records], index_len)
        assert modelled == path.stat().st_size, path.name
        assert ARCHIVE_OVERHEAD < modelled


def test_planned_entries_cost_what_the_archive_spends_on_them(tmp_path):
    """Every entry that is not a coded image: the estimate's header bytes are the archive's, to the byte."""
    src = make_mixed_folder(tmp_path / "in")
    out = tmp_path / "a.ltz"
    engine.compress([src], out, engine.CompressOptions(checkpoint="A"))
    rows = engine.plan_inputs([src], engine.CompressOptions(checkpoint="A"))
    with ArchiveReader.open(out) as reader:
        real = {r.path: r for r in reader.entries}
    checked = 0
    for row in rows:
        if row.action in (PlanAction.CODE, PlanAction.SKIP):
            continue
        assert sampling._overhead(row)[1] == entry_overhead(real[row.name].header()), row.name
        checked += 1
    assert checked >= 8


# ---------------------------------------------------------------------------------------------------------------------
# the estimate and its range


def _row(name: str, size: int, action: PlanAction = PlanAction.CODE) -> FilePlan:
    return FilePlan(name, None, action, size, None if action is PlanAction.CODE else size)


def _sample(name: str, size: int, ratio: float, overhead: int = 400) -> ImageSample:
    sizes = {"A": int(size * ratio), "B": int(size * ratio * 2), "C": int(size * ratio * 3)}
    scores = {"A": 0.975, "B": 0.985, "C": 0.99}
    est = {cp: CheckpointEstimate(n, scores[cp]) for cp, n in sizes.items()}
    item = planner.image_options(name, est, size, size, overhead, 200)
    return ImageSample(name, size, item, size + 200, {cp: n + overhead for cp, n in sizes.items()}, scores, overhead)


def test_with_no_sample_the_estimate_is_a_range_the_rules_bound():
    rows = [_row(f"f/{i}.png", 100_000) for i in range(10)] + [_row("f/notes.txt", 5000, PlanAction.STORE)]
    est = estimate(rows, {})
    r = est.ranges["B"]
    assert not est.done and est.sampled == 0 and est.target("size", 1e6) is None
    assert r.low < 0.05 * 1_000_000 and r.high >= 1_005_000  # from almost nothing to every file as it is
    assert r.low < r.estimate < r.high


def test_the_range_narrows_as_samples_land_and_holds_the_extrapolation():
    rows = [_row(f"f/{i:02}.png", 100_000 + 1000 * i) for i in range(20)]
    ratios = [0.08, 0.11, 0.09, 0.12, 0.10, 0.10]
    picks = pick_sample(rows, 6)
    assert len({p.name for p in picks}) == 6
    widths = []
    samples: dict[str, ImageSample] = {}
    for row, ratio in zip(picks, ratios, strict=True):
        samples[row.name] = _sample(row.name, row.size, ratio)
        widths.append(estimate(rows, samples, 6).ranges["A"].relative_spread)
    est = estimate(rows, samples, 6)
    assert est.done and widths[-1] < widths[1] and widths[-1] < 0.15
    # every image at the mean ratio lies inside the range
    truth = est.fixed + sum(int(r.size * 0.1) + 400 for r in rows)
    assert est.ranges["A"].contains(truth)
    assert est.typical_ms_ssim["A"] == pytest.approx(0.975)


def test_a_size_target_verdict_follows_the_range_of_the_smallest_archive():
    rows = [_row(f"f/{i}.png", 100_000) for i in range(4)]
    samples = {r.name: _sample(r.name, r.size, 0.1) for r in rows}
    est = estimate(rows, samples)
    smallest = est.smallest
    assert isinstance(smallest, SizeRange) and smallest.low <= smallest.estimate <= smallest.high
    assert est.target("size", smallest.high + 1).verdict == sampling.REACHABLE
    assert est.target("size", smallest.low - 1).verdict == sampling.NOT_REACHABLE
    assert est.target("size", smallest.estimate).verdict == sampling.UNCERTAIN


def test_samples_cover_every_kind_of_image_largest_first():
    rows = [_row(f"k/{i:02}.png", 500_000 + i) for i in range(24)] + [
        _row(f"p/{i}.jpg", 900_000 + 10 * i) for i in range(10)
    ]
    picks = pick_sample(rows, 6)
    kinds = [Path(p.name).suffix for p in picks]
    assert len(picks) == 6 and kinds.count(".jpg") >= 2 and kinds.count(".png") >= 2
    assert kinds[:2] in ([".png", ".jpg"], [".jpg", ".png"])  # the first two samples already see both kinds


@pytest.mark.parametrize("max_samples", [2, 6])
def test_the_range_holds_the_archive_written_on_a_mixed_folder(tmp_path, max_samples):
    src = make_mixed_folder(tmp_path / "in")
    est = engine.estimate_inputs([src], engine.CompressOptions(), max_samples=max_samples)
    assert est.sampled == min(max_samples, est.images) and est.images == 4
    for checkpoint in ("A", "C"):
        out = tmp_path / f"{checkpoint}.ltz"
        actual = engine.compress([src], out, engine.CompressOptions(checkpoint=checkpoint)).archive_size
        r = est.ranges[checkpoint]
        assert r.contains(actual), (checkpoint, r, actual)
        if est.done:
            assert abs(r.estimate - actual) <= 0.10 * actual


def test_the_reachable_verdict_agrees_with_what_compress_does(tmp_path):
    src = make_mixed_folder(tmp_path / "in")
    est = engine.estimate_inputs([src], engine.CompressOptions())
    smallest = est.smallest
    assert smallest is not None
    for target, verdict in ((int(smallest.high * 1.05), sampling.REACHABLE), (int(smallest.low * 0.9), None)):
        t = est.target("size", target)
        assert t.verdict == (verdict or sampling.NOT_REACHABLE)
        report = engine.compress(
            [src], tmp_path / f"t{target}.ltz", engine.CompressOptions(target_size=target, overwrite=True)
        )
        assert report.target.met == (t.verdict == sampling.REACHABLE)


# ---------------------------------------------------------------------------------------------------------------------
# compress --dry-run


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_dry_run_writes_nothing_and_prints_the_plan_and_the_range(tmp_path, capsys):
    src = make_mixed_folder(tmp_path / "in")
    out = tmp_path / "out.ltz"
    before, tmp_before = _snapshot(src), sorted(tmp_path.iterdir())
    assert cli.main(["compress", str(src), "-o", str(out), "-q", "A", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert not out.exists() and sorted(tmp_path.iterdir()) == tmp_before and _snapshot(src) == before
    assert not list(tmp_path.rglob("*.partial"))
    for row in engine.plan_inputs([src], engine.CompressOptions(checkpoint="A")):
        if row.action is not PlanAction.FOLDER:
            assert f"  {row.name}: " in printed
    assert "PHOTOS/scene.png: coded at A" in printed and "PHOTOS/notes.txt: stored exactly (LZMA)" in printed
    assert "estimate at A: ≈ " in printed and "(range " in printed and "nothing was written" in printed


def test_dry_run_says_whether_a_size_target_is_reachable(tmp_path, capsys):
    src = make_mixed_folder(tmp_path / "in")
    assert cli.main(["compress", str(src), "-o", str(tmp_path / "o.ltz"), "--target-size", "1KB", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "target 1.0 KB: not reachable" in printed and not (tmp_path / "o.ltz").exists()


def test_a_sampled_giant_counts_as_itself_and_not_as_a_guide_to_the_others():
    rows = [_row(f"p/{i}.jpg", 100_000) for i in range(9)] + [_row("p/giant.jpg", 2_000_000)]
    samples = {"p/giant.jpg": _sample("p/giant.jpg", 2_000_000, 0.01)}
    samples |= {r.name: _sample(r.name, r.size, 0.2) for r in rows[:2]}
    est = estimate(rows, samples)
    unsampled = 7 * (int(100_000 * 0.2) + sampling._overhead(rows[2])[1])
    known = sum(s.at_checkpoint["A"] for s in samples.values())
    assert est.ranges["A"].estimate == pytest.approx(est.fixed + known + unsampled, abs=2)
    assert est.ratios["A"]["jpeg"] == pytest.approx(0.2, rel=0.01)
