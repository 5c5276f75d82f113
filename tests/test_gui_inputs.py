"""The input list: drop zone, Add dialogs, samples, removal, the background scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gui_support import make_folder, make_png, wait_scanned
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from latentzip.codec.api.errors import CancelledError
from latentzip.codec.api.progress import CancelToken
from latentzip.codec.images.probe import LOSSY_EXTENSIONS
from latentzip.codec.ops.scan import DIRECTORY, FILE, scan_inputs
from latentzip.gui import paths
from latentzip.gui.input_list import scan_input

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_dropping_a_folder_fills_the_list(qtbot, window, tmp_path):
    folder = make_folder(tmp_path, "trip", images=3)
    panel = window.input_panel
    mime = _mime(folder)
    enter = QDragEnterEvent(  # QDragEnterEvent takes a QPoint, QDropEvent a QPointF
        QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    panel.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    panel.dropEvent(drop)
    wait_scanned(qtbot, window)
    model = window.inputs
    assert [e.path for e in model.entries] == [folder]
    images, others, size = model.totals()
    assert (images, others) == (3, 1)
    assert size == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    top = model.index(0, 0)
    assert model.data(model.index(0, 1)) == "3" and model.data(model.index(0, 2)) == "1"
    assert model.rowCount(top) == 3  # the images, for the preview
    assert "4 files, 2 folders (3 images, 1 other)" in panel.summary.text()  # as the archive will count them
    assert window.actions.compress.isEnabled()


def test_dropping_the_same_folder_twice_adds_it_once(qtbot, window, tmp_path):
    folder = make_folder(tmp_path)
    window.input_panel.handle_drop(_mime(folder))
    window.input_panel.handle_drop(_mime(folder))
    wait_scanned(qtbot, window)
    assert len(window.inputs.entries) == 1


def test_two_inputs_with_one_name_are_refused(qtbot, window, tmp_path, dialog_log):
    a = make_folder(tmp_path / "one", "photos", images=1)
    b = make_folder(tmp_path / "two", "photos", images=1)
    window.add_paths([a, b])
    wait_scanned(qtbot, window)
    assert [e.path for e in window.inputs.entries] == [a]
    assert dialog_log.errors and "photos" in dialog_log.errors[0][1]


def test_add_buttons_use_the_dialogs(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path)
    single = make_png(tmp_path / "single.png")
    dialog_log.folder = folder
    window.actions.add_folder.trigger()
    dialog_log.files = [single]
    window.actions.add_files.trigger()
    wait_scanned(qtbot, window)
    assert [e.path for e in window.inputs.entries] == [folder, single]
    assert window.inputs.totals()[0] == 4
    assert window.settings.last_input_dir == tmp_path


def test_remove_and_clear(qtbot, window, tmp_path):
    a, b = make_folder(tmp_path, "a", 1), make_folder(tmp_path, "b", 1)
    window.add_paths([a, b])
    wait_scanned(qtbot, window)
    tree = window.input_panel.tree
    tree.setCurrentIndex(window.inputs.index(0, 0))
    assert window.actions.remove.isEnabled()
    window.actions.remove.trigger()
    assert [e.path for e in window.inputs.entries] == [b]
    window.actions.clear.trigger()
    assert window.inputs.entries == []
    assert window.input_panel._stack.currentIndex() == 0  # back to the drop zone
    assert not window.actions.compress.isEnabled()


def test_sample_photos_load(qtbot, window):
    samples = paths.sample_photos()
    assert 3 <= len(samples) <= 8
    assert sum(p.stat().st_size for p in samples) < 1_200_000
    window.actions.samples.trigger()
    wait_scanned(qtbot, window)
    assert window.inputs.totals()[0] == len(samples)
    # the first one is selected and previewed
    qtbot.waitUntil(lambda: window.preview.figures is not None, timeout=45_000)


def test_scan_counts_and_never_follows_links(tmp_path):
    folder = make_folder(tmp_path, "f", images=2)
    (folder / "link.png").symlink_to(folder / "img0.png")
    scan = scan_input(folder)
    assert [i.name for i in scan.images] == ["f/img0.png", "f/sub/img1.png"]
    assert scan.other_files == 2  # notes.txt and the link


def test_scan_is_the_engines_walk(tmp_path):
    """The input list counts what compress would archive: one walk (codec/ops/scan.py) for both."""
    folder = make_folder(tmp_path, "f", images=2)
    os.mkfifo(folder / "pipe")
    members = scan_inputs([folder]).members
    scan = scan_input(folder, check_location=False)
    images = [m.name for m in members if m.kind == FILE and Path(m.name).suffix.lower() in LOSSY_EXTENSIONS]
    assert [i.name for i in scan.images] == images == ["f/img0.png", "f/sub/img1.png"]
    assert scan.other_files == sum(m.kind != DIRECTORY for m in members) - len(images)
    assert scan.error.startswith("f/pipe: special file")  # skipped by both, and said
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        scan_input(folder, token)


def test_window_icon_and_resources():
    assert paths.icon_path().is_file()
    assert paths.resources_root().is_dir()
