"""The stage profile's and the speed bench's own logic: exclusive stage timing, wrapping at run time,
the stage list against the installed engine, AVIF's quality choice, medians, ratios and targets (no timing)."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import peers  # noqa: E402
import speed  # noqa: E402
import stage_profile  # noqa: E402
from common import ChildRun  # noqa: E402
from stage_timer import StageTargetError, StageTimer, Target, _resolve, install  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nested_stages_count_exclusive_time() -> None:
    clock = FakeClock()
    timer = StageTimer(clock)
    with timer.stage("outer"):
        clock.now += 1.0
        with timer.stage("inner"):
            clock.now += 2.0
            with timer.stage("outer"):  # the same stage nested in itself counts once
                clock.now += 4.0
        clock.now += 8.0
    assert timer.seconds == {"outer": 13.0, "inner": 2.0}
    assert timer.calls == {"outer": 2, "inner": 1}


def test_untimed_producer_leaves_the_stage_and_counts_for_nobody() -> None:
    clock = FakeClock()
    timer = StageTimer(clock)

    def produce():
        for i in range(3):
            clock.now += 10.0  # producing an item
            yield i

    def consume(chunks):
        total = 0
        for c in chunks:
            clock.now += 1.0  # writing it
            total += c
        return total

    wrapped = timer.wrap(consume, "writing", producer="chunks")
    assert wrapped(produce()) == 3
    assert timer.seconds == {"writing": 3.0}
    assert wrapped.__name__ == "consume"


def test_generator_function_is_timed_at_each_step() -> None:
    clock = FakeClock()
    timer = StageTimer(clock)

    def chunks():
        for i in range(2):
            clock.now += 1.0
            yield i

    got = []
    for item in timer.wrap(chunks, "reading")():
        clock.now += 100.0  # the consumer's time is not the generator's
        got.append(item)
    assert got == [0, 1]
    assert timer.seconds == {"reading": 2.0}
    assert timer.calls == {"reading": 3}  # two items and the end


def test_threads_add_up_and_are_counted() -> None:
    timer = StageTimer()
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        with timer.stage("net"):
            sum(range(1000))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert timer.calls == {"net": 2}
    assert len(timer.threads) == 2
    assert timer.seconds["net"] > 0


@pytest.fixture
def fake_package():
    """fakepkg.a defines f and a class; fakepkg.b imported f by name (``from .a import f``)."""
    a = types.ModuleType("fakepkg.a")

    def f(x):
        return x + 1

    class Coder:
        def write(self, x):
            return x * 2

        @classmethod
        def load(cls, x):
            return x * 3

    a.f, a.Coder = f, Coder
    b = types.ModuleType("fakepkg.b")
    b.f = f
    b.g = lambda x: b.f(x) * 10  # calls f through its own module's name
    pkg = types.ModuleType("fakepkg")
    sys.modules.update({"fakepkg": pkg, "fakepkg.a": a, "fakepkg.b": b})
    yield a, b
    for name in ("fakepkg", "fakepkg.a", "fakepkg.b"):
        sys.modules.pop(name, None)


def test_install_wraps_every_copy_and_undo_restores(fake_package) -> None:
    a, b = fake_package
    original_f, original_write, original_load = a.f, a.Coder.__dict__["write"], a.Coder.__dict__["load"]
    timer = StageTimer()
    targets = [
        Target("fakepkg.a", "f", "first"),
        Target("fakepkg.a", "Coder.write", "coding"),
        Target("fakepkg.a", "Coder.load", "loading"),
    ]
    undo = install(timer, targets, scope="fakepkg")
    assert b.g(1) == 20
    assert a.Coder().write(2) == 4
    assert a.Coder.load(2) == 6
    assert timer.calls == {"first": 1, "coding": 1, "loading": 1}
    undo()
    assert a.f is original_f and b.f is original_f
    assert a.Coder.__dict__["write"] is original_write and a.Coder.__dict__["load"] is original_load


def test_install_refuses_a_missing_target_and_wraps_nothing(fake_package) -> None:
    a, _ = fake_package
    original = a.f
    with pytest.raises(StageTargetError, match="gone"):
        install(StageTimer(), [Target("fakepkg.a", "f", "first"), Target("fakepkg.a", "renamed", "x")], "fakepkg")
    assert a.f is original


def test_every_profiled_stage_exists_in_the_installed_engine() -> None:
    """The profile's stage list names real functions (a rename in codec/ shows here, not as a zero row)."""
    for target in stage_profile.STAGES:
        _, _, raw = _resolve(target)
        assert callable(getattr(raw, "__func__", raw)), target


def test_operation_row_and_table() -> None:
    run = ChildRun(seconds=10.0, cpu_s=15.0, peak_bytes=300 * 2**20, returncode=0, started=100.0)
    figures = {
        "main_start": 101.0,
        "seconds": {"analysis transform (g_a)": 4.0, "synthesis transform (g_s)": 3.0},
        "calls": {"analysis transform (g_a)": 2, "synthesis transform (g_s)": 2},
        "threads": 1,
    }
    row = stage_profile.operation_row("kodak", "compress", run, figures, 2, 800_000)
    assert row["start-up (interpreter, imports) s"] == pytest.approx(1.0)
    assert row["stages_s"] == pytest.approx(8.0)
    assert row["unaccounted_s"] == pytest.approx(2.0)
    assert row["cores"] == pytest.approx(1.5)
    table = "\n".join(stage_profile.case_table(row, row))
    assert "| analysis transform (g_a) | 4.00 | 40.0 % | 2 |" in table
    assert "entropy coding" not in table  # a stage that never ran in either operation has no row
    assert "| peak resident memory | 300 MB |" in table


class FakeEvaluator:
    """MS-SSIM 0.9 + quality / 1000: integer qualities land 0.001 apart."""

    def point(self, codec, quality):
        return peers.Point(codec.key, quality, 1000.0, 1.0, 0.9 + quality / 1000, 30.0, 0.0, 0.0)

    def match(self, codec, target):
        q = (target - 0.9) * 1000
        return peers.Point(codec.key, q, 1000.0, 1.0, target, 30.0, 0.0, 0.0, "interpolated")


@pytest.mark.parametrize(("target", "quality"), [(0.9503, 50), (0.9507, 51), (0.95, 50)])
def test_avif_quality_is_the_nearest_integer(target: float, quality: int) -> None:
    assert speed.integer_quality(FakeEvaluator(), speed.AVIF, target).quality == quality


def test_avif_runs_on_two_threads() -> None:
    assert speed.AVIF.options["max_threads"] == 2
    assert speed.AVIF.options["speed"] == 6


def _run(seconds: float, cpu: float, peak_mb: int) -> ChildRun:
    return ChildRun(seconds, cpu, peak_mb * 2**20, 0)


def test_medians_ratios_and_targets() -> None:
    lz = speed.summarize(
        "photo", "Latentzip", [_run(10, 15, 600), _run(12, 16, 650), _run(30, 31, 700)], [_run(5, 5, 400)] * 3
    )
    av = speed.summarize("photo", "AVIF", [_run(8, 14, 100)] * 3, [_run(2, 2, 50)] * 3)
    rows = lz + av
    trip = next(r for r in lz if r["step"] == "round trip")
    assert trip["wall_s"] == 17  # the median of the runs' sums (15, 17, 35)
    assert trip["peak_mb"] == pytest.approx(700)
    assert speed.ratio(rows, "photo", "round trip") == pytest.approx(1.7)
    infos = [{"case": "photo", "images": 1, "megapixels": 20.0}]
    targets = speed.target_rows(rows, infos, {"photo": ["one run"], "kodak": ["first 3 image(s) only"]})
    assert [t["verdict"] for t in targets] == ["NOT met (one run)", "met (one run)"]
    table = "\n".join(speed.speed_table(rows, infos))
    assert "| photo (1 image, 20.0 MP) | compress / encode | 12.00 |" in table
    assert "**1.70x**" in table
