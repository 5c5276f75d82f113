"""The main window: the Compress and Archive pages, the progress/result band, and the wiring.

Worker threads run the engine: ``scan`` (walking input folders, reading
archive indexes), ``analysis`` (previews and the size estimate), ``tiles``
(a large photo's overview and the tiles of the region in view), ``plan`` (the
Files page's plan) and ``jobs`` (compress, extract, test: one at a time, with
progress and Cancel). All
models and widgets are updated in the jobs' callbacks, on the GUI thread.
The operations themselves live in ``operations.py``; they see this window only
through the ``OperationsHost`` methods below (section "operations host").
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QTimer
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QMainWindow, QTabWidget, QVBoxLayout, QWidget

from ..codec import engine
from ..codec.engine import CHECKPOINTS, CompressOptions, ProgressEvent
from . import dialogs, paths
from .actions import Actions, build_menus, create_actions
from .analysis import AnalysisService
from .archive_view import ArchiveModel, ArchivePage
from .compress_page import CompressPage
from .entry_viewer import EntryViewer
from .estimate import Estimate, Estimator
from .file_list import FilesPage
from .input_list import InputEntry, InputModel, scan_input
from .operations import CompressRequest, Operations
from .progress_panel import Band, ProgressPanel, ResultPanel
from .settings import Settings
from .settings_dialog import apply_threads, read_values, store_values
from .tile_service import TileService
from .worker import Job, JobRunner

log = logging.getLogger(__name__)
COMPRESS_TAB, ARCHIVE_TAB, FILES_TAB = 0, 1, 2
BAND_SLACK = 24  # the layouts' margins and spacing between the window's edge and the preview


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self._closing = False
        self.setWindowTitle("Latentzip")
        icon = QIcon(str(paths.icon_path()))
        if not icon.isNull():
            self.setWindowIcon(icon)
        self.scan_runner = JobRunner("latentzip-scan", self)
        self.analysis_runner = JobRunner("latentzip-analysis", self)
        self.job_runner = JobRunner("latentzip-jobs", self)
        self.plan_runner = JobRunner("latentzip-plan", self)  # the Files page's plan: never delays the others
        self.tile_runner = JobRunner("latentzip-tiles", self)  # large photos' overview and tiles
        self.tiles = TileService(self.tile_runner, self)
        self.analysis = AnalysisService(self.analysis_runner, self)
        self.estimator = Estimator(self.analysis, self)
        self.inputs = InputModel(self)
        self.archive_model = ArchiveModel(self)
        self.actions: Actions = create_actions(self)
        if not icon.isNull():
            self.actions.samples.setIcon(icon)
        build_menus(self, self.actions)
        self._build()
        self.ops = Operations(self, self.settings, self.job_runner, self.scan_runner)
        self._estimate_timer = QTimer(self, singleShot=True, interval=250, timeout=self._restart_estimate)
        self._connect()
        self._restore()
        self.update_actions()

    # layout --------------------------------------------------------------------
    def _build(self) -> None:
        act = self.actions
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.compress_page = CompressPage(self.inputs, act, self.tabs)
        page = self.compress_page
        self.splitter, self.input_panel, self.preview = page.splitter, page.input_panel, page.preview
        self.preview.attach_tiles(self.tiles)
        self.estimate_label, self.compress_button = page.estimate_label, page.compress_button
        self.tabs.addTab(page, "Compress")
        self.archive_page = ArchivePage(
            self.archive_model,
            act.open_archive,
            [act.extract_all, act.extract_selected, act.test, act.add_to_archive, act.close_archive],
            self.tabs,
            [act.extract_selected, act.extract_all, None, act.test],
        )
        self.tabs.addTab(self.archive_page, "Archive")
        self.files_page = FilesPage(self.plan_runner, self.tabs)
        self.tabs.addTab(self.files_page, "Files")

        central = QWidget(self)
        v = QVBoxLayout(central)
        v.setContentsMargins(8, 0, 8, 2)
        v.setSpacing(4)
        v.addWidget(self.tabs, 1)
        self.progress_panel = ProgressPanel(act.cancel, central)
        self.result_panel = ResultPanel([act.show_files, act.show_in_folder, act.open_result], act.dismiss, central)
        self.band = Band(self.progress_panel, self.result_panel)
        v.addWidget(self.progress_panel)
        v.addWidget(self.result_panel)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")

    # wiring ----------------------------------------------------------------------
    def _connect(self) -> None:
        act = self.actions
        act.add_folder.triggered.connect(self.add_folder_dialog)
        act.add_files.triggered.connect(self.add_files_dialog)
        act.samples.triggered.connect(self.load_samples)
        act.remove.triggered.connect(self.remove_selected)
        act.clear.triggered.connect(self.clear_inputs)
        act.compress.triggered.connect(self.ops.compress)
        act.cancel.triggered.connect(self.ops.cancel)
        act.open_archive.triggered.connect(self.open_archive_dialog)
        act.close_archive.triggered.connect(self.close_archive)
        act.extract_all.triggered.connect(lambda: self.ops.extract(selected=False))
        act.extract_selected.triggered.connect(lambda: self.ops.extract(selected=True))
        act.test.triggered.connect(self.ops.test)
        act.add_to_archive.triggered.connect(self.ops.add_to_archive)
        for name, a in act.image_modes.items():
            a.triggered.connect(lambda checked=False, n=name: self.set_image_mode(n))
        act.show_in_folder.triggered.connect(self.ops.show_in_folder)
        act.open_result.triggered.connect(self.ops.open_result)
        act.dismiss.triggered.connect(self._dismiss_result)
        act.show_files.triggered.connect(lambda: self.tabs.setCurrentIndex(FILES_TAB))
        act.split.triggered.connect(lambda: self.preview.view.set_mode("split"))
        act.side.triggered.connect(lambda: self.preview.view.set_mode("side"))
        act.fit.triggered.connect(self.preview.view.zoom_fit)
        act.zoom_100.triggered.connect(lambda: self.preview.view.set_zoom(1.0))
        act.zoom_200.triggered.connect(lambda: self.preview.view.set_zoom(2.0))
        act.zoom_in.triggered.connect(lambda: self.preview.view.zoom_by(1.25))
        act.zoom_out.triggered.connect(lambda: self.preview.view.zoom_by(0.8))
        act.open_logs.triggered.connect(self.ops.open_logs)
        act.about.triggered.connect(self.ops.about)
        act.quit.triggered.connect(self.close)
        act.settings.triggered.connect(self.open_settings)
        for name, a in act.checkpoints.items():
            a.triggered.connect(lambda checked=False, n=name: self.set_checkpoint(n))
        for name, a in act.precisions.items():
            a.triggered.connect(lambda checked=False, n=name: self.set_precision(n))
        self.preview.checkpoint_chosen.connect(self.set_checkpoint)
        self.preview.view.mode_changed.connect(self._mode_changed)
        self.input_panel.paths_dropped.connect(self.add_paths)
        self.input_panel.archive_dropped.connect(self.open_archive)
        self.archive_page.archive_dropped.connect(self.open_archive)
        self.archive_page.recover_requested.connect(self.ops.recover)
        self.archive_page.tree.view_requested.connect(self.ops.view_entry)
        self.archive_model.drag_provider = self.ops.extract_for_drag
        self.input_panel.tree.selectionModel().currentChanged.connect(self._current_input_changed)
        self.input_panel.tree.selectionModel().selectionChanged.connect(lambda *a: self.update_actions())
        self.archive_page.table.selectionModel().selectionChanged.connect(lambda *a: self.update_actions())
        self.inputs.rowsRemoved.connect(lambda *a: self._inputs_changed())
        self.inputs.modelReset.connect(self._inputs_changed)
        self.analysis.preview_ready.connect(self._preview_ready)
        self.analysis.preview_failed.connect(self._preview_failed)
        self.estimator.updated.connect(self._estimate_updated)
        self.compress_page.target_changed.connect(self._target_changed)
        for runner in (self.job_runner, self.scan_runner):
            runner.busy_changed.connect(lambda busy: self.update_actions())

    def _restore(self) -> None:
        s = self.settings
        if s.geometry is not None:
            self.restoreGeometry(s.geometry)
        else:
            self.resize(1180, 760)
        if s.splitter is not None:
            self.splitter.restoreState(s.splitter)
        self.set_checkpoint(s.checkpoint)
        self.set_image_mode(s.image_mode)
        mode, size_text, quality = s.target
        self.compress_page.set_target(mode, size_text, quality)
        self.set_precision(s.precision)
        self.compress_page.location_box.setChecked(s.strip_location)
        apply_threads(s.threads)
        self.preview.view.set_mode(s.compare_mode)
        self._mode_changed(self.preview.view.mode)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_band()

    def _fit_band(self) -> None:
        """The result band takes at most what leaves the preview half the window's height (its list scrolls)."""
        others = (
            self.menuBar().sizeHint().height()
            + self.statusBar().sizeHint().height()
            + self.tabs.tabBar().sizeHint().height()
            + self.compress_page.bar.sizeHint().height()
            + BAND_SLACK
        )
        cap = self.height() - self.height() // 2 - others
        self.result_panel.setMaximumHeight(max(cap, self.result_panel.minimumSizeHint().height()))

    def open_settings(self) -> None:
        """The Settings dialog; accepted values are stored and applied at once (threads: to new networks)."""
        values = dialogs.edit_settings(self, read_values(self.settings))
        if values is None:
            return
        store_values(self.settings, values)
        if not self.compressing:
            self.set_checkpoint(values.checkpoint)
            self.set_image_mode(values.image_mode)
            self.set_precision(values.precision)
        self.compress_page.location_box.setChecked(values.strip_location)
        apply_threads(values.threads)

    def _dismiss_result(self) -> None:
        self.band.setVisible(False)
        self.update_actions()

    @property
    def checkpoint(self) -> str:
        checked = self.actions.checkpoint_group.checkedAction()
        return next((n for n, a in self.actions.checkpoints.items() if a is checked), "B")

    def set_checkpoint(self, name: str) -> None:
        if name not in CHECKPOINTS:
            return
        if self.compressing:  # the figures table offers a row: the running job keeps its checkpoint
            self.preview.set_checkpoint(self.checkpoint)
            return
        self.actions.checkpoints[name].setChecked(True)
        self.preview.set_checkpoint(name)
        self.settings.checkpoint = name
        self._show_estimate(self.estimator.latest)

    @property
    def image_mode(self) -> str:
        """ "lossy" (re-code images) or "lossless" (keep originals exactly)."""
        checked = self.actions.image_mode_group.checkedAction()
        return next((n for n, a in self.actions.image_modes.items() if a is checked), "lossy")

    def set_image_mode(self, name: str) -> None:
        if name not in self.actions.image_modes:
            return
        self.actions.image_modes[name].setChecked(True)
        self.preview.set_image_mode(name)
        self.settings.image_mode = name
        self._replan()
        self._show_estimate(self.estimator.latest)

    def target_options(self) -> dict:
        """The CompressOptions fields of the chosen target (empty for a checkpoint); ValueError if invalid."""
        mode, value = self.compress_page.target()
        if mode == "size":
            if value is None:
                raise ValueError("the archive size target is not a size (examples: 2 GB, 850 KB, 1.5 MiB)")
            return {"target_size": int(value)}
        if mode == "quality":
            return {"min_quality": float(value)}
        return {}

    def _target_changed(self) -> None:
        page = self.compress_page
        self.settings.target = (page.mode, page.size_edit.text(), page.quality_spin.value())
        self._replan()
        self._show_estimate(self.estimator.latest)

    @property
    def precision(self) -> str:
        """The networks' precision that new jobs carry ("auto", "fp32" or "int8")."""
        return self.analysis.precision

    def set_precision(self, name: str) -> None:
        """Which networks new jobs run (archives decode the same either way); a running job keeps its own."""
        if name not in self.actions.precisions:
            return
        self.actions.precisions[name].setChecked(True)
        self.settings.precision = name
        if self.analysis.precision == name:
            return
        self.analysis.precision = name  # previews and estimates are cached per precision
        image = self._current_image()
        if image is not None:
            self._current_input_changed(self.input_panel.tree.currentIndex(), None)
        self.restart_estimate_soon()

    def _mode_changed(self, mode: str) -> None:
        (self.actions.split if mode == "split" else self.actions.side).setChecked(True)
        self.settings.compare_mode = mode

    def update_actions(self) -> None:
        act = self.actions
        busy = self.job_runner.busy
        has_inputs = bool(self.inputs.entries)
        has_archive = self.archive_page.archive is not None
        for a in (act.add_folder, act.add_files, act.samples, act.open_archive, act.clear):
            a.setEnabled(not busy)
        act.remove.setEnabled(not busy and bool(self.input_panel.selected_rows()))
        act.clear.setEnabled(not busy and has_inputs)
        act.compress.setEnabled(not busy and has_inputs and not self.inputs.scanning)
        act.cancel.setEnabled(busy)
        act.close_archive.setEnabled(not busy and has_archive)
        act.extract_all.setEnabled(not busy and has_archive)
        act.test.setEnabled(not busy and has_archive)
        act.add_to_archive.setEnabled(not busy and has_archive)
        act.extract_selected.setEnabled(not busy and has_archive and bool(self.archive_page.selected_rows()))
        result_visible = self.band.isVisible() and self.band.currentWidget() is self.result_panel
        act.show_in_folder.setEnabled(result_visible and self.ops.result_folder is not None)
        act.open_result.setEnabled(result_visible and self.ops.result_archive is not None and not busy)
        act.dismiss.setEnabled(result_visible)
        compressing = self.compressing
        for a in (*act.checkpoints.values(), *act.image_modes.values(), *act.precisions.values()):
            a.setEnabled(not compressing)
        self.compress_page.set_running(compressing)

    @property
    def compressing(self) -> bool:
        """A compression (or an addition) runs: its checkpoint, target, images mode and precision are fixed."""
        job = self.ops.job
        return self.job_runner.busy and job is not None and job.kind in ("compress", "add")

    # inputs ----------------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        folder = dialogs.ask_folder(self, "Add a folder to compress", self.settings.last_input_dir)
        if folder is not None:
            self.settings.last_input_dir = folder.parent
            self.add_paths([folder])

    def add_files_dialog(self) -> None:
        files = dialogs.ask_files(self, "Add files to compress", self.settings.last_input_dir)
        if files:
            self.settings.last_input_dir = files[0].parent
            self.add_paths(files)

    def load_samples(self) -> None:
        samples = paths.sample_photos()
        if not samples:
            dialogs.show_error(self, "No sample photos", "The sample photos are missing from this installation.")
            return
        self.add_paths(samples)

    def add_paths(self, new_paths: list[Path]) -> None:
        added = []
        for path in new_paths:
            path = Path(path)
            if not path.exists() and not path.is_symlink():
                continue
            names = {e.path.name for e in self.inputs.entries}
            if path.name in names and all(e.path != path.absolute() for e in self.inputs.entries):
                dialogs.show_error(
                    self,
                    "Two inputs with one name",
                    f"An input named “{path.name}” is already in the list. An archive stores each "
                    f"input under its name, so rename one of them first.",
                    str(path),
                )
                continue
            entry = self.inputs.add(path)
            if entry is not None:
                added.append(entry)
                self.scan_runner.submit(
                    Job(
                        "scan",
                        lambda sink, token, p=entry.path: scan_input(p, token),
                        on_done=lambda scan, e=entry: self._scanned(e, scan),
                        tag=entry,
                    )
                )
        if added:
            self.statusBar().showMessage(f"Added {len(added)} input{'s' if len(added) > 1 else ''}", 4000)
            self.tabs.setCurrentIndex(COMPRESS_TAB)
        self.update_actions()

    def _scanned(self, entry: InputEntry, scan) -> None:
        self.inputs.set_scan(entry, scan)
        self.input_panel.tree.expand(
            self.inputs.index(self.inputs.entries.index(entry), 0)
        ) if entry in self.inputs.entries and entry.is_dir and len(self.inputs.entries) == 1 else None
        if not self.input_panel.tree.selectionModel().hasSelection() and scan.images:
            self._select_first_image()
        self._inputs_changed()

    def _select_first_image(self) -> None:
        for row, entry in enumerate(self.inputs.entries):
            if entry.scan and entry.scan.images:
                top = self.inputs.index(row, 0)
                index = self.inputs.index(0, 0, top) if entry.is_dir else top
                self.input_panel.tree.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
                )
                return

    def remove_selected(self) -> None:
        self.inputs.remove_rows(self.input_panel.selected_rows())

    def clear_inputs(self) -> None:
        self.inputs.clear()

    def _inputs_changed(self) -> None:
        if not self.inputs.entries:
            self.analysis.cancel_preview()
            self.preview.clear()
        self._estimate_timer.start()
        self.update_actions()

    def restart_estimate_soon(self) -> None:
        self._estimate_timer.start()

    def _restart_estimate(self) -> None:
        if self._closing or self.inputs.scanning:
            return  # the last scan to land restarts it
        self.estimator.start(self.inputs.paths(), CompressOptions(checkpoint=self.checkpoint))
        self._replan()

    def _replan(self) -> None:
        """The Files page's plan for the current inputs and options (the engine's, on the scan worker)."""
        if self._closing or self.inputs.scanning:
            return
        lossy = self.image_mode == "lossy"
        try:
            target = self.target_options() if lossy else {}
        except ValueError:
            target = {}
        options = CompressOptions(checkpoint=self.checkpoint, images=self.image_mode, **target)
        self.files_page.plan_for(self.inputs.paths(), options)

    def _estimate_updated(self, estimate: Estimate | None) -> None:
        self._show_estimate(estimate)

    def _show_estimate(self, est: Estimate | None) -> None:
        self.compress_page.show_estimate(est, self.checkpoint, self.estimator.running, self.image_mode)
        target = self.compress_page.target() if self.image_mode == "lossy" else ("checkpoint", None)
        self.files_page.show_plan(self.checkpoint, est, target)

    # preview ---------------------------------------------------------------------
    def _current_input_changed(self, current, previous) -> None:
        image = self.inputs.image_at(current)
        if image is None:
            return
        size = engine.image_size(image.path)
        if size is not None and engine.is_large(*size):  # shown whole, coded region by region
            self.analysis.cancel_preview()
            self.preview.show_large(image, self.precision)
            return
        self.preview.show_loading(image)
        self.analysis.request_preview(image.path)

    def _current_image(self):
        return self.inputs.image_at(self.input_panel.tree.currentIndex())

    def _preview_ready(self, path: Path, figures, pixels) -> None:
        image = self._current_image()
        if image is not None and image.path == path:
            self.preview.show_result(image, figures, pixels)

    def _preview_failed(self, path: Path, error) -> None:
        image = self._current_image()
        if image is not None and image.path == path:
            self.preview.show_error(image, error.message)

    # archives --------------------------------------------------------------------
    def open_archive_dialog(self) -> None:
        path = dialogs.ask_open_archive(self, self.settings.last_archive_dir)
        if path is not None:
            self.open_archive(path)

    def open_archive(self, path: Path) -> None:
        self.ops.open_archive(Path(path))

    def close_archive(self) -> None:
        self.archive_model.set_records([])
        self.archive_page.show_archive(None)
        self.setWindowTitle("Latentzip")
        self.update_actions()

    # operations host (see operations.OperationsHost) -----------------------------
    def dialog_parent(self) -> QWidget:
        return self

    def compress_request(self) -> CompressRequest | None:
        if not self.inputs.entries or self.inputs.scanning:
            return None
        target = self.target_options()
        return CompressRequest(
            self.inputs.paths(),
            self.checkpoint,
            self.image_mode,
            target,
            self.compress_page.strip_location,
            self.precision,
        )

    def pause_estimate(self) -> None:
        self.estimator.stop()

    def operation_started(self, title: str) -> None:
        self.progress_panel.start(title)
        self.band.setCurrentWidget(self.progress_panel)
        self.band.setVisible(True)

    def operation_progress(self, event: ProgressEvent) -> None:
        self.progress_panel.update_event(event)

    def operation_cancelling(self) -> None:
        self.progress_panel.cancelling()

    def show_result(
        self, title: str, figures: list[tuple[str, str]], issues: list[tuple[str, str]], ok: bool = True
    ) -> None:
        self.result_panel.show_result(title, figures, issues, ok=ok)

    def operation_ended(self) -> None:
        self.band.setCurrentWidget(self.result_panel)
        self.band.setVisible(True)
        self.update_actions()
        self.restart_estimate_soon()  # stopped while the job ran; the cache makes it quick

    def state_changed(self) -> None:
        self.update_actions()

    def show_status(self, message: str, timeout_ms: int) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def current_archive(self) -> Path | None:
        return self.archive_page.archive

    def archive_selection(self, selected: bool) -> tuple[list, tuple[str, ...]] | None:
        if not selected:
            return list(self.archive_model.records), ()
        indexes = self.archive_page.selected_indexes()
        if not indexes:
            return None
        return self.archive_model.records_for(indexes), self.archive_model.patterns_for(indexes)

    def show_archive(self, path: Path, records: list) -> None:
        self.archive_model.set_records(records)
        self.archive_page.show_archive(path)
        self.setWindowTitle(f"Latentzip — {path.name}")
        self.tabs.setCurrentIndex(ARCHIVE_TAB)
        self.update_actions()

    def show_unreadable_archive(self, path: Path) -> None:
        self.archive_model.set_records([])
        self.archive_page.show_archive(path)
        self.archive_page.header.setText(
            f"<b>{path.name}</b> — <span style='color:#c0392b'>the archive's index cannot be read</span>"
            f"<br>A scan found no intact entry in it; Test lists the damage."
        )
        self.tabs.setCurrentIndex(ARCHIVE_TAB)
        self.update_actions()

    def mark_extracted(
        self, written: list[str], damaged: list[tuple[str, str]], unwritten: list[tuple[str, str]]
    ) -> None:
        self.archive_model.mark_extracted(written, damaged, unwritten)

    def show_salvage(self, path: Path, listing) -> None:
        self.archive_model.set_records(listing.recovered, salvaged=True)
        self.archive_page.show_archive(path)
        self.archive_page.show_salvage_header(listing.lost)
        self.setWindowTitle(f"Latentzip — {path.name} (damaged)")
        self.tabs.setCurrentIndex(ARCHIVE_TAB)
        self.update_actions()

    def show_files_result(self, report) -> None:
        self.files_page.show_result(report)

    def show_entry(self, record, image) -> None:
        EntryViewer(record, image, self).show()

    def show_test_result(self, damaged: list[tuple[str, str]]) -> None:
        self.archive_model.set_test_result(damaged)
        self.archive_page.refresh_header()

    # closing ---------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.job_runner.busy and not dialogs.ask_confirm(
            self,
            "Quit?",
            "An operation is still running.",
            "Cancel it and quit? Nothing half-written is left behind.",
            "Cancel it and quit",
        ):
            event.ignore()
            return
        self.settings.geometry = self.saveGeometry()
        self.settings.splitter = self.splitter.saveState()
        self.settings.sync()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Cancel all work and join the worker threads."""
        self._closing = True
        self._estimate_timer.stop()
        self.estimator.stop()
        for runner in (self.job_runner, self.analysis_runner, self.scan_runner, self.plan_runner, self.tile_runner):
            runner.shutdown()
        self.ops.remove_drag_folders()
