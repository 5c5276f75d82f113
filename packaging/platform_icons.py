"""The app icon for Windows (.ico) and macOS (.icns), made with Pillow from the PNG.

latentzip.spec calls ``make_platform_icons`` at build time, so no binary icon is committed.
The .icns wants 512 and 1024 pixel images: they are drawn afresh by make_icon.py (Qt,
offscreen) when it can run, else scaled up from the 256-pixel PNG.
``python packaging/platform_icons.py OUTDIR`` writes them by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def _drawn(size: int, out: Path) -> Image.Image | None:
    """The icon drawn at ``size`` by make_icon.py, or None where Qt cannot run."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    try:
        subprocess.run(
            [sys.executable, str(HERE / "make_icon.py"), "--size", str(size), "--out", str(out)],
            check=True,
            capture_output=True,
            timeout=120,
            env=env,
        )
        return Image.open(out).convert("RGBA")
    except (OSError, subprocess.SubprocessError):
        return None


def make_platform_icons(png: Path, out_dir: Path) -> dict[str, Path]:
    """Write latentzip.ico and latentzip.icns into ``out_dir``; their paths by suffix."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = Image.open(png).convert("RGBA")
    ico, icns = out_dir / "latentzip.ico", out_dir / "latentzip.icns"
    base.save(ico, format="ICO", sizes=ICO_SIZES)
    big = [
        _drawn(s, out_dir / f"latentzip-{s}.png") or base.resize((s, s), Image.Resampling.LANCZOS) for s in (512, 1024)
    ]
    big[1].save(icns, format="ICNS", append_images=big)
    return {"ico": ico, "icns": icns}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "build" / "icons"
    for path in make_platform_icons(HERE.parent / "resources" / "icons" / "latentzip.png", target).values():
        print(f"wrote {path} ({path.stat().st_size} bytes)")
