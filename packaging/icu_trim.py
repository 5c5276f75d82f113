"""A smaller ICU data library for the Linux bundle: the parts of ICU's data that Qt never reads.

PySide6's Linux wheels ship ICU 73 with its complete data as ``libicudata.so.73`` (32 MB, the
largest file of the bundle). Qt calls ICU for case mapping, collation (``ucol_*``: QCollator,
the file dialog's sorting), character set converters (``ucnv_*``: QStringConverter) and the
calendar and time zones (``ucal_*``: QTimeZone). None of that reads the data trees for
formatting that this module removes: break-iterator rules and dictionaries (``brkitr``),
display names of languages, regions, currencies and units (``lang``, ``region``, ``curr``,
``unit``), transliterators (``translit``) and spelled-out numbers (``rbnf``): about 15 MB.
The time zone names (``zone``), collation, converters, locales and normalization stay.

The library is rebuilt, not edited: the ICU common-data package inside it (a table of
contents and 16-byte aligned items, each with its own header) is read, the dropped items are
left out, and the new package is assembled into a library with the same symbol and soname by
the C compiler. ``check`` then runs the same ICU calls Qt makes (collators for several
languages and their order, converters, time zone names) against the original and the new
library, each in a fresh process; the bundle gets the new one only if all answers match.

``python packaging/icu_trim.py LIBICUDATA OUT`` does it by hand and prints the sizes.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

DROP_TREES = ("brkitr", "unit", "curr", "lang", "region", "translit", "rbnf")


# --- the ELF symbol that holds the data -------------------------------------------------------------
def _symbol(data: bytes, pattern: str) -> tuple[str, int, int]:
    """(name, file offset, size) of the first dynamic symbol whose name matches ``pattern``."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for _name, sh_type, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if sh_type != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link]
        for i in range(size // entsize):
            st_name, _info2, _other, _shndx, value, st_size = struct.unpack_from("<IBBHQQ", data, offset + i * entsize)
            start = strtab[4] + st_name
            name = data[start : data.index(b"\0", start)].decode()
            if re.fullmatch(pattern, name):
                for _n, _t, _f, addr, off, sz, *_rest in sections:
                    if addr and addr <= value < addr + sz:
                        return name, off + value - addr, st_size
    raise ValueError(f"no symbol matching {pattern}")


# --- ICU common data: header, table of contents, items ----------------------------------------------
def _split(blob: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The package's header and its items (name, bytes) in table-of-contents order."""
    (header_size,) = struct.unpack_from("<H", blob, 0)
    if blob[2:4] != b"\xda\x27" or blob[12:16] != b"CmnD":
        raise ValueError("not an ICU common data package")
    (count,) = struct.unpack_from("<I", blob, header_size)
    toc = [struct.unpack_from("<II", blob, header_size + 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_off, data_off) in enumerate(toc):
        start = header_size + name_off
        name = blob[start : blob.index(b"\0", start)].decode("ascii")
        end = toc[i + 1][1] if i + 1 < count else len(blob) - header_size
        items.append((name, blob[header_size + data_off : header_size + end]))
    return blob[:header_size], items


def _join(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    """A package from a header and items (kept in order: ICU finds items by binary search)."""
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in items)
    toc_len = 4 + 8 * len(items)
    offset = toc_len + len(names)
    offset += -(len(header) + offset) % 16  # items start 16-byte aligned in the package
    entries, name_off, body = [], toc_len, bytearray()
    for name, data in items:
        entries.append(struct.pack("<II", name_off, offset + len(body)))
        name_off += len(name) + 1
        body += data + b"\0" * (-len(data) % 16)
    toc = struct.pack("<I", len(items)) + b"".join(entries) + names
    return header + toc + b"\xaa" * (offset - len(toc)) + bytes(body)  # ICU's own filler byte


def trimmed_package(blob: bytes, drop: tuple[str, ...] = DROP_TREES) -> bytes:
    header, items = _split(blob)
    if _join(header, items) != blob:  # this reading of the format must give back the package unchanged
        raise ValueError("the ICU data package is laid out in a way this script does not know")
    kept = [(n, d) for n, d in items if not (n.count("/") >= 2 and n.split("/")[1] in drop)]
    return _join(header, kept)


def build(src: Path, out: Path, drop: tuple[str, ...] = DROP_TREES, cc: str | None = None) -> Path:
    """Write the trimmed ``src`` (an ICU data library) to ``out``; needs a C compiler."""
    data = src.read_bytes()
    symbol, offset, size = _symbol(data, r"icudt\d+_dat")
    package = trimmed_package(data[offset : offset + size], drop)
    soname = src.name
    compiler = cc or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc) to build the ICU data library")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(tmp) / "icudata.bin"
        blob.write_bytes(package)
        asm = Path(tmp) / "icudata.S"
        asm.write_text(
            "\t.section .rodata\n\t.balign 16\n"
            f"\t.globl {symbol}\n\t.type {symbol}, @object\n\t.size {symbol}, {len(package)}\n"
            f'{symbol}:\n\t.incbin "{blob}"\n'
            '\t.section .note.GNU-stack,"",@progbits\n'
        )
        subprocess.run(
            [compiler, "-shared", "-nostdlib", f"-Wl,-soname,{soname}", "-o", str(out), str(asm)],
            check=True,
            capture_output=True,
        )
    return out


# --- the check: what Qt asks ICU, answered by the original and by the trimmed data ---------------------
_PROBE = r"""
import ctypes, json, os, sys
data, lib_dir, v = os.path.realpath(sys.argv[1]), sys.argv[2], sys.argv[3]
ctypes.CDLL(data, mode=ctypes.RTLD_GLOBAL)  # loaded first: the ICU libraries below link to its soname
uc = ctypes.CDLL(f"{lib_dir}/libicuuc.so.{v}", mode=ctypes.RTLD_GLOBAL)
i18n = ctypes.CDLL(f"{lib_dir}/libicui18n.so.{v}", mode=ctypes.RTLD_GLOBAL)
f = lambda lib, name: getattr(lib, f"{name}_{v}")
out = {}
words = ["zebra", "Äpfel", "apple", "Öl", "ångström", "čaj", "cukr", "straße", "Strasse", "ıi",
         "中文", "日本"]
for loc in ["root", "de", "sv", "cs", "tr", "zh", "ja", "en_US"]:
    st = ctypes.c_int(0)
    f(i18n, "ucol_open").restype = ctypes.c_void_p
    col = f(i18n, "ucol_open")(loc.encode(), ctypes.byref(st))
    order = None
    if col:
        cmp = f(i18n, "ucol_strcoll")
        cmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        # wchar_t is UTF-32 on Linux: compare through UTF-16 copies
        u16 = [ctypes.create_string_buffer(w.encode("utf-16-le")) for w in words]
        n16 = [len(w.encode("utf-16-le")) // 2 for w in words]
        rng = range(len(words))
        order = [[cmp(col, u16[a], n16[a], u16[b], n16[b]) for b in rng] for a in rng]
        f(i18n, "ucol_close").argtypes = [ctypes.c_void_p]
        f(i18n, "ucol_close")(col)
    out[f"ucol {loc}"] = [st.value, order]
f(uc, "ucnv_countAvailable").restype = ctypes.c_int
out["ucnv count"] = f(uc, "ucnv_countAvailable")()
for name in ["Shift_JIS", "GB18030", "ISO-8859-2", "windows-1252", "KOI8-R", "Big5"]:
    st = ctypes.c_int(0)
    f(uc, "ucnv_open").restype = ctypes.c_void_p
    cnv = f(uc, "ucnv_open")(name.encode(), ctypes.byref(st))
    out[f"ucnv {name}"] = [st.value, bool(cnv)]
    if cnv:
        f(uc, "ucnv_close").argtypes = [ctypes.c_void_p]
        f(uc, "ucnv_close")(cnv)
for tz, loc in [("Europe/Berlin", "de"), ("America/New_York", "en_US"), ("Asia/Tokyo", "ja")]:
    st = ctypes.c_int(0)
    zone = ctypes.create_string_buffer(tz.encode("utf-16-le") + b"\0\0")
    f(i18n, "ucal_open").restype = ctypes.c_void_p
    cal = f(i18n, "ucal_open")(zone, -1, loc.encode(), 0, ctypes.byref(st))
    name = ctypes.create_string_buffer(256)
    st2 = ctypes.c_int(0)
    n = 0
    if cal:
        g = f(i18n, "ucal_getTimeZoneDisplayName")
        g.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int,
                      ctypes.c_void_p]
        n = g(cal, 0, loc.encode(), name, 128, ctypes.byref(st2))
        f(i18n, "ucal_close").argtypes = [ctypes.c_void_p]
        f(i18n, "ucal_close")(cal)
    out[f"ucal {tz}"] = [st.value, st2.value, name.raw[:2 * max(n, 0)].decode("utf-16-le", "replace")]
maps = open("/proc/self/maps").read()
out["data library"] = [line.split()[-1] for line in maps.splitlines() if "libicudata" in line][:1] == [data]
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


def _answers(data_lib: Path, lib_dir: Path, version: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(data_lib), str(lib_dir), version],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def check(original: Path, trimmed: Path) -> list[str]:
    """The differences between what the two data libraries answer to Qt's ICU calls (none: fine)."""
    version = original.name.rsplit(".", 1)[-1]
    lib_dir = original.parent  # libicuuc and libicui18n lie beside the data library
    before, after = _answers(original, lib_dir, version), _answers(trimmed, lib_dir, version)
    if not (before.pop("data library") and after.pop("data library")):
        return ["the probe did not run on the data library it was given"]
    bad = [k for k, v in before.items() if k.startswith("ucol") and (v[1] is None or v[0] > 0)]
    if bad:
        return [f"the original ICU data fails the probe itself: {bad}"]
    return [
        f"{k}: {before.get(k)!r} != {after.get(k)!r}"
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    ]


def trim_in_toc(binaries: list[tuple[str, str, str]], work: Path) -> list[tuple[str, str, str]]:
    """latentzip.spec: point the bundle's ICU data library at a trimmed copy, when it checks out."""
    out = []
    for dest, src, kind in binaries:
        if re.fullmatch(r"libicudata\.so\.\d+", Path(dest).name):
            target = work / Path(dest).name
            try:
                build(Path(src), target)
                problems = check(Path(src), target)
            except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
                problems = [f"{type(exc).__name__}: {exc}"]
            if problems:
                print(f"icu_trim: keeping the full ICU data ({'; '.join(problems)[:500]})")
            else:
                print(
                    f"icu_trim: {Path(dest).name}: {Path(src).stat().st_size / 1e6:.1f} MB -> "
                    f"{target.stat().st_size / 1e6:.1f} MB, same answers to Qt's ICU calls"
                )
                src = str(target)
        out.append((dest, src, kind))
    return out


if __name__ == "__main__":
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    build(src, dst)
    problems = check(src, dst)
    print(f"{src}: {src.stat().st_size / 1e6:.1f} MB -> {dst}: {dst.stat().st_size / 1e6:.1f} MB")
    print("\n".join(problems) or "same answers to Qt's ICU calls")
    sys.exit(1 if problems else 0)
