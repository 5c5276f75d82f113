"""Archive sizes as people type them: ``"2GB"``, ``"850KB"``, ``"1.5MiB"`` -> bytes."""

from __future__ import annotations

import math
import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``"2GB"``, ``"850KB"``, ``"1.5MiB"``, ``"1200"`` -> bytes (decimal units: powers of 1000,
    binary units: KiB, MiB, GiB, TiB). Raises ValueError on anything else, or on zero."""
    match = _SIZE_RE.match(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 2GB, 850KB, 1.5MiB)")
    value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"a size target must be at least 1 byte, not {text!r}")
    return int(round(value))


def size_text(n: float) -> str:
    """Bytes for people, decimal units: ``"850 B"``, ``"2.4 MB"``."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def range_text(low: float, high: float) -> str:
    """A size range for people, one unit when both ends share it: ``"2.4-3.1 MB"``, ``"850 KB-1.2 MB"``."""
    a, b = size_text(low), size_text(high)
    if a == b:
        return a
    (na, ua), (nb, ub) = a.split(" "), b.split(" ")
    return f"{na}-{nb} {ub}" if ua == ub else f"{a}-{b}"
