"""Latentzip's peers on the same folder: general archivers, and image codecs at equal MS-SSIM.

    python bench/peers.py --folder ../shared/data/kodak --from-results kodak
    python bench/peers.py --folder F --targets 0.975 0.987 0.991 [--codecs jpeg webp]

Archivers (7-Zip ``7zz a -mx=9``, plain tar, tar with ``xz -9``) archive the folder
and extract it again: size, ratio against the folder's bytes, both times, and a check
that every byte came back. Image codecs (Pillow: JPEG 4:2:0, WebP method 6, AVIF
speed 6 4:2:0, JPEG XL effort 7 through pillow-jxl-plugin) code every image of the
folder in memory; for each target the integer quality is found by bisection so that
the folder's mean MS-SSIM (``latentzip.codec.metrics.ms_ssim``) lands within the
tolerance (0.0005) of the target. When no integer quality does, the two neighbouring
qualities' results are interpolated linearly in MS-SSIM (marked in the note). Every
(codec, quality) evaluation is cached, so the targets share their bisection steps.

Targets are given with ``--targets`` or read from the Latentzip rows of an earlier
``kodak_table.py`` run (``bench/results/<name>.csv``: one target per checkpoint).
Writes bench/results/<name>-peers.md and .csv, and <name>-rd.csv (every evaluated
point, for the rate-distortion chart).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_FOLDER,
    REPO,
    RESULTS,
    fmt,
    folder_bytes,
    folder_images,
    load_rgb,
    read_csv,
    start_run,
    write_csv,
)
from PIL import Image, features

from latentzip.codec import metrics

TOLERANCE = 0.0005
SETUP = REPO / "bench" / "setup.sh"


# ---------------------------------------------------------------- archivers


def ensure_7zz(install: bool = True) -> str | None:
    """Path of ``7zz``; when it is missing and ``install`` is set, run bench/setup.sh (apt-get) first."""
    found = shutil.which("7zz")
    if found or not install:
        return found
    print(f"7zz not found: running {SETUP.relative_to(REPO)} (installs Debian's 7zip package)", flush=True)
    subprocess.run(["sh", str(SETUP)], check=False)
    return shutil.which("7zz")


def _archivers(seven_zip: str | None) -> list[tuple[str, str, list[str], list[str], str]]:
    """(name, setting, compress argv, extract argv, archive file name); {src} {parent} {name} {archive} {out}."""
    out = []
    if seven_zip:
        out.append(
            (
                "7-Zip",
                "7zz a -mx=9",
                [seven_zip, "a", "-mx=9", "-bd", "-bso0", "-bsp0", "{archive}", "{name}"],
                [seven_zip, "x", "-bd", "-bso0", "-bsp0", "-o{out}", "{archive}"],
                "a.7z",
            )
        )
    out.append(
        (
            "tar",
            "tar -cf",
            ["tar", "-cf", "{archive}", "-C", "{parent}", "{name}"],
            ["tar", "-xf", "{archive}", "-C", "{out}"],
            "a.tar",
        )
    )
    out.append(
        (
            "tar+xz",
            "tar -I 'xz -9'",
            ["tar", "-I", "xz -9", "-cf", "{archive}", "-C", "{parent}", "{name}"],
            ["tar", "-I", "xz", "-xf", "{archive}", "-C", "{out}"],
            "a.tar.xz",
        )
    )
    return out


def archiver_rows(folder: Path, install_7zz: bool = True, log=print) -> list[dict]:
    """7-Zip, tar and tar+xz on ``folder``: size, ratio against its bytes, compress and extract time."""
    folder = Path(folder).resolve()
    original = folder_bytes(folder)
    pixels = 0
    for p in folder_images(folder):
        with Image.open(p) as im:
            pixels += im.width * im.height
    seven_zip = ensure_7zz(install_7zz)
    rows = []
    if not seven_zip:
        log("warning: 7zz is not installed; the 7-Zip row is skipped")
    with tempfile.TemporaryDirectory() as tmp:
        for name, setting, c_argv, x_argv, fname in _archivers(seven_zip):
            archive, out = Path(tmp) / fname, Path(tmp) / f"out-{fname}"
            out.mkdir()
            subs = {
                "src": str(folder),
                "parent": str(folder.parent),
                "name": folder.name,
                "archive": str(archive),
                "out": str(out),
            }
            c_cmd = [a.format(**subs) for a in c_argv]
            x_cmd = [a.format(**subs) for a in x_argv]
            t0 = time.perf_counter()
            subprocess.run(c_cmd, check=True, cwd=folder.parent)
            t1 = time.perf_counter()
            subprocess.run(x_cmd, check=True, cwd=tmp)
            t2 = time.perf_counter()
            back = folder_bytes(out / folder.name)
            size = archive.stat().st_size
            rows.append(
                {
                    "source": "measured",
                    "codec": name,
                    "setting": setting,
                    "bytes": size,
                    "ratio": original / size,
                    "bpp": size * 8 / pixels if pixels else None,
                    "ms_ssim": 1.0,
                    "compress_s": t1 - t0,
                    "extract_s": t2 - t1,
                    "note": "lossless" + ("" if back == original else f"; MISMATCH: {back} of {original} bytes back"),
                }
            )
            log(f"{name}: ratio {original / size:.3f}, {t1 - t0:.2f} + {t2 - t1:.2f} s")
            shutil.rmtree(out)
            archive.unlink()
    return rows


# ---------------------------------------------------------------- image codecs


@dataclass(frozen=True)
class ImageCodec:
    """A Pillow format at one speed setting; ``quality`` is the bisected integer."""

    key: str
    name: str
    fmt: str
    qmin: int
    qmax: int
    options: dict = field(default_factory=dict)
    setting: str = ""

    def available(self) -> str:
        """'' when Pillow can write this format here, else why not."""
        if self.fmt == "AVIF" and not features.check("avif"):
            return "Pillow was built without AVIF"
        if self.fmt == "WEBP" and not features.check("webp"):
            return "Pillow was built without WebP"
        if self.fmt == "JXL":
            try:
                import pillow_jxl  # noqa: F401  (registers the JXL plugin)
            except ImportError:
                return "pillow-jxl-plugin is not installed (pip install pillow-jxl-plugin)"
        return ""

    def encode(self, image: Image.Image, quality: int) -> bytes:
        buf = io.BytesIO()
        image.save(buf, self.fmt, quality=quality, **self.options)
        return buf.getvalue()


CODECS = {
    "jpeg": ImageCodec("jpeg", "JPEG", "JPEG", 1, 100, {"subsampling": "4:2:0"}, "libjpeg, 4:2:0"),
    "webp": ImageCodec("webp", "WebP", "WEBP", 0, 100, {"method": 6}, "method 6"),
    "avif": ImageCodec("avif", "AVIF", "AVIF", 0, 99, {"speed": 6, "subsampling": "4:2:0"}, "speed 6, 4:2:0"),
    # quality 100 would switch libjxl to lossless: the lossy range ends at 99
    "jxl": ImageCodec("jxl", "JPEG XL", "JXL", 0, 99, {"effort": 7}, "effort 7"),
}


@dataclass(frozen=True)
class Point:
    """One codec at one quality over the whole folder (interpolated points have a fractional quality)."""

    codec: str
    quality: float
    bytes: float
    bpp: float
    ms_ssim: float
    psnr: float
    encode_s: float
    decode_s: float
    note: str = ""


class Evaluator:
    """Codes a folder's images at a given quality, in memory, caching every (codec, quality)."""

    def __init__(self, images: list[np.ndarray], log=print) -> None:
        self.arrays = images
        self.images = [Image.fromarray(a) for a in images]  # format None: no JPEG-reconstruction shortcuts
        self.pixels = sum(a.shape[0] * a.shape[1] for a in images)
        self.cache: dict[tuple[str, int], Point] = {}
        self.log = log

    def point(self, codec: ImageCodec, quality: int) -> Point:
        key = (codec.key, quality)
        if key not in self.cache:
            total, enc_s, dec_s, ssims, psnrs = 0, 0.0, 0.0, [], []
            for im, src in zip(self.images, self.arrays, strict=False):
                t0 = time.perf_counter()
                data = codec.encode(im, quality)
                t1 = time.perf_counter()
                with Image.open(io.BytesIO(data)) as dec:
                    back = np.asarray(dec.convert("RGB"))
                t2 = time.perf_counter()
                total += len(data)
                enc_s += t1 - t0
                dec_s += t2 - t1
                ssims.append(metrics.ms_ssim(src, back))
                psnrs.append(metrics.psnr(src, back))
            p = Point(
                codec.key,
                quality,
                total,
                total * 8 / self.pixels,
                float(np.mean(ssims)),
                float(np.mean(psnrs)),
                enc_s,
                dec_s,
            )
            self.cache[key] = p
            self.log(f"  {codec.name} q{quality}: {p.bpp:.3f} bpp, MS-SSIM {p.ms_ssim:.4f}")
        return self.cache[key]

    def match(self, codec: ImageCodec, target: float, tolerance: float = TOLERANCE) -> Point:
        """The quality whose mean MS-SSIM lands within ``tolerance`` of ``target`` (bisection).

        Assumes MS-SSIM grows with quality. The bracket starts one step outside the
        quality range (unevaluated), so a target the codec cannot reach ends at the
        nearest end, marked in the note. Without an integer quality inside the
        tolerance, the two neighbours that bracket the target are interpolated.
        """
        lo, hi = codec.qmin - 1, codec.qmax + 1  # invariants: m(lo) < target < m(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            p = self.point(codec, mid)
            if abs(p.ms_ssim - target) <= tolerance:
                return p
            if p.ms_ssim < target:
                lo = mid
            else:
                hi = mid
        for end, beyond, where in (
            (codec.qmin, lo < codec.qmin, "below the lowest"),
            (codec.qmax, hi > codec.qmax, "above the highest"),
        ):
            if beyond:
                p = self.point(codec, end)
                if abs(p.ms_ssim - target) <= tolerance:
                    return p
                return _with_note(p, f"target {where} quality's MS-SSIM ({p.ms_ssim:.4f})")
        return interpolate(self.point(codec, lo), self.point(codec, hi), target)

    def points(self, codec: ImageCodec) -> list[Point]:
        """Every evaluated point of ``codec``, by quality (a rate-distortion curve)."""
        return sorted((p for (k, _), p in self.cache.items() if k == codec.key), key=lambda p: p.quality)


def _with_note(p: Point, note: str) -> Point:
    return Point(p.codec, p.quality, p.bytes, p.bpp, p.ms_ssim, p.psnr, p.encode_s, p.decode_s, note)


def interpolate(a: Point, b: Point, target: float) -> Point:
    """The point between ``a`` and ``b`` whose MS-SSIM is ``target`` (every field linear in MS-SSIM)."""
    t = (target - a.ms_ssim) / (b.ms_ssim - a.ms_ssim)

    def lerp(x: float, y: float) -> float:
        return x + t * (y - x)

    return Point(
        a.codec,
        lerp(a.quality, b.quality),
        lerp(a.bytes, b.bytes),
        lerp(a.bpp, b.bpp),
        target,
        lerp(a.psnr, b.psnr),
        lerp(a.encode_s, b.encode_s),
        lerp(a.decode_s, b.decode_s),
        f"interpolated between q{a.quality:g} ({a.ms_ssim:.4f}) and q{b.quality:g} ({b.ms_ssim:.4f})",
    )


def codec_rows(
    folder: Path, targets: dict[str, float], codecs: list[str], tolerance: float = TOLERANCE, log=print
) -> tuple[list[dict], list[dict]]:
    """Every codec at every target: (table rows, every evaluated point for the RD chart)."""
    images = [load_rgb(p) for p in folder_images(folder)]
    original = folder_bytes(folder)
    ev = Evaluator(images, log)
    rows, curve = [], []
    for key in codecs:
        codec = CODECS[key]
        why = codec.available()
        if why:
            log(f"warning: {codec.name} skipped: {why}")
            rows.append({"source": "skipped", "codec": codec.name, "setting": codec.setting, "note": why})
            continue
        for label, target in targets.items():
            log(f"{codec.name} at target {label} (MS-SSIM {target:.4f})")
            p = ev.match(codec, target, tolerance)
            rows.append(
                {
                    "source": "measured",
                    "codec": codec.name,
                    "setting": codec.setting,
                    "target": label,
                    "target_ms_ssim": target,
                    "quality": round(p.quality, 2),
                    "bytes": round(p.bytes),
                    "ratio": original / p.bytes,
                    "bpp": p.bpp,
                    "ms_ssim": p.ms_ssim,
                    "psnr": p.psnr,
                    "compress_s": p.encode_s,
                    "extract_s": p.decode_s,
                    "note": p.note or "encode / decode in memory",
                }
            )
        curve += [
            {
                "codec": codec.name,
                "quality": p.quality,
                "bpp": p.bpp,
                "ms_ssim": p.ms_ssim,
                "psnr": p.psnr,
                "encode_s": p.encode_s,
                "decode_s": p.decode_s,
            }
            for p in ev.points(codec)
        ]
    return rows, curve


def targets_from_results(csv_path: Path) -> dict[str, float]:
    """One MS-SSIM target per checkpoint from kodak_table's CSV (its entropy modes share the pixels)."""
    by_cp: dict[str, list[float]] = {}
    for r in read_csv(csv_path):
        by_cp.setdefault(str(r["checkpoint"]), []).append(float(r["ms_ssim"]))
    return {cp: float(np.mean(v)) for cp, v in sorted(by_cp.items())}


# ---------------------------------------------------------------- table

HEADER = (
    "| source | codec | setting | target | quality | size | ratio | bpp | MS-SSIM | PSNR (dB) | "
    "compress / encode (s) | extract / decode (s) | note |"
)


def table(rows: list[dict]) -> list[str]:
    """Markdown rows in one schema for archivers, codecs, Latentzip and quoted paper rows."""
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in rows:
        size = r.get("bytes")
        total = r.get("total_s")
        comp = fmt(r.get("compress_s"), ".2f") if total is None else f"{total:g} (both)"
        lines.append(
            " | ".join(
                [
                    "",
                    r.get("source", ""),
                    str(r.get("codec", "")),
                    str(r.get("setting") or ""),
                    str(r.get("target") or ""),
                    fmt(r.get("quality"), "g"),
                    "–" if size is None else f"{size / 1e6:.3f} MB",
                    fmt(r.get("ratio"), ".2f"),
                    fmt(r.get("bpp"), ".3f"),
                    fmt(r.get("ms_ssim"), ".4f"),
                    fmt(r.get("psnr"), ".2f"),
                    comp,
                    "" if total is not None else fmt(r.get("extract_s"), ".2f"),
                    str(r.get("note") or ""),
                    "",
                ]
            ).strip()
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--targets", type=float, nargs="+", help="MS-SSIM targets")
    src.add_argument("--from-results", metavar="NAME", help="targets from bench/results/NAME.csv (kodak_table)")
    ap.add_argument("--codecs", nargs="+", default=list(CODECS), choices=list(CODECS))
    ap.add_argument("--tolerance", type=float, default=TOLERANCE)
    ap.add_argument("--no-archivers", action="store_true")
    ap.add_argument("--no-install", action="store_true", help="do not install 7zz when it is missing")
    ap.add_argument("--name", default=None, help="result file prefix (default: the folder's name)")
    args = ap.parse_args()
    name = args.name or args.folder.name
    if args.targets:
        targets = {f"{t:g}": t for t in args.targets}
    else:
        targets = targets_from_results(RESULTS / f"{args.from_results or name}.csv")
    machine = start_run()
    rows = [] if args.no_archivers else archiver_rows(args.folder, not args.no_install)
    codec, curve = codec_rows(args.folder, targets, args.codecs, args.tolerance)
    rows += codec
    command = "python bench/peers.py " + " ".join(sys.argv[1:])
    md = "\n".join(
        [f"### Peers on {name}", "", f"Command: `{command.strip()}`  ", f"Machine: {machine}", "", *table(rows), ""]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}-peers.md").write_text(md)
    write_csv(RESULTS / f"{name}-peers.csv", rows)
    write_csv(RESULTS / f"{name}-rd.csv", curve)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
