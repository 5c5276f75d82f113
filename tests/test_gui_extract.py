"""The Archive page: open, list, extract all or selected, test, damaged entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_support import make_folder, tree_rows, wait_idle
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QMimeData, QUrl

from latentzip.codec import engine
from latentzip.codec.container import EntryKind

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    folder = make_folder(tmp_path / "src", "trip", images=3)
    out = tmp_path / "trip.ltz"
    engine.compress([folder], out)
    return folder, out


def _open(qtbot, win, path: Path) -> None:
    win.close_archive()
    win.open_archive(path)
    qtbot.waitUntil(lambda: win.archive_page.archive == path, timeout=10_000)


def _same_tree(original: Path, restored: Path, lossy: set[str]) -> None:
    files = sorted(p.relative_to(original) for p in original.rglob("*"))
    assert sorted(p.relative_to(restored) for p in restored.rglob("*")) == files
    for rel in files:
        a, b = original / rel, restored / rel
        if a.is_dir():
            continue
        name = f"{original.name}/{rel.as_posix()}"
        if name in lossy:  # coded images come back with the same size, not the same bytes
            assert Image.open(a).size == Image.open(b).size
        else:
            assert a.read_bytes() == b.read_bytes()


def test_open_lists_the_entries(qtbot, window, archive):
    folder, out = archive
    _open(qtbot, window, out)
    model = window.archive_model
    assert window.tabs.currentIndex() == 1
    assert {r.path for r in model.records} == {r.path for r in engine.list_entries(out)}
    kinds = tree_rows(model)  # a tree of folders: trip/, trip/sub/ and their files
    assert "trip/sub/img2.png" in kinds and kinds["trip/sub"] == "folder"
    assert kinds["trip"] == "folder"
    top = model.index(0, 0)
    assert model.rowCount() == 1 and model.data(top) == "trip"
    assert {model.data(model.index(i, 0, top)) for i in range(model.rowCount(top))} == {
        "sub",
        "img0.png",
        "img1.png",
        "notes.txt",
    }
    assert "trip.ltz" in window.archive_page.header.text()
    assert window.actions.extract_all.isEnabled() and window.actions.test.isEnabled()
    assert "trip.ltz" in window.windowTitle()


def test_extract_all_restores_the_folder(qtbot, window, archive, tmp_path, dialog_log):
    folder, out = archive
    _open(qtbot, window, out)
    target = tmp_path / "restored"
    dialog_log.folder = target
    window.actions.extract_all.trigger()
    wait_idle(qtbot, window)
    assert not dialog_log.errors
    lossy = {r.path for r in engine.list_entries(out) if r.kind == EntryKind.IMAGE}
    _same_tree(folder, target / "trip", lossy)
    assert "Extracted" in window.result_panel.title.text()
    # a second extraction asks before replacing
    dialog_log.replace = False
    window.actions.extract_all.trigger()
    assert dialog_log.replace_questions and not window.job_runner.busy


def test_extract_selected(qtbot, window, archive, tmp_path, dialog_log):
    _, out = archive
    _open(qtbot, window, out)
    page = window.archive_page
    page.filter.setText("notes")
    assert page.proxy.rowCount() == 1 and page.proxy.rowCount(page.proxy.index(0, 0)) == 1  # trip/ > notes.txt
    notes = page.proxy.mapFromSource(window.archive_model.index_of("trip/notes.txt"))
    page.tree.selectionModel().select(
        notes, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    assert window.actions.extract_selected.isEnabled()
    dialog_log.folder = tmp_path / "some"
    window.actions.extract_selected.trigger()
    wait_idle(qtbot, window)
    assert sorted(p.relative_to(tmp_path / "some").as_posix() for p in (tmp_path / "some").rglob("*")) == [
        "trip",
        "trip/notes.txt",
    ]


def test_test_archive_and_damaged_entries(qtbot, window, archive, tmp_path, dialog_log):
    folder, out = archive
    _open(qtbot, window, out)
    window.actions.test.trigger()
    wait_idle(qtbot, window)
    assert "all" in window.result_panel.title.text() and "intact" in window.result_panel.title.text()
    # damage one entry's payload, reopen: the test names it, the intact ones still extract
    rec = next(r for r in engine.list_entries(out) if r.path == "trip/notes.txt")
    data = bytearray(out.read_bytes())
    data[rec.offset + rec.payload_len // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    _open(qtbot, window, out)
    window.actions.test.trigger()
    wait_idle(qtbot, window)
    assert window.archive_model.damaged.keys() == {"trip/notes.txt"}
    assert [name for name, _ in window.result_panel.issue_rows()] == ["trip/notes.txt"]
    assert "damaged" in window.archive_page.header.text()
    dialog_log.folder = tmp_path / "salvage"
    window.actions.extract_all.trigger()
    wait_idle(qtbot, window)
    restored = tmp_path / "salvage" / "trip"
    assert (restored / "img0.png").is_file() and (restored / "sub" / "img2.png").is_file()
    assert not (restored / "notes.txt").exists()
    title = window.result_panel.title.text()  # how many could not be restored, in the warning colour
    assert "1 of 4 files could not be restored" in title and "3 files, 2 folders extracted" in title
    assert "color:" in title
    assert [name for name, _ in window.result_panel.issue_rows()] == ["trip/notes.txt"]


def test_not_an_archive_is_reported(qtbot, window, tmp_path, dialog_log):
    bogus = tmp_path / "bogus.ltz"
    bogus.write_bytes(b"not an archive at all" * 10)
    window.open_archive(bogus)
    qtbot.waitUntil(lambda: bool(dialog_log.errors), timeout=10_000)
    assert dialog_log.errors[0][0] == "Cannot read the archive"


def test_dropping_an_archive_opens_it(qtbot, window, archive):
    _, out = archive
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(out))])
    window.input_panel.handle_drop(mime)
    qtbot.waitUntil(lambda: window.archive_page.archive == out, timeout=10_000)
    assert window.inputs.entries == []  # opened, not added as an input


def test_open_result_after_compress(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path, "trip", images=1)
    window.add_paths([folder])
    qtbot.waitUntil(lambda: window.actions.compress.isEnabled(), timeout=10_000)
    dialog_log.save_path = tmp_path / "r.ltz"
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    window.actions.open_result.trigger()
    qtbot.waitUntil(lambda: window.archive_page.archive == tmp_path / "r.ltz", timeout=10_000)
