"""The compress page's target: checkpoint, archive size or minimum quality, with the estimate following it."""

from __future__ import annotations

import pytest
from gui_support import make_folder, wait_idle, wait_scanned

from latentzip.codec.engine import FilePlan, ImageSample, PlanAction, estimate
from latentzip.codec.estimate.planner import CheckpointEstimate, image_options
from latentzip.codec.estimate.sizes import range_text
from latentzip.gui.estimate import estimate_target

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]


def test_the_target_line_says_what_the_range_of_the_smallest_archive_allows(qtbot, window):
    rows = [FilePlan(f"f/{i}.png", None, PlanAction.CODE, 100_000, None) for i in range(10)]
    sizes = {"A": 2500, "B": 5000, "C": 7500}
    scores = {"A": 0.975, "B": 0.985, "C": 0.99}
    est = {cp: CheckpointEstimate(n, scores[cp]) for cp, n in sizes.items()}
    samples = {}
    for row in rows[:3]:
        item = image_options(row.name, est, row.size, row.size, 400, 200)
        at = {cp: n + 400 for cp, n in sizes.items()}
        samples[row.name] = ImageSample(row.name, row.size, item, row.size + 200, at, scores, 400)
    estimate_ = estimate(rows, samples, 6)
    smallest = estimate_.smallest
    page = window.compress_page
    page.set_target("size", f"{smallest.low * 0.5 / 1000:.1f} KB")
    page.show_estimate(estimate_, "B", running=True)
    assert "not reachable" in page.estimate_label.text()
    assert range_text(smallest.low, smallest.high) in page.estimate_label.text()
    page.set_target("size", f"{(smallest.low + smallest.high) / 2000:.3f} KB")
    page.show_estimate(estimate_, "B", running=True)
    assert "may not be reachable" in page.estimate_label.text()
    page.set_target("size", f"{smallest.high * 2 / 1000:.1f} KB")
    page.show_estimate(estimate_, "B", running=True)
    assert "reachable" not in page.estimate_label.text() and "lowest MS-SSIM" in page.estimate_label.text()
    t = estimate_target(estimate_, "quality", 0.98)
    assert t.counts["B"] == 10 and t.verdict == "reachable"


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
