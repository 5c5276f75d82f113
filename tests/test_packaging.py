"""The packaging helpers without a build: what the bundle keeps, the entry's arguments, ICU data trimming.

The frozen app itself is tested by `make package-test` (packaging/test_bundle.py).
"""

from __future__ import annotations

import importlib.util
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bundle_filter = _load("bundle_filter")
entry = _load("entry")
icu_trim = _load("icu_trim")

QT = "PySide6/Qt"


def test_plugins_kept_and_dropped():
    keep = bundle_filter.plugin_kept
    assert keep(f"{QT}/plugins/platforms/libqoffscreen.so") is True
    assert keep(f"{QT}/plugins/platforms/libqxcb.so") is True
    assert keep("PySide6/plugins/platforms/qwindows.dll") is True
    assert keep(f"{QT}/plugins/platforms/libqeglfs.so") is False
    assert keep(f"{QT}/plugins/imageformats/libqjpeg.so") is True
    assert keep(f"{QT}/plugins/imageformats/libqpdf.so") is False  # would bring QtPdf
    assert keep(f"{QT}/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so") is False  # QtQuick
    assert keep(f"{QT}/plugins/platformthemes/libqgtk3.so") is False
    assert keep(f"{QT}/plugins/qmltooling/libqmldbg_server.so") is False
    assert keep(f"{QT}/plugins/styles/libqmodernwindowsstyle.so") is True
    assert keep(f"{QT}/lib/libQt6Core.so.6") is None
    assert keep("numpy/_core/_multiarray_umath.so") is None


def test_qt_and_system_libraries_kept_only_when_linked():
    binaries = [
        ("PySide6/QtWidgets.abi3.so", "/w/PySide6/QtWidgets.abi3.so", "EXTENSION"),
        (f"{QT}/lib/libQt6Widgets.so.6", "/w/Qt/lib/libQt6Widgets.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Gui.so.6", "/w/Qt/lib/libQt6Gui.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Core.so.6", "/w/Qt/lib/libQt6Core.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Pdf.so.6", "/w/Qt/lib/libQt6Pdf.so.6", "BINARY"),
        (f"{QT}/lib/libQt6Quick.so.6", "/w/Qt/lib/libQt6Quick.so.6", "BINARY"),
        (f"{QT}/plugins/imageformats/libqpdf.so", "/w/Qt/plugins/imageformats/libqpdf.so", "BINARY"),
        (f"{QT}/plugins/platforms/libqxcb.so", "/w/Qt/plugins/platforms/libqxcb.so", "BINARY"),
        (f"{QT}/plugins/styles/libquickstyle.so", "/w/Qt/plugins/styles/libquickstyle.so", "BINARY"),
        ("libxcb-cursor.so.0", "/usr/lib/libxcb-cursor.so.0", "BINARY"),
        ("libcairo.so.2", "/usr/lib/libcairo.so.2", "BINARY"),  # only the dropped gtk3 theme used it
        ("libstdc++.so.6", "/usr/lib/libstdc++.so.6", "BINARY"),  # always from the system
        ("libpython3.11.so.1.0", "/usr/lib/libpython3.11.so.1.0", "BINARY"),
    ]
    links = {
        "/w/PySide6/QtWidgets.abi3.so": ["libQt6Widgets.so.6", "libQt6Gui.so.6", "libstdc++.so.6"],
        "/w/Qt/lib/libQt6Widgets.so.6": ["libQt6Gui.so.6"],
        "/w/Qt/lib/libQt6Gui.so.6": ["libQt6Core.so.6"],
        "/w/Qt/plugins/imageformats/libqpdf.so": ["libQt6Pdf.so.6"],
        "/w/Qt/lib/libQt6Pdf.so.6": ["libQt6Quick.so.6"],
        "/w/Qt/plugins/platforms/libqxcb.so": ["libxcb-cursor.so.0", "libQt6Gui.so.6"],
        "/w/Qt/plugins/styles/libquickstyle.so": ["libQt6Quick.so.6"],  # a kept folder, but needs QtQuick
    }

    def get_imports(path):
        if path.endswith("libQt6Core.so.6"):
            raise ValueError("unreadable")  # tolerated
        return [(n, None) for n in links.get(path, [])]

    kept, dropped = bundle_filter.filter_binaries(binaries, get_imports, linux=True)
    names = {Path(e[0]).name for e in kept}
    assert names == {
        "QtWidgets.abi3.so",
        "libQt6Widgets.so.6",
        "libQt6Gui.so.6",
        "libQt6Core.so.6",
        "libqxcb.so",
        "libxcb-cursor.so.0",
        "libpython3.11.so.1.0",
    }
    assert set(dropped) == {
        "libQt6Pdf.so.6",
        "libQt6Quick.so.6",
        "libqpdf.so",
        "libcairo.so.2",
        "libstdc++.so.6",
        "libquickstyle.so",
    }
    # elsewhere system libraries are not pruned (Windows and macOS keep their own rules)
    kept_win, _ = bundle_filter.filter_binaries(binaries, get_imports, linux=False)
    assert "libcairo.so.2" in {Path(e[0]).name for e in kept_win}


def test_datas_drop_qt_translations_and_dangling_links():
    binaries = [(f"{QT}/lib/libQt6Core.so.6", "/x", "BINARY")]
    datas = [
        (f"{QT}/translations/qtbase_de.qm", "/y", "DATA"),
        ("latentzip/resources/models/default.json", "/z", "DATA"),
        ("libQt6Core.so.6", f"{QT}/lib/libQt6Core.so.6", "SYMLINK"),
        ("libQt6Network.so.6", f"{QT}/lib/libQt6Network.so.6", "SYMLINK"),  # its target was dropped
        ("libQt6Core.so", "libQt6Core.so.6", "SYMLINK"),  # a link to a kept link
    ]
    out = {d[0] for d in bundle_filter.filter_datas(datas, binaries)}
    assert out == {"latentzip/resources/models/default.json", "libQt6Core.so.6", "libQt6Core.so"}


@pytest.mark.parametrize(
    "argv, windowed, expected",
    [
        ([], False, []),
        ([], True, ["gui"]),
        (["-psn_0_12345"], True, ["gui"]),
        (["/home/me/photos.ltz"], True, ["gui", "/home/me/photos.ltz"]),
        (["/home/me/photos.ltz"], False, ["/home/me/photos.ltz"]),
        (["extract", "a.ltz"], True, ["extract", "a.ltz"]),
        (["--version"], True, ["--version"]),
    ],
)
def test_entry_arguments(argv, windowed, expected):
    assert entry._arguments(argv, windowed) == expected


def test_entry_not_windowed_from_source():
    assert entry._windowed() is False  # not frozen


def _package(items: dict[str, bytes]) -> bytes:
    header = struct.pack("<HBB", 32, 0xDA, 0x27) + struct.pack("<HHBBBB", 20, 0, 0, 0, 2, 0)
    header += b"CmnD" + b"\1\0\0\0"
    header += b"\0" * (32 - len(header))
    return icu_trim._join(header, sorted(items.items()))


def test_icu_package_trimmed_keeps_order_alignment_and_items():
    items = {
        "icudt73l/root.res": b"R" * 37,
        "icudt73l/brkitr/cjdict.dict": b"D" * 1000,
        "icudt73l/coll/de.res": b"C" * 50,
        "icudt73l/lang/de.res": b"L" * 300,
        "icudt73l/zone/de.res": b"Z" * 20,
    }
    blob = _package(items)
    header, parsed = icu_trim._split(blob)
    assert [n for n, _ in parsed] == sorted(items)
    assert icu_trim._join(header, parsed) == blob
    trimmed = icu_trim.trimmed_package(blob)
    _, kept = icu_trim._split(trimmed)
    assert [n for n, _ in kept] == ["icudt73l/coll/de.res", "icudt73l/root.res", "icudt73l/zone/de.res"]
    for name, data in kept:
        assert data.rstrip(b"\0") == items[name]
    (count,) = struct.unpack_from("<I", trimmed, 32)
    for i in range(count):
        _, offset = struct.unpack_from("<II", trimmed, 32 + 4 + 8 * i)
        assert (32 + offset) % 16 == 0
    with pytest.raises(ValueError):
        icu_trim.trimmed_package(b"\0" * 64)


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("cc"), reason="needs Linux and a C compiler")
def test_icu_library_rebuilt_with_the_symbol(tmp_path):
    blob = _package({"icudt73l/root.res": b"R" * 40, "icudt73l/lang/de.res": b"L" * 40})
    fake = tmp_path / "src" / "libicudata.so.73"
    fake.parent.mkdir()
    asm = tmp_path / "x.S"
    (tmp_path / "blob").write_bytes(blob)
    asm.write_text(
        f".section .rodata\n.globl icudt73_dat\n.type icudt73_dat,@object\n"
        f'.size icudt73_dat,{len(blob)}\nicudt73_dat:\n.incbin "{tmp_path / "blob"}"\n'
    )

    subprocess.run(["cc", "-shared", "-nostdlib", "-o", str(fake), str(asm)], check=True)
    out = icu_trim.build(fake, tmp_path / "out" / "libicudata.so.73")
    name, offset, size = icu_trim._symbol(out.read_bytes(), r"icudt\d+_dat")
    assert name == "icudt73_dat"
    _, items = icu_trim._split(out.read_bytes()[offset : offset + size])
    assert [n for n, _ in items] == ["icudt73l/root.res"]


def test_linux_desktop_entry_and_mime_type():
    desktop = (PACKAGING / "linux" / "latentzip.desktop").read_text()
    lines = [line for line in desktop.splitlines() if "=" in line and not line.startswith("#")]
    fields = dict(line.split("=", 1) for line in lines)
    assert fields["Exec"].startswith("latentzip gui ") and fields["Exec"].endswith("%f")
    assert "application/x-latentzip" in fields["MimeType"].split(";")
    assert fields["Icon"] == "latentzip" and fields["Type"] == "Application"
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(PACKAGING / "linux" / "latentzip-mime.xml").getroot()
    mime = root.find("m:mime-type", ns)
    assert mime.get("type") == "application/x-latentzip"
    assert mime.find("m:glob", ns).get("pattern") == "*.ltz"
