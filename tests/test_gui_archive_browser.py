"""The archive view as a browser: tree and filter, viewer, context menu and keys, drag out, honest statuses
after a refusing destination, and recovering a damaged archive."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from gui_support import make_folder, wait_idle
from PySide6.QtCore import QItemSelectionModel, Qt

from latentzip.codec import engine
from latentzip.codec.container import EntryKind
from latentzip.codec.ops import extractor

pytestmark = [pytest.mark.gui, pytest.mark.timeout(90)]


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    folder = make_folder(tmp_path / "src", "trip", images=3)
    shutil.copy(Path(__file__).parent / "assets" / "photo_crop.png", folder / "img0.png")  # a photo: coded
    out = tmp_path / "trip.ltz"
    engine.compress([folder], out, engine.CompressOptions(checkpoint="A"))
    return folder, out


def _open(qtbot, win, path: Path) -> None:
    win.close_archive()
    win.open_archive(path)
    qtbot.waitUntil(lambda: win.archive_page.archive == path, timeout=10_000)


def _select(page, model, *paths: str) -> None:
    selection = page.tree.selectionModel()
    selection.clearSelection()
    for path in paths:
        index = page.proxy.mapFromSource(model.index_of(path))
        assert index.isValid(), path
        selection.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
        page.tree.setCurrentIndex(index)


def test_tree_filter_and_counts(qtbot, window, archive):
    _, out = archive
    _open(qtbot, window, out)
    page, model = window.archive_page, window.archive_model
    assert "4 files, 2 folders" in page.header.text()  # trip/, trip/sub/ and four files
    assert page.tree.isExpanded(page.proxy.index(0, 0))  # the one top folder is open
    page.filter.setText("sub")  # a folder that matches shows what it holds
    sub = page.proxy.mapFromSource(model.index_of("trip/sub"))
    assert sub.isValid() and page.proxy.rowCount(sub) == 1
    assert not page.proxy.mapFromSource(model.index_of("trip/notes.txt")).isValid()
    page.filter.setText("img1")  # a match deep down keeps its folders
    assert page.proxy.mapFromSource(model.index_of("trip/img1.png")).isValid()
    assert not page.proxy.mapFromSource(model.index_of("trip/sub")).isValid()
    page.filter.clear()
    # folders sort first
    top = page.proxy.index(0, 0)
    assert page.proxy.index(0, 0, top).data() == "sub"
    # the test's title counts the same way
    window.actions.test.trigger()
    wait_idle(qtbot, window)
    assert "all 4 files, 2 folders are intact" in window.result_panel.title.text()


def test_double_click_or_enter_shows_the_decoded_image_with_its_header(qtbot, window, archive):
    from latentzip.gui.entry_viewer import EntryViewer

    _, out = archive
    _open(qtbot, window, out)
    page, model = window.archive_page, window.archive_model
    record = next(r for r in model.records if r.path == "trip/img0.png")
    assert record.kind == EntryKind.IMAGE
    _select(page, model, "trip/img0.png")
    page.tree.setFocus()
    qtbot.keyClick(page.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(window.findChildren(EntryViewer)), timeout=20_000)
    viewer = window.findChildren(EntryViewer)[0]
    assert viewer.record.path == "trip/img0.png"
    assert viewer._pixmap.width() == record.extra["width"] and viewer._pixmap.height() == record.extra["height"]
    text = viewer.figures.text()
    assert "checkpoint A" in text and f"{record.extra['bpp']:.3f} bpp" in text
    assert f"MS-SSIM {record.extra['ms_ssim']:.4f}" in text
    viewer.close()
    # a double-click on a text file opens nothing; on a folder it only folds
    with qtbot.assertNotEmitted(page.tree.view_requested):
        page.tree.doubleClicked.emit(page.proxy.mapFromSource(model.index_of("trip/notes.txt")))
    with qtbot.waitSignal(page.tree.view_requested):
        page.tree.doubleClicked.emit(page.proxy.mapFromSource(model.index_of("trip/sub/img2.png")))


def test_context_menu_offers_the_archive_actions(qtbot, window, archive):
    _, out = archive
    _open(qtbot, window, out)
    page, model = window.archive_page, window.archive_model
    _select(page, model, "trip/img1.png")
    act = window.actions
    menu = page.tree.build_menu()
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions][0] == "View"
    assert {act.extract_selected, act.extract_all, act.test} <= set(actions)
    assert act.extract_selected.isEnabled() and act.extract_selected.shortcut().toString() == "Ctrl+Shift+E"
    assert act.extract_all.shortcut().toString() == "Ctrl+E" and act.test.shortcut().toString() == "Ctrl+T"
    _select(page, model, "trip/notes.txt")
    assert "View" not in [a.text() for a in page.tree.build_menu().actions()]
    page.tree.setFocus()  # the keys work from the tree
    qtbot.keyClick(page.tree, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)
    assert "intact" in window.result_panel.title.text()


def test_drag_out_extracts_to_a_temporary_folder(qtbot, window, archive):
    folder, out = archive
    _open(qtbot, window, out)
    model = window.archive_model
    indexes = [model.index_of("trip/notes.txt"), model.index_of("trip/sub"), model.index_of("trip/sub/img2.png")]
    mime = model.mimeData(indexes)
    assert mime.hasFormat("text/uri-list") and model.supportedDragActions() == Qt.DropAction.CopyAction
    paths = sorted(Path(url.toLocalFile()) for url in mime.urls())  # the drop target asks: extracted now
    assert [p.name for p in paths] == ["notes.txt", "sub"]  # the folder carries its image; no duplicate
    notes = next(p for p in paths if p.name == "notes.txt")
    assert notes.read_bytes() == (folder / "notes.txt").read_bytes()
    assert (paths[1] / "img2.png").is_file()
    assert window.ops.drag_folders and notes.is_relative_to(window.ops.drag_folders[0])
    window.ops.remove_drag_folders()
    assert not notes.exists()


def test_a_read_only_destination_is_could_not_write_and_clears(
    qtbot, window, archive, tmp_path, dialog_log, monkeypatch
):
    folder, out = archive
    _open(qtbot, window, out)
    model = window.archive_model
    readonly = tmp_path / "readonly"
    real_replace = os.replace

    def refuse(src, dst, *args, **kwargs):  # a read-only file system (the tests run as root: chmod would not do)
        if str(dst).startswith(str(readonly)):
            raise OSError(errno.EROFS, "Read-only file system", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(extractor.os, "replace", refuse)
    dialog_log.folder = readonly
    window.actions.extract_all.trigger()
    wait_idle(qtbot, window)
    files = {r.path for r in model.records if r.kind != EntryKind.DIRECTORY}
    assert model.damaged == {} and set(model.unwritten) == files
    title = window.result_panel.title.text()
    assert "could not be written" in title and "damaged" not in title
    status = model.data(model.index_of("trip/notes.txt").siblingAtColumn(6))
    assert status.startswith("could not write") and "damaged" not in status
    assert all("the archive is fine" in why for _, why in window.result_panel.issue_rows())
    # the next run, to a good folder: the statuses clear
    monkeypatch.setattr(extractor.os, "replace", real_replace)
    dialog_log.folder = tmp_path / "good"
    window.actions.extract_all.trigger()
    wait_idle(qtbot, window)
    assert model.unwritten == {} and model.damaged == {}
    assert model.data(model.index_of("trip/notes.txt").siblingAtColumn(6)) == ""
    assert (tmp_path / "good" / "trip" / "notes.txt").read_bytes() == (folder / "notes.txt").read_bytes()


def test_a_damaged_archive_offers_to_recover_what_can_be_read(qtbot, window, archive, tmp_path, dialog_log):
    _, out = archive
    records = engine.list_entries(out)
    last = max(records, key=lambda r: r.offset)
    cut = tmp_path / "cut.ltz"
    cut.write_bytes(out.read_bytes()[: last.offset + last.payload_len // 2])  # the index and half an entry gone
    window.open_archive(cut)
    qtbot.waitUntil(lambda: window.archive_page.archive == cut, timeout=10_000)
    page, model = window.archive_page, window.archive_model
    assert not dialog_log.errors  # no dead-end dialog: the window offers the salvage
    assert model.salvaged and {r.path for r in model.records} == {r.path for r in records} - {last.path}
    assert page.recover_button.isVisible() and "can be recovered" in page.header.text()
    assert "0 files" not in page.header.text()
    dialog_log.folder = tmp_path / "recovered"
    page.recover_button.click()
    wait_idle(qtbot, window)
    rows = dict(window.result_panel.issue_rows())
    recovered = [n for n, why in rows.items() if why == "recovered"]
    assert set(recovered) == {r.path for r in model.records if r.kind != EntryKind.DIRECTORY}
    lost = [why for why in rows.values() if why.startswith(("lost:", "not recovered:"))]
    assert len(lost) == 1, rows  # the one cut entry, named once (not by both scans)
    assert "could not be recovered" in window.result_panel.title.text()
    for name in recovered:
        assert (tmp_path / "recovered" / name).is_file()
