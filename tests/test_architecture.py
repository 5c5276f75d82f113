"""The README's architecture section names every module of app/, codec/ and gui/, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "codec", "gui")


def _tree() -> str:
    """The code block of the README's Architecture section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Architecture\n", 1)[1]
    return re.search(r"```\n(.*?)\n```", section, re.S).group(1)


def _listed(tree: str) -> set[str]:
    """The paths the tree names: two spaces of indent per level, folders end with '/'."""
    stack: list[str] = []
    paths = set()
    for line in tree.splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name.endswith(("/", ".py")):
            continue  # a continuation line
        depth = (len(line) - len(line.lstrip(" "))) // 2
        del stack[depth:]
        path = "".join(stack) + name
        paths.add(path.rstrip("/"))
        if name.endswith("/"):
            stack.append(name)
    return paths


def _modules() -> set[str]:
    found = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(REPO)
            found.add(rel.parent.as_posix() if path.name == "__init__.py" else rel.as_posix())
    return found


def test_readme_names_every_module_and_package():
    listed = _listed(_tree())
    modules = _modules()
    assert modules - listed == set(), "modules missing from the README's architecture section"
    stale = {p for p in listed if p.split("/")[0] in PACKAGES} - modules
    assert stale == set(), "the README's architecture section names modules that do not exist"


def test_public_api_is_marked():
    marked = {line.split()[0] for line in _tree().splitlines() if " API " in f" {line} "}
    assert {"engine.py", "errors.py", "progress.py", "container/", "cli.py"} <= marked
