"""The window's long operations: compress, extract, test, open an archive, cancel.

Each asks its questions on the GUI thread (where to save, replace or not),
then runs one engine call on the jobs worker with a progress sink and a
cancel token, and shows the outcome in the result band. Engine errors come
back as ``JobError``: shown in plain words with a Details section.

``Operations`` sees the window only through ``OperationsHost``, a small protocol
of intents (show this result, this archive's records; which inputs and options
to compress; which entries are selected), never its widgets; the window reads
back only ``result_folder``, ``result_archive`` and ``last_report``.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QEventLoop, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QImage
from PySide6.QtWidgets import QMessageBox, QWidget

from .. import __version__
from ..codec import engine
from ..codec.api.errors import LatentzipError
from ..codec.container import EntryKind, EntryRecord
from . import dialogs, paths
from .format import count_text, human_duration, human_size
from .progress_panel import compress_figures, compress_issues
from .settings import Settings
from .worker import Job, JobError, JobRunner


@dataclass(frozen=True)
class CompressRequest:
    """What the window has chosen to compress, and how."""

    inputs: list[Path]
    checkpoint: str
    images: str  # "lossy" or "lossless"
    target: dict  # CompressOptions' target fields (empty for a checkpoint)
    strip_location: bool
    precision: str = "auto"  # the networks' precision for this job


class OperationsHost(Protocol):
    """All that ``Operations`` uses of the window."""

    def dialog_parent(self) -> QWidget: ...

    def compress_request(self) -> CompressRequest | None:
        """The inputs and options to compress; None when there is nothing (yet); ValueError for a bad target."""
        ...

    def pause_estimate(self) -> None: ...

    def operation_started(self, title: str) -> None:
        """Show the progress band with this title."""
        ...

    def operation_progress(self, event: engine.ProgressEvent) -> None: ...

    def operation_cancelling(self) -> None: ...

    def show_result(
        self, title: str, figures: list[tuple[str, str]], issues: list[tuple[str, str]], ok: bool = True
    ) -> None: ...

    def operation_ended(self) -> None:
        """Show the result band; the window updates its actions and may restart its estimate."""
        ...

    def state_changed(self) -> None: ...

    def show_status(self, message: str, timeout_ms: int) -> None: ...

    def current_archive(self) -> Path | None: ...

    def archive_selection(self, selected: bool) -> tuple[list, tuple[str, ...]] | None:
        """(records, patterns) of the selected entries, or of all (``selected`` False); None if none selected."""
        ...

    def show_archive(self, path: Path, records: list) -> None: ...

    def show_unreadable_archive(self, path: Path) -> None: ...

    def mark_extracted(
        self, written: list[str], damaged: list[tuple[str, str]], unwritten: list[tuple[str, str]]
    ) -> None:
        """One extraction's outcome per entry: damaged in the archive, or refused by the destination."""
        ...

    def show_salvage(self, path: Path, listing: engine.SalvageListing) -> None:
        """A damaged archive: what a scan can still recover, and the offer to recover it."""
        ...

    def show_entry(self, record: EntryRecord, image: QImage) -> None: ...

    def show_files_result(self, report: engine.CompressReport) -> None:
        """Every file of a finished compression: sizes, saving, MS-SSIM."""
        ...

    def show_test_result(self, damaged: list[tuple[str, str]]) -> None: ...


def open_in_file_manager(folder: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class Operations:
    def __init__(self, host: OperationsHost, settings: Settings, jobs: JobRunner, scans: JobRunner) -> None:
        self.host, self.settings, self.jobs, self.scans = host, settings, jobs, scans
        self.job: Job | None = None
        self.result_folder: Path | None = None
        self.result_archive: Path | None = None
        self.last_report: Any = None
        self.salvage_lost: dict[Path, list[str]] = {}  # damaged archive -> the stretches its scan could not read
        self.drag_folders: list[Path] = []  # temporary folders of entries dragged out, removed on quit

    # plumbing --------------------------------------------------------------------
    def _start(
        self,
        kind: str,
        title: str,
        fn: Callable,
        done: Callable[[Any], None],
        what: str,
        failed_at_output: Callable[[JobError], None] | None = None,
    ) -> Job:
        host = self.host
        self.result_folder = self.result_archive = None
        host.operation_started(title)

        def finished(result: Any) -> None:
            self.job, self.last_report = None, result
            done(result)
            self._show_band()

        def failed(error: JobError) -> None:
            self.job = None
            if error.output and failed_at_output is not None:
                failed_at_output(error)  # says so in its own words and offers the fix
                return
            host.show_result(f"{what} failed", [], [("", error.message)], ok=False)
            self._show_band()
            dialogs.show_error(host.dialog_parent(), f"{what} failed", error.message)

        def cancelled() -> None:
            self.job = None
            host.show_result(f"{what} cancelled", [], [], ok=False)
            self._show_band()
            host.show_status(f"{what} cancelled", 5000)

        job = Job(
            kind, fn, on_done=finished, on_error=failed, on_cancelled=cancelled, on_progress=host.operation_progress
        )
        self.job = job
        self.jobs.submit(job)
        host.state_changed()
        return job

    def _show_band(self) -> None:
        self.host.operation_ended()

    def cancel(self) -> None:
        if self.job is not None and not self.job.cancelled:
            self.job.cancel()
            self.host.operation_cancelling()

    # compress --------------------------------------------------------------------
    def compress(self) -> None:
        self._compress(None)

    def _compress(self, suggested: Path | None) -> None:
        """Ask where to save (``suggested``, or beside the first input) and start the compression."""
        host, parent = self.host, self.host.dialog_parent()
        if self.jobs.busy:
            return
        try:
            request = host.compress_request()
        except ValueError as exc:
            dialogs.show_error(parent, "No valid target", str(exc).capitalize() + ".")
            return
        if request is None:
            return
        inputs, target = request.inputs, request.target
        out = dialogs.ask_save_archive(parent, suggested or self.suggested_archive(inputs))
        if out is None:
            return
        overwrite = False
        if out.exists() or out.is_symlink():
            if out.is_dir() or not dialogs.ask_replace(
                parent, f"“{out.name}” already exists.", f"Replace it with the new archive? It is in {out.parent}."
            ):
                return
            overwrite = True
        resume = False
        stale = engine.stale_partials(out)
        if stale:
            resume = dialogs.ask_resume(
                parent,
                f"An interrupted compression to “{out.name}” left "
                f"{human_size(stale[0].stat().st_size)} of finished entries.",
                "Resume keeps them and compresses the rest (with the same files and settings). Start over "
                f"compresses everything again and leaves the unfinished file ({stale[0].name}) where it is.",
            )
        self.settings.last_archive_dir = out.parent
        checkpoint, images = request.checkpoint, request.images
        if images == "lossless":
            target = {}  # originals kept exactly: a size or quality target does not apply
        options = engine.CompressOptions(
            checkpoint=checkpoint,
            images=images,
            overwrite=overwrite,
            resume=resume,
            strip_location=request.strip_location,
            precision=request.precision,
            **target,
        )
        host.pause_estimate()  # the cores are better spent on the archive itself
        how = (
            "keeping the originals exactly"
            if images == "lossless"
            else f"for an archive of {human_size(target['target_size'])}"
            if "target_size" in target
            else f"for MS-SSIM ≥ {target['min_quality']:.4f}"
            if target
            else f"at checkpoint {checkpoint}"
        )
        self._start(
            "compress",
            f"Compressing to {out.name} {how}",
            lambda sink, token: engine.compress(inputs, out, options, sink, token),
            lambda report: self._compressed(report, out),
            "Compression",
            lambda error: self._not_written(out, error),
        )

    def _not_written(self, out: Path, error: JobError) -> None:
        """The archive could not be written where the user asked: name it, say why, offer another folder."""
        self.host.show_result(
            f"{out.name} was not written",
            [],
            [(out.name, f"could not be written in {out.parent}: {error.problem}")],
            ok=False,
        )
        self._show_band()
        if dialogs.ask_other_folder(
            self.host.dialog_parent(),
            "The archive could not be written",
            f"The archive “{out.name}” could not be written in {out.parent}: {error.problem}.",
            "Nothing was written and your files are untouched. Choose another folder for the archive.",
        ):
            self._compress(Path.home() / out.name)

    def suggested_archive(self, inputs: list[Path]) -> Path:
        """``NAME.ltz`` in the Settings' folder for archives, or beside the first input; the bundled samples
        go to a writable folder instead."""
        first = inputs[0]
        samples = paths.resource("samples")
        if all(p.parent == samples for p in inputs):
            return (self.settings.last_archive_dir or Path.home()) / "Latentzip samples.ltz"
        name = first.name if first.is_dir() else first.stem
        return (self.settings.archive_folder or first.parent) / f"{name}.ltz"

    def _compressed(self, report: engine.CompressReport, out: Path) -> None:
        self.host.show_files_result(report)
        issues = compress_issues(report)
        failed = len(report.failed)
        title = f"Archive written: {out.name}"
        if failed:
            title += f" — {failed} file{'s' if failed > 1 else ''} could not be read"
        self.host.show_result(title, compress_figures(report), issues, ok=not failed)
        self.result_folder, self.result_archive = out.parent, out
        self.host.show_status(f"Wrote {out}", 8000)

    def open_result(self) -> None:
        if self.result_archive is not None:
            self.open_archive(self.result_archive)

    def show_in_folder(self) -> None:
        if self.result_folder is not None:
            open_in_file_manager(self.result_folder)

    # archives --------------------------------------------------------------------
    def open_archive(self, path: Path) -> None:
        host = self.host
        path = Path(os.path.abspath(path))

        def listed(records: list) -> None:
            host.show_archive(path, records)
            self.settings.last_archive_dir = path.parent

        def failed(error: JobError) -> None:
            if error.expected and path.is_file():  # damaged index: the intact entries may still be salvaged
                self._salvage(path, error)
                return
            dialogs.show_error(
                host.dialog_parent(),
                "Cannot read the archive",
                f"“{path.name}” could not be opened: {error.reason or error.message}",
            )

        self.scans.submit(Job("list", lambda sink, token: engine.list_entries(path), on_done=listed, on_error=failed))

    def _salvage(self, path: Path, opening: JobError) -> None:
        """Scan a damaged archive; offer what it holds, or say it cannot be read when nothing is left."""
        host = self.host

        def cannot(error: JobError = opening) -> None:
            host.show_unreadable_archive(path)
            dialogs.show_error(
                host.dialog_parent(),
                "Cannot read the archive",
                f"{path.name} could not be opened: {opening.message}",
                error.details,
            )

        def scanned(listing: engine.SalvageListing) -> None:
            if not listing.recovered:
                cannot()
                return
            self.salvage_lost[path] = listing.lost
            self.settings.last_archive_dir = path.parent
            host.show_salvage(path, listing)

        self.scans.submit(
            Job("salvage-list", lambda sink, token: engine.salvage_listing(path), on_done=scanned, on_error=cannot)
        )

    def recover(self) -> None:
        """Extract what a damaged archive still holds (the engine salvages, as ``extract --keep-going``)."""
        host, parent = self.host, self.host.dialog_parent()
        archive = host.current_archive()
        if archive is None or self.jobs.busy:
            return
        folder = dialogs.ask_folder(parent, "Recover to folder", self.settings.last_extract_dir or archive.parent)
        if folder is None:
            return
        self.settings.last_extract_dir = folder
        chosen = host.archive_selection(False)
        records = chosen[0] if chosen else []
        options = engine.ExtractOptions(keep_going=True, precision=self.settings.precision)
        self._start(
            "extract",
            f"Recovering {archive.name} to {folder}",
            lambda sink, token: engine.extract(archive, folder, options, sink, token),
            lambda report: self._recovered(report, archive, folder, records),
            "Recovery",
        )

    def _recovered(self, report: engine.ExtractReport, archive: Path, folder: Path, records: list) -> None:
        self.host.mark_extracted(report.written, report.damaged, report.unwritten)
        lost = self.salvage_lost.get(archive, [])
        folders = {r.path for r in records if r.kind == EntryKind.DIRECTORY}
        files = [p for p in report.written if p not in folders]
        title = f"Recovered {count_text(len(files), 0)} from {archive.name} to {folder}"
        # extract --keep-going already names what its own scan lost; the window's scan adds only what it did not
        named = " ".join(f"{name} {reason}" for name, reason in report.failed)
        lost = [text for text in lost if text not in named]
        missing = len(report.failed) + len(lost)
        if missing:
            title += f" — {missing} could not be recovered"
        issues = [(name, f"not recovered: {reason}") for name, reason in report.failed]
        issues += [("(damaged part of the archive)", f"lost: {text}") for text in lost]
        issues += [(name, "recovered") for name in files]
        self.host.show_result(title, [("Time", human_duration(report.seconds))], issues, ok=not missing)
        self.result_folder = folder

    def view_entry(self, record: EntryRecord) -> None:
        """Decode one entry on a worker and show it (with its header's figures, for a coded image)."""
        archive = self.host.current_archive()
        if archive is None:
            return
        precision = self.settings.precision

        def decoded(sink, token) -> QImage:
            data = engine.entry_bytes(archive, record.path, engine.default_registry().at(precision), token)
            image = QImage.fromData(data)  # a QImage is safe to make on a worker thread
            if image.isNull():
                raise LatentzipError("this file is not a picture the viewer can show", record.path)
            return image

        def failed(error: JobError) -> None:
            dialogs.show_error(
                self.host.dialog_parent(),
                "Cannot show the image",
                f"{record.path} could not be shown: {error.message}",
                error.details,
            )

        self.host.show_status(f"Decoding {record.path}…", 3000)
        self.scans.submit(
            Job("view", decoded, on_done=lambda image: self.host.show_entry(record, image), on_error=failed)
        )

    def extract_for_drag(self, records: list[EntryRecord], timeout_ms: int = 120_000) -> list[Path]:
        """Extract dragged entries to a new temporary folder (on the scan worker, waiting in a local event
        loop so the window keeps drawing) and return their paths there; [] when it fails or takes too long."""
        archive = self.host.current_archive()
        if archive is None or not records:
            return []
        folder = Path(tempfile.mkdtemp(prefix="latentzip-drag-"))
        self.drag_folders.append(folder)
        options = engine.ExtractOptions(
            patterns=tuple(glob.escape(r.path) for r in records), keep_going=True, precision=self.settings.precision
        )
        loop = QEventLoop()
        outcome: dict[str, Any] = {}

        def ended(key: str, value: Any = None) -> None:
            outcome[key] = value
            loop.quit()

        job = Job(
            "extract-drag",
            lambda sink, token: engine.extract(archive, folder, options, sink, token),
            on_done=lambda report: ended("report", report),
            on_error=lambda error: ended("error", error),
            on_cancelled=lambda: ended("cancelled"),
        )
        self.scans.submit(job)
        timer = QTimer(singleShot=True, interval=timeout_ms)
        timer.timeout.connect(loop.quit)
        timer.start()
        if not outcome:
            loop.exec()
        timer.stop()
        if "report" not in outcome:
            job.cancel()
            return []
        return [
            folder / engine.output_name(r, False)
            for r in records
            if os.path.lexists(folder / engine.output_name(r, False))
        ]

    def remove_drag_folders(self) -> None:
        for folder in self.drag_folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.drag_folders = []

    def extract(self, selected: bool) -> None:
        host, parent = self.host, self.host.dialog_parent()
        archive = host.current_archive()
        if archive is None or self.jobs.busy:
            return
        chosen = host.archive_selection(selected)
        if chosen is None:
            return
        records, patterns = chosen
        folder = dialogs.ask_folder(parent, "Extract to folder", self.settings.last_extract_dir or archive.parent)
        if folder is None:
            return
        existing = [
            r.path
            for r in records
            if r.kind != EntryKind.DIRECTORY and os.path.lexists(folder / engine.output_name(r, False))
        ]
        overwrite = False
        if existing:
            listing = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
            if not dialogs.ask_replace(
                parent,
                f"{len(existing)} file{'s' if len(existing) > 1 else ''} already exist in {folder}.",
                f"Replace them? ({listing})",
            ):
                return
            overwrite = True
        self.settings.last_extract_dir = folder
        options = engine.ExtractOptions(
            patterns=patterns, overwrite=overwrite, keep_going=True, precision=self.settings.precision
        )
        self._start(
            "extract",
            f"Extracting {archive.name} to {folder}",
            lambda sink, token: engine.extract(archive, folder, options, sink, token),
            lambda report: self._extracted(report, folder, records),
            "Extraction",
        )

    def _extracted(self, report: engine.ExtractReport, folder: Path, records: list | None = None) -> None:
        """Files and folders restored; when some could not be, how many and which, as a warning."""
        kinds = {r.path: r.kind for r in records or []}
        files, folders = engine.count_files_and_folders([kinds.get(p) == EntryKind.DIRECTORY for p in report.written])
        damaged, unwritten = report.damaged, report.unwritten
        restored, bad = count_text(files, folders), len(report.failed)
        if bad:
            title = f"{bad} of {files + bad} files could not be restored — {restored} extracted to {folder}"
        elif report.salvaged:
            title = f"Recovered {restored} from a damaged archive to {folder}"
        else:
            title = f"Extracted {restored} to {folder}"
        if unwritten:  # the destination refused them: the archive is fine
            title += f" ({len(unwritten)} could not be written there; the archive is fine)"
        self.host.mark_extracted(report.written, damaged, unwritten)
        issues = [(name, f"could not write here, the archive is fine: {reason}") for name, reason in unwritten]
        issues += [(name, f"not restored, damaged: {reason}") for name, reason in damaged]
        issues += [(name, reason) for name, reason in report.skipped]
        if report.salvaged:
            issues.insert(
                0,
                (
                    "(archive index)",
                    f"the archive's index was not used ({report.index_problem}): the "
                    "entries were found by scanning, and anything stored after the "
                    "damage is lost",
                ),
            )
        self.host.show_result(
            title, [("Time", human_duration(report.seconds))], issues, ok=not bad and not report.salvaged
        )
        self.result_folder = folder

    def add_to_archive(self) -> None:
        """Ask for files or a folder and add them to the open archive (the engine's ``add``, which keeps
        the archive's own image mode); the archive is listed again afterwards."""
        archive = self.host.current_archive()
        if archive is None or self.jobs.busy:
            return
        inputs = dialogs.ask_add_inputs(self.host.dialog_parent(), archive.name, self.settings.last_input_dir)
        if not inputs:
            return
        self.settings.last_input_dir = inputs[0].parent
        self.host.pause_estimate()
        self._start(
            "add",
            f"Adding to {archive.name}",
            lambda sink, token, p=self.settings.precision: engine.add(archive, inputs, None, sink, token, precision=p),
            lambda report: self._added(report, archive),
            "Adding to the archive",
        )

    def _added(self, report: engine.AddReport, archive: Path) -> None:
        added, replaced, skipped = len(report.added), len(report.replaced), len(report.skipped)
        title = (
            f"Added to {archive.name}: {added} new, {replaced} replaced, {skipped} unchanged skipped"
            if report.changed
            else f"Nothing new to add to {archive.name}: {skipped} unchanged"
        )
        if report.failed:
            title += f" — {len(report.failed)} could not be read"
        figures = [
            ("Added", str(added)),
            ("Replaced", str(replaced)),
            ("Skipped (unchanged)", str(skipped)),
            ("Stored once (duplicates)", str(len(report.deduplicated))),
            ("Archive", f"{human_size(report.archive_size_before)} → {human_size(report.archive_size)}"),
            ("Time", human_duration(report.seconds)),
        ]
        self.host.show_result(title, figures, compress_issues(report), ok=not report.failed)
        self.result_folder, self.result_archive = archive.parent, archive
        self.open_archive(archive)  # list the new contents

    def test(self) -> None:
        archive = self.host.current_archive()
        if archive is None or self.jobs.busy:
            return
        precision = self.settings.precision  # read here, on the GUI thread: the job holds it to the end
        self._start(
            "test",
            f"Testing {archive.name}",
            lambda sink, token: engine.test_archive(archive, sink, token, precision=precision),
            self._tested,
            "Test",
        )

    def _tested(self, report: engine.TestReport) -> None:
        self.host.show_test_result(report.damaged)
        chosen = self.host.archive_selection(False)
        records = chosen[0] if chosen else []
        files, folders = engine.count_files_and_folders([r.kind == EntryKind.DIRECTORY for r in records])
        if report.ok and len(records) == report.checked:
            title = f"Test passed: all {count_text(files, folders)} are intact"
        elif report.ok:
            title = f"Test passed: all {report.checked} entries are intact"
        else:
            title = f"Test found {len(report.damaged)} damaged entr{'ies' if len(report.damaged) > 1 else 'y'}"
        self.host.show_result(title, [], [(n, f"damaged: {r}") for n, r in report.damaged], ok=report.ok)
        archive = self.host.current_archive()
        self.result_folder = archive.parent if archive else None

    # help ------------------------------------------------------------------------
    def open_logs(self) -> None:
        open_in_file_manager(paths.log_dir())

    def about(self) -> None:
        try:
            registry = engine.default_registry()
            models = ", ".join(h[:12] for h in registry.hashes()) or "none installed"
            runs_on = ", ".join(p.removesuffix("ExecutionProvider") for p in engine.execution_providers())
        except Exception as exc:  # noqa: BLE001 - the about box must open anyway
            models, runs_on = f"unavailable ({exc})", "unknown"
        QMessageBox.about(
            self.host.dialog_parent(),
            "About Latentzip",
            f"<h3>Latentzip {__version__}</h3><p>A folder archiver for photos with a learned image "
            f"codec.</p><p>Models: {models}</p><p>Networks run on: {runs_on} (ONNX Runtime)</p>"
            f"<p>Log folder: {paths.log_dir()}</p>",
        )
