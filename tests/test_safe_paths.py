"""Hostile archives (with valid checksums) and path safety."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import PurePosixPath, PureWindowsPath

import hostile
import pytest

from latentzip.codec.api.errors import ArchiveFormatError, ArchiveLimitError, TruncatedArchiveError, UnsafePathError
from latentzip.codec.container import (
    ArchiveReader,
    Limits,
    check_archive_name,
    check_link_target,
    check_symlink_target,
    normalize_archive_name,
    safe_target,
    scan_entries,
)

pytestmark = pytest.mark.security

HOSTILE_NAMES = [
    "../evil",
    "/etc/passwd",
    "a/../../x",
    "C:\\x",
    "a\\..\\..\\x",
    "a\x00b",
    "x" * 300,
    "a/" + "y" * 256,
    "C:x",
    "c:/x",
    "//server/share",
    "a//b",
    "./a",
    "a/./b",
    "a/",
    "",
    ".",
    "..",
    "a\x1bb",
    "a\nb",
]
WINDOWS_ONLY = [
    "CON",
    "con.txt",
    "a/aux",
    "NUL.tar.gz",
    "COM1",
    "lpt9.x",
    "a?b",
    "a<b",
    'a"b',
    "a|b",
    "a*b",
    "ab:c",
    "trail.",
    "trail ",
    "dir./x",
]


def open_bytes(data: bytes, limits: Limits = Limits()) -> ArchiveReader:
    return ArchiveReader(io.BytesIO(data), limits=limits)


def read_everything(data: bytes, limits: Limits = Limits()) -> None:
    with open_bytes(data, limits) as reader:
        reader.verify_all()
        for record in reader:
            reader.read_payload(record)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_everywhere(tmp_path, name):
    with pytest.raises(UnsafePathError):
        check_archive_name(name)
    with pytest.raises(UnsafePathError):
        safe_target(tmp_path, name)
    data = hostile.build([hostile.stored("ok.txt", b"fine"), hostile.stored(name, b"evil")])
    with pytest.raises(UnsafePathError):
        open_bytes(data)
    path = tmp_path / "h.ltz"
    path.write_bytes(data)
    results = list(scan_entries(path))
    assert [r.path for r, _ in results if r] == ["ok.txt"]
    assert isinstance(results[1][1], UnsafePathError)
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("name", WINDOWS_ONLY)
def test_windows_rules(name):
    check_archive_name(name, windows=False)
    with pytest.raises(UnsafePathError):
        check_archive_name(name, windows=True)


@pytest.mark.parametrize("name", ["a", "a/b/c.txt", "ünï/日本語 📷.png", "a..b", "...x", ".hidden", "x" * 255])
def test_ordinary_names_pass(tmp_path, name):
    check_archive_name(name, windows=True)
    assert safe_target(tmp_path, name) == tmp_path.resolve().joinpath(*name.split("/"))


def test_undecodable_names(tmp_path):
    with pytest.raises(UnsafePathError):
        check_archive_name("bad\udcff")
    with pytest.raises(UnsafePathError):
        normalize_archive_name("bad\udcff")
    data = hostile.build([hostile.stored("bad\udcff", b"x")])  # surrogatepass: invalid UTF-8 on disk
    with pytest.raises(ArchiveFormatError):
        open_bytes(data)


def test_normalize_archive_name():
    assert normalize_archive_name("a/./b//c/") == "a/b/c"
    assert normalize_archive_name(PurePosixPath("a/b")) == "a/b"
    assert normalize_archive_name(PureWindowsPath("a\\b\\c.txt")) == "a/b/c.txt"
    for bad in [
        "/abs",
        "a/../b",
        "..",
        "",
        ".",
        "a\\b",
        PureWindowsPath("C:\\x"),
        PureWindowsPath("C:x"),
        PurePosixPath("/etc"),
        PureWindowsPath("\\\\srv\\share\\x"),
    ]:
        with pytest.raises(UnsafePathError):
            normalize_archive_name(bad)


def test_symlink_entry_pointing_outside_is_refused(tmp_path):
    data = hostile.build(
        [(hostile.header("link", 5, link="../../outside"), b""), hostile.stored("link/file", b"payload")]
    )
    with pytest.raises(UnsafePathError):
        open_bytes(data)
    with pytest.raises(UnsafePathError):
        check_symlink_target(tmp_path, "link", "../../outside")


@pytest.mark.parametrize("order", [0, 1])
def test_file_through_symlink_entry_is_refused(tmp_path, order):
    items = [(hostile.header("link", 5, link="sub"), b""), hostile.stored("link/file", b"payload")]
    data = hostile.build(items if order == 0 else items[::-1])
    with pytest.raises(UnsafePathError):
        open_bytes(data)
    path = tmp_path / "h.ltz"
    path.write_bytes(data)
    errors = [e for _, e in scan_entries(path) if e]
    assert len(errors) == 1 and isinstance(errors[0], UnsafePathError)


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")
def test_safe_target_never_writes_through_existing_links(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "real").mkdir()
    (root / "real" / "inner").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "f")
    for name in ["link/file", "real/inner/file", "real/inner/deeper/file", "filelink"]:
        with pytest.raises(UnsafePathError):
            safe_target(root, name)
    assert safe_target(root, "filelink", allow_existing_link=True) == root.resolve() / "filelink"
    assert safe_target(root, "real/new/file") == root.resolve() / "real" / "new" / "file"


@pytest.mark.parametrize(
    "name, target",
    [
        ("l", "../x"),
        ("a/l", "../../x"),
        ("l", "/etc/passwd"),
        ("l", "C:/x"),
        ("l", "a\\..\\..\\x"),
        ("l", "x/../../y"),
        ("deep/l2", "l1/../y"),
        ("l", ""),
        ("l", "a\x00b"),
    ],
)
def test_bad_link_targets(tmp_path, name, target):
    with pytest.raises(UnsafePathError):
        check_link_target(name, target)
    with pytest.raises(UnsafePathError):
        check_symlink_target(tmp_path, name, target)


@pytest.mark.parametrize(
    "name, target", [("l", "x"), ("a/l", "../x"), ("a/b/l", "../../x/y"), ("a/l", ".."), ("l", "./x/y/")]
)
def test_good_link_targets(tmp_path, name, target):
    check_link_target(name, target)
    check_symlink_target(tmp_path, name, target)


class _Peak:
    """Asserts that the block allocates less than ``limit`` bytes at its peak."""

    def __init__(self, limit: int = 8 << 20) -> None:
        self.limit = limit

    def __enter__(self) -> None:
        tracemalloc.start()

    def __exit__(self, *exc: object) -> None:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < self.limit, f"allocated {peak} bytes"


def test_huge_payload_len_in_index_and_entry(tmp_path):
    data = hostile.build([hostile.stored("a", b"x"), (hostile.header("big", 3, 1), b"abc")], payload_lens={1: 1 << 62})
    with _Peak(), pytest.raises(ArchiveFormatError, match="impossible position"):
        open_bytes(data)
    path = tmp_path / "h.ltz"
    path.write_bytes(data)
    with _Peak():
        results = list(scan_entries(path))
    assert [r.path for r, _ in results if r] == ["a"]
    assert isinstance(results[1][1], TruncatedArchiveError)


def test_huge_payload_len_on_disk_only():
    def edit(objs):
        objs[0]["payload_len"] = 3

    data = hostile.build([(hostile.header("big", 3, 1), b"abc")], payload_lens={0: 1 << 60}, edit_index=edit)
    with open_bytes(data) as reader, _Peak(), pytest.raises(TruncatedArchiveError):
        reader.read_payload(reader.entries[0])


@pytest.mark.parametrize("header_len, error", [(0xFFFFFFFF, ArchiveLimitError), ((1 << 20) - 1, TruncatedArchiveError)])
def test_huge_header_len(tmp_path, header_len, error):
    data = hostile.build([hostile.stored("a", b"x")], header_lens={0: header_len})
    with open_bytes(data) as reader, _Peak(), pytest.raises(error):
        reader.read_payload(reader.entries[0])
    path = tmp_path / "h.ltz"
    path.write_bytes(data)
    with _Peak():
        errors = [e for r, e in scan_entries(path)]
    assert isinstance(errors[0], error)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"index_len": 0xFFFFFFFF}, ArchiveLimitError),
        ({"index_len": 1000}, ArchiveFormatError),
        ({"index_offset": 1 << 63}, ArchiveFormatError),
        ({"index_offset": 0}, ArchiveFormatError),
    ],
)
def test_hostile_trailer(kwargs, error):
    data = hostile.build([hostile.stored("a", b"x")], **kwargs)
    with _Peak(), pytest.raises(error):
        open_bytes(data)


def test_index_zip_bomb_is_refused():
    bomb = b"[" + b" " * (16 << 20) + b"]"  # 16 MiB of JSON that compresses to ~16 KiB
    data = hostile.build([], raw_index=bomb)
    del bomb
    with _Peak(4 << 20), pytest.raises(ArchiveLimitError):
        open_bytes(data, Limits(max_index_raw_len=1 << 20))


def test_entry_count_cap():
    data = hostile.build([hostile.stored(f"f{i}", b"") for i in range(5)])
    with pytest.raises(ArchiveLimitError):
        open_bytes(data, Limits(max_entries=3))
    assert len(open_bytes(data, Limits(max_entries=5))) == 5


@pytest.mark.parametrize(
    "edit",
    [
        lambda objs: objs.append(dict(objs[0])),  # duplicate path
        lambda objs: objs[0].update(kind=99),
        lambda objs: objs[0].update(kind=True),
        lambda objs: objs[0].update(size=-1),
        lambda objs: objs[0].update(mode=1 << 20),
        lambda objs: objs[0].update(crc=1 << 40),
        lambda objs: objs[0].update(offset="10"),
        lambda objs: objs[0].update(link="x"),  # a link on a file entry
        lambda objs: objs[0].pop("mtime_ns"),
        lambda objs: [objs[0], 5],
        lambda objs: {"not": "a list"},
        lambda objs: objs[::-1],  # offsets out of order
    ],
)
def test_malformed_index_items(edit):
    data = hostile.build([hostile.stored("a", b"x"), hostile.stored("b", b"y")], edit_index=edit)
    with pytest.raises(ArchiveFormatError):
        read_everything(data)


def test_hostile_header_duplicate_keys_and_nan():
    data = hostile.build([hostile.stored("a", b"x")], raw_index=b'[{"path":"a","path":"b"}]')
    with pytest.raises(ArchiveFormatError, match="duplicate key"):
        open_bytes(data)
    data = hostile.build([hostile.stored("a", b"x")], raw_index=b'[{"x":NaN}]')
    with pytest.raises(ArchiveFormatError):
        open_bytes(data)
