"""The app's side of issue 8 (parts 1 and 3): "Keep originals exactly" and "Add to archive…"."""

from __future__ import annotations

import shutil

import pytest
from gui_support import make_folder, wait_idle, wait_scanned
from test_photo_library import make_jpeg, tree

from latentzip.codec import engine
from latentzip.codec.container import EntryKind

pytestmark = [pytest.mark.gui, pytest.mark.timeout(90)]


def test_keep_originals_exactly_compresses_losslessly_and_shows_both_estimates(qtbot, window, tmp_path, dialog_log):
    folder = tmp_path / "in" / "jpegs"
    make_jpeg(folder / "a.jpg", 256, 192, seed=1)
    make_jpeg(folder / "b.jpg", 256, 192, seed=2)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    window.actions.image_modes["lossless"].trigger()
    assert window.image_mode == "lossless" and window.settings.image_mode == "lossless"
    qtbot.waitUntil(lambda: "Originals kept exactly: <b>" in window.estimate_label.text(), timeout=20_000)
    assert "re-coded at" in window.estimate_label.text() or "re-coded size" in window.estimate_label.text()
    out = tmp_path / "jpegs.ltz"
    dialog_log.save_path = out
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    assert not dialog_log.errors
    assert {r.kind for r in engine.list_entries(out) if r.path.endswith(".jpg")} == {EntryKind.JPEG_REPACK}
    assert "JPEGs kept exactly: <b>2" in window.result_panel.figures.text()
    window.actions.image_modes["lossy"].trigger()
    assert "Originals kept exactly: ≈" in window.estimate_label.text()


def test_add_to_archive_adds_new_files_and_relists(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path / "src", "trip", images=2)
    out = tmp_path / "trip.ltz"
    engine.compress([folder], out, engine.CompressOptions(images="lossless"))
    window.open_archive(out)
    qtbot.waitUntil(lambda: window.archive_page.archive == out, timeout=10_000)
    assert window.actions.add_to_archive.isEnabled()
    (folder / "later.txt").write_text("written after the archive\n")
    shutil.copy(folder / "notes.txt", folder / "notes-copy.txt")
    dialog_log.add_inputs = [folder]
    window.actions.add_to_archive.trigger()
    wait_idle(qtbot, window)
    assert not dialog_log.errors
    assert "Added to trip.ltz: 2 new" in window.result_panel.title.text()
    assert "Stored once (duplicates): <b>1" in window.result_panel.figures.text()
    qtbot.waitUntil(lambda: any(r.path == "trip/later.txt" for r in window.archive_model.records), timeout=10_000)
    kinds = {r.path: r.kind for r in engine.list_entries(out)}
    assert kinds["trip/notes-copy.txt"] == EntryKind.DUPLICATE
    engine.extract(out, tmp_path / "x")
    assert tree(tmp_path / "x" / "trip") == tree(folder)


def test_add_to_archive_cancelled_chooser_does_nothing(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path / "src", "trip", images=1)
    out = tmp_path / "trip.ltz"
    engine.compress([folder], out, engine.CompressOptions(images="lossless"))
    before = out.read_bytes()
    window.open_archive(out)
    qtbot.waitUntil(lambda: window.archive_page.archive == out, timeout=10_000)
    dialog_log.add_inputs = []
    window.actions.add_to_archive.trigger()
    assert not window.job_runner.busy and out.read_bytes() == before
