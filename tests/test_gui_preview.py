"""The preview: figures equal the engine's, checkpoint switching, cancel on new selection, the compare view."""

from __future__ import annotations

import pytest
from gui_support import make_folder, make_png, wait_scanned
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QColor, QImage

from latentzip.codec import engine
from latentzip.codec.engine import FilePlan, ImageSample, PlanAction, estimate
from latentzip.codec.estimate.sizes import range_text
from latentzip.gui.compare_view import CompareView

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


def _select(win, top_row: int, child_row: int | None) -> None:
    model = win.inputs
    index = model.index(top_row, 0)
    if child_row is not None:
        index = model.index(child_row, 0, index)
    win.input_panel.tree.selectionModel().setCurrentIndex(
        index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )


def test_preview_figures_equal_the_engines(qtbot, window, tmp_path):
    folder = make_folder(tmp_path, "trip", images=2)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    _select(window, 0, 1)
    image = folder / "sub" / "img1.png"
    qtbot.waitUntil(
        lambda: window.preview.figures is not None and window.preview.title.text().endswith("img1.png</b>"),
        timeout=45_000,
    )
    expected = engine.preview_image(image)
    shown = window.preview.figures
    assert shown.region == expected.region and shown.full_size == expected.full_size
    for name, res in expected.results.items():
        fig = shown.results[name]
        assert (fig.bpp, fig.ms_ssim, fig.psnr, fig.coded_bytes) == (res.bpp, res.ms_ssim, res.psnr, res.coded_bytes)
        assert window.preview.figure_text(name, 1) == f"{res.bpp:.3f}"
        assert window.preview.figure_text(name, 2).startswith(f"{res.ms_ssim:.4f}")
        assert window.preview.figure_text(name, 3) == f"{res.psnr:.2f} dB"
    assert "whole image" in window.preview.region_note.text()
    # switching checkpoint swaps the "after" side and the archive's checkpoint
    pixels = window.analysis.pixels(image)
    for name in ("A", "C", "B"):
        window.actions.checkpoints[name].trigger()
        assert window.checkpoint == name
        assert window.preview.view._after is pixels.after[name]
        assert window.preview.table.currentRow() == "ABC".index(name)
    window.preview.table.selectRow(2)  # choosing a row in the figures picks the checkpoint too
    assert window.checkpoint == "C" and window.actions.checkpoints["C"].isChecked()


def test_new_selection_cancels_the_old_computation(qtbot, window, tmp_path):
    a = make_png(tmp_path / "a.png", 64, 48, seed=1)
    b = make_png(tmp_path / "b.png", 64, 48, seed=2)
    window.add_paths([a, b])
    wait_scanned(qtbot, window)
    window.estimator.stop()
    _select(window, 0, None)
    first = window.analysis._preview_job
    assert first is not None and first.tag == a
    _select(window, 1, None)
    assert first.cancelled
    qtbot.waitUntil(
        lambda: window.preview.figures is not None and "b.png" in window.preview.title.text(), timeout=45_000
    )
    assert window.analysis.figures(b) is not None


def _solid(w: int, h: int, colour: str) -> QImage:
    img = QImage(w, h, QImage.Format.Format_RGB888)
    img.fill(QColor(colour))
    return img


def test_compare_view_zoom_pan_divider_and_modes(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    view.set_images(_solid(200, 100, "red"), _solid(200, 100, "blue"))
    assert view.is_fit() and abs(view.zoom() - min(400 / 200, 300 / 100) * view.devicePixelRatioF()) < 1e-6
    view.set_zoom(1.0)
    assert view.zoom() == 1.0  # one image pixel per device pixel
    frame = view.grab().toImage()
    x_left, x_right, y = int(view.width() * 0.375), int(view.width() * 0.625), view.height() // 2  # image: 100..300
    assert frame.pixelColor(x_left, y) == QColor("red") and frame.pixelColor(x_right, y) == QColor("blue")
    # drag the divider to the right: the left side shows more of "before"
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(view.width() // 2, y))
    qtbot.mouseMove(view, QPoint(int(view.width() * 0.9), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(int(view.width() * 0.9), y))
    assert view.divider > 0.85
    # zoom in around a point and pan: one centre for both sides
    view.set_zoom(4.0)
    before = view.view_center()
    view.pan_by(40, 0)
    assert view.view_center().x() == pytest.approx(before.x() - 40 / (4.0 / view.devicePixelRatioF()))
    view.set_mode("side")
    frame = view.grab().toImage()
    assert frame.pixelColor(view.width() // 4, y) == QColor("red")
    assert frame.pixelColor(3 * view.width() // 4, y) == QColor("blue")
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.is_fit()
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert view.mode == "split"


def test_nearest_neighbour_when_zoomed_in(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(200, 200)
    view.show()
    qtbot.waitExposed(view)
    img = QImage(2, 1, QImage.Format.Format_RGB888)
    img.setPixelColor(0, 0, QColor("black"))
    img.setPixelColor(1, 0, QColor("white"))
    view.set_images(img, img)
    view.set_divider(1.0)  # all "before": no divider line in the way
    view.set_zoom(32.0)
    frame = view.grab().toImage()
    cx, cy = view.width() // 2, view.height() // 2
    colours = {frame.pixelColor(x, cy).name() for x in range(cx - 30, cx + 30)}
    assert colours == {"#000000", "#ffffff"}  # a hard edge, no blended greys


def test_the_estimate_shows_a_range_until_every_sample_is_in(qtbot, window):
    """A range ("2.4-3.1 MB") while samples land, never a lone figure; the estimate and its range once done."""
    rows = [FilePlan(f"f/{i}.png", None, PlanAction.CODE, 100_000, None) for i in range(10)]
    page = window.compress_page
    before = estimate(rows, {}, 6)
    page.show_estimate(before, "B", running=True)
    assert "estimating the re-coded size" in page.estimate_label.text()
    samples = {}
    for row in rows[:6]:
        scores = {"A": 0.975, "B": 0.985, "C": 0.99}
        sizes = {cp: int(row.size * k) for cp, k in (("A", 0.05), ("B", 0.1), ("C", 0.15))}
        samples[row.name] = ImageSample(row.name, row.size, None, row.size + 200, sizes, scores, 400)
        est = estimate(rows, samples, 6)
        page.show_estimate(est, "B", running=not est.done)
        text = page.estimate_label.text()
        r = est.ranges["B"]
        if not est.done:
            assert range_text(r.low, r.high) in text and "≈" not in text.split("Originals")[0]
            assert f"refining, {est.sampled} of 6 samples" in text
        else:
            assert f"≈ {range_text(r.estimate, r.estimate)} ({range_text(r.low, r.high)})" in text


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_estimate_within_10_percent_on_kodak_and_its_range_holds_the_archive(
    qtbot, window, kodak_dir, tmp_path, dialog_log
):
    window.add_paths([kodak_dir])
    wait_scanned(qtbot, window)
    qtbot.waitUntil(lambda: window.estimator.latest is not None and window.estimator.latest.done, timeout=900_000)
    for checkpoint in ("B",):
        window.set_checkpoint(checkpoint)
        r = window.estimator.latest.ranges[checkpoint]
        report = engine.compress(
            [kodak_dir], tmp_path / f"kodak-{checkpoint}.ltz", engine.CompressOptions(checkpoint=checkpoint)
        )
        assert abs(r.estimate - report.archive_size) / report.archive_size < 0.10 and r.contains(report.archive_size)
