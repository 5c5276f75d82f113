"""The Files page: the per-file plan before compressing, and every file's result after.

Before: the engine's plan (``engine.plan_inputs``, run on its own worker when
the page is shown after the inputs, the images mode or the use of a target
changed: it probes every image) says what will happen to each
file: coded at A, B or C, stored exactly, JPEG re-packed, LZMA, duplicate or
skipped; the sizes of coded images come from the sampled estimate (their own
sample when they were sampled), the others' from the plan. After: each file's
original size, its size in the archive, the saving and, for coded images, the
MS-SSIM, from the CompressReport. The table sorts on any column; two buttons
put the worst quality or the least saved first. Rows are made on the GUI
thread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..codec import engine
from ..codec.engine import FilePlan, OutcomeKind, PlanAction
from ..codec.estimate.planner import EXACT, Option, make_plan
from .estimate import Estimate
from .format import count_text, human_size
from .worker import Job, JobError, JobRunner

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PLAN, RESULT = "plan", "result"
NO_SCORE = 2.0  # sorts after every MS-SSIM: files that were not coded come last under "worst quality first"
AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class FileRow:
    name: str
    what: str  # what will happen (plan) or happened (result), in words
    original: int
    size: int | None  # estimated bytes (plan) or bytes in the archive (result); None: not known yet
    ms_ssim: float | None = None
    note: str = ""
    estimated: bool = False

    @property
    def saving(self) -> float | None:
        """The share of the original saved (negative when it grows)."""
        if self.size is None or not self.original:
            return None
        return 1.0 - self.size / self.original


RESULT_WORDS = {
    OutcomeKind.STORED: "stored exactly",
    OutcomeKind.LZMA: "stored exactly (LZMA)",
    OutcomeKind.LOSSLESS_JPEG: "JPEG re-packed (kept exactly)",
    OutcomeKind.DUPLICATE: "duplicate (header only)",
    OutcomeKind.SYMLINK: "link",
}


def _target_choices(est: Estimate | None, target: tuple[str, float | None]) -> dict[str, Option]:
    """Image (archive path) -> the option a size or quality target would choose (the engine's planner), if any."""
    mode, value = target
    if est is None or not est.items or mode == "checkpoint" or value is None:
        return {}
    plan = make_plan(list(est.items), est.fixed, mode, value)
    return {item.name: item.option(plan.choices[item.name]) for item in est.items if item.name in plan.choices}


def plan_rows(
    plan: list[FilePlan], checkpoint: str, est: Estimate | None, target: tuple[str, float | None] = ("checkpoint", None)
) -> list[FileRow]:
    """The plan's files (folders apart) with their estimated sizes at ``checkpoint`` or under ``target``."""
    chosen = _target_choices(est, target)
    rows = []
    for p in plan:
        if p.action.is_folder:
            continue
        if p.action is not PlanAction.CODE:
            rows.append(
                FileRow(p.name, engine.PLAN_ACTION_WORDS[p.action], p.size, p.estimated, note=p.reason, estimated=True)
            )
            continue
        option = chosen.get(p.name)
        if option is not None:
            what = (
                "stored exactly (the target's choice)"
                if option.choice == EXACT
                else f"coded at {option.choice} (the target's choice)"
            )
            rows.append(
                FileRow(
                    p.name,
                    what,
                    p.size,
                    option.size,
                    option.ms_ssim if option.choice != EXACT else None,
                    estimated=True,
                )
            )
            continue
        found = est.image_bytes(p.name, p.size, checkpoint) if est is not None else None
        if found is None:
            rows.append(FileRow(p.name, f"coded at {checkpoint}", p.size, None, note="estimating…", estimated=True))
            continue
        size, own = found
        if own and size >= p.size:  # its own sample says the engine would store it
            rows.append(FileRow(p.name, "stored exactly (coding would not pay)", p.size, size, estimated=True))
            continue
        note = "" if own else "estimated from the sampled images"
        score = est.own_scores.get(p.name, {}).get(checkpoint) if est is not None and own else None
        rows.append(FileRow(p.name, f"coded at {checkpoint}", p.size, size, score, note=note, estimated=True))
    return rows


def result_rows(report: engine.CompressReport) -> list[FileRow]:
    """Every file of a finished compression (folders apart), and those that could not be archived."""
    rows = []
    for o in report.outcomes:
        if o.kind is OutcomeKind.DIRECTORY:
            continue
        what = f"coded at {o.checkpoint}" if o.kind is OutcomeKind.LOSSY else RESULT_WORDS[o.kind]
        rows.append(FileRow(o.name, what, o.original_size, o.stored_size, o.ms_ssim, o.note))
    rows += [FileRow(name, "not archived", 0, None, note=reason) for name, reason in report.failed]
    return rows


COLUMNS = ("File", "What happens", "Original", "Estimated size", "Saving", "MS-SSIM", "Note")
RESULT_HEADERS = {1: "What happened", 3: "In the archive"}


class FileListModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[FileRow] = []
        self.mode = PLAN

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return RESULT_HEADERS.get(section, COLUMNS[section]) if self.mode == RESULT else COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            approx = "≈ " if row.estimated else ""
            if col == 0:
                return row.name
            if col == 1:
                return row.what
            if col == 2:
                return human_size(row.original)
            if col == 3:
                return "" if row.size is None else approx + human_size(row.size)
            if col == 4:
                return "" if row.saving is None else f"{approx}{100 * row.saving:.0f} %"
            if col == 5:
                return "" if row.ms_ssim is None else f"{approx}{row.ms_ssim:.4f}"
            return row.note
        if role == SORT_ROLE:
            return (
                row.name.casefold(),
                row.what,
                row.original,
                -1 if row.size is None else row.size,
                2.0 if row.saving is None else row.saving,
                NO_SCORE if row.ms_ssim is None else row.ms_ssim,
                row.note,
            )[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.name}\n{row.note}" if row.note else row.name
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_rows(self, rows: list[FileRow], mode: str) -> None:
        self.beginResetModel()
        self.rows, self.mode = list(rows), mode
        self.endResetModel()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)


class FilesPage(QWidget):
    """The plan (kept up to date in the background) or the last result, in one sortable table."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._job: Job | None = None
        self._key: tuple | None = None
        self.plan: list[FilePlan] = []
        self.planning = False
        self.error = ""
        self._pending: tuple[tuple, list[Path], engine.CompressOptions] | None = None
        self.mode = PLAN
        self._result: engine.CompressReport | None = None
        self._plan_view: tuple[str, Estimate | None, tuple[str, float | None]] = ("B", None, ("checkpoint", None))
        self.model = FileListModel(self)
        v = QVBoxLayout(self)
        self.header = QLabel(self)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.header)
        bar = QHBoxLayout()
        self.plan_button = QPushButton("Plan", self)
        self.plan_button.setToolTip("What compressing the current inputs will do with each file")
        self.result_button = QPushButton("Last result", self)
        self.result_button.setToolTip("What the last compression did with each file")
        self.result_button.setEnabled(False)
        self._modes = QButtonGroup(self)
        for button in (self.plan_button, self.result_button):
            button.setCheckable(True)
            self._modes.addButton(button)
            bar.addWidget(button)
        self.plan_button.setChecked(True)
        self.plan_button.clicked.connect(lambda: self._set_mode(PLAN))
        self.result_button.clicked.connect(lambda: self._set_mode(RESULT))
        bar.addSpacing(16)
        self.worst_button = QPushButton("Worst quality first", self)
        self.worst_button.setToolTip("Sort by MS-SSIM, lowest first")
        self.worst_button.clicked.connect(lambda: self.table.sortByColumn(5, Qt.SortOrder.AscendingOrder))
        self.least_button = QPushButton("Least saved first", self)
        self.least_button.setToolTip("Sort by saving, smallest first")
        self.least_button.clicked.connect(lambda: self.table.sortByColumn(4, Qt.SortOrder.AscendingOrder))
        bar.addWidget(self.worst_button)
        bar.addWidget(self.least_button)
        bar.addStretch(1)
        v.addLayout(bar)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Every file: what happens to it, its size and saving")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(0)
        v.addWidget(self.table, 1)
        self._show_header()

    # the plan ---------------------------------------------------------------------
    def plan_for(self, inputs: list[Path], options: engine.CompressOptions) -> None:
        """Re-plan when the inputs or what decides the plan (images mode, a target or not) changed."""
        key = (tuple(inputs), options.images, options.targeted)
        if key == self._key:
            return
        self._key = key
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self.plan, self.planning, self.error = [], bool(inputs), ""
        self._pending = (key, list(inputs), options) if inputs else None
        self._set_mode(PLAN)
        if self.isVisible():
            self._start_pending()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        """The plan is made when it is looked at: every image is probed, so it waits until then."""
        super().showEvent(event)
        self._start_pending()

    def _start_pending(self) -> None:
        if self._pending is None:
            return
        key, inputs, options = self._pending
        self._pending = None

        def planned(rows: list[FilePlan], job_key: tuple = key) -> None:
            if job_key == self._key:
                self._job, self.plan, self.planning = None, rows, False
                self._render()

        def failed(error: JobError, job_key: tuple = key) -> None:
            if job_key == self._key:
                self._job, self.planning, self.error = None, False, error.message
                self._render()

        self._job = self._runner.submit(
            Job(
                "plan", lambda sink, token: engine.plan_inputs(inputs, options, token), on_done=planned, on_error=failed
            )
        )

    def show_plan(self, checkpoint: str, est: Estimate | None, target: tuple[str, float | None]) -> None:
        """Show the plan with the sizes of this checkpoint (or target) and estimate."""
        self._plan_view = (checkpoint, est, target)
        if self.mode == PLAN:
            self._render()

    def show_result(self, report: engine.CompressReport) -> None:
        self._result = report
        self.result_button.setEnabled(True)
        self._set_mode(RESULT)

    def _set_mode(self, mode: str) -> None:
        self.mode = mode if mode == PLAN or self._result is not None else PLAN
        (self.plan_button if self.mode == PLAN else self.result_button).setChecked(True)
        self._render()

    def _render(self) -> None:
        if self.mode == RESULT and self._result is not None:
            self.model.set_rows(result_rows(self._result), RESULT)
        else:
            self.model.set_rows(plan_rows(self.plan, *self._plan_view), PLAN)
        self._show_header()

    def _show_header(self) -> None:
        rows = self.model.rows
        known = [r for r in rows if r.size is not None]
        if self.model.mode == RESULT and self._result is not None:
            report = self._result
            folders = sum(1 for o in report.outcomes if o.kind is OutcomeKind.DIRECTORY)
            files = len(report.outcomes) - folders
            self.header.setText(
                f"<b>Result:</b> {count_text(files, folders)} in {report.archive.name} · "
                f"{human_size(sum(r.original for r in rows))} → "
                f"{human_size(sum(r.size or 0 for r in rows))} of file data"
            )
            return
        if self.planning:
            self.header.setText("<b>Plan:</b> looking at every file…")
            return
        if self.error:
            self.header.setText(f"<b>Plan:</b> <span style='color:#c0392b'>{self.error}</span>")
            return
        if not self.plan:
            self.header.setText("<b>Plan:</b> add folders or photos to see what compressing will do with each file.")
            return
        files, folders = engine.count_files_and_folders(
            [p.action.is_folder for p in self.plan if p.action is not PlanAction.SKIP]
        )  # as archived
        pending = len(rows) - len(known)
        more = f" · {pending} waiting for the estimate" if pending else ""
        self.header.setText(
            f"<b>Plan:</b> what compressing will do with each of {count_text(files, folders)} · "
            f"≈ {human_size(sum(r.size or 0 for r in known))} of file data{more}"
        )
