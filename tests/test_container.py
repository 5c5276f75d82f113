"""The archive container: round trips, corruption, truncation, salvage, versioning."""

from __future__ import annotations

import io
import lzma
import os
import struct
import zlib

import pytest
from hostile import rewrite_index

from latentzip.codec.api.errors import (
    ArchiveFormatError,
    ChecksumError,
    LatentzipError,
    TruncatedArchiveError,
    UnsafePathError,
    UnsupportedVersionError,
)
from latentzip.codec.container import (
    ArchiveReader,
    ArchiveWriter,
    EntryKind,
    EntryRecord,
    iter_salvaged_payload,
    scan_entries,
)
from latentzip.codec.container.crc import crc32_combine
from latentzip.codec.container.format import TRAILER, TRAILER_LEN


def head(path: str, kind: EntryKind = EntryKind.STORED, size: int = 0, **extra: object) -> dict[str, object]:
    return {"path": path, "kind": kind, "size": size, "mtime_ns": 1_700_000_000_123_456_789, "mode": 0o644, **extra}


def small_archive() -> bytes:
    buf = io.BytesIO()
    with ArchiveWriter(buf) as w:
        w.add(head("a.txt", size=5), b"hello")
        w.add(head("dir", EntryKind.DIRECTORY))
        w.add(head("dir/b.bin", EntryKind.IMAGE, 9, width=3, height=1, model="m1"), b"\x00\x01\x02" * 3)
    return buf.getvalue()


def open_and_verify(data: bytes) -> None:
    with ArchiveReader(io.BytesIO(data)) as reader:
        reader.verify_all()
        for record in reader:
            reader.read_payload(record)


def test_round_trip(tmp_path):
    big = os.urandom(1 << 16) * 80  # 5 MiB, streamed in 64 KiB chunks
    text = "ünïcødé text ".encode() * 100
    packed = lzma.compress(text, format=lzma.FORMAT_XZ)
    path = tmp_path / "t.ltz"
    with open(path, "w+b") as f, ArchiveWriter(f) as w:
        w.add(head("ünïcødé/日本語 📷.txt", size=3), b"abc")
        w.add(head("empty", size=0))
        w.add(head("ünïcødé", EntryKind.DIRECTORY))
        w.add(head("text.txt", EntryKind.LZMA, len(text)), packed)
        w.add(head("ünïcødé/link", EntryKind.SYMLINK, link="日本語 📷.txt"))
        w.add_stream(
            head("big.img", EntryKind.IMAGE, 123, width=10, model={"id": "x", "v": [1, 2]}),
            (big[i : i + 65536] for i in range(0, len(big), 65536)),
        )
        written = w.records
    with ArchiveReader.open(path) as r:
        assert r.entries == written
        r.verify_all()
        assert r.read_payload(r.find("ünïcødé/日本語 📷.txt")) == b"abc"
        assert r.read_payload(r.find("empty")) == b""
        assert lzma.decompress(r.read_payload(r.find("text.txt"))) == text
        link = r.find("ünïcødé/link")
        assert link.kind is EntryKind.SYMLINK and link.link == "日本語 📷.txt"
        rec = r.find("big.img")
        assert rec.extra == {"width": 10, "model": {"id": "x", "v": [1, 2]}}
        assert rec.size == 123 and rec.payload_len == len(big)
        assert b"".join(r.iter_payload(rec, 1 << 20)) == big
        assert r.find("missing") is None


def test_empty_archive():
    buf = io.BytesIO()
    ArchiveWriter(buf).close()
    with ArchiveReader(io.BytesIO(buf.getvalue())) as r:
        assert len(r) == 0
        r.verify_all()


def test_crc32_combine():
    for la, lb in [(0, 0), (3, 0), (0, 7), (100, 8), (9, 70000)]:
        a, b = os.urandom(la), os.urandom(lb)
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), lb) == zlib.crc32(a + b)


def test_writer_refusals_keep_it_usable():
    buf = io.BytesIO()
    with ArchiveWriter(buf) as w:
        w.add(head("a", size=1), b"x")
        with pytest.raises(ArchiveFormatError, match="duplicate"):
            w.add(head("a", size=1), b"x")
        with pytest.raises(ArchiveFormatError, match="duplicate"):
            w.add(head("./a", size=1), b"x")  # normalized to "a"
        with pytest.raises(UnsafePathError):
            w.add(head("../x", size=1), b"x")
        with pytest.raises(UnsafePathError):
            w.add(head("a\\b", size=1), b"x")
        with pytest.raises(ArchiveFormatError):
            w.add({"path": "m", "kind": 1}, b"")  # missing keys
        with pytest.raises(ArchiveFormatError, match="reserved"):
            w.add(head("r", offset=1))
        with pytest.raises(ArchiveFormatError, match="unknown entry kind"):
            w.add(head("k", 99))
        with pytest.raises(ArchiveFormatError):
            w.add(head("s", size=5), b"abc")  # stored size mismatch
        with pytest.raises(ArchiveFormatError):
            w.add(head("d", EntryKind.DIRECTORY), b"abc")
        w.add(head("b", size=2), b"yz")
    with ArchiveReader(io.BytesIO(buf.getvalue())) as r:
        assert [e.path for e in r] == ["a", "b"]


def test_failed_stream_poisons_writer():
    buf = io.BytesIO()
    w = ArchiveWriter(buf)
    with pytest.raises(ArchiveFormatError):
        w.add_stream(head("s", size=5), [b"ab"])
    with pytest.raises(ArchiveFormatError, match="failed"):
        w.close()


def test_exception_in_with_block_writes_no_index(tmp_path):
    path = tmp_path / "x.ltz"
    with open(path, "wb") as f, pytest.raises(RuntimeError):
        with ArchiveWriter(f) as w:
            w.add(head("a", size=1), b"x")
            raise RuntimeError("boom")
    with pytest.raises(TruncatedArchiveError):
        ArchiveReader.open(path)
    records = [r for r, _ in scan_entries(path) if r]
    assert [r.path for r in records] == ["a"]


def test_every_single_bit_flip_is_detected():
    data = small_archive()
    open_and_verify(data)
    for pos in range(len(data)):
        for bit in {pos % 8, 7 - pos % 8}:
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            with pytest.raises(LatentzipError):
                open_and_verify(bytes(bad))


def test_every_truncation_is_refused():
    data = small_archive()
    for length in range(len(data)):
        with pytest.raises(ArchiveFormatError):
            open_and_verify(data[:length])


def index_offset(data: bytes) -> int:
    return TRAILER.unpack(data[-TRAILER_LEN:])[0]


@pytest.mark.parametrize("extra", [0, 3, 4, 20])
def test_scan_salvages_when_index_is_cut(tmp_path, extra):
    data = small_archive()
    with ArchiveReader(io.BytesIO(data)) as r:
        expected = r.entries
    path = tmp_path / "cut.ltz"
    path.write_bytes(data[: index_offset(data) + extra])
    with pytest.raises(ArchiveFormatError):
        ArchiveReader.open(path)
    results = list(scan_entries(path))
    assert tuple(r for r, _ in results if r) == expected
    errors = [e for _, e in results if e]
    assert len(errors) == (1 if extra < 4 else 0)
    assert all(isinstance(e, TruncatedArchiveError) for e in errors)
    assert b"".join(iter_salvaged_payload(path, expected[2])) == b"\x00\x01\x02" * 3


def test_scan_reports_damage_and_resynchronises(tmp_path):
    data = bytearray(small_archive())
    with ArchiveReader(io.BytesIO(bytes(data))) as r:
        first, second, third = r.entries
    data[first.offset + 40] ^= 0x10  # inside the first entry's header JSON
    data[third.offset + 4] ^= 0xFF  # third entry's header_len
    path = tmp_path / "bad.ltz"
    path.write_bytes(bytes(data))
    results = list(scan_entries(path))
    assert [r for r, _ in results if r] == [second]
    assert len([e for _, e in results if e]) == 2


def test_scan_truncated_tail_yields_one_error(tmp_path):
    data = small_archive()
    with ArchiveReader(io.BytesIO(data)) as r:
        last = r.entries[-1]
    path = tmp_path / "tail.ltz"
    path.write_bytes(data[: last.offset + 60])
    results = list(scan_entries(path))
    assert [r.path for r, _ in results if r] == ["a.txt", "dir"]
    errors = [e for _, e in results if e]
    assert len(errors) == 1 and isinstance(errors[0], TruncatedArchiveError)


def test_scan_checksum_error_names_entry(tmp_path):
    data = bytearray(small_archive())
    with ArchiveReader(io.BytesIO(bytes(data))) as r:
        rec = r.entries[0]
    data[rec.offset + rec_payload_start(bytes(data), rec)] ^= 1
    path = tmp_path / "crc.ltz"
    path.write_bytes(bytes(data))
    with ArchiveReader.open(path) as r, pytest.raises(ChecksumError) as info:
        r.read_payload(r.entries[0])
    assert info.value.name == "a.txt"
    results = list(scan_entries(path))
    assert isinstance(results[0][1], ChecksumError)
    assert [r.path for r, _ in results if r] == ["dir", "dir/b.bin"]


def rec_payload_start(data: bytes, rec: EntryRecord) -> int:
    (header_len,) = struct.unpack("<I", data[rec.offset + 4 : rec.offset + 8])
    return 8 + header_len + 8


def test_newer_version_is_refused(tmp_path):
    data = bytearray(small_archive())
    data[6:8] = struct.pack("<H", 3)
    with pytest.raises(UnsupportedVersionError, match="newer"):
        ArchiveReader(io.BytesIO(bytes(data)))
    path = tmp_path / "v3.ltz"
    path.write_bytes(bytes(data))
    results = list(scan_entries(path))
    assert len(results) == 1 and isinstance(results[0][1], UnsupportedVersionError)


@pytest.mark.parametrize(
    "field, value", [("mode", 0o777), ("path", "other.txt"), ("size", 6), ("width", 4), ("offset", None)]
)
def test_tampered_index_with_valid_crc_is_caught(field, value):
    data = small_archive()

    def edit(objs):
        target = objs[0] if field != "width" else objs[2]
        if field == "offset":  # point entry 0 at entry 1's bytes
            objs[0]["offset"], objs[0]["payload_len"], objs[0]["size"] = objs[1]["offset"], 0, 0
            objs[0]["crc"] = objs[1]["crc"]
            del objs[1]
        else:
            target[field] = value
        if field == "size":
            target["payload_len"] = value

    tampered = rewrite_index(data, edit)
    with pytest.raises(ArchiveFormatError):
        open_and_verify(tampered)
