"""The window's long operations: compress, extract, test, open an archive, cancel.

Each asks its questions on the GUI thread (where to save, replace or not),
then runs one engine call on the jobs worker with a progress sink and a
cancel token, and shows the outcome in the result band. Engine errors come
back as ``JobError``: shown in plain words with a Details section.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from .. import __version__
from ..codec import engine
from ..codec.container import EntryKind
from . import dialogs, paths
from .format import human_duration, human_size
from .progress_panel import compress_figures, compress_issues
from .worker import Job, JobError

if TYPE_CHECKING:
    from .main_window import MainWindow


def open_in_file_manager(folder: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class Operations:
    def __init__(self, window: "MainWindow") -> None:
        self.w = window
        self.job: Job | None = None
        self.result_folder: Path | None = None
        self.result_archive: Path | None = None
        self.last_report: Any = None

    # plumbing --------------------------------------------------------------------
    def _start(self, kind: str, title: str, fn: Callable, done: Callable[[Any], None], what: str) -> Job:
        w = self.w
        self.result_folder = self.result_archive = None
        w.progress_panel.start(title)
        w.band.setCurrentWidget(w.progress_panel)
        w.band.setVisible(True)

        def finished(result: Any) -> None:
            self.job, self.last_report = None, result
            done(result)
            self._show_band()

        def failed(error: JobError) -> None:
            self.job = None
            w.result_panel.show_result(f"{what} failed", [], [("", error.message)], ok=False)
            self._show_band()
            dialogs.show_error(w, f"{what} failed", error.message, error.details)

        def cancelled() -> None:
            self.job = None
            w.result_panel.show_result(f"{what} cancelled", [], [], ok=False)
            self._show_band()
            w.statusBar().showMessage(f"{what} cancelled", 5000)

        job = Job(kind, fn, on_done=finished, on_error=failed, on_cancelled=cancelled,
                  on_progress=w.progress_panel.update_event)
        self.job = job
        w.job_runner.submit(job)
        w.update_actions()
        return job

    def _show_band(self) -> None:
        self.w.band.setCurrentWidget(self.w.result_panel)
        self.w.band.setVisible(True)
        self.w.update_actions()
        self.w.restart_estimate_soon()  # stopped while the job ran; the cache makes it quick

    def cancel(self) -> None:
        if self.job is not None and not self.job.cancelled:
            self.job.cancel()
            self.w.progress_panel.cancelling()

    # compress --------------------------------------------------------------------
    def compress(self) -> None:
        w = self.w
        if not w.inputs.entries or w.job_runner.busy or w.inputs.scanning:
            return
        try:
            target = w.target_options()
        except ValueError as exc:
            dialogs.show_error(w, "No valid target", str(exc).capitalize() + ".")
            return
        inputs = w.inputs.paths()
        out = dialogs.ask_save_archive(w, self.suggested_archive(inputs))
        if out is None:
            return
        overwrite = False
        if out.exists() or out.is_symlink():
            if out.is_dir() or not dialogs.ask_replace(w, f"“{out.name}” already exists.",
                                                       f"Replace it with the new archive? It is in {out.parent}."):
                return
            overwrite = True
        resume = False
        stale = engine.stale_partials(out)
        if stale:
            resume = dialogs.ask_resume(
                w, f"An interrupted compression to “{out.name}” left "
                   f"{human_size(stale[0].stat().st_size)} of finished entries.",
                "Resume keeps them and compresses the rest (with the same files and settings). Start over "
                f"compresses everything again and leaves the unfinished file ({stale[0].name}) where it is.")
        w.settings.last_archive_dir = out.parent
        checkpoint, images = w.checkpoint, w.image_mode
        if images == "lossless":
            target = {}  # originals kept exactly: a size or quality target does not apply
        options = engine.CompressOptions(checkpoint=checkpoint, images=images, overwrite=overwrite,
                                         resume=resume, strip_location=w.compress_page.strip_location, **target)
        w.estimator.stop()  # the cores are better spent on the archive itself
        how = ("keeping the originals exactly" if images == "lossless" else
               f"for an archive of {human_size(target['target_size'])}" if "target_size" in target else
               f"for MS-SSIM ≥ {target['min_quality']:.4f}" if target else f"at checkpoint {checkpoint}")
        self._start("compress", f"Compressing to {out.name} {how}",
                    lambda sink, token: engine.compress(inputs, out, options, sink, token),
                    lambda report: self._compressed(report, out), "Compression")

    def suggested_archive(self, inputs: list[Path]) -> Path:
        """``NAME.ltz`` beside the first input; the bundled samples go to a writable folder instead."""
        first = inputs[0]
        samples = paths.resource("samples")
        if all(p.parent == samples for p in inputs):
            return (self.w.settings.last_archive_dir or Path.home()) / "Latentzip samples.ltz"
        name = first.name if first.is_dir() else first.stem
        return first.parent / f"{name}.ltz"

    def _compressed(self, report: engine.CompressReport, out: Path) -> None:
        issues = compress_issues(report)
        failed = len(report.failed)
        title = f"Archive written: {out.name}"
        if failed:
            title += f" — {failed} file{'s' if failed > 1 else ''} could not be read"
        self.w.result_panel.show_result(title, compress_figures(report), issues, ok=not failed)
        self.result_folder, self.result_archive = out.parent, out
        self.w.statusBar().showMessage(f"Wrote {out}", 8000)

    def open_result(self) -> None:
        if self.result_archive is not None:
            self.w.open_archive(self.result_archive)

    def show_in_folder(self) -> None:
        if self.result_folder is not None:
            open_in_file_manager(self.result_folder)

    # archives --------------------------------------------------------------------
    def open_archive(self, path: Path) -> None:
        w = self.w
        path = Path(os.path.abspath(path))

        def listed(records: list) -> None:
            w.archive_model.set_records(records)
            w.archive_page.show_archive(path)
            w.settings.last_archive_dir = path.parent
            w.setWindowTitle(f"Latentzip — {path.name}")
            w.tabs.setCurrentIndex(1)
            w.update_actions()

        def failed(error: JobError) -> None:
            if error.expected and path.is_file():  # damaged index: the intact entries can still be salvaged
                w.archive_model.set_records([])
                w.archive_page.show_archive(path)
                w.archive_page.header.setText(
                    f"<b>{path.name}</b> — <span style='color:#c0392b'>the archive's index cannot be read</span>"
                    f"<br>Extract all recovers the entries that are intact; Test lists the damage.")
                w.tabs.setCurrentIndex(1)
                w.update_actions()
            dialogs.show_error(w, "Cannot read the archive",
                               f"{path.name} could not be opened: {error.message}", error.details)

        w.scan_runner.submit(Job("list", lambda sink, token: engine.list_entries(path), on_done=listed,
                                 on_error=failed))

    def extract(self, selected: bool) -> None:
        w = self.w
        archive = w.archive_page.archive
        if archive is None or w.job_runner.busy:
            return
        rows = w.archive_page.selected_rows() if selected else []
        if selected and not rows:
            return
        records = w.archive_model.records_for(rows) if selected else list(w.archive_model.records)
        patterns = w.archive_model.patterns_for(rows) if selected else ()
        folder = dialogs.ask_folder(w, "Extract to folder", w.settings.last_extract_dir or archive.parent)
        if folder is None:
            return
        existing = [r.path for r in records if r.kind != EntryKind.DIRECTORY
                    and os.path.lexists(folder / engine.output_name(r, False))]
        overwrite = False
        if existing:
            listing = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
            if not dialogs.ask_replace(w, f"{len(existing)} file{'s' if len(existing) > 1 else ''} already exist "
                                          f"in {folder}.", f"Replace them? ({listing})"):
                return
            overwrite = True
        w.settings.last_extract_dir = folder
        options = engine.ExtractOptions(patterns=patterns, overwrite=overwrite, keep_going=True)
        self._start("extract", f"Extracting {archive.name} to {folder}",
                    lambda sink, token: engine.extract(archive, folder, options, sink, token),
                    lambda report: self._extracted(report, folder), "Extraction")

    def _extracted(self, report: engine.ExtractReport, folder: Path) -> None:
        w = self.w
        n, bad = len(report.written), len(report.failed)
        title = f"Extracted {n} entr{'ies' if n != 1 else 'y'} to {folder}"
        if bad:
            title += f" — {bad} damaged entr{'ies were' if bad > 1 else 'y was'} skipped"
            w.archive_model.mark_damaged(report.failed)
        issues = [(name, f"damaged, not extracted: {reason}") for name, reason in report.failed]
        issues += [(name, reason) for name, reason in report.skipped]
        if report.salvaged:
            issues.insert(0, ("(index)", f"the archive's index was not used ({report.index_problem}); "
                                         "entries were recovered by scanning"))
        w.result_panel.show_result(title, [("Time", human_duration(report.seconds))], issues, ok=not bad)
        self.result_folder = folder

    def add_to_archive(self) -> None:
        """Ask for files or a folder and add them to the open archive (the engine's ``add``, which keeps
        the archive's own image mode); the archive is listed again afterwards."""
        w = self.w
        archive = w.archive_page.archive
        if archive is None or w.job_runner.busy:
            return
        inputs = dialogs.ask_add_inputs(w, archive.name, w.settings.last_input_dir)
        if not inputs:
            return
        w.settings.last_input_dir = inputs[0].parent
        w.estimator.stop()
        self._start("add", f"Adding to {archive.name}",
                    lambda sink, token: engine.add(archive, inputs, None, sink, token),
                    lambda report: self._added(report, archive), "Adding to the archive")

    def _added(self, report: engine.AddReport, archive: Path) -> None:
        added, replaced, skipped = len(report.added), len(report.replaced), len(report.skipped)
        title = (f"Added to {archive.name}: {added} new, {replaced} replaced, {skipped} unchanged "
                 f"skipped" if report.changed else f"Nothing new to add to {archive.name}: {skipped} unchanged")
        if report.failed:
            title += f" — {len(report.failed)} could not be read"
        figures = [("Added", str(added)), ("Replaced", str(replaced)), ("Skipped (unchanged)", str(skipped)),
                   ("Stored once (duplicates)", str(len(report.deduplicated))),
                   ("Archive", f"{human_size(report.archive_size_before)} → {human_size(report.archive_size)}"),
                   ("Time", human_duration(report.seconds))]
        self.w.result_panel.show_result(title, figures, compress_issues(report), ok=not report.failed)
        self.result_folder, self.result_archive = archive.parent, archive
        self.open_archive(archive)  # list the new contents

    def test(self) -> None:
        w = self.w
        archive = w.archive_page.archive
        if archive is None or w.job_runner.busy:
            return
        self._start("test", f"Testing {archive.name}", lambda sink, token: engine.test_archive(archive, sink, token),
                    self._tested, "Test")

    def _tested(self, report: engine.TestReport) -> None:
        w = self.w
        w.archive_model.set_test_result(report.damaged)
        w.archive_page.refresh_header()
        if report.ok:
            title = f"Test passed: all {report.checked} entries are intact"
        else:
            title = f"Test found {len(report.damaged)} damaged entr{'ies' if len(report.damaged) > 1 else 'y'}"
        w.result_panel.show_result(title, [], [(n, f"damaged: {r}") for n, r in report.damaged], ok=report.ok)
        self.result_folder = w.archive_page.archive.parent if w.archive_page.archive else None

    # help ------------------------------------------------------------------------
    def open_logs(self) -> None:
        open_in_file_manager(paths.log_dir())

    def about(self) -> None:
        try:
            registry = engine.default_registry()
            models = ", ".join(h[:12] for h in registry.hashes()) or "none installed"
        except Exception as exc:  # noqa: BLE001 - the about box must open anyway
            models = f"unavailable ({exc})"
        QMessageBox.about(self.w, "About Latentzip",
                          f"<h3>Latentzip {__version__}</h3><p>A folder archiver for photos with a learned image "
                          f"codec.</p><p>Models: {models}</p><p>Log folder: {paths.log_dir()}</p>")
