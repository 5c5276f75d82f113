"""The Settings dialog: stored in the INI file, read back, applied to the window."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("pytestqt")

from gui_support import make_folder  # noqa: E402

from latentzip.codec.runtime.model_set import THREADS_ENV, thread_limit  # noqa: E402
from latentzip.gui import dialogs  # noqa: E402
from latentzip.gui.settings import Settings  # noqa: E402
from latentzip.gui.settings_dialog import SettingsDialog, SettingsValues, read_values, store_values  # noqa: E402

pytestmark = [pytest.mark.gui]


def test_dialog_round_trip_through_the_ini_file(qtbot, tmp_path):
    settings = Settings(tmp_path / "latentzip.ini")
    dialog = SettingsDialog(read_values(settings))
    qtbot.addWidget(dialog)
    assert dialog.values() == SettingsValues("B", "lossy", "auto", 0, None, False)  # the defaults
    dialog.checkpoint.setCurrentIndex(dialog.checkpoint.findData("C"))
    dialog.image_mode.setCurrentIndex(dialog.image_mode.findData("lossless"))
    dialog.precision.setCurrentIndex(dialog.precision.findData("int8"))
    dialog.threads.setValue(2)
    dialog.folder_edit.setText(str(tmp_path))
    dialog.in_folder.setChecked(True)
    dialog.strip_location.setChecked(True)
    store_values(settings, dialog.values())
    again = read_values(Settings(tmp_path / "latentzip.ini"))  # read back from the file
    assert again == SettingsValues("C", "lossless", "int8", 2, tmp_path, True)


def test_a_missing_folder_or_bad_values_fall_back(qtbot, tmp_path):
    ini = tmp_path / "latentzip.ini"
    ini.write_text(
        f"[compress]\nthreads=lots\nstrip_location=maybe\ncheckpoint=Z\n[folders]\narchives_go={tmp_path / 'gone'}\n"
    )
    assert read_values(Settings(ini)) == SettingsValues("B", "lossy", "auto", 0, None, False)
    dialog = SettingsDialog(SettingsValues("A", "lossy", "auto", 0, None, False))
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(tmp_path / "gone"))
    dialog.in_folder.setChecked(True)
    assert dialog.values().archive_folder is None  # a folder that does not exist: beside the inputs


def test_accepted_settings_apply_to_the_window(qtbot, window, tmp_path, monkeypatch):
    archives = tmp_path / "archives"
    archives.mkdir()
    chosen = SettingsValues("A", "lossless", "fp32", 3, archives, True)
    monkeypatch.setattr(dialogs, "edit_settings", lambda parent, values: chosen)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    window.actions.settings.trigger()
    assert window.checkpoint == "A" and window.image_mode == "lossless" and window.precision == "fp32"
    assert window.compress_page.strip_location
    assert os.environ[THREADS_ENV] == "3" and thread_limit() == 3
    folder = make_folder(tmp_path / "in", "trip", images=1)
    assert window.ops.suggested_archive([folder]) == archives / "trip.ltz"
    assert read_values(window.settings) == chosen  # stored
    monkeypatch.setattr(
        dialogs, "edit_settings", lambda parent, values: SettingsValues("B", "lossy", "auto", 0, None, False)
    )
    window.actions.settings.trigger()
    assert THREADS_ENV not in os.environ and window.ops.suggested_archive([folder]) == folder.parent / "trip.ltz"


def test_a_cancelled_dialog_changes_nothing(qtbot, window, monkeypatch):
    before = read_values(window.settings)
    monkeypatch.setattr(dialogs, "edit_settings", lambda parent, values: None)
    window.actions.settings.trigger()
    assert read_values(window.settings) == before


def test_int8_is_said_to_run_fp32_where_the_default_set_has_none(qtbot, tmp_path):
    values = read_values(Settings(tmp_path / "latentzip.ini"))
    without = SettingsDialog(values, int8_available=False)
    with_int8 = SettingsDialog(values, int8_available=True)
    for dialog in (without, with_int8):
        qtbot.addWidget(dialog)
    text = without.precision.itemText(without.precision.findData("int8"))
    assert "runs fp32" in text
    assert "runs fp32" not in with_int8.precision.itemText(with_int8.precision.findData("int8"))
    from latentzip.codec import engine

    shipped = engine.default_registry().get().has_int8("decoder")
    default = SettingsDialog(values)
    qtbot.addWidget(default)
    assert ("runs fp32" in default.precision.itemText(default.precision.findData("int8"))) is not shipped
