"""Fixtures and helpers shared by the GUI tests (a pytest plugin named in conftest.py).

Every test gets a scratch LATENTZIP_GUI_HOME (settings and logs never touch the
user's folders) and no modal dialog can ever wait: QMessageBox and QFileDialog
raise if reached, and the tests replace the functions of ``latentzip.gui.dialogs``
with answers of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def make_png(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """A small, smooth-ish RGB test photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 4 + seed * 30) % 256, (y * 5) % 256, ((x + y) * 2) % 256], -1)
    img = np.clip(img + rng.integers(-8, 8, img.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def make_folder(root: Path, name: str = "trip", images: int = 3) -> Path:
    """``name/`` with images (one in a subfolder) and a text file."""
    folder = root / name
    for i in range(images):
        make_png(folder / ("sub" if i == images - 1 else "") / f"img{i}.png", seed=i)
    (folder / "notes.txt").write_text("holiday notes\n" * 20)
    return folder


@dataclass
class DialogLog:
    """What the patched dialogs were asked, and the answers they give."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    error_details: list[str] = field(default_factory=list)  # a dialog's "Details" text (none should have one)
    replace_questions: list[str] = field(default_factory=list)
    save_path: Path | None = None
    folder: Path | None = None
    files: list[Path] = field(default_factory=list)
    add_inputs: list[Path] = field(default_factory=list)  # the answer of ask_add_inputs (Add to archive)
    open_archive: Path | None = None
    replace: bool = False
    confirm: bool = True
    other_folder: list[tuple[str, str, str]] = field(default_factory=list)  # what ask_other_folder was told
    choose_other_folder: bool = False  # its answer


class UnexpectedDialog(AssertionError):
    pass


def _refuse(*args, **kwargs):
    raise UnexpectedDialog(f"a modal dialog was opened: {args[:2]!r}")


@pytest.fixture
def gui_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "gui-home"
    monkeypatch.setenv("LATENTZIP_GUI_HOME", str(home))
    return home


@pytest.fixture
def dialog_log(monkeypatch, gui_home) -> DialogLog:
    from PySide6.QtWidgets import QFileDialog, QMessageBox  # Qt only for the tests that use it

    from latentzip.gui import dialogs

    log = DialogLog()
    for name in ("exec", "information", "warning", "critical", "question", "about"):
        monkeypatch.setattr(QMessageBox, name, _refuse)
    for name in ("getExistingDirectory", "getOpenFileName", "getOpenFileNames", "getSaveFileName", "exec"):
        monkeypatch.setattr(QFileDialog, name, _refuse)

    def show_error(parent, title, message, details=""):
        log.errors.append((title, message))
        if details:
            log.error_details.append(details)

    monkeypatch.setattr(dialogs, "show_error", show_error)
    monkeypatch.setattr(dialogs, "show_info", lambda parent, title, message: None)
    monkeypatch.setattr(dialogs, "ask_save_archive", lambda parent, suggested: log.save_path)
    monkeypatch.setattr(dialogs, "ask_folder", lambda parent, title, start: log.folder)
    monkeypatch.setattr(dialogs, "ask_files", lambda parent, title, start: list(log.files))
    monkeypatch.setattr(dialogs, "ask_open_archive", lambda parent, start: log.open_archive)
    monkeypatch.setattr(dialogs, "ask_add_inputs", lambda parent, name, start: list(log.add_inputs))

    def ask_replace(parent, what, detail=""):
        log.replace_questions.append(what)
        return log.replace

    monkeypatch.setattr(dialogs, "ask_replace", ask_replace)
    monkeypatch.setattr(dialogs, "ask_confirm", lambda parent, title, what, detail, yes: log.confirm)

    def ask_other_folder(parent, title, what, detail):
        log.other_folder.append((title, what, detail))
        return log.choose_other_folder

    monkeypatch.setattr(dialogs, "ask_other_folder", ask_other_folder)
    monkeypatch.setattr(dialogs, "edit_settings", lambda parent, values: None)
    return log


@pytest.fixture
def window(qtbot, dialog_log, gui_home):
    from latentzip.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1100, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def wait_idle(qtbot, win, timeout: int = 45_000) -> None:
    """Until the jobs worker has nothing left (compress, extract, test)."""
    qtbot.waitUntil(lambda: not win.job_runner.busy, timeout=timeout)


def wait_scanned(qtbot, win, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: win.inputs.entries and not win.inputs.scanning, timeout=timeout)


def tree_rows(model, parent=None) -> dict[str, str]:
    """Every row of the archive tree model, folded or not: full path -> its Kind column."""
    from PySide6.QtCore import QModelIndex

    from latentzip.gui.archive_tree import PATH_ROLE

    parent = parent if parent is not None else QModelIndex()
    rows: dict[str, str] = {}
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        rows[model.data(index, PATH_ROLE)] = model.data(model.index(row, 1, parent))
        rows.update(tree_rows(model, index))
    return rows
