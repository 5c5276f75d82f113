"""Numbers in words for the window: sizes, durations, rates, checkpoint descriptions."""

from __future__ import annotations

from ..codec.engine import QUALITY_FLOORS

CHECKPOINT_WORDS = {"A": "smallest files", "B": "balanced", "C": "best quality"}


def human_size(n: float) -> str:
    """Decimal units, as file managers show them: 999 B, 1.2 KB, 15.4 MB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rate(bytes_done: int, seconds: float) -> str:
    if seconds <= 0:
        return "–"
    return f"{bytes_done / seconds / 1e6:.1f} MB/s"


def checkpoint_label(name: str, typical_ms_ssim: float | None = None) -> str:
    """ "A: smallest files, MS-SSIM about 0.975" (measured), or the guaranteed floor."""
    words = CHECKPOINT_WORDS.get(name, "")
    if typical_ms_ssim is not None:
        return f"{name}: {words}, MS-SSIM about {typical_ms_ssim:.3f}"
    return f"{name}: {words}, MS-SSIM at least {QUALITY_FLOORS[name]:.2f}"


def count_text(files: int, folders: int) -> str:
    """ "34 files, 2 folders": how the drop list, the results and the archive view all count."""
    text = f"{files} file{'s' if files != 1 else ''}"
    return text + (f", {folders} folder{'s' if folders != 1 else ''}" if folders else "")
