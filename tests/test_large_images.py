"""Large photos: tiling keeps memory bounded (slow: run with `make test-all`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

PEAK_LIMIT_MB = 1536
SCRIPT = """
import resource, sys
from pathlib import Path
from latentzip.codec import engine
src, archive, out = map(Path, sys.argv[1:4])
engine.compress([src], archive, engine.CompressOptions(checkpoint="A", quality_floor=0.0))
engine.extract(archive, out)
# VmHWM is this process's own peak; ru_maxrss can carry the (large) test process's size over the fork
status = Path("/proc/self/status")
hwm = [l for l in status.read_text().splitlines() if l.startswith("VmHWM:")] if status.exists() else []
print(int(hwm[0].split()[1]) // 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def synthetic_photo(width: int, height: int) -> Image.Image:
    """A 24 MP image with smooth regions, edges and texture (deterministic)."""
    base = Image.open(Path(__file__).parent / "assets" / "photo_crop.png").convert("RGB")
    big = np.asarray(base.resize((width // 4, height // 4), Image.Resampling.BICUBIC)).astype(np.int16)
    big = np.tile(big, (4, 4, 1))[:height, :width]
    noise = np.random.default_rng(0).integers(-6, 7, size=big.shape, dtype=np.int16)
    return Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8))


def test_6000x4000_photo_round_trips_under_the_memory_limit(tmp_path):
    src = tmp_path / "big"
    src.mkdir()
    synthetic_photo(6000, 4000).save(src / "big.png", compress_level=1)
    archive, out = tmp_path / "big.ltz", tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(src), str(archive), str(out)], capture_output=True, text=True, check=True
    )
    peak_mb = int(proc.stdout.strip().splitlines()[-1])
    with Image.open(out / "big" / "big.png") as im:
        assert im.size == (6000, 4000)
    assert peak_mb < PEAK_LIMIT_MB, f"peak memory {peak_mb} MB"
