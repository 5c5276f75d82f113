"""Operations talk to the window only through OperationsHost: they run against a fake host."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from gui_support import make_folder

from latentzip.codec import engine

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


class FakeHost:
    """Exactly the methods of OperationsHost, recording what Operations asked for."""

    def __init__(self, parent, request, archive: Path | None = None) -> None:
        self.parent, self.request, self.archive = parent, request, archive
        self.calls: list[tuple] = []
        self.ended = 0

    def dialog_parent(self):
        return self.parent

    def compress_request(self):
        return self.request

    def pause_estimate(self) -> None:
        self.calls.append(("pause_estimate",))

    def operation_started(self, title: str) -> None:
        self.calls.append(("started", title))

    def operation_progress(self, event) -> None:
        assert isinstance(event.operation, engine.Operation)

    def operation_cancelling(self) -> None:
        self.calls.append(("cancelling",))

    def show_result(self, title, figures, issues, ok=True) -> None:
        self.calls.append(("result", title, tuple(issues), ok))

    def operation_ended(self) -> None:
        self.ended += 1

    def state_changed(self) -> None:
        pass

    def show_status(self, message: str, timeout_ms: int) -> None:
        self.calls.append(("status", message))

    def current_archive(self):
        return self.archive

    def archive_selection(self, selected: bool):
        return [], ()

    def show_archive(self, path, records) -> None:
        self.calls.append(("archive", path, len(records)))

    def show_unreadable_archive(self, path) -> None:
        self.calls.append(("unreadable", path))

    def mark_extracted(self, written, damaged, unwritten) -> None:
        self.calls.append(("extracted", tuple(written), tuple(damaged), tuple(unwritten)))

    def show_salvage(self, path, listing) -> None:
        self.calls.append(("salvage", path, len(listing.recovered), len(listing.lost)))

    def show_entry(self, record, image) -> None:
        self.calls.append(("entry", record.path, image.size()))

    def show_files_result(self, report) -> None:
        self.calls.append(("files", len(report.outcomes)))

    def show_test_result(self, damaged) -> None:
        self.calls.append(("tested", tuple(damaged)))


def test_fake_host_matches_the_protocol() -> None:
    from latentzip.gui.operations import OperationsHost

    wanted = {n for n, v in vars(OperationsHost).items() if callable(v) and not n.startswith("_")}
    assert wanted == {n for n, v in vars(FakeHost).items() if callable(v) and not n.startswith("_")}


def test_operations_module_does_not_know_the_window() -> None:
    from latentzip.gui import operations

    tree = ast.parse(inspect.getsource(operations))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "main_window" not in imported and not any(m and m.endswith("main_window") for m in imported)


def test_compress_open_and_test_through_a_fake_host(qtbot, dialog_log, gui_home, tmp_path) -> None:
    from PySide6.QtWidgets import QWidget

    from latentzip.gui.operations import CompressRequest, Operations
    from latentzip.gui.settings import Settings
    from latentzip.gui.worker import JobRunner

    folder = make_folder(tmp_path / "src", "trip", images=1)
    (folder / "notes.txt").write_text("a plain file")
    out = tmp_path / "trip.ltz"
    dialog_log.save_path = out
    parent = QWidget()
    qtbot.addWidget(parent)
    host = FakeHost(parent, CompressRequest([folder], "A", "lossy", {}, False))
    jobs, scans = JobRunner("test-jobs"), JobRunner("test-scans")
    ops = Operations(host, Settings(), jobs, scans)
    try:
        ops.compress()
        qtbot.waitUntil(lambda: host.ended == 1, timeout=45_000)
        result = next(c for c in host.calls if c[0] == "result")
        assert result[1] == "Archive written: trip.ltz" and result[3] is True
        assert all(name != "trip/notes.txt" for name, _ in result[2])  # IssueCode.NOT_AN_IMAGE: not news
        assert ("pause_estimate",) in host.calls and ops.result_archive == out
        assert ("files", 4) in host.calls  # every outcome: trip/, trip/sub/, the image, the text file
        ops.open_result()
        qtbot.waitUntil(lambda: any(c[0] == "archive" for c in host.calls), timeout=10_000)
        host.archive = out
        ops.test()
        qtbot.waitUntil(lambda: host.ended == 2, timeout=45_000)
        assert ("tested", ()) in host.calls and ops.result_folder == out.parent
    finally:
        jobs.shutdown()
        scans.shutdown()
