"""Extract's PNG output: zlib level 6 (Pillow's default) against faster levels, time and size.

    python bench/png_level.py                                  # 4 Kodak images, levels 1, 3, 6
    python bench/png_level.py --folder DIR --limit 8 --levels 1 6

Extraction writes every coded image as a PNG (its source's format, or with ``--as-png``), so the
PNG encoder's time is part of every extract. The pixels written are the codec's reconstruction,
smoother than the original, so this codes each image at checkpoint A and decodes it (as
``extract`` does), then times ``Image.save(PNG, compress_level=L)`` on those pixels (the best of
``--repeat`` runs, one thread) and prints the size and time per level, and the totals against
level 6. The pixels are the same at every level: only the file's size and the time change.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import is_busy, load_average  # noqa: E402

from latentzip.codec.runtime import image_codec  # noqa: E402
from latentzip.codec.runtime.model_set import default_registry  # noqa: E402

KODAK = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "kodak"


def png_bytes(rgb: np.ndarray, level: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", compress_level=level, optimize=False)
    return buf.getvalue()


def best_time(rgb: np.ndarray, level: int, repeat: int) -> tuple[float, int]:
    """The best of ``repeat`` encodes, in seconds, and the PNG's size."""
    times, size = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        size = len(png_bytes(rgb, level))
        times.append(time.perf_counter() - t0)
    return min(times), size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=KODAK)
    ap.add_argument("--limit", type=int, default=4, help="images (the first, by name)")
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 3, 6])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--checkpoint", default="A")
    args = ap.parse_args(argv)
    paths = sorted(args.folder.glob("*.png"))[: args.limit]
    if not paths:
        print(f"no PNG images in {args.folder}", file=sys.stderr)
        return 1
    model = default_registry().get()
    levels = sorted(set(args.levels) | {6})
    totals = {lvl: [0.0, 0] for lvl in levels}
    print(f"image            {'  '.join(f'L{lvl}: KB, ms' for lvl in levels)}")
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        decoded = image_codec.decode_image(model, image_codec.encode_image(model, rgb, args.checkpoint).data)
        cells = []
        for lvl in levels:
            seconds, size = best_time(decoded, lvl, args.repeat)
            totals[lvl][0] += seconds
            totals[lvl][1] += size
            cells.append(f"{size / 1024:7.1f} {1000 * seconds:6.1f}")
        print(f"{path.name:16s} {'  '.join(cells)}")
    base_s, base_b = totals[6]
    for lvl in levels:
        seconds, size = totals[lvl]
        print(
            f"level {lvl}: {size / 1024:8.1f} KB ({100 * (size / base_b - 1):+5.1f} % against level 6), "
            f"{1000 * seconds:7.1f} ms ({seconds / base_s:.2f}x level 6's time)"
        )
    busy = " (the machine was busy: times are indicative)" if is_busy() else ""
    print(f"load average {load_average():.2f}{busy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
