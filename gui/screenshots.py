"""Screenshots of the main states for the README: ``make screenshots``.

``python -m latentzip.gui.screenshots [--out docs/screenshots]`` drives the real
window (offscreen unless a display is asked for) through: empty, a folder
loaded with its preview, its per-file plan, compressing, done, every file's result, the
archive opened (a tree of folders) and tested, a large photo seen whole (with ``--large-photo``:
zoomed to its centre, the region in view coded) and the Compress page under a dark system scheme.
It uses the bundled sample photos (each once, so the ratio is a real one) in a
scratch folder; the user's settings are untouched (a scratch LATENTZIP_GUI_HOME).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WIDTH, HEIGHT = 1280, 800


def _wait(app, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for each state")
    ap.add_argument("--large-photo", type=Path, help="a large photo (over one megapixel) to show whole")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = Path(tempfile.mkdtemp(prefix="latentzip-shots-"))
    os.environ["LATENTZIP_GUI_HOME"] = str(scratch / "home")

    from . import dialogs, paths
    from .app import create_application, setup_logging
    from .main_window import MainWindow

    setup_logging()
    app = create_application()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = scratch / "Holiday photos"
    folder.mkdir()
    for photo in paths.sample_photos():  # each photo once: the ratio shown is one a user would get
        shutil.copy(photo, folder / photo.name)
    (folder / "notes.txt").write_text("Trip notes: day 1, the market; day 2, the coast.\n" * 40)
    archive = scratch / "Holiday photos.ltz"
    dialogs.ask_save_archive = lambda parent, suggested: archive

    win = MainWindow()
    win.resize(WIDTH, HEIGHT)
    win.show()
    _wait(app, lambda: win.isVisible(), 10, "the window")

    def shot(name: str) -> None:
        for _ in range(5):
            app.processEvents()
        path = args.out / f"{name}.png"
        win.grab().save(str(path))
        print(f"saved {path}")

    shot("1-empty")
    win.add_paths([folder])
    _wait(
        app,
        lambda: (
            win.preview.figures is not None and win.estimator.latest is not None and win.estimator.latest.sampled >= 2
        ),
        args.timeout,
        "the preview and a first estimate",
    )
    win.preview.view.set_divider(0.55)
    shot("2-folder-preview")
    win.tabs.setCurrentWidget(win.files_page)  # the per-file plan: what compressing will do with each file
    _wait(app, lambda: not win.files_page.planning and bool(win.files_page.plan), args.timeout, "the plan")
    shot("6-plan")
    win.tabs.setCurrentIndex(0)
    win.ops.compress()
    _wait(
        app,
        lambda: (
            win.progress_panel.last_event is not None
            and win.progress_panel.last_event.files_done >= 2
            or not win.job_runner.busy
        ),
        args.timeout,
        "compression progress",
    )
    shot("3-compressing")
    _wait(app, lambda: not win.job_runner.busy, args.timeout, "the end of compression")
    shot("4-done")
    win.tabs.setCurrentWidget(win.files_page)  # every file's result, the worst quality first
    win.files_page.worst_button.click()
    shot("7-files-result")
    win.ops.open_result()
    _wait(app, lambda: win.archive_page.archive is not None, args.timeout, "the archive listing")
    win.ops.test()
    _wait(app, lambda: not win.job_runner.busy, args.timeout, "the archive test")
    shot("5-archive")
    if args.large_photo is not None:
        win.tabs.setCurrentIndex(0)
        _large_photo(app, win, args.large_photo, args.timeout)
        shot("9-large-photo")
    from PySide6.QtCore import Qt

    from .palette import apply_color_scheme

    win.tabs.setCurrentIndex(0)  # the Compress page with its preview, as a dark system shows it
    apply_color_scheme(app, Qt.ColorScheme.Dark)
    shot("8-dark")
    win.close()
    win.shutdown()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _large_photo(app, win, photo: Path, timeout_s: float) -> None:
    """Show ``photo`` alone, zoomed to a quarter of its size around its centre, with that region's figures."""
    from PySide6.QtCore import QItemSelectionModel

    win.clear_inputs()
    win.add_paths([photo])
    _wait(app, lambda: bool(win.inputs.entries) and not win.inputs.scanning, timeout_s, "the large photo's scan")
    win.input_panel.tree.selectionModel().setCurrentIndex(
        win.inputs.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    _wait(app, lambda: win.preview.view.has_image(), timeout_s, "the large photo's overview")
    win.preview.view.set_zoom(0.25)
    win.preview.view.set_divider(0.5)
    win.preview.request_region()
    _wait(app, lambda: win.preview.region is not None and not win.tiles.pending(), timeout_s, "the region's figures")


if __name__ == "__main__":
    sys.exit(main())
