"""Large libraries in the window (10,000 entries, only visible rows drawn) and the location choice."""

from __future__ import annotations

import pytest
from gui_support import make_folder, wait_idle, wait_scanned
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from test_location import _jpeg

from latentzip.codec import engine
from latentzip.codec.container import EntryKind, EntryRecord
from latentzip.codec.images.location import has_location
from latentzip.gui.input_list import ImageFile, InputScan

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]
N = 10_000


class _RowCounter:
    """Wraps a model's data() and records which rows were asked for their text."""

    def __init__(self, model, monkeypatch) -> None:
        self.rows: set[tuple[int, int]] = set()
        original = model.data

        def data(index, role=Qt.ItemDataRole.DisplayRole):
            if role == Qt.ItemDataRole.DisplayRole and index.isValid():
                self.rows.add((index.internalId(), index.row()))
            return original(index, role)

        monkeypatch.setattr(model, "data", data)


def test_input_list_with_10000_images_draws_only_visible_rows(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "library"
    folder.mkdir()
    scan = InputScan(
        images=[ImageFile(folder / f"img{i:05d}.jpg", f"library/img{i:05d}.jpg", 20_000 + i) for i in range(N)],
        located=1234,
    )
    model = window.inputs
    counter = _RowCounter(model, monkeypatch)
    entry = model.add(folder)
    model.set_scan(entry, scan)
    tree = window.input_panel.tree
    tree.expand(model.index(0, 0))
    QApplication.processEvents()
    tree.scrollToBottom()
    QApplication.processEvents()
    assert model.rowCount(model.index(0, 0)) == N
    assert tree.uniformRowHeights()
    assert len(counter.rows) < 500, f"{len(counter.rows)} rows were asked for their text"
    assert f"{N} images" in window.input_panel.summary.text()
    assert "1234 of 10000 images carry a location" in window.compress_page.location_label.text()


def test_archive_table_with_10000_entries_draws_only_visible_rows(qtbot, window, monkeypatch):
    records = [
        EntryRecord(
            f"library/img{i:05d}.jpg",
            EntryKind.IMAGE if i % 2 else EntryKind.STORED,
            20_000 + i,
            0,
            0o644,
            None,
            16 + i * 100,
            90,
            0,
            {"bpp": 0.5, "checkpoint": "A", "width": 64, "height": 48} if i % 2 else {},
        )
        for i in range(N)
    ]
    model = window.archive_model
    counter = _RowCounter(model, monkeypatch)
    page = window.archive_page
    window.tabs.setCurrentWidget(page)
    model.set_records(records)
    page._stack.setCurrentIndex(1)
    QApplication.processEvents()
    page.table.scrollToBottom()
    QApplication.processEvents()
    drawn = {row for _, row in counter.rows}
    assert len(drawn) < 500, f"{len(drawn)} rows were asked for their text"
    page.filter.setText("img09")  # filtering reads every name, once
    QApplication.processEvents()
    assert page.proxy.rowCount() == 1  # the folder library/, with the matches inside
    assert page.proxy.rowCount(page.proxy.index(0, 0)) == 1000


def test_location_count_and_remove_location(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path / "in", "trip", images=2)
    (folder / "here.jpg").write_bytes(_jpeg())
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    page = window.compress_page
    assert "1 of 3 images carry a location" in page.location_label.text()
    assert not page.location_box.isChecked()  # default: keep everything
    page.location_box.setChecked(True)
    out = tmp_path / "trip.ltz"
    dialog_log.save_path = out
    window.set_checkpoint("A")
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    assert window.ops.last_report.locations_removed == 1
    assert "Location removed" in window.result_panel.figures.text()
    restored = tmp_path / "restored"
    engine.extract(out, restored, engine.ExtractOptions())
    assert not has_location((restored / "trip" / "here.jpg").read_bytes())
