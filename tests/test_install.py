"""The package mapping in pyproject.toml: the wheel holds every module, the editable install is live.

pyproject.toml maps ``latentzip`` to app/, ``latentzip.codec`` to codec/ and so on, and lists each
package: a new subpackage missing from that list would be left out of the wheel (and the desktop
bundle) while the editable development install still finds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = {
    "app": "latentzip",
    "codec": "latentzip/codec",
    "gui": "latentzip/gui",
    "resources": "latentzip/resources",
}
FRESH_BUILD = REPO / "packaging" / "fresh_build.sh"


def _source_modules() -> set[str]:
    """Every module of the source tree, as its path inside the wheel."""
    found = set()
    for folder, target in PACKAGE_DIRS.items():
        for path in (REPO / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found.add(f"{target}/{path.relative_to(REPO / folder).as_posix()}")
    return found


def _pip(*args: str, cwd: Path = REPO) -> None:
    proc = subprocess.run(
        ["sh", str(FRESH_BUILD), sys.executable, "-m", "pip", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wheel_holds_every_module_and_nothing_stale(tmp_path):
    _pip("wheel", "-q", "--no-deps", "--no-cache-dir", "-w", str(tmp_path), str(REPO))
    (wheel,) = tmp_path.glob("latentzip-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {n for n in names if n.endswith(".py")}
    expected = _source_modules()
    assert {m for m in expected if m.startswith(("latentzip/codec/", "latentzip/gui/"))} <= modules
    assert modules == expected  # nothing missing, nothing left over from an earlier build
    models = REPO / "resources" / "models"
    for path in models.rglob("*"):
        if path.is_file():
            assert f"latentzip/resources/models/{path.relative_to(models).as_posix()}" in names


@pytest.mark.slow
def test_editable_install_follows_the_source(tmp_path):
    """``pip install -e .`` in a fresh venv: imports resolve to the source folders, and a new module is live."""
    tree = tmp_path / "tree"
    for name in ("pyproject.toml", "README.md"):
        tree.mkdir(exist_ok=True)
        shutil.copy(REPO / name, tree / name)
    for folder in PACKAGE_DIRS:
        shutil.copytree(REPO / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        ["sh", str(FRESH_BUILD), str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tree / "codec" / "container" / "live_probe.py").write_text("ANSWER = 42\n")  # added after the install
    script = (
        "import importlib.resources, latentzip, latentzip.codec, latentzip.codec.container.live_probe as p\n"
        "print(latentzip.__file__); print(latentzip.codec.__file__); print(p.ANSWER)\n"
        "print(importlib.resources.files('latentzip.resources') / 'models')\n"
    )
    out = subprocess.run(
        [str(python), "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        str(tree / "app" / "__init__.py"),
        str(tree / "codec" / "__init__.py"),
        "42",
        str(tree / "resources" / "models"),
    ]
