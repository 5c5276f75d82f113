"""Messages a person can act on: the archive asked for, what went wrong in words, the fix; no internals."""

from __future__ import annotations

import builtins
import errno
from pathlib import Path

import pytest
from gui_support import make_folder, wait_idle, wait_scanned

from latentzip.codec import engine
from latentzip.codec.api.errors import OutputError
from latentzip.codec.ops import compressor, partial_file
from latentzip.gui import dialogs
from latentzip.gui.worker import describe_error

pytestmark = [pytest.mark.gui, pytest.mark.timeout(90)]
INTERNALS = (".partial", "Errno", "[", "Traceback", "OSError", "Read-only file system")


def _read_only_folder(monkeypatch, folder: Path) -> None:
    """Writing anything in ``folder`` fails as on a read-only disk (the tests run as any user, root too)."""
    real_open = builtins.open

    def fake_open(file, mode="r", *args, **kwargs):
        if Path(file).parent == folder and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    for module in (compressor, partial_file):  # the hidden temporary archive is opened in partial_file
        monkeypatch.setattr(module, "open", fake_open, raising=False)


def test_read_only_folder_names_the_archive_and_offers_another_folder(qtbot, window, tmp_path, dialog_log, monkeypatch):
    folder = make_folder(tmp_path / "in", "photos", images=2)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    read_only, writable = tmp_path / "read-only", tmp_path / "elsewhere"
    read_only.mkdir()
    writable.mkdir()
    _read_only_folder(monkeypatch, read_only)
    asked: list[Path] = []
    answers = iter([read_only / "photos.ltz", writable / "photos.ltz"])

    def ask_save_archive(parent, suggested):
        asked.append(suggested)
        return next(answers)

    monkeypatch.setattr(dialogs, "ask_save_archive", ask_save_archive)
    dialog_log.choose_other_folder = True
    window.actions.compress.trigger()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=30_000)  # the fix: asked again where to save
    wait_idle(qtbot, window)
    title, what, detail = dialog_log.other_folder[0]
    assert "“photos.ltz”" in what and str(read_only) in what and "read-only" in what
    assert "another folder" in detail.lower()
    for text in (title, what, detail):
        assert not any(bad in text for bad in INTERNALS), text
    assert not dialog_log.errors and not dialog_log.error_details  # one message, not the same one twice
    assert asked[1].name == "photos.ltz" and asked[1].parent != read_only
    assert (writable / "photos.ltz").is_file() and not list(read_only.iterdir())
    assert "Archive written: photos.ltz" in window.result_panel.title.text()


def test_read_only_folder_declined_leaves_a_warning_naming_the_archive(
    qtbot, window, tmp_path, dialog_log, monkeypatch
):
    folder = make_folder(tmp_path / "in", "photos", images=1)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    _read_only_folder(monkeypatch, read_only)
    dialog_log.save_path = read_only / "photos.ltz"
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    assert len(dialog_log.other_folder) == 1 and not dialog_log.errors
    assert "photos.ltz was not written" in window.result_panel.title.text()
    rows = window.result_panel.issue_rows()
    assert rows[0][0] == "photos.ltz" and "read-only" in rows[0][1]
    assert not any(bad in rows[0][1] for bad in INTERNALS)


def test_the_engine_says_why_in_words(tmp_path, monkeypatch):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    _read_only_folder(monkeypatch, read_only)
    folder = make_folder(tmp_path / "in", "photos", images=1)
    with pytest.raises(OutputError) as caught:
        engine.compress([folder], read_only / "photos.ltz")
    assert (
        caught.value.output == str(read_only / "photos.ltz")
        and caught.value.problem == "the folder is on a read-only disk"
    )


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EROFS, "Read-only file system", "/home/u/Pictures/.photos.ltz.6268.partial"),
        OSError(errno.EACCES, "Permission denied", "/home/u/Pictures/.photos.ltz.6268.partial"),
        OSError(errno.ENOSPC, "No space left on device"),
        ValueError("internal state 0x7f: list index out of range"),
        KeyError("checkpoint"),
    ],
)
def test_no_message_shows_internals(exc):
    error = describe_error(exc)
    assert not any(bad in error.message for bad in INTERNALS), error.message
    assert "0x7f" not in error.message and "ValueError" not in error.message and "KeyError" not in error.message
    assert error.details  # the log gets them
    assert error.message[0].isupper() or error.message.startswith("“")


def test_a_user_file_an_os_error_names_is_kept(tmp_path):
    error = describe_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "holiday.jpg")))
    assert "holiday.jpg" in error.message and "permission was refused" in error.message


def test_truncated_archive_extraction_is_a_warning(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path / "src", "trip", images=3)
    out = tmp_path / "trip.ltz"
    engine.compress([folder], out)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) * 2 // 3])  # the index and the last entries are lost
    window.open_archive(out)
    qtbot.waitUntil(lambda: window.archive_page.archive == out, timeout=10_000)
    assert not dialog_log.errors and not dialog_log.error_details  # the window offers the salvage instead
    dialog_log.folder = tmp_path / "salvage"
    window.archive_page.recover_button.click()
    wait_idle(qtbot, window)
    title = window.result_panel.title.text()
    assert "color:" in title  # the warning style, not the normal one
    assert "could not be recovered" in title or "could not be restored" in title
    rows = dict(window.result_panel.issue_rows())
    assert any(why.startswith("not recovered") for why in rows.values())  # what was lost is named
