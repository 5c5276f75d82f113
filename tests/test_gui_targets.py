"""The compress page's target: checkpoint, archive size or minimum quality, with the estimate following it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_support import make_folder, wait_idle, wait_scanned

from latentzip.gui.analysis import CheckpointFigures, PreviewFigures
from latentzip.gui.estimate import estimate_archive, estimate_target
from latentzip.gui.input_list import ImageFile

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]


def _figures() -> PreviewFigures:
    return PreviewFigures(
        (0, 0, 200, 200),
        (200, 200),
        {
            "A": CheckpointFigures(0.5, 0.96, 33.0, "MS-SSIM", 100),  # 2,500 bytes
            "B": CheckpointFigures(1.0, 0.98, 36.0, "MS-SSIM", 100),  # 5,000 bytes
            "C": CheckpointFigures(1.5, 0.99, 38.0, "MS-SSIM", 100),  # 7,500 bytes
        },
    )


def test_target_estimate_plans_the_extrapolated_images():
    images = [ImageFile(Path(f"/x/{i}.png"), f"f/{i}.png", 100_000) for i in range(10)]
    est = estimate_archive(images, other_bytes=0, entries=10, figures={images[0].path: _figures()}, sample_target=1)
    assert len(est.items) == 10 and est.fixed == 10 * 180
    small = estimate_target(est, "size", 10 * 2500 + 1800)
    assert small.feasible and small.counts == {"A": 10, "B": 0, "C": 0, "exact": 0}
    roomy = estimate_target(est, "size", 10 * 7500 + 1800 + 600)  # the plan keeps a little headroom
    assert roomy.counts["C"] >= 9 and roomy.size <= 10 * 7500 + 2400
    assert not estimate_target(est, "size", 1000).feasible
    quality = estimate_target(est, "quality", 0.97)
    assert quality.counts == {"A": 0, "B": 10, "C": 0, "exact": 0}  # B's 0.98 clears 0.97 and its margin
    assert estimate_target(est, "quality", 0.999).counts["exact"] == 10


def test_target_control_updates_the_estimate_and_compresses(qtbot, window, tmp_path, dialog_log):
    folder = make_folder(tmp_path / "in", "trip", images=3)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    qtbot.waitUntil(lambda: window.estimator.latest is not None and window.estimator.latest.done, timeout=60_000)
    page = window.compress_page
    assert page.mode == "checkpoint" and not page.size_edit.isVisible()
    assert "Estimated archive re-coded at" in page.estimate_label.text()

    page.set_target("size", "1 KB")
    assert page.size_edit.isVisible() and not page.quality_spin.isVisible()
    assert not any(b.isEnabled() for b in page.checkpoint_buttons.values())
    assert "not reachable" in page.estimate_label.text()
    page.size_edit.setText("5 MB")  # the estimate follows the target at once
    assert "Target 5.0 MB" in page.estimate_label.text() and "exact" in page.estimate_label.text()
    page.size_edit.setText("lots")
    assert "Type a size" in page.estimate_label.text()
    window.actions.compress.trigger()  # an invalid size: told, nothing started
    assert dialog_log.errors and dialog_log.errors[-1][0] == "No valid target" and not window.job_runner.busy

    page.set_target("quality", quality=0.95)
    assert page.quality_spin.isVisible() and "MS-SSIM ≥ 0.9500" in page.estimate_label.text()
    page.quality_spin.setValue(1.0)
    assert "exact 3" in page.estimate_label.text()  # every image stored exactly

    page.set_target("size", "200 KB")
    out = tmp_path / "trip.ltz"
    dialog_log.save_path = out
    window.actions.compress.trigger()
    wait_idle(qtbot, window)
    report = window.ops.last_report
    assert report.target is not None and report.target.mode == "size" and report.target.met
    assert out.stat().st_size <= 200_000
    figures = window.result_panel.figures.text()
    assert "Target" in figures and "Chosen" in figures
    # the choice is remembered
    assert window.settings.target[:2] == ("size", "200 KB")

    page.set_target("checkpoint")
    assert all(b.isEnabled() for b in page.checkpoint_buttons.values())
    assert "Estimated archive re-coded at" in page.estimate_label.text()
