"""Large libraries: progress weighted by bytes, and 10,000 files with bounded memory (slow)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from latentzip.codec import engine
from latentzip.codec.api.progress import ProgressEvent

BENCH = Path(__file__).resolve().parent.parent / "bench"


class _Events:
    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def progress(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def warning(self, name: str, message: str) -> None:
        pass


def _fraction_after(events: list[ProgressEvent], files: int) -> float:
    return next(e.fraction for e in events if e.files_done >= files)


def test_progress_is_weighted_by_bytes_in_compress_and_extract(tmp_path: Path) -> None:
    src = tmp_path / "lib"
    src.mkdir()
    (src / "a_big.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB: 90 % of the bytes
    for i in range(9):
        (src / f"small{i}.txt").write_bytes(b"x" * 12_000)
    total = (1 << 20) + 9 * 12_000
    archive = tmp_path / "lib.ltz"
    sink = _Events()
    engine.compress([src], archive, engine.CompressOptions(images="lossless"), sink)
    assert sink.events[-1].bytes_total == total and sink.events[-1].fraction == 1.0
    # members: the folder, then a_big.bin: after 2 of 11 entries, 90 % of the bytes are done
    assert _fraction_after(sink.events, 2) == pytest.approx((1 << 20) / total)
    sink = _Events()
    engine.extract(archive, tmp_path / "out", engine.ExtractOptions(), sink)
    assert sink.events[-1].bytes_total == total and sink.events[-1].fraction == 1.0
    assert _fraction_after(sink.events, 2) == pytest.approx((1 << 20) / total)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_10000_files_compress_and_extract_with_bounded_memory(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    import many_files

    small = many_files.bench(1_000, images="lossless", work=tmp_path / "small")
    large = many_files.bench(10_000, images="lossless", work=tmp_path / "large")
    for r in (small, large):
        assert r["compress_rc"] == 0 and r["extract_rc"] == 0 and r["restored_files"] == r["files"]
    # ten times the files: the peak grows by the index records only (a few KB per file), never by payloads
    assert large["compress_peak_rss_mb"] < small["compress_peak_rss_mb"] + 64, (small, large)
    assert large["extract_peak_rss_mb"] < small["extract_peak_rss_mb"] + 64, (small, large)
    assert large["compress_peak_rss_mb"] < 400 and large["extract_peak_rss_mb"] < 400


def test_bench_generates_a_small_photo_library_the_codec_pays_on(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    import many_files
    from PIL import Image

    total = many_files.generate(tmp_path / "lib", 12)
    files = sorted(p for p in (tmp_path / "lib").rglob("*") if p.is_file())
    assert len(files) == 12 and total == sum(p.stat().st_size for p in files)
    assert sum(p.suffix == ".png" for p in files) == 3
    for path in files:
        with Image.open(path) as im:
            assert many_files.LONG_SIDE[0] <= max(im.size) <= many_files.LONG_SIDE[1]
    archive = tmp_path / "lib.ltz"
    engine.compress([tmp_path / "lib"], archive, engine.CompressOptions(checkpoint="A"))
    kinds = many_files.entry_kinds(archive)
    assert sum(kinds.values()) == 12
    assert kinds["coded"] >= 8, kinds  # most are coded, as real photos are
