"""Large photos seen whole: the overview at once, tiles for the region in view only, cancelled when the view
moves, figures that name their region, and the whole image's figures on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_support import make_png, wait_scanned
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QPointF

from latentzip.codec.ops.region_preview import TILE, RegionPreview, tiles_for
from latentzip.gui.tile_service import ORIGINAL

pytestmark = [pytest.mark.gui, pytest.mark.timeout(180)]


def _large_jpeg(path: Path, width: int = 4000, height: int = 3000) -> Path:
    """A 12-megapixel photo-like JPEG, made in a fraction of a second."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / width * 255, y / height * 255, (np.sin(x / 37) * np.cos(y / 23) + 1) * 127], -1)
    noise = np.random.default_rng(7).integers(-6, 7, (height, width, 1))
    Image.fromarray(np.clip(image + noise, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def _select_first(win) -> None:
    win.input_panel.tree.selectionModel().setCurrentIndex(
        win.inputs.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


def _open_large(qtbot, window, path: Path) -> None:
    window.add_paths([path])
    wait_scanned(qtbot, window)
    window.estimator.stop()
    _select_first(window)
    qtbot.waitUntil(lambda: window.preview.view.has_image(), timeout=60_000)


def _intersects(box, region) -> bool:
    bl, bt, bw, bh = box
    rl, rt, rw, rh = region
    return bl < rl + rw and rl < bl + bw and bt < rt + rh and rt < bt + bh


def test_large_photo_is_shown_whole_at_once_and_only_the_view_is_coded(qtbot, window, tmp_path):
    path = _large_jpeg(tmp_path / "big.jpg")
    _open_large(qtbot, window, path)
    panel, view, tiles = window.preview, window.preview.view, window.tiles
    assert panel.large and view.is_fit()
    # the whole photo, downscaled, before any figure: the original's side is there at once
    size = view.image_size()
    assert (size.width(), size.height()) == (4000, 3000)
    overview = view.before_image()
    assert max(overview.width(), overview.height()) <= 2048 and overview.width() / overview.height() == pytest.approx(
        4 / 3, rel=0.01
    )
    assert window.analysis._preview_job is None  # no whole-image preview was started
    assert "4000×3000" in panel.region_note.text() and "shown whole" in panel.region_note.text()
    # zoomed in on one corner: the tiles asked for are those in view, no others
    view.set_zoom(2.0)
    view.pan_by(10_000, 10_000)  # to the top-left corner
    panel.request_region()  # what the view's settling timer does
    region = view.view_region()
    assert region[0] == 0 and region[1] == 0 and region[2] < TILE and region[3] < TILE
    asked = {box for _, box in tiles.requested}
    assert asked == {(0, 0, TILE, TILE)}
    assert {kind for kind, _ in tiles.requested} == {ORIGINAL, "B"}
    first = tiles.pending()
    assert first
    # moving the view elsewhere cancels the pending tiles it no longer covers
    view.pan_by(-2 * TILE * view.zoom() / view.devicePixelRatioF(), 0)
    panel.request_region()
    region = view.view_region()
    assert all(job.cancelled for job in first)  # its tiles and its figures
    asked = {box for _, box in tiles.requested}
    assert asked and all(_intersects(box, region) for box in asked)
    assert asked == set(tiles_for(region, 4000, 3000))
    assert (0, 0, TILE, TILE) not in {box for _, box in tiles.pending_tiles()}


def test_figures_name_the_region_they_are_for(qtbot, window, tmp_path):
    path = _large_jpeg(tmp_path / "big.jpg", 2400, 1600)
    _open_large(qtbot, window, path)
    panel, view = window.preview, window.preview.view
    view.set_zoom(4.0)
    view.pan_by(10_000, 10_000)
    step = -(TILE + TILE // 2) * view.zoom() / view.devicePixelRatioF()  # to the middle of the second tile
    view.pan_by(step, step)
    panel.request_region()
    box = (TILE, TILE, TILE, TILE)
    pending = window.tiles.pending_tiles()  # kept from the first view, or asked now
    assert ("B", box) in pending and {b for _, b in pending} == {box}
    qtbot.waitUntil(lambda: panel.region == box, timeout=120_000)
    assert f"the {TILE}×{TILE} region at ({TILE}, {TILE})–({2 * TILE}, {2 * TILE})" in panel.region_note.text()
    expected = RegionPreview(path)
    expected.tile(box, "B")
    figures = expected.figures([box], "B")
    assert panel.figure_text("B", 1) == f"{figures.bpp:.3f}"
    assert panel.figure_text("B", 3) == f"{figures.psnr:.2f} dB"
    assert panel.figure_text("A", 1) == "–"  # only the chosen checkpoint is coded
    assert box in view.tiles("after") and box in view.tiles("before")
    assert view.tiles("after")[box].width() == TILE  # full resolution, drawn over the overview


@pytest.mark.timeout(300)
def test_whole_image_figures_on_request(qtbot, window, tmp_path):
    big = make_png(tmp_path / "big.png", 1400, 900, seed=3)
    _open_large(qtbot, window, big)
    panel = window.preview
    assert panel.whole_button.isVisible() and panel.whole_button.isEnabled()
    window.set_checkpoint("A")
    panel.whole_button.click()
    qtbot.waitUntil(
        lambda: panel.region == (0, 0, 1400, 900) and "A" in panel.figures.results and not window.tiles.pending(),
        timeout=240_000,
    )
    assert "figures for the whole image, 1400×900" in panel.region_note.text()
    whole = RegionPreview(big).whole("A")
    assert panel.figure_text("A", 1) == f"{whole.bpp:.3f}"
    assert len(panel.view.tiles("after")) == len(tiles_for((0, 0, 1400, 900), 1400, 900))


def test_small_images_keep_the_whole_image_preview(qtbot, window, tmp_path):
    small = make_png(tmp_path / "small.png", 200, 120)
    window.add_paths([small])
    wait_scanned(qtbot, window)
    window.estimator.stop()
    _select_first(window)
    assert not window.preview.large and window.analysis._preview_job is not None
    assert not window.preview.whole_button.isVisible()
    qtbot.waitUntil(lambda: window.preview.figures is not None, timeout=60_000)
    assert "whole image" in window.preview.region_note.text()
    assert window.preview.view.image_size() == window.preview.view.before_image().size()
    assert QPointF(100, 60) == window.preview.view.view_center()


def test_coming_back_to_a_large_photo_codes_nothing_again(qtbot, window, tmp_path):
    big = _large_jpeg(tmp_path / "big.jpg", 2400, 1600)
    small = make_png(tmp_path / "small.png", 200, 120)
    window.add_paths([big, small])
    wait_scanned(qtbot, window)
    window.estimator.stop()
    _select_first(window)
    panel, tiles = window.preview, window.tiles
    qtbot.waitUntil(lambda: panel.region is not None and not tiles.pending(), timeout=120_000)
    region, shown = panel.region, panel.figure_text("B", 1)
    window.input_panel.tree.selectionModel().setCurrentIndex(
        window.inputs.index(1, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert not panel.large and not tiles.pending()
    _select_first(window)
    assert panel.large and panel.view.has_image()  # the overview at once, from the open image
    assert tiles.requested == []  # every tile in view is cached
    qtbot.waitUntil(lambda: panel.region == region, timeout=30_000)
    assert panel.figure_text("B", 1) == shown


def test_keep_originals_exactly_asks_for_original_tiles_only(qtbot, window, tmp_path):
    _open_large(qtbot, window, _large_jpeg(tmp_path / "big.jpg", 2400, 1600))
    window.set_image_mode("lossless")
    window.preview.request_region()
    assert {kind for kind, _ in window.tiles.pending_tiles()} <= {ORIGINAL}
    assert not any(kind != ORIGINAL for kind, _ in window.tiles.requested)
    assert not window.preview.view._dim_after  # the original on both sides: nothing to wait for
    assert not window.preview.whole_button.isEnabled()  # nothing is coded in this mode


def test_compare_view_draws_tiles_over_the_downscaled_whole(qtbot):
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QColor, QImage

    from latentzip.gui.compare_view import CompareView

    view = CompareView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    overview = QImage(400, 300, QImage.Format.Format_RGB888)
    overview.fill(QColor("white"))
    view.set_images(overview, overview, full_size=QSize(4000, 3000), dim_after=True)
    assert view.view_region() == (0, 0, 4000, 3000)
    tile = QImage(TILE, TILE, QImage.Format.Format_RGB888)
    tile.fill(QColor("blue"))
    view.set_tile("after", (2000, 1500, TILE, TILE), tile)
    view.set_divider(0.0)  # all "after"
    frame = view.grab().toImage()
    s = view.zoom() / view.devicePixelRatioF()
    left = (view.width() - 4000 * s) / 2
    top = (view.height() - 3000 * s) / 2
    inside = frame.pixelColor(int(left + (2000 + TILE / 2) * s), int(top + (1500 + TILE / 2) * s))
    outside = frame.pixelColor(int(left + 1000 * s), int(top + 1000 * s))
    assert inside == QColor("blue")
    assert outside.lightness() < 200  # white, dimmed: not coded yet
    view.set_zoom(1.0)  # one image pixel per device pixel, around the centre
    x, y, w, h = view.view_region()
    assert abs(x + w / 2 - 2000) <= 1 and abs(y + h / 2 - 1500) <= 1
    assert w == pytest.approx(view.width() * view.devicePixelRatioF(), abs=2)
