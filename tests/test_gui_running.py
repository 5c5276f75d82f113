"""While a compression runs its choices are locked; "Keep originals exactly" previews what it does."""

from __future__ import annotations

import threading

import pytest
from gui_support import make_folder, make_png, wait_idle, wait_scanned
from PIL import Image

from latentzip.codec import engine
from latentzip.codec.api.errors import CancelledError

pytestmark = [pytest.mark.gui, pytest.mark.timeout(90)]


def _choices(win) -> list:
    page = win.compress_page
    return [
        *page.checkpoint_buttons.values(),
        *page.image_mode_buttons.values(),
        page.target_mode,
        page.size_edit,
        page.quality_spin,
        page.location_box,
        *win.actions.checkpoints.values(),
        *win.actions.image_modes.values(),
        *win.actions.precisions.values(),
    ]


def test_choices_are_locked_during_a_compression(qtbot, window, tmp_path, dialog_log, monkeypatch):
    folder = make_folder(tmp_path / "in", "trip", images=2)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    window.set_checkpoint("B")
    started, release, seen = threading.Event(), threading.Event(), []

    def compress_until_cancelled(inputs, out, options, sink, token):  # runs on the jobs worker
        seen.append(options)
        started.set()
        while not release.wait(0.01):
            token.check()
        raise CancelledError("cancelled")

    monkeypatch.setattr(engine, "compress", compress_until_cancelled)
    dialog_log.save_path = tmp_path / "trip.ltz"
    window.actions.compress.trigger()
    qtbot.waitUntil(started.is_set, timeout=10_000)
    assert window.compressing
    assert [w for w in _choices(window) if w.isEnabled()] == []
    window.preview.checkpoint_chosen.emit("C")  # the figures table offers another row: refused
    window.actions.checkpoints["A"].trigger()  # a disabled action (Alt+1) does nothing
    assert window.checkpoint == "B" and window.preview.table.currentRow() == 1
    assert seen[0].checkpoint == "B"
    window.actions.cancel.trigger()
    wait_idle(qtbot, window)
    assert not window.compressing
    page = window.compress_page
    assert all(
        b.isEnabled()
        for b in (
            *page.checkpoint_buttons.values(),
            *page.image_mode_buttons.values(),
            page.target_mode,
            page.location_box,
        )
    )
    window.set_checkpoint("C")
    assert window.checkpoint == "C"


def test_keep_originals_exactly_previews_the_original_and_the_repack(qtbot, window, tmp_path):
    folder = tmp_path / "mixed"
    make_png(folder / "a.png", 64, 48)
    Image.open(folder / "a.png").convert("RGB").save(folder / "b.jpg", quality=90)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    preview = window.preview
    qtbot.waitUntil(lambda: preview.figures is not None, timeout=30_000)
    view = preview.view
    assert view._after is not None and view._after != view._before  # re-coded: B's picture
    window.set_image_mode("lossless")
    assert view._after == view._before  # kept exactly: the original on both sides
    assert not preview.table.isVisible() and preview.mode_note.isVisible()
    name = preview._image.name
    if name.endswith(".jpg"):
        assert "re-packed losslessly" in preview.mode_note.text() and "% smaller" in preview.mode_note.text()
    else:
        assert "byte for byte" in preview.mode_note.text()
    window.set_image_mode("lossy")
    assert view._after != view._before and preview.table.isVisible() and not preview.mode_note.isVisible()


def test_the_lossless_note_for_a_jpeg_uses_the_engines_estimate(qtbot, window, tmp_path):
    from latentzip.gui.input_list import ImageFile

    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (32, 32), (200, 100, 50)).save(jpeg, quality=90)
    size = jpeg.stat().st_size
    window.preview.show_loading(ImageFile(jpeg, "photo.jpg", size))
    window.set_image_mode("lossless")
    kept = engine.estimated_lossless_size("photo.jpg", size)
    assert f"about {100 * (size - kept) / size:.0f} % smaller" in window.preview.mode_note.text()
