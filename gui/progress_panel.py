"""The bottom band: progress of a running job, then its result.

``ProgressPanel`` shows the engine's ProgressEvent: a bar, the current file,
files done of total, MB/s and ETA, and a Cancel button (Esc). ``ResultPanel``
shows what a finished job did, with the files that failed or were stored
losslessly and why, and buttons to act on the result.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..codec.engine import IssueCode, Operation, OutcomeKind, ProgressEvent, floor_lines, second_generation_note
from .drop_zone import tool_button
from .format import human_duration, human_size, rate


class Band:
    """The progress panel or the result panel (or neither), stacked in the window's bottom band."""

    def __init__(self, progress: ProgressPanel, result: ResultPanel) -> None:
        self._panels = (progress, result)
        self._current: QWidget = progress
        self._visible = False
        self._apply()

    def _apply(self) -> None:
        for panel in self._panels:
            panel.setVisible(self._visible and panel is self._current)

    def setCurrentWidget(self, panel: QWidget) -> None:  # noqa: N802 - QStackedWidget's names
        self._current = panel
        self._apply()

    def currentWidget(self) -> QWidget:  # noqa: N802
        return self._current

    def setVisible(self, visible: bool) -> None:  # noqa: N802
        self._visible = visible
        self._apply()

    def isVisible(self) -> bool:  # noqa: N802
        return self._visible


class ProgressPanel(QFrame):
    def __init__(self, cancel: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        grid = QGridLayout(self)
        self.title = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setAccessibleName("Progress")
        self.current = QLabel(self)
        self.current.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stats = QLabel(self)
        self.stats.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.cancel_button = tool_button(cancel, self)
        grid.addWidget(self.title, 0, 0, 1, 2)
        grid.addWidget(self.bar, 1, 0)
        grid.addWidget(self.cancel_button, 1, 1)
        grid.addWidget(self.current, 2, 0)
        grid.addWidget(self.stats, 2, 1)
        grid.setColumnStretch(0, 1)
        self.last_event: ProgressEvent | None = None

    def start(self, title: str) -> None:
        self.title.setText(f"<b>{title}</b>")
        self.bar.setValue(0)
        self.bar.setFormat("%p %")
        self.current.setText("Starting…")
        self.stats.setText("")
        self.last_event = None

    def update_event(self, event: ProgressEvent) -> None:
        self.last_event = event
        self.bar.setValue(int(event.fraction * 1000))
        self.current.setText(event.current or "")
        self.current.setToolTip(event.current or "")
        parts = [f"{event.files_done} of {event.files_total} files"]
        if event.operation is Operation.ESTIMATE:  # a target's estimate pass comes before the compression itself
            parts[0] = f"Estimating for the target: {parts[0]}"
        if event.elapsed_s > 0.5 and event.bytes_done:
            parts.append(rate(event.bytes_done, event.elapsed_s))
        eta = event.eta_s
        if eta is not None and event.files_done < event.files_total:
            parts.append(f"ETA {human_duration(eta)}")
        self.stats.setText(" · ".join(parts))

    def cancelling(self) -> None:
        self.current.setText("Cancelling…")


class ResultPanel(QFrame):
    def __init__(self, actions: list[QAction], dismiss: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        v = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title = QLabel(self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.title, 1)
        self.buttons: list[QToolButton] = [tool_button(a, self) for a in actions]
        for b in self.buttons:
            top.addWidget(b)
        self.dismiss_button = tool_button(dismiss, self)
        top.addWidget(self.dismiss_button)
        v.addLayout(top)
        self.figures = QLabel(self)
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.figures)
        self.issues = QTreeWidget(self)
        self.issues.setAccessibleName("Files with notes")
        self.issues.setHeaderLabels(["File", "What happened"])
        self.issues.setRootIsDecorated(False)
        self.issues.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.issues.setMaximumHeight(140)
        v.addWidget(self.issues)

    def show_result(
        self, title: str, figures: list[tuple[str, str]], issues: list[tuple[str, str]], ok: bool = True
    ) -> None:
        colour = "" if ok else "color:#c0392b;"
        self.title.setText(f"<span style='font-size:12pt;font-weight:600;{colour}'>{title}</span>")
        self.figures.setText("&nbsp;&nbsp;·&nbsp;&nbsp;".join(f"{k}: <b>{v}</b>" for k, v in figures))
        self.figures.setVisible(bool(figures))
        self.issues.clear()
        for name, reason in issues:
            item = QTreeWidgetItem([name, reason])
            item.setToolTip(0, name)
            item.setToolTip(1, reason)
            self.issues.addTopLevelItem(item)
        self.issues.resizeColumnToContents(0)
        self.issues.setVisible(bool(issues))

    def issue_rows(self) -> list[tuple[str, str]]:
        return [
            (self.issues.topLevelItem(i).text(0), self.issues.topLevelItem(i).text(1))
            for i in range(self.issues.topLevelItemCount())
        ]


def compress_figures(report) -> list[tuple[str, str]]:
    """Original size, archive size, ratio, mean bpp, time: the figures of a CompressReport."""
    lossy = [o for o in report.outcomes if o.kind is OutcomeKind.LOSSY]
    figures = [
        ("Original", human_size(report.original_size)),
        ("Archive", human_size(report.archive_size)),
        ("Ratio", f"{report.ratio:.2f} : 1" if report.ratio else "–"),
    ]
    pixels = sum(o.pixels for o in lossy)
    if pixels:
        figures.append(("Mean bpp", f"{sum(o.stored_size for o in lossy) * 8 / pixels:.3f}"))
        scores = [o.ms_ssim for o in lossy if o.ms_ssim is not None]
        if scores:
            figures.append(("Mean MS-SSIM", f"{sum(scores) / len(scores):.4f}"))
    else:
        figures.append(("Mean bpp", "– (no image was coded)"))
    figures.append(("Time", human_duration(report.seconds)))
    figures.append(("Images coded", f"{len(lossy)}"))
    kept = sum(1 for o in report.outcomes if o.kind is OutcomeKind.LOSSLESS_JPEG)
    if kept:
        figures.append(("JPEGs kept exactly", f"{kept} (re-packed, rebuilt bit for bit)"))
    if report.duplicates:
        figures.append(("Duplicates stored once", f"{report.duplicates}"))
    floors = floor_lines(report.floors)
    if floors:  # per checkpoint: images raised to meet their floor, images kept exactly instead, and why
        figures.append(("Floors", "; ".join(floors)))
    target = report.target
    if target is not None:
        met = "met" if target.met else "not met"
        if target.mode == "size":
            figures.append(("Target", f"{human_size(target.target)}: {met} ({100 * target.error:+.1f} %)"))
        else:
            figures.append(("Target", f"MS-SSIM ≥ {target.target:.4f}: {met} (lowest {target.achieved:.4f})"))
        figures.append(("Chosen", ", ".join(f"{k} {n}" for k, n in target.choices.items())))
    if report.locations_removed:
        figures.append(
            ("Location removed", f"{report.locations_removed} file{'s' if report.locations_removed != 1 else ''}")
        )
    return figures


def compress_issues(report) -> list[tuple[str, str]]:
    """Files that failed, or were stored losslessly with a reason, and warnings."""
    issues = [(name, f"failed: {reason}") for name, reason in report.failed]
    jpegs = sum(1 for o in report.outcomes if o.kind is OutcomeKind.LOSSY and o.source_format == "JPEG")
    if jpegs:
        issues.insert(0, ("(JPEG sources)", second_generation_note(jpegs, "choose “Keep originals exactly”")))
    seen = {name for name, _ in issues}
    for o in report.outcomes:
        # plain files are not news, nor duplicates (counted in the figures)
        if (
            o.note
            and o.reason is not IssueCode.NOT_AN_IMAGE
            and o.kind is not OutcomeKind.DUPLICATE
            and o.name not in seen
        ):
            issues.append((o.name, o.note))
            seen.add(o.name)
    for name, message in report.warnings:
        if name not in seen:
            issues.append((name, message))
            seen.add(name)
    return issues
