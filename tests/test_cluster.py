"""Coding elsewhere and in volumes: an ``EntryEncoder`` writes the same archive as one machine, Ray runs it
on a cluster (a local one, started and stopped here), ``--split-every`` writes complete numbered volumes.

The Ray tests are marked ``ray``: ``make test`` leaves them out (Ray takes seconds to start), ``make
test-cluster`` installs the extra and runs them; without Ray installed they are skipped.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_engine_roundtrip import LOSSY, all_files, make_mixed_folder

from latentzip.codec import cli, engine
from latentzip.codec.api.errors import ExistingFileError, InputError
from latentzip.codec.container import ArchiveReader, ArchiveWriter, EntryKind
from latentzip.codec.entries.encode import EncodePolicy, PreparedMember, encode_member, prepare_member
from latentzip.codec.entries.entry import EncodedEntry
from latentzip.codec.entries.image import ImagePayload
from latentzip.codec.ops import cluster as cluster_mod
from latentzip.codec.ops.scan import scan_inputs
from latentzip.codec.ops.volumes import volume_path, volumes_of

try:
    import ray
except ImportError:
    ray = None

CHECKPOINT_C = engine.CompressOptions(checkpoint="C", precision="auto")  # what `compress -q C` asks for
needs_ray = pytest.mark.skipif(ray is None, reason='Ray is not installed (pip install "latentzip[cluster]")')


def library(root: Path) -> Path:
    """A small library: images (PNG, JPEG, grey, alpha), copies of one, files that are not images, folders."""
    top = make_mixed_folder(root)
    (top / "copy of scene.png").write_bytes((top / "scene.png").read_bytes())
    (top / "nested" / "deeper" / "scene again.png").write_bytes((top / "scene.png").read_bytes())
    with Image.open(top / "nested" / "camera.jpg") as im:  # coded, no smaller: kept as its JPEG XL re-pack
        im.resize((24, 16)).save(top / "tiny.jpg", quality=50)
    return top


class ThreadEncoder:
    """An ``EntryEncoder`` on threads, in order, a window of three: the compressor's side of the protocol."""

    def __init__(self, model) -> None:
        self.model, self.taken = model, []
        self.pool = ThreadPoolExecutor(2)

    def encode_ordered(
        self, prepared: Iterable[PreparedMember], policy: EncodePolicy
    ) -> Iterator[tuple[PreparedMember, EncodedEntry]]:
        window: deque = deque()
        for item in prepared:
            self.taken.append(item.member.name)
            window.append((item, self.pool.submit(encode_member, item, policy, self.model)))
            if len(window) == 3:
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()

    def close(self) -> None:
        self.pool.shutdown()


def test_an_encoder_writes_the_archive_one_machine_writes(tmp_path):
    src = library(tmp_path / "in")
    alone, through = tmp_path / "alone.ltz", tmp_path / "through.ltz"
    engine.compress([src], alone, LOSSY)
    encoder = ThreadEncoder(engine.default_registry().get())
    report = engine.compress([src], through, LOSSY, encoder=encoder)
    encoder.close()
    assert through.read_bytes() == alone.read_bytes()
    assert sum("scene" in n for n in encoder.taken) == 1, "of three files with one content, one is encoded"
    assert report.duplicates == 2


def _volume_entries(volume: Path) -> list:
    with ArchiveReader.open(volume) as reader:
        reader.check_layout()
        return list(reader.entries)


def _random_files(top: Path) -> None:
    rng = np.random.default_rng(7)
    for i in range(5):
        (top / f"part{i}.bin").write_bytes(rng.bytes(6000))
    (top / "part4 copy.bin").write_bytes((top / "part0.bin").read_bytes())  # its first copy is volumes back
    (top / "part1 copy.bin").write_bytes((top / "part1.bin").read_bytes())


def _split_set(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of five random 6 kB files compressed losslessly into 7 kB volumes: (folder, archive name)."""
    src = tmp_path / "in"
    src.mkdir()
    _random_files(src)
    archive = tmp_path / "lib.ltz"
    engine.compress([src], archive, engine.CompressOptions(images="lossless", split_every=7000))
    return src, archive


@pytest.mark.parametrize("through_encoder", [False, True])
def test_split_every_writes_complete_volumes_that_extract_gives_back(tmp_path, capsys, through_encoder):
    src = library(tmp_path / "in")
    _random_files(src)
    archive = tmp_path / "library.ltz"
    limit = 16_000
    options = engine.CompressOptions(images="lossless", split_every=limit)
    encoder = ThreadEncoder(None) if through_encoder else None
    report = engine.compress([src], archive, options, encoder=encoder)
    assert not report.failed
    volumes = report.volumes
    assert len(volumes) >= 3 and volumes == volumes_of(volume_path(archive, 2))
    assert volumes[0].name == "library.001.ltz" and not archive.exists()
    stored = []
    for volume in volumes:
        entries = _volume_entries(volume)  # each volume opens and checks on its own
        names = {e.path for e in entries}
        for e in entries:
            if e.kind == EntryKind.DUPLICATE:
                assert e.same_as in names, f"{e.path} points out of {volume.name}"
            elif e.kind != EntryKind.DIRECTORY:
                stored.append(e.sha256)
        big = [e for e in entries if e.payload_len > limit // 2]
        assert volume.stat().st_size <= limit or len(entries) == len(big) == 1
        assert engine.test_archive(volume).ok
    part0 = [e.sha256 for v in volumes for e in _volume_entries(v) if e.path.endswith("part0.bin")]
    assert stored.count(part0[0]) == 2, "a copy in a later volume holds the content again"
    out = tmp_path / "out"
    assert cli.main(["extract", str(volumes[0]), "-o", str(out), "--quiet"]) == 0
    before, after = all_files(src.parent), all_files(out)
    assert set(before) == set(after)
    for rel, path in before.items():
        if path.is_file() and not path.is_symlink():
            assert (out / rel).read_bytes() == path.read_bytes(), rel
    assert cli.main(["test", str(volumes[-1])]) == 0
    assert cli.main(["list", str(volumes[1])]) == 0
    listed = capsys.readouterr().out
    assert all(f"PHOTOS/part{i}.bin\t" in listed for i in range(5))
    if encoder is not None:
        encoder.close()


def test_volumes_and_their_extraction_are_the_same_for_any_number_of_threads(tmp_path):
    src = library(tmp_path / "in")
    _random_files(src)
    written, restored = [], []
    for threads in (1, 3):
        archive = tmp_path / f"threads{threads}" / "library.ltz"
        archive.parent.mkdir()
        options = dataclasses.replace(LOSSY, split_every=20_000, threads=threads)
        report = engine.compress([src], archive, options)
        assert not report.failed
        written.append([volume.read_bytes() for volume in report.volumes])
        out = tmp_path / f"out{threads}"
        engine.extract(report.volumes, out, engine.ExtractOptions(threads=threads))
        restored.append({rel: p.read_bytes() for rel, p in all_files(out).items() if p.is_file()})
    assert len(written[0]) >= 2, "the library spans several volumes"
    assert written[1] == written[0]
    assert restored[1] == restored[0]


def test_volumes_are_not_overwritten_unasked_and_an_older_longer_set_goes(tmp_path):
    src, archive = _split_set(tmp_path)
    first = volumes_of(volume_path(archive, 1))
    assert len(first) >= 5
    with pytest.raises(ExistingFileError):
        engine.compress([src], archive, engine.CompressOptions(images="lossless", split_every=7000))
    opts = engine.CompressOptions(images="lossless", split_every=1 << 20, overwrite=True)
    report = engine.compress([src], archive, opts)
    assert report.volumes == [volume_path(archive, 1)]
    assert volumes_of(volume_path(archive, 1)) == report.volumes and not volume_path(archive, 2).exists()


def test_overwriting_a_set_never_touches_files_that_only_look_numbered(tmp_path):
    """photos.2023.ltz is the user's yearly archive, not volume 2023; a non-archive named like a later
    volume is not ours either: an overwrite keeps both, and neither blocks a new set."""
    src = tmp_path / "in"
    src.mkdir()
    _random_files(src)
    archive = tmp_path / "lib.ltz"
    yearly, stranger = tmp_path / "lib.2023.ltz", tmp_path / "lib.0001.ltz"
    yearly.write_bytes(b"LTZ\x89\r\n the user's own archive")
    stranger.write_bytes(b"not ours")
    engine.compress([src], archive, engine.CompressOptions(images="lossless", split_every=7000))
    several = volumes_of(volume_path(archive, 1))
    assert len(several) >= 3
    later = volume_path(archive, len(several) + 1)
    later.write_bytes(b"a note the user saved under this name")
    opts = engine.CompressOptions(images="lossless", split_every=1 << 20, overwrite=True)
    report = engine.compress([src], archive, opts)
    assert report.volumes == [volume_path(archive, 1)]
    assert not volume_path(archive, 2).exists()  # the older set's volumes 2.. are gone, up to the stranger's gap
    assert yearly.read_bytes().startswith(b"LTZ") and stranger.read_bytes() == b"not ours"
    assert later.read_bytes() == b"a note the user saved under this name"


def test_a_set_with_a_missing_volume_is_refused_not_restored_in_part(tmp_path, capsys):
    _, archive = _split_set(tmp_path)
    assert len(volumes_of(volume_path(archive, 1))) >= 3
    volume_path(archive, 2).unlink()
    for given in (volume_path(archive, 1), volume_path(archive, 3)):
        out = tmp_path / f"out-{given.name}"
        assert cli.main(["extract", str(given), "-o", str(out)]) != 0
        assert "lib.002.ltz of this set is missing" in capsys.readouterr().err
        assert not out.exists() or not any(out.iterdir())


def test_adding_to_one_volume_of_a_set_is_refused(tmp_path):
    _, archive = _split_set(tmp_path)
    first = volume_path(archive, 1)
    before = first.read_bytes()
    (tmp_path / "new.txt").write_text("new")
    with pytest.raises(InputError, match="one volume of a set"):
        engine.add(first, [tmp_path / "new.txt"])
    assert first.read_bytes() == before


def test_a_temporary_volume_a_killed_run_left_is_named_and_kept(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _random_files(src)
    archive = tmp_path / "lib.ltz"
    left = tmp_path / ".lib.002.ltz.999999999.partial"  # no such process
    left.write_bytes(b"half a volume")
    report = engine.compress([src], archive, engine.CompressOptions(images="lossless", split_every=7000))
    assert any(str(left) in note and "delete it" in note for _, note in report.warnings)
    assert left.read_bytes() == b"half a volume"


def test_a_set_of_more_volumes_than_the_open_file_limit_extracts(tmp_path):
    """Every volume stays open from the plan to the last write: extract raises the soft limit (macOS: 256)."""
    resource = pytest.importorskip("resource")
    src = tmp_path / "in"
    src.mkdir()
    for i in range(150):
        (src / f"f{i:03d}.bin").write_bytes(os.urandom(300))
    archive = tmp_path / "lib.ltz"
    report = engine.compress([src], archive, engine.CompressOptions(images="lossless", split_every=400))
    assert len(report.volumes) >= 150
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (100, hard))
    try:
        engine.extract(volumes_of(volume_path(archive, 1)), tmp_path / "out")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(list((tmp_path / "out" / "in").iterdir())) == 150


def test_cluster_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    src = library(tmp_path / "in")
    archive = tmp_path / "x.ltz"
    assert cli.main(["compress", str(src), "-o", str(archive), "--cluster", "ray", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert 'pip install "latentzip[cluster]"' in err and "Traceback" not in err
    assert not archive.exists() and not list(tmp_path.glob(".x.ltz*"))
    assert cli.main(["extract", str(archive), "--cluster", "ray://head:10001"]) == 1
    assert 'pip install "latentzip[cluster]"' in capsys.readouterr().err


@pytest.mark.parametrize("floor", [None, 1.0], ids=["coded", "kept exactly"])  # 1.0: every image falls back
def test_a_worker_codes_from_the_bytes_it_is_sent_never_from_the_disk(tmp_path, floor):
    src = library(tmp_path / "in")
    policy = EncodePolicy(engine.CompressOptions(checkpoint="C", precision="auto", quality_floor=floor))
    model = engine.default_registry().get(None, "auto")
    members = scan_inputs([src]).members
    jobs = [(p, cluster_mod._image_job(p)) for p in (prepare_member(m, policy) for m in members)]
    sent = [(p, job) for p, job in jobs if job is not None]
    assert {p.member.name for p, _ in sent} >= {"PHOTOS/scene.png", "PHOTOS/nested/camera.jpg", "PHOTOS/broken.jpg"}
    assert all(
        p.member.kind != "file" or p.member.path.suffix in (".txt", ".bin", ".dat") for p, job in jobs if not job
    )
    here = [encode_member(p, policy, model) for p, _ in sent]
    src.rename(tmp_path / "moved")  # as on another machine: none of the files is there
    worker = cluster_mod._Worker([], None)
    there = [worker.encode(job[0], policy, model.content_hash, job[1]) for _, job in sent]
    assert there == here
    kinds = {e.outcome.kind for e in here if e.outcome is not None}
    assert ("lossless-jpeg" in kinds) if floor else ("lossy" in kinds)


# ---- on a local Ray cluster ----


@pytest.fixture(scope="module")
def local_ray():
    if ray is None:
        pytest.skip('Ray is not installed (pip install "latentzip[cluster]")')
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _compress_args(src: Path, archive: Path) -> list[str]:
    return ["compress", str(src), "-o", str(archive), "-q", "C", "--quiet"]


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory):
    """The library, its archive written on this machine, and that archive extracted here."""
    root = tmp_path_factory.mktemp("one")
    src = library(root / "in")
    archive = root / "alone.ltz"
    assert cli.main(_compress_args(src, archive)) == 0
    kinds = {r.kind for r in engine.list_entries(archive)}
    assert {EntryKind.IMAGE, EntryKind.DUPLICATE, EntryKind.LZMA} <= kinds
    out = root / "out"
    engine.extract(archive, out)
    return src, archive, out


@pytest.mark.ray
@needs_ray
def test_archive_through_ray_is_byte_identical_and_so_is_its_extraction(local_ray, one_machine, tmp_path):
    src, alone, alone_out = one_machine
    archive = tmp_path / "ray.ltz"
    assert cli.main([*_compress_args(src, archive), "--cluster", "ray", "--cluster-workers", "2"]) == 0
    assert archive.read_bytes() == alone.read_bytes()
    assert local_ray.is_initialized(), "a Ray the caller started is left running"
    out = tmp_path / "out"
    assert cli.main(["extract", str(archive), "-o", str(out), "--cluster", "ray", "--quiet"]) == 0
    before, after = all_files(alone_out), all_files(out)
    assert set(before) == set(after)
    for rel, path in before.items():
        if path.is_file() and not path.is_symlink():
            assert (out / rel).read_bytes() == path.read_bytes(), rel


def _with_undecodable_image(archive: Path, damaged: Path) -> str:
    """A copy of ``archive`` whose first coded image's bitstream is garbled (its crc made to match)."""
    with ArchiveReader.open(archive) as reader, open(damaged, "xb") as fh, ArchiveWriter(fh) as writer:
        victim = ""
        for record in reader.entries:
            payload = reader.read_payload(record)
            if record.kind == EntryKind.IMAGE and not victim:
                image = ImagePayload.from_bytes(payload)
                bitstream = image.bitstream[:12] + bytes(b ^ 0x5A for b in image.bitstream[12:])
                payload, victim = ImagePayload(bitstream, image.metadata, image.alpha_png).to_bytes(), record.path
            writer.add(record.header(), payload)
    return victim


@pytest.mark.ray
@needs_ray
def test_an_image_a_worker_cannot_decode_is_reported_in_its_place(local_ray, one_machine, tmp_path):
    _, alone, _ = one_machine
    damaged = tmp_path / "damaged.ltz"
    victim = _with_undecodable_image(alone, damaged)
    options = engine.ExtractOptions(keep_going=True)
    here = engine.extract(damaged, tmp_path / "here", options)
    decoder = cluster_mod.RayDecoder(cluster_mod.RayCluster(), workers=2)
    try:
        there = engine.extract([damaged], tmp_path / "there", options, decoder=decoder)
    finally:
        decoder.close()
    assert victim in {name for name, _ in here.failed} and here.written  # it (and its duplicates) refused, not all
    assert there.failed == here.failed and there.written == here.written


@pytest.mark.ray
@needs_ray
def test_a_worker_killed_mid_image_is_replaced_and_the_archive_is_the_same(
    local_ray, one_machine, tmp_path, monkeypatch
):
    src, alone, _ = one_machine
    marker = tmp_path / "worker-died"
    monkeypatch.setenv(cluster_mod.FAULT_ENV, str(marker))  # the first worker to take an image ends its process
    encoder = cluster_mod.RayEncoder(cluster_mod.RayCluster(), workers=2)
    try:
        archive = tmp_path / "faulty.ltz"
        engine.compress([src], archive, CHECKPOINT_C, encoder=encoder)
    finally:
        encoder.close()
    assert marker.is_file(), "no worker was killed"
    assert archive.read_bytes() == alone.read_bytes()


@pytest.mark.ray
@needs_ray
def test_interrupted_on_the_coordinator_no_archive_and_the_workers_stop(local_ray, one_machine, tmp_path):
    src, _, _ = one_machine
    encoder = cluster_mod.RayEncoder(cluster_mod.RayCluster(), workers=2)
    pids: list[int] = []

    class Interrupting(engine.NullSink):
        def progress(self, event):
            if event.files_done == 3:
                pids.extend(encoder.worker_pids())
                raise KeyboardInterrupt

    archive = tmp_path / "cut.ltz"
    with pytest.raises(KeyboardInterrupt):
        engine.compress([src], archive, CHECKPOINT_C, Interrupting(), encoder=encoder)
    assert not archive.exists() and not list(tmp_path.glob(".cut.ltz*"))
    assert len(pids) == 2
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "the workers still run"
    encoder.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
