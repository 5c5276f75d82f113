"""The Files page: the engine's per-file plan before compressing, every file's result after, sortable; and the
drop list, the plan, the result and the archive view counting files and folders the same way."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from gui_support import make_folder, wait_idle, wait_scanned
from PIL import Image

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = make_folder(tmp_path / "in", "trip", images=2)  # two noisy PNGs (one in sub/), notes.txt
    shutil.copy(ASSETS / "photo_crop.png", folder / "photo.png")
    shutil.copy(ASSETS / "metric_b.png", folder / "other.png")
    (folder / "same.png").write_bytes((folder / "photo.png").read_bytes())  # a duplicate
    buf = io.BytesIO()
    Image.open(ASSETS / "metric_a.png").convert("RGB").save(buf, "JPEG", quality=92)
    (folder / "shot.jpg").write_bytes(buf.getvalue())
    return folder


def _planned(qtbot, window) -> None:
    page = window.files_page
    qtbot.waitUntil(lambda: not page.planning and bool(page.plan), timeout=30_000)


def _rows(window) -> dict:
    return {r.name: r for r in window.files_page.model.rows}


def _sorted_names(page) -> list[str]:
    proxy = page.proxy
    return [proxy.index(i, 0).data() for i in range(proxy.rowCount())]


def test_plan_then_result_with_counts_that_agree(qtbot, window, folder, tmp_path, dialog_log):
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    page = window.files_page
    qtbot.waitUntil(lambda: window.estimator.latest is not None, timeout=10_000)  # re-planned with the estimate
    assert page.planning and not page.plan and not page._runner.busy  # but only made once the page is looked at
    window.actions.show_files.trigger()
    _planned(qtbot, window)
    qtbot.waitUntil(lambda: window.estimator.latest is not None and window.estimator.latest.done, timeout=60_000)
    rows = _rows(window)
    # one row per file (folders are counted, not listed), each saying what will happen
    assert set(rows) == {
        "trip/img0.png",
        "trip/sub/img1.png",
        "trip/notes.txt",
        "trip/photo.png",
        "trip/other.png",
        "trip/same.png",
        "trip/shot.jpg",
    }
    assert rows["trip/notes.txt"].what == "stored exactly (LZMA)"
    assert rows["trip/notes.txt"].size < rows["trip/notes.txt"].original
    assert rows["trip/same.png"].what.startswith("duplicate")  # photo.png comes first (sorted names)
    assert rows["trip/photo.png"].what == "coded at B" and rows["trip/photo.png"].size is not None
    assert 0.9 < rows["trip/photo.png"].ms_ssim < 1  # its own sample's figure
    assert all(r.size is not None for r in rows.values())  # every size known once the sample is in
    counts = "7 files, 2 folders"
    assert counts in window.input_panel.summary.text() and counts in page.header.text()
    # another checkpoint: the same plan, that checkpoint's sizes
    window.set_checkpoint("A")
    assert _rows(window)["trip/photo.png"].what == "coded at A"
    assert _rows(window)["trip/photo.png"].size < rows["trip/photo.png"].size
    # a quality target: the engine's planner chooses per image
    window.compress_page.set_target("quality", quality=0.99)
    _planned(qtbot, window)
    chosen = _rows(window)
    assert chosen["trip/photo.png"].what.endswith("(the target's choice)")
    assert all(r.ms_ssim >= 0.99 for r in chosen.values() if r.ms_ssim is not None)
    window.compress_page.set_target("checkpoint")
    _planned(qtbot, window)
    # "Keep originals exactly": the engine's plan for that mode
    window.set_image_mode("lossless")
    _planned(qtbot, window)
    lossless = _rows(window)
    assert lossless["trip/shot.jpg"].what == "JPEG re-packed (kept exactly)"
    assert lossless["trip/photo.png"].what in ("stored exactly", "stored exactly (LZMA)")
    window.set_image_mode("lossy")
    _planned(qtbot, window)
    planned = _rows(window)

    # compress at A: the result lists every file, with MS-SSIM for the coded ones
    dialog_log.save_path = tmp_path / "trip.ltz"
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    assert page.mode == "result" and page.result_button.isChecked()
    result = _rows(window)
    assert set(result) == set(planned)
    report = window.ops.last_report
    for o in report.outcomes:
        if o.kind == "lossy":
            assert result[o.name].what == f"coded at {o.checkpoint}" and result[o.name].ms_ssim == o.ms_ssim
            assert result[o.name].size == o.stored_size
    coded = [n for n, r in result.items() if r.ms_ssim is not None]
    assert len(coded) >= 2
    for name, row in planned.items():  # the plan said what compress then did (sampled images: their own figures)
        assert row.what.split(" ")[0] == result[name].what.split(" ")[0], name
    assert counts in page.header.text()
    # worst quality, least saved: one click each
    page.worst_button.click()
    first = _sorted_names(page)[0]
    assert result[first].ms_ssim == min(result[n].ms_ssim for n in coded)
    page.least_button.click()
    first = _sorted_names(page)[0]
    assert result[first].saving == min(r.saving for r in result.values() if r.saving is not None)
    window.actions.show_files.trigger()
    assert window.tabs.currentWidget() is page
    # the archive view counts the same things
    window.actions.open_result.trigger()
    qtbot.waitUntil(lambda: window.archive_page.archive == tmp_path / "trip.ltz", timeout=10_000)
    assert counts in window.archive_page.header.text()
    # the plan is one click away again, and comes back by itself when the inputs change
    page.plan_button.click()
    assert page.mode == "plan" and _rows(window)["trip/photo.png"].what == "coded at A"
