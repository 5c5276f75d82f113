"""The app around the window: `latentzip gui`, --smoke, settings, the exception hook, logging."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import pytest
from gui_support import make_folder
from PySide6.QtWidgets import QApplication, QMessageBox

from latentzip import cli
from latentzip.codec import engine
from latentzip.gui import app as gui_app
from latentzip.gui import paths

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


@pytest.fixture
def restore_hooks(monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    root = logging.getLogger("latentzip")
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


def test_smoke_prints_the_first_frame_time_and_exits_0(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LATENTZIP_GUI_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [sys.executable, "-m", "latentzip", "gui", "--smoke"], env=env, capture_output=True, text=True, timeout=50
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("first frame after ") and proc.stdout.strip().endswith(" s")
    assert (tmp_path / "home" / "log" / "latentzip.log").is_file()


def test_gui_command_opens_the_archive(qtbot, tmp_path, monkeypatch, dialog_log, restore_hooks):
    folder = make_folder(tmp_path, "trip", images=1)
    archive = tmp_path / "trip.ltz"
    engine.compress([folder], archive)
    seen = {}

    def fake_exec():  # the event loop, until the archive is shown; then the user closes the window
        win = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible())
        qtbot.waitUntil(lambda: win.archive_page.archive == archive, timeout=10_000)
        seen["rows"] = len(win.archive_model.records)
        seen["tab"] = win.tabs.currentIndex()
        win.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(fake_exec))
    assert cli.main(["gui", str(archive)]) == 0
    assert seen == {"rows": len(engine.list_entries(archive)), "tab": 1}


def test_settings_persist(qtbot, tmp_path, dialog_log, gui_home):
    from latentzip.gui.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.setGeometry(13, 27, 798, 540)  # within the 800x600 offscreen screen
    first.set_checkpoint("C")
    first.preview.view.set_mode("side")
    saved = first.geometry()
    first.close()
    assert (gui_home / "config" / "latentzip.ini").is_file()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.checkpoint == "C"
    assert second.preview.view.mode == "side" and second.actions.side.isChecked()
    # the offscreen screen (800x600) is narrower than the window's minimum: compare what fits
    assert (second.geometry().top(), second.geometry().height()) == (saved.top(), saved.height())
    second.shutdown()


def test_uncaught_exception_is_logged_and_shown(qtbot, monkeypatch, gui_home, restore_hooks):
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append((self.text(), self.detailedText())))
    log_file = gui_app.setup_logging()
    gui_app.install_exception_hook()
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    # said in words; the exception text and traceback stay in the log, out of the dialog
    assert "went wrong" in shown[0][0] and "boom" not in shown[0][0] and shown[0][1] == ""
    for handler in logging.getLogger("latentzip").handlers:
        handler.flush()
    assert "boom in a slot" in log_file.read_text()
    # from another thread too: marshalled to the GUI thread
    worker = threading.Thread(target=lambda: (_ for _ in ()).throw(ValueError("boom in a thread")))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=5000)
    assert "boom" not in shown[1][0]
    for handler in logging.getLogger("latentzip").handlers:
        handler.flush()
    assert "boom in a thread" in log_file.read_text()


def test_user_folders_are_not_created_at_import(tmp_path, monkeypatch):
    home = tmp_path / "fresh"
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    assert not home.exists()
    assert paths.config_dir() == home / "config" and (home / "config").is_dir()
    assert not (home / "cache").exists()


@pytest.mark.gui
def test_precision_choice_reaches_the_engine_and_persists(window):
    from latentzip.codec.engine import default_registry

    window.actions.precisions["fp32"].trigger()
    assert window.precision == "fp32" and window.analysis.precision == "fp32"  # what new jobs carry
    assert default_registry().precision == "auto"  # no global state changes
    assert window.settings.precision == "fp32"
    window.actions.precisions["auto"].trigger()
    assert window.precision == "auto"
