"""codec/entries: encode_member is pure and picklable, the sinks agree, the image header is typed."""

from __future__ import annotations

import io
import pickle
from concurrent.futures import ProcessPoolExecutor

from test_engine_roundtrip import make_mixed_folder

from latentzip.codec import engine
from latentzip.codec.container import ArchiveWriter, EntryKind
from latentzip.codec.container.format import FILE_HEADER_LEN
from latentzip.codec.entries.encode import EncodePolicy, PreparedMember, encode_member, prepare_member
from latentzip.codec.entries.entry import EncodedEntry
from latentzip.codec.entries.image import ImageHeader
from latentzip.codec.entries.sink import SizeCounter, WriterSink
from latentzip.codec.ops.scan import scan_inputs
from latentzip.codec.runtime.model_set import default_registry

LOSSY = engine.CompressOptions(checkpoint="C", quality_floor=0.0)


def _encoded(folder, options, model=None) -> list[EncodedEntry]:
    policy = EncodePolicy(options)
    return [encode_member(prepare_member(m, policy), policy, model) for m in scan_inputs([folder]).members]


def _lossless(prepared: PreparedMember) -> EncodedEntry:
    return encode_member(prepared, EncodePolicy(engine.CompressOptions(images="lossless")))


def test_encoded_entries_pickle_and_write_nothing(tmp_path):
    folder = make_mixed_folder(tmp_path / "in")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    model = default_registry().get(None)
    entries = _encoded(folder, LOSSY, model)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    kinds = {e.name: e.header["kind"] for e in entries if e.header is not None}
    assert kinds["PHOTOS/scene.png"] == EntryKind.IMAGE
    assert kinds["PHOTOS/notes.txt"] == EntryKind.LZMA
    assert kinds["PHOTOS/link-to-notes"] == EntryKind.SYMLINK
    assert kinds["PHOTOS/empty folder"] == EntryKind.DIRECTORY
    notes = next(e for e in entries if e.name == "PHOTOS/notes.txt")
    assert notes.stream is not None and notes.payload == b""  # streamed from the file when written
    assert notes.stream.path == folder / "notes.txt"
    for entry in entries:
        assert pickle.loads(pickle.dumps(entry)) == entry


def test_encode_member_runs_in_another_process(tmp_path):
    folder = make_mixed_folder(tmp_path / "in")
    policy = EncodePolicy(engine.CompressOptions(images="lossless"))
    prepared = [prepare_member(m, policy) for m in scan_inputs([folder]).members]
    with ProcessPoolExecutor(max_workers=1) as pool:
        remote = list(pool.map(_lossless, prepared))
    assert remote == [_lossless(p) for p in prepared]
    assert any(e.header is not None and e.header["kind"] == EntryKind.JPEG_REPACK for e in remote)


def test_size_counter_counts_what_the_writer_writes(tmp_path):
    folder = make_mixed_folder(tmp_path / "in")
    entries = _encoded(folder, engine.CompressOptions(images="lossless"))
    counter = SizeCounter()
    counted = [counter.write(e) for e in entries]
    fh = io.BytesIO()
    writer = ArchiveWriter(fh)
    sink = WriterSink(writer)
    written = [sink.write(e) for e in entries]
    assert counter.total == fh.tell() - FILE_HEADER_LEN
    assert counter.entries == len(writer.records) == len(entries)
    assert counted == written  # the same outcomes, stored sizes included
    stored = next(o for o in written if o is not None and o.name == "PHOTOS/notes.txt")
    assert 0 < stored.stored_size < stored.original_size  # the stream's LZMA size, known once written


def test_image_header_is_what_compress_writes(tmp_path):
    folder = make_mixed_folder(tmp_path / "in")
    archive = tmp_path / "a.ltz"
    engine.compress([folder], archive, LOSSY)
    images = [r for r in engine.list_entries(archive) if r.kind == EntryKind.IMAGE]
    assert {r.path for r in images} >= {"PHOTOS/scene.png", "PHOTOS/nested/gray.png", "PHOTOS/nested/camera.jpg"}
    base = {"path", "kind", "size", "mtime_ns", "mode", "sha256"}
    for record in images:
        header = record.header()
        fields = ImageHeader.from_header(header, record.path)
        assert {k: v for k, v in header.items() if k not in base} == fields.to_header()
        assert ImageHeader.from_header(fields.to_header()) == fields
    gray = next(r for r in images if r.path.endswith("gray.png"))
    assert ImageHeader.from_header(gray.header()).grayscale
    camera = next(r for r in images if r.path.endswith("camera.jpg"))
    assert ImageHeader.from_header(camera.header()).jpeg_tables is not None
