"""No two modules of training/ or gui/ import each other, directly or around a loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _graph(package: str) -> dict[str, set[str]]:
    """module -> modules of the same package it imports (anywhere in the file, TYPE_CHECKING included)."""
    folder = REPO / package
    names = {p.stem for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 1 or module.startswith(f"{package}."):
                    target = module.split(".")[-1] if module else ""
                    if target in names:
                        deps.add(target)
                    elif not module:  # from . import a, b
                        deps |= {a.name for a in node.names if a.name in names}
                elif module == package:  # from training import qat
                    deps |= {a.name for a in node.names if a.name in names}
            elif isinstance(node, ast.Import):
                deps |= {
                    a.name.split(".")[1]
                    for a in node.names
                    if a.name.startswith(f"{package}.") and a.name.split(".")[1] in names
                }
        graph[path.stem] = deps - {path.stem}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


@pytest.mark.parametrize("package", ["training", "gui"])
def test_no_import_cycles(package: str) -> None:
    assert _cycle(_graph(package)) is None


def test_the_checker_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _graph("training")["export_int8"] >= {"qat_core"} and "qat" not in _graph("training")["export_int8"]
