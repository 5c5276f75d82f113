"""What latentzip.spec keeps of PyInstaller's analysis: Qt plugins, Qt and system libraries.

PyInstaller's Qt hooks collect every plugin of each plugin type a Qt module may use, and with
them their libraries: imageformats/qpdf brings QtPdf, platforminputcontexts/virtualkeyboard
brings QtQuick and QtQml, platformthemes/gtk3 brings GTK's dependencies, and so on. The
filter here keeps a fixed list of plugins, then keeps a Qt library, or a system library that
PyInstaller copied into the bundle's top folder, only when a kept binary links to it
(directly or through other kept libraries). On Linux it also leaves out the libraries that
every desktop has and that must come from the system (the AppImage project's exclude list:
glibc's, the GL/X11/font stack, libstdc++, ...): bundling those breaks GPU drivers and font
configuration on other distributions.

Pure functions of PyInstaller TOC entries ``(dest, src, typecode)``, so tests can run them
without a build; ``get_imports(path) -> [(name, resolved_path or None)]`` is injected.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath

Entry = tuple[str, str, str]

# Qt plugins kept, by plugin folder; a set names the plugins kept there (file stem without
# "lib" and extension), None keeps the folder whole. Every other plugin folder is left out.
KEEP_PLUGINS: dict[str, set[str] | None] = {
    "platforms": {
        "qoffscreen",
        "qminimal",  # headless runs, the smoke test
        "qxcb",
        "qwayland",
        "qwayland-egl",
        "qwayland-generic",  # Linux desktops
        "qwindows",  # Windows
        "qcocoa",  # macOS
    },
    "platformthemes": {"qxdgdesktopportal"},  # portal file dialogs; qgtk3 would pull GTK in
    "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
    "imageformats": {"qjpeg", "qico", "qgif", "qicns"},  # PNG is built into QtGui
    "styles": None,  # Windows' and macOS' native styles
    "xcbglintegrations": None,
    "wayland-decoration-client": None,
    "wayland-shell-integration": {"xdg-shell", "qt-shell", "ivi-shell", "fullscreen-shell-v1"},  # no wl-shell
    "wayland-graphics-integration-client": None,
    "accessiblebridge": None,
}

# Qt libraries left out even if something links them.
DROP_QT_LIBS = re.compile(
    r"Qt6(Quick|Qml|Pdf|WebEngine|Multimedia|3D|VirtualKeyboard|Designer|Help|Labs|Lottie|Sql|Test|UiTools|"
    r"Charts|DataVis|Graphs|Positioning|Location|Sensors|ShaderTools|SpatialAudio|TextToSpeech|"
    r"WaylandCompositor|WlShell|Network)",
    re.IGNORECASE,
)

# Linux libraries that must come from the system (after AppImage's excludelist).
SYSTEM_ONLY = {
    "libstdc++.so.6",
    "libgcc_s.so.1",
    "libz.so.1",
    "libexpat.so.1",
    "libgpg-error.so.0",
    "libcom_err.so.2",
    "libuuid.so.1",
    "libasound.so.2",
    "libp11-kit.so.0",
    "libusb-1.0.so.0",
    "libjack.so.0",
    "libgmp.so.10",
    "libGL.so.1",
    "libGLX.so.0",
    "libGLdispatch.so.0",
    "libOpenGL.so.0",
    "libEGL.so.1",
    "libglapi.so.0",
    "libdrm.so.2",
    "libgbm.so.1",
    "libxcb.so.1",
    "libxcb-dri2.so.0",
    "libxcb-dri3.so.0",
    "libX11.so.6",
    "libICE.so.6",
    "libSM.so.6",
    "libfontconfig.so.1",
    "libfreetype.so.6",
    "libharfbuzz.so.0",
    "libfribidi.so.0",
    "libthai.so.0",
    "libpango-1.0.so.0",
    "libpangocairo-1.0.so.0",
    "libpangoft2-1.0.so.0",
    "libgdk_pixbuf-2.0.so.0",
    "libglib-2.0.so.0",
    "libgobject-2.0.so.0",
    "libgio-2.0.so.0",
    # Wayland's client libraries go with the system's EGL/Mesa; every Wayland desktop has them
    "libwayland-client.so.0",
    "libwayland-cursor.so.0",
    "libwayland-egl.so.1",
}


def plugin_kept(dest: str) -> bool | None:
    """For a Qt plugin's bundle path: keep it (True) or not (False); None when it is no Qt plugin."""
    parts = PurePath(dest.replace("\\", "/")).parts
    if "plugins" not in parts or not any(p.startswith(("PySide6", "Qt")) for p in parts):
        return None
    i = parts.index("plugins")
    if len(parts) < i + 3:  # a file directly in plugins/
        return None
    wanted = KEEP_PLUGINS.get(parts[i + 1], set())
    if wanted is None:
        return True
    stem = parts[-1].split(".")[0]
    return stem.removeprefix("lib") in wanted


def is_qt_lib(dest: str) -> bool:
    dest = dest.replace("\\", "/")
    return bool(re.match(r"(lib)?Qt6\w+(\.so|\.dll|\.dylib|$)", PurePath(dest).name)) or (
        ".framework/" in dest and "/Qt" in dest
    )


def _prunable(dest: str, linux: bool) -> bool:
    """Kept only when needed: Qt's libraries, and on Linux the top-level (system) libraries."""
    if is_qt_lib(dest):
        return True
    return linux and len(PurePath(dest).parts) == 1 and not dest.startswith("libpython")


def filter_binaries(
    binaries: Iterable[Entry], get_imports: Callable[[str], list[tuple[str, str | None]]], linux: bool
) -> tuple[list[Entry], list[str]]:
    """The binaries to bundle, and the names of those left out (see the module's docstring)."""
    entries = [e for e in binaries if plugin_kept(e[0]) is not False]
    if linux:
        entries = [e for e in entries if len(PurePath(e[0]).parts) != 1 or e[0] not in SYSTEM_ONLY]
    by_name = {PurePath(e[0]).name: e for e in entries if _prunable(e[0], linux)}
    links: dict[str, set[str]] = {}  # source path -> names of the prunable libraries it links to

    def linked(path: str) -> set[str]:
        if path not in links:
            try:
                imports = get_imports(path)
            except Exception:  # noqa: BLE001 (a file PyInstaller cannot parse links to nothing we track)
                imports = []
            names = {PurePath(n).name for pair in imports for n in pair if n}
            links[path] = {PurePath(by_name[n][0]).name for n in names if n in by_name}
        return links[path]

    # a plugin that needs a library left out on purpose (QtQuick, ...) goes too
    entries = [e for e in entries if not (plugin_kept(e[0]) and any(DROP_QT_LIBS.search(n) for n in linked(e[1])))]
    needed: set[str] = set()
    stack = [e[1] for e in entries if PurePath(e[0]).name not in by_name]
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in linked(path) - needed:
            needed.add(name)
            stack.append(by_name[name][1])
    kept = [
        e
        for e in entries
        if PurePath(e[0]).name not in by_name
        or (PurePath(e[0]).name in needed and not DROP_QT_LIBS.search(PurePath(e[0]).name))
    ]
    kept_set = set(kept)
    dropped = sorted(PurePath(e[0]).name for e in binaries if e not in kept_set)
    return kept, dropped


def filter_datas(datas: Iterable[Entry], binaries: Iterable[Entry]) -> list[Entry]:
    """Leave out Qt's translations (the app installs no QTranslator), QML files and Qt's other
    data, and the symbolic links PyInstaller made to binaries that are no longer bundled."""
    pattern = re.compile(r"PySide6[\\/]+Qt[\\/]+(translations|qml|resources|metatypes)[\\/]")
    datas = [d for d in datas if not pattern.search(d[0])]
    present = {_norm(e[0]) for e in list(binaries) + datas if e[2] != "SYMLINK"}
    links = {
        _norm(d[0]): _norm(posixpath.join(posixpath.dirname(_norm(d[0])), _norm(d[1])))
        for d in datas
        if d[2] == "SYMLINK"
    }
    changed = True
    while changed:  # a link to a kept link is kept too
        changed = False
        for link, target in links.items():
            if link not in present and target in present:
                present.add(link)
                changed = True
    return [d for d in datas if d[2] != "SYMLINK" or _norm(d[0]) in present]


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def strip_binaries(binaries: Iterable[Entry], out_dir: Path) -> list[Entry]:
    """Linux: point each ELF library that still has a symbol table at a stripped copy.

    Python's own libraries (libpython, lib-dynload) and some wheels' ship with symbols;
    stripping them saves about 25 MB. Done here, on Linux only, rather than with PyInstaller's
    ``strip`` option, so that Windows and macOS builds (where stripping can break code
    signatures) stay as they are. A file that ``strip`` fails on, or whose loadable segments
    it leaves misaligned (libraries that auditwheel patched with patchelf, such as numpy's
    OpenBLAS: "ELF load command address/offset not page-aligned"), is bundled as it was.
    """
    strip = shutil.which("strip")
    if strip is None:
        return list(binaries)
    out = []
    for dest, src, kind in binaries:
        if kind in ("BINARY", "EXTENSION") and _has_symbols(src):
            target = out_dir / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            done = subprocess.run([strip, "--strip-unneeded", str(target)], capture_output=True, check=False)
            if done.returncode == 0 and _segments_aligned(target):
                src = str(target)
        out.append((dest, src, kind))
    return out


def _segments_aligned(path: Path) -> bool:
    """Every PT_LOAD segment of a 64-bit ELF file has offset and address congruent modulo its alignment."""
    import struct

    try:
        data = path.read_bytes()
        (phoff,) = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        for i in range(phnum):
            p_type, _flags, offset, vaddr, _paddr, _filesz, _memsz, align = struct.unpack_from(
                "<IIQQQQQQ", data, phoff + i * phentsize
            )
            if p_type == 1 and align > 1 and (vaddr - offset) % align:
                return False
        return True
    except (OSError, struct.error):
        return False


def _has_symbols(path: str) -> bool:
    """An ELF file with a .symtab section (what ``file`` calls "not stripped")."""
    import struct

    try:
        with open(path, "rb") as fh:
            ident = fh.read(64)
            if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:  # 64-bit little-endian only
                return False
            (shoff,) = struct.unpack_from("<Q", ident, 0x28)
            shentsize, shnum, _shstrndx = struct.unpack_from("<HHH", ident, 0x3A)
            if shoff == 0 or shnum == 0:
                return False
            fh.seek(shoff)
            table = fh.read(shentsize * shnum)
            sh_types = (struct.unpack_from("<I", table, i * shentsize + 4)[0] for i in range(shnum))
            return 2 in sh_types  # SHT_SYMTAB
    except (OSError, struct.error):
        return False
