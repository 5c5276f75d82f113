"""The window's layout from 1024x700 up: no text cut, the target readable, the preview keeps its room."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QAbstractButton, QLabel  # noqa: E402

from latentzip.gui.format import checkpoint_label  # noqa: E402

WIDTHS = (1024, 1280, 1920)
HEIGHT = 700


def _settle(qtbot, win) -> None:
    qtbot.waitUntil(lambda: win.layout() is not None and not win.layout().isEmpty())
    for _ in range(3):  # the layouts settle over a few passes of the event loop
        qtbot.wait(0)
        win.layout().activate()


def _cut_texts(win) -> list[str]:
    """Visible buttons and one-line labels whose text needs more width than they were given."""
    cut = []
    for widget in [*win.findChildren(QAbstractButton), *win.findChildren(QLabel)]:
        if not widget.isVisibleTo(win) or not widget.text():
            continue
        if isinstance(widget, QLabel) and widget.wordWrap():
            continue  # wraps instead: checked by its height below
        if widget.sizeHint().width() > widget.width():
            cut.append(
                f"{type(widget).__name__} {widget.text()[:40]!r}: {widget.sizeHint().width()} > {widget.width()}"
            )
    return cut


def _busy_window(win) -> None:
    """The longest texts the bar shows: measured MS-SSIM on the buttons, a size target, a long estimate,
    and a result with a list of notes in the band."""
    for name, action in win.actions.checkpoints.items():
        action.setText(checkpoint_label(name, 0.97812))
    win.compress_page.set_target("size", "850.5 MiB")
    win.compress_page.estimate_label.setText(
        "Target 850.5 MiB: <b>≈ 812.4 MB</b> · A 3, B 20, C 10, exact 1 · lowest MS-SSIM ≈ 0.981 · "
        "refining, 4 of 6 samples · Originals kept exactly: ≈ 20.1 MB"
    )
    win.result_panel.show_result(
        "Archive written: Holiday photos.ltz",
        [
            ("Original", "24.7 MB"),
            ("Archive", "2.7 MB"),
            ("Ratio", "9.15 : 1"),
            ("Mean bpp", "0.412"),
            ("Mean MS-SSIM", "0.9812"),
            ("Time", "1 min 12 s"),
        ],
        [(f"photo_{i}.jpg", "stored exactly: already smaller than coded") for i in range(9)],
    )
    win.band.setCurrentWidget(win.result_panel)
    win.band.setVisible(True)


@pytest.mark.parametrize("image_mode", ["lossy", "lossless"])
@pytest.mark.parametrize("width", WIDTHS)
def test_texts_fit_and_preview_keeps_its_room(qtbot, window, width, image_mode, tmp_path):
    _busy_window(window)
    if image_mode == "lossless":  # the preview's note on what the mode stores takes a line or two
        from latentzip.gui.input_list import ImageFile

        photo = tmp_path / "a photo with a rather long name, from the summer holiday by the sea.jpg"
        photo.write_bytes(b"\xff\xd8\xff" + bytes(300_000))
        window.preview.show_loading(ImageFile(photo, photo.name, photo.stat().st_size))
    window.set_image_mode(image_mode)
    window.resize(width, HEIGHT)
    _settle(qtbot, window)
    assert window.width() == width and window.height() == HEIGHT  # the window fits 1024x700 and up
    assert _cut_texts(window) == []
    page = window.compress_page
    edit = page.size_edit
    assert edit.isVisible() and edit.width() >= edit.fontMetrics().horizontalAdvance(edit.text()) + 8
    label = page.estimate_label
    assert label.height() >= label.heightForWidth(label.width()) - 2  # the estimate wraps, all of it shown
    preview = window.preview
    note = preview.mode_note
    if image_mode == "lossless":  # the note in the figures' place, all of it shown
        assert note.isVisible() and "re-packed" in note.text()
        assert note.heightForWidth(note.width()) <= note.height()
    assert preview.height() >= preview.minimumSizeHint().height()
    assert preview.view.height() >= preview.view.minimumSizeHint().height()
    assert preview.height() >= HEIGHT // 2  # the result band never squeezes it below half the window


def test_choosing_a_target_keeps_the_window_width(qtbot, window):
    window.resize(1024, HEIGHT)
    _settle(qtbot, window)
    page = window.compress_page
    for mode in ("size", "quality", "checkpoint", "size"):
        page.set_target(mode)
        page.estimate_label.setText(
            "Target 100.0 MB: <b>not reachable</b>, ≈ 140.2 MB at the smallest choices "
            "(A 30, exact 4) · from 6 sample images · Originals kept exactly: ≈ 20.1 MB"
        )
        _settle(qtbot, window)
        assert window.width() == 1024, mode
        assert _cut_texts(window) == []
