"""The launcher (app/cli.py, ``latentzip.cli``): ``gui`` goes to gui/, everything else to codec's command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from latentzip import cli
from latentzip.codec import cli as codec_cli

REPO = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    """Every module a source file imports, relative imports resolved against its package."""
    package = "latentzip." + ".".join(path.relative_to(REPO).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_codec_never_imports_the_gui_nor_qt():
    offenders = {
        str(p.relative_to(REPO)): sorted(m for m in _imports(p) if m.startswith(("latentzip.gui", "PySide6")))
        for p in sorted((REPO / "codec").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_help_lists_the_codec_commands_and_gui(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("compress", "add", "extract", "list", "test", "preview", "gui [ARCHIVE]"):
        assert command in out
    assert cli.main([]) == 0
    assert "gui [ARCHIVE]" in capsys.readouterr().out


def test_other_commands_go_to_the_codec_command_line(monkeypatch):
    seen = []
    monkeypatch.setattr(codec_cli, "main", lambda argv: seen.append(argv) or 7)
    assert cli.main(["list", "a.ltz", "--quiet"]) == 7
    assert cli.main(["--version"]) == 7
    assert seen == [["list", "a.ltz", "--quiet"], ["--version"]]


def test_gui_goes_to_the_window(monkeypatch):
    import latentzip.gui.app as gui_app

    seen = []
    monkeypatch.setattr(gui_app, "run_app", lambda archive, smoke=False: seen.append((archive, smoke)) or 0)
    assert cli.main(["gui", "trip.ltz"]) == 0
    assert cli.main(["gui", "--smoke"]) == 0
    assert seen == [(Path("trip.ltz"), False), (None, True)]


def test_gui_refuses_unknown_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["gui", "--bogus"])
    assert exc.value.code == 2 and "--bogus" in capsys.readouterr().err


def test_codec_command_line_has_no_gui_command(capsys):
    with pytest.raises(SystemExit):
        codec_cli.main(["gui"])
    assert "invalid choice: 'gui'" in capsys.readouterr().err
