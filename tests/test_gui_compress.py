"""Compress from the window: the archive, the overwrite question, cancel, the result band."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from gui_support import make_folder, make_png, wait_idle, wait_scanned

from latentzip.codec import cli, engine

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


def _load(qtbot, win, *paths):
    win.add_paths(list(paths))
    wait_scanned(qtbot, win)


def test_compress_writes_an_archive_that_latentzip_list_reads(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path / "in", "trip", images=3)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a JPEG")
    _load(qtbot, window, folder)
    out = tmp_path / "out" / "trip.ltz"
    out.parent.mkdir()
    dialog_log.save_path = out
    window.set_checkpoint("A")
    window.actions.compress.trigger()
    assert window.actions.cancel.isEnabled()
    wait_idle(qtbot, window)
    assert out.is_file() and not dialog_log.errors
    names = {r.path for r in engine.list_entries(out)}
    assert names == {
        "trip",
        "trip/img0.png",
        "trip/img1.png",
        "trip/sub",
        "trip/sub/img2.png",
        "trip/notes.txt",
        "trip/broken.jpg",
    }
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main(["list", str(out)]) == 0
    assert "trip/sub/img2.png" in buf.getvalue()
    # the result band: figures, and the files that were stored losslessly with the reason
    report = window.ops.last_report
    assert report.archive == out
    panel = window.result_panel
    assert window.band.currentWidget() is panel and panel.isVisible()
    assert "trip.ltz" in panel.title.text()
    for word in ("Original", "Archive", "Ratio", "Mean bpp", "Time"):
        assert word in panel.figures.text()
    issues = dict(panel.issue_rows())
    assert "trip/broken.jpg" in issues and "decode" in issues["trip/broken.jpg"]
    assert "trip/notes.txt" not in issues  # plain files are not news
    assert window.actions.show_in_folder.isEnabled()
    assert window.settings.last_archive_dir == out.parent
    if any(o.kind == "lossy" for o in report.outcomes):
        assert {r.extra.get("checkpoint") for r in engine.list_entries(out) if r.kind == 3} == {"A"}


def test_default_name_is_beside_the_first_folder(qtbot, window, tmp_path, monkeypatch):
    folder = make_folder(tmp_path, "Holiday", images=1)
    _load(qtbot, window, folder)
    asked = []
    from latentzip.gui import dialogs

    monkeypatch.setattr(dialogs, "ask_save_archive", lambda parent, suggested: asked.append(suggested))
    window.actions.compress.trigger()
    assert asked == [tmp_path / "Holiday.ltz"]
    assert not window.job_runner.busy


def test_never_overwrites_without_asking(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path, "trip", images=1)
    _load(qtbot, window, folder)
    out = tmp_path / "existing.ltz"
    out.write_bytes(b"keep me")
    dialog_log.save_path = out
    dialog_log.replace = False
    window.actions.compress.trigger()
    assert dialog_log.replace_questions and not window.job_runner.busy
    assert out.read_bytes() == b"keep me"
    dialog_log.replace = True
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    assert len(dialog_log.replace_questions) == 2
    assert engine.list_entries(out)


def test_cancel_stops_quickly_and_leaves_no_archive(qtbot, window, tmp_path, dialog_log):
    folder = tmp_path / "many"
    for i in range(40):  # big enough that a few take longer than several timer ticks, however fast coding gets
        make_png(folder / f"p{i:02d}.png", 320, 256, seed=i)
    _load(qtbot, window, folder)
    out = tmp_path / "many.ltz"
    dialog_log.save_path = out
    window.actions.compress.trigger()
    qtbot.waitUntil(
        lambda: window.progress_panel.last_event is not None and window.progress_panel.last_event.files_done >= 2,
        timeout=30_000,
    )
    assert "of 41 files" in window.progress_panel.stats.text()
    started = time.monotonic()
    window.actions.cancel.trigger()  # what Esc does
    wait_idle(qtbot, window, timeout=10_000)
    assert time.monotonic() - started < 5.0
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial file either
    assert "cancelled" in window.result_panel.title.text()
    assert not dialog_log.errors


def test_esc_is_the_cancel_shortcut(window):
    assert window.actions.cancel.shortcut().toString() == "Esc"
    assert window.actions.compress.shortcut().toString() == "Ctrl+S"
    assert window.actions.open_archive.shortcut().toString() == "Ctrl+O"


def test_engine_error_is_shown_in_plain_words(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path, "trip", images=1)
    _load(qtbot, window, folder)
    dialog_log.save_path = tmp_path / "no-such-folder" / "x.ltz"
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    # the folder does not exist: said in words, with the fix offered (another folder), no other dialog
    assert not dialog_log.errors and len(dialog_log.other_folder) == 1
    assert "“x.ltz”" in dialog_log.other_folder[0][1] and "does not exist" in dialog_log.other_folder[0][1]
    assert "x.ltz was not written" in window.result_panel.title.text()


def test_window_responds_while_compressing_and_close_joins_the_workers(qtbot, window, tmp_path, dialog_log):
    from PySide6.QtCore import QTimer

    folder = tmp_path / "many"
    for i in range(40):  # big enough that a few take longer than several timer ticks, however fast coding gets
        make_png(folder / f"p{i:02d}.png", 320, 256, seed=i)
    _load(qtbot, window, folder)
    out = tmp_path / "many.ltz"
    dialog_log.save_path = out
    ticks: list[float] = []
    timer = QTimer(interval=20, timeout=lambda: ticks.append(time.monotonic()))
    timer.start()
    window.actions.compress.trigger()
    qtbot.waitUntil(
        lambda: window.progress_panel.last_event is not None and window.progress_panel.last_event.files_done >= 6,
        timeout=30_000,
    )
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 5 and max(gaps) < 1.0  # the event loop keeps turning: the window repaints
    dialog_log.confirm = True  # "An operation is still running. Cancel it and quit?"
    window.close()
    for runner in (window.job_runner, window.analysis_runner, window.scan_runner):
        assert runner._thread.isFinished()
    assert not out.exists()


def test_samples_are_not_saved_inside_the_installation(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    window.actions.samples.trigger()
    wait_scanned(qtbot, window)
    suggested = window.ops.suggested_archive(window.inputs.paths())
    assert suggested == Path.home() / "Latentzip samples.ltz"


def test_resume_offered_for_an_interrupted_compression(qtbot, window, tmp_path, dialog_log, monkeypatch):
    import signal
    import subprocess
    import sys

    import numpy as np
    from test_integrity import KILLER

    from latentzip.gui import dialogs

    folder = tmp_path / "in" / "bins"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for i in range(8):
        (folder / f"f{i}.bin").write_bytes(rng.bytes(60_000))
    out = tmp_path / "bins.ltz"
    killed = subprocess.run([sys.executable, "-c", KILLER, str(folder), str(out)], timeout=120)
    assert killed.returncode == -signal.SIGKILL and engine.stale_partials(out)
    engine.compress([folder], tmp_path / "whole.ltz", engine.CompressOptions(images="lossless"))
    questions = []
    monkeypatch.setattr(dialogs, "ask_resume", lambda parent, what, detail: questions.append(what) or True)
    _load(qtbot, window, folder)
    window.set_image_mode("lossless")
    dialog_log.save_path = out
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    assert questions and "bins.ltz" in questions[0] and not dialog_log.errors
    assert out.read_bytes() == (tmp_path / "whole.ltz").read_bytes() and not engine.stale_partials(out)
