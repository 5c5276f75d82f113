"""Helpers that every bench script shares: the machine line, image folders, result files.

The bench scripts are run as files (``python bench/peers.py``), so they import each
other as top-level modules (``import common``); tests put ``bench/`` on ``sys.path``.
"""

from __future__ import annotations

import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEFAULT_FOLDER = REPO.parent / "shared" / "data" / "kodak"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def is_busy(load: float | None = None, cores: int | None = None) -> bool:
    """True when the 1-minute load says other work competes for the CPU (times are then not figures)."""
    load = load_average() if load is None else load
    cores = cores or os.cpu_count() or 1
    return load > max(0.5, 0.1 * cores)


def machine_line() -> str:
    """CPU model, cores, memory and load at the start, with a warning when the machine is busy."""
    load = load_average()
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    line = f"{cpu_model()}, {os.cpu_count()} cores{memory}, load {load:.2f} at start"
    if is_busy(load):
        line += " (busy: other work was running, so times are not figures)"
    return line


def warn_if_busy(machine: str) -> None:
    if "(busy" in machine:
        print(f"warning: the machine is busy ({machine})", file=sys.stderr)


def start_run() -> str:
    """The machine line of a run's report (``machine_line``), after a warning when the machine is busy."""
    machine = machine_line()
    warn_if_busy(machine)
    return machine


def command_line(script: str) -> str:
    """How this run was started, for its report: ``python bench/<script> ARGS``."""
    return f"python bench/{script} {' '.join(sys.argv[1:])}".strip()


def report_head(title: str, command: str, machine: str) -> list[str]:
    """The first lines of a Markdown report: the title, the command and the machine it ran on."""
    return [f"### {title}", "", f"Command: `{command}`  ", f"Machine: {machine}", ""]


def folder_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def staged_input(path: Path, work: Path, limit: int = 0) -> Path:
    """A folder under ``work`` to compress: ``staged_folder`` of a folder, or a folder holding a copy of one file."""
    path = path.resolve()
    if path.is_dir():
        return staged_folder(path, work, limit)
    out = work / path.stem
    out.mkdir(parents=True)
    shutil.copy2(path, out / path.name)
    return out


def staged_folder(folder: Path, work: Path, limit: int, names: list[str] | None = None) -> Path:
    """A copy of the folder's images (the first ``limit``, or just ``names``) under ``work``, same folder name."""
    out = work / folder.name
    out.mkdir(parents=True)
    images = folder_images(folder)
    if names is not None:
        images = [p for p in images if p.name in names]
    elif limit:
        images = images[:limit]
    for p in images:
        shutil.copy2(p, out / p.name)
    return out


def folder_bytes(folder: Path) -> int:
    """Bytes of every regular file under ``folder`` (what an archiver's ratio is measured against)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def reference_msssim(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The same mean MS-SSIM through pytorch_msssim, when it is installed (a cross-check)."""
    try:
        import torch
        from pytorch_msssim import ms_ssim
    except ImportError:
        return None
    vals = []
    for a, b in pairs:
        ta = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].double()
        tb = torch.from_numpy(np.ascontiguousarray(b)).permute(2, 0, 1)[None].double()
        vals.append(float(ms_ssim(ta, tb, data_range=255)))
    return float(np.mean(vals))


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows of dicts -> CSV; the header is the union of the keys in first-seen order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    """CSV -> rows of dicts, numbers converted back (empty cells become None)."""

    def value(text: str):
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return text

    with open(path, newline="") as fh:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def floor_options(floor: float | None) -> dict:
    """The engine's floor options for a bench's ``--floor``: None the product's, 0 every floor off (the colour
    limit too: every image at its checkpoint's nominal level), else that MS-SSIM for every checkpoint."""
    from latentzip.codec import engine

    return {"quality_floor": floor, "colour_limit": None if floor == 0.0 else engine.COLOUR_LIMIT}


def fmt(value, spec: str, missing: str = "–") -> str:
    """Format a number for a Markdown cell; None (not measured) becomes a dash."""
    return missing if value is None or value == "" else format(value, spec)


def write_report(name: str, md: str, rows: list[dict]) -> None:
    """bench/results/<name>.md and .csv, and the Markdown on stdout."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(md)
    write_csv(RESULTS / f"{name}.csv", rows)
    print(md)


# ---------------------------------------------------------------- child processes

# The child reports its own peak (VmHWM) at exit: ``ru_maxrss`` from wait4 can carry the parent's
# resident size over a fork, which inflates it when the parent is large (a test process, for one).
PEAK_PRELUDE = """
import atexit, sys
from pathlib import Path

def _peak():
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                Path(sys.argv[1]).write_text(line.split()[1])
    except OSError:
        pass

atexit.register(_peak)
"""
LATENTZIP_CLI = "from latentzip.cli import main\nraise SystemExit(main(sys.argv[2:]))\n"  # ``python -m latentzip``


@dataclass(frozen=True)
class ChildRun:
    """One child process: wall seconds (as the parent sees them, start-up included), CPU seconds (user +
    system, every thread), peak resident memory in bytes, exit code, the start time (``time.monotonic``)."""

    seconds: float
    cpu_s: float
    peak_bytes: int
    returncode: int
    started: float = 0.0

    @property
    def cores(self) -> float:
        """Cores kept busy on average: CPU time over wall time."""
        return self.cpu_s / self.seconds if self.seconds > 0 else 0.0


def run_python_child(code: str, args: list[str], quiet: bool = True) -> ChildRun:
    """Run ``code`` (``sys.argv[2:]`` is ``args``) in a fresh interpreter; its time, CPU and peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", PEAK_PRELUDE + code, str(peak_file), *args],
            stdout=subprocess.DEVNULL if quiet else None,
            stderr=subprocess.PIPE,
        )
        stderr = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            sys.stderr.write(stderr.decode(errors="replace")[-2000:])
        if peak_file.is_file():
            peak = int(peak_file.read_text()) * 1024  # VmHWM, in KiB
        else:  # no /proc (macOS): the kernel's figure
            peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return ChildRun(seconds, usage.ru_utime + usage.ru_stime, peak, proc.returncode, start)


def run_latentzip(args: list[str]) -> ChildRun:
    """``python -m latentzip ARGS`` in a child process."""
    return run_python_child(LATENTZIP_CLI, args)
