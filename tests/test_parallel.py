"""Several workers (ops/pipeline.py, decode_ahead.py, tiles at once): the bytes never depend on how many."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import cli, engine
from latentzip.codec.api.errors import CancelledError
from latentzip.codec.container import EntryKind
from latentzip.codec.ops import compressor as compressor_module
from latentzip.codec.ops.pipeline import OrderedPool, SerialEncoder, ThreadEncoder, local_encoder
from latentzip.codec.runtime.model_set import (
    ORT_INTRA_OP_THREADS,
    THREADS_ENV,
    default_registry,
    job_workers,
    session_options,
)
from latentzip.codec.runtime.transforms import analysis, pad_to_multiple, synthesis

ASSETS = Path(__file__).parent / "assets"
LOSSY = engine.CompressOptions(checkpoint="A", quality_floor=0.0)  # every image coded, whatever the model
TIMES = 1_600_000_000_000_000_000


def crop(x: int, y: int, size: int = 64) -> Image.Image:
    return Image.open(ASSETS / "photo_crop.png").convert("RGB").crop((x, y, x + size, y + size))


def make_album(root: Path) -> Path:
    """A few small images (one twice, under two names), a text file, a nested folder; fixed times."""
    top = root / "album"
    (top / "trip").mkdir(parents=True)
    crop(0, 0).save(top / "a.png")
    crop(64, 32, 96).save(top / "trip" / "b.png")
    crop(100, 100).save(top / "trip" / "c.jpg", quality=90)
    (top / "z_copy.png").write_bytes((top / "a.png").read_bytes())  # a duplicate, after its first copy
    (top / "notes.txt").write_text("field notes\n" * 200)
    for p in sorted(top.rglob("*"), reverse=True):
        os.utime(p, ns=(TIMES, TIMES))
    os.utime(top, ns=(TIMES, TIMES))
    return top


def tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[int, bytes]:
    """The album compressed with 1, 2 and 4 workers."""
    root = tmp_path_factory.mktemp("album")
    album = make_album(root)
    out = {}
    for threads in (1, 2, 4):
        path = root / f"t{threads}.ltz"
        engine.compress([album], path, replace(LOSSY, threads=threads))
        out[threads] = path.read_bytes()
    return out


def test_archive_bytes_do_not_depend_on_the_workers(archives):
    assert archives[1] == archives[2] == archives[4]


def test_the_album_has_what_the_test_means_to_cover(archives, tmp_path):
    path = tmp_path / "a.ltz"
    path.write_bytes(archives[2])
    kinds = {r.path: r.kind for r in engine.list_entries(path)}
    assert kinds["album/z_copy.png"] == EntryKind.DUPLICATE
    assert kinds["album/a.png"] == kinds["album/trip/b.png"] == EntryKind.IMAGE
    assert kinds["album/trip"] == EntryKind.DIRECTORY


def test_a_size_target_plans_and_writes_the_same_with_workers(tmp_path):
    """The estimate pass of a target measures images on the workers too: same plan, same bytes."""
    album = make_album(tmp_path)
    results = []
    for threads in (1, 3):
        path = tmp_path / f"t{threads}.ltz"
        report = engine.compress([album], path, engine.CompressOptions(target_size=6000, threads=threads))
        assert report.target is not None
        results.append((path.read_bytes(), report.target.choices))
    assert results[0] == results[1]


@pytest.mark.parametrize("as_png", [False, True])
def test_extract_output_does_not_depend_on_the_workers(archives, tmp_path, as_png):
    path = tmp_path / "a.ltz"
    path.write_bytes(archives[1])
    trees = []
    for threads in (1, 2, 4):
        out = tmp_path / f"out{threads}"
        report = engine.extract(path, out, engine.ExtractOptions(as_png=as_png, threads=threads))
        assert not report.failed
        trees.append(tree(out))
    assert trees[0] == trees[1] == trees[2]
    assert (b"".join(v for v in trees[0].values() if v)) and len(trees[0]) == 7


def test_test_with_workers_finds_damage_as_one_worker_does(archives, tmp_path):
    path = tmp_path / "a.ltz"
    path.write_bytes(archives[1])
    records = engine.list_entries(path)
    at = next(i for i, r in enumerate(records) if r.path == "album/trip/b.png")
    data = bytearray(archives[1])
    data[records[at + 1].offset - records[at].payload_len // 2] ^= 0xFF  # inside the image's payload
    path.write_bytes(bytes(data))
    reports = [engine.test_archive(path, threads=t) for t in (1, 3)]
    assert reports[0].damaged == reports[1].damaged
    assert [name for name, _ in reports[0].damaged] == ["album/trip/b.png"]
    assert reports[0].checked == reports[1].checked == 7


def test_a_failing_first_copy_gives_the_sequential_archive(tmp_path, monkeypatch):
    """The first copy of duplicated content vanishes between its hashing and its coding: the later copy is
    coded in its place (not a duplicate of nothing), with any number of workers, byte for byte."""
    real = compressor_module.prepare_member

    def vanishing(member, *args, **kwargs):
        prepared = real(member, *args, **kwargs)
        if member.name == "album/a.png":
            member.path.unlink()  # hashed; gone when it is read to be coded
        return prepared

    monkeypatch.setattr(compressor_module, "prepare_member", vanishing)
    results = {}
    for threads in (1, 2, 4):
        album = make_album(tmp_path / f"run{threads}")
        path = tmp_path / f"t{threads}.ltz"
        report = engine.compress([album], path, replace(LOSSY, threads=threads))
        assert [name for name, _ in report.failed] == ["album/a.png"]
        results[threads] = path.read_bytes()
        kinds = {r.path: r.kind for r in engine.list_entries(path)}
        assert "album/a.png" not in kinds and kinds["album/z_copy.png"] == EntryKind.IMAGE
    assert results[1] == results[2] == results[4]


class _CancelOnSecondFile:
    """Cancels once the first file is done."""

    def __init__(self, token: engine.CancelToken) -> None:
        self.token = token

    def progress(self, event: engine.ProgressEvent) -> None:
        if event.current and event.files_done == 1:
            self.token.cancel()

    def warning(self, name: str, message: str) -> None:
        pass


def test_cancel_with_workers_leaves_no_archive(tmp_path):
    album = make_album(tmp_path)
    out = tmp_path / "album.ltz"
    token = engine.CancelToken()
    before = threading.active_count()
    options = replace(LOSSY, threads=3)
    with pytest.raises(CancelledError):
        engine.compress([album], out, options, sink=_CancelOnSecondFile(token), cancel=token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["album"]  # no archive, no partial file
    assert threading.active_count() <= before  # the workers are gone


def test_cancel_extract_with_workers_leaves_no_partial_file(archives, tmp_path):
    path = tmp_path / "a.ltz"
    path.write_bytes(archives[1])
    token = engine.CancelToken()
    before = threading.active_count()
    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        engine.extract(path, out, engine.ExtractOptions(threads=3), sink=_CancelOnSecondFile(token), cancel=token)
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]
    assert len([p for p in out.rglob("*") if p.is_file()]) <= 1
    assert threading.active_count() <= before


def test_ordered_pool_keeps_order_and_bounds_what_is_in_flight():
    taken, yielded, most = [], [], [0]

    def items():
        for i in range(12):
            taken.append(i)
            most[0] = max(most[0], len(taken) - len(yielded))
            yield i

    def slow_first(i: int) -> int:
        time.sleep(0.02 if i % 3 == 0 else 0.0)
        return i * i

    pool = OrderedPool(3, max_in_flight=4)
    try:
        for i, square in pool.map(slow_first, items()):
            yielded.append(i)
            assert square == i * i
    finally:
        pool.close()
    assert yielded == list(range(12))
    assert most[0] <= 4


def test_ordered_pool_raises_an_error_at_its_turn():
    def fail_on_two(i: int) -> int:
        if i == 2:
            raise ValueError("two")
        return i

    pool = OrderedPool(2)
    got = []
    with pytest.raises(ValueError, match="two"):
        for i, _ in pool.map(fail_on_two, range(6)):
            got.append(i)
    pool.close()
    assert got == [0, 1]


def test_closing_the_pool_stops_running_work_promptly():
    pool = OrderedPool(2)
    started = threading.Event()

    def endless(_: int) -> int:
        started.set()
        while True:
            pool.stop_check()
            time.sleep(0.001)

    raised: list[BaseException] = []

    def consume() -> None:
        try:
            list(pool.map(endless, range(4)))
        except CancelledError as exc:
            raised.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    assert started.wait(5)
    t0 = time.monotonic()
    pool.close()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - t0 < 2
    assert len(raised) == 1  # the work in progress stopped with CancelledError, raised to its consumer


def test_local_encoder_is_serial_for_one_worker():
    assert isinstance(local_encoder(None, 1), SerialEncoder)
    encoder = local_encoder(None, 2)
    assert isinstance(encoder, ThreadEncoder) and encoder.max_in_flight >= 2
    encoder.close()


def test_tiles_at_once_compute_the_same_latents_and_pixels():
    model = default_registry().get()
    rgb = np.asarray(crop(0, 0, 128))
    padded = pad_to_multiple(rgb)
    serial_y = analysis(model, padded, tile=2)  # 8x8 latents: 16 tiles
    parallel = model.with_workers(3)
    assert np.array_equal(analysis(parallel, padded, tile=2), serial_y)
    y_hat = np.round(serial_y)
    assert np.array_equal(synthesis(parallel, y_hat, tile=2), synthesis(model, y_hat, tile=2))


def test_intra_op_threads_are_fixed_whatever_the_settings(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    assert session_options().intra_op_num_threads == ORT_INTRA_OP_THREADS
    assert job_workers() == 3 and job_workers(5) == 5
    monkeypatch.delenv(THREADS_ENV)
    assert job_workers() == max(1, os.cpu_count() or 1)


def test_threads_option_is_checked():
    with pytest.raises(ValueError, match="threads"):
        engine.CompressOptions(threads=0)
    with pytest.raises(ValueError, match="threads"):
        engine.ExtractOptions(threads=-2)


def test_cli_threads(tmp_path, capsys):
    album = make_album(tmp_path)
    archive = tmp_path / "a.ltz"
    assert cli.main(["compress", str(album), "-o", str(archive), "--threads", "2", "--quiet"]) == 0
    assert cli.main(["test", str(archive), "--threads", "2", "--quiet"]) == 0
    assert cli.main(["extract", str(archive), "-o", str(tmp_path / "out"), "--threads", "2", "--quiet"]) == 0
    assert (tmp_path / "out" / "album" / "notes.txt").read_text() == "field notes\n" * 200
    with pytest.raises(SystemExit):
        cli.main(["compress", str(album), "-o", str(tmp_path / "b.ltz"), "--threads", "0"])
    assert "threads must be at least 1" in capsys.readouterr().err


def test_preview_is_the_same_with_workers(monkeypatch):
    rgb = np.asarray(crop(0, 0, 96))
    previews = []
    for threads in ("1", "3"):
        monkeypatch.setenv(THREADS_ENV, threads)
        previews.append(engine.preview_pixels(rgb))
    one, three = previews
    assert list(one) == list(three) == ["A", "B", "C"]
    for name in one:
        assert np.array_equal(one[name].reconstruction, three[name].reconstruction)
        assert (one[name].coded_bytes, one[name].ms_ssim) == (three[name].coded_bytes, three[name].ms_ssim)
