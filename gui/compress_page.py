"""The Compress page's layout: inputs | preview, and the bar with quality or target, estimate and Compress.

The target row offers a checkpoint (the Quality buttons), an archive size or a
minimum MS-SSIM; with a target the engine chooses per image (codec/estimate/planner.py)
and the estimate line says what it would choose.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..codec.engine import CHECKPOINTS
from ..codec.estimate.sampling import NOT_REACHABLE, UNCERTAIN
from ..codec.estimate.sizes import parse_size, range_text
from .actions import Actions
from .drop_zone import InputPanel, tool_button
from .estimate import Estimate, estimate_target, size_or_range
from .format import checkpoint_label, human_size
from .input_list import InputModel
from .preview_panel import PreviewPanel

TARGET_MODES = {"checkpoint": "checkpoint", "size": "archive size", "quality": "minimum quality"}


def button_text(label: str) -> str:
    """A checkpoint button's two short lines from its action's label: "A: smallest files" / "MS-SSIM about 0.978"."""
    head, _, tail = label.partition(", ")
    return f"{head}\n{tail}" if tail else head


class CompressPage(QWidget):
    target_changed = Signal()

    def __init__(self, inputs: InputModel, act: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.actions = act
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 2, 0, 0)
        v.setSpacing(4)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.input_panel = InputPanel(
            inputs, act.add_folder, act.add_files, act.samples, act.remove, act.clear, self.splitter
        )
        self.preview = PreviewPanel([act.split, act.side, act.fit, act.zoom_100, act.zoom_200], self.splitter)
        self.splitter.addWidget(self.input_panel)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        v.addWidget(self.splitter, 1)

        bar = self.bar = QFrame(self)
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        # A compact form, one choice per row, so that nothing is cut from 1024 px wide up: the
        # checkpoint buttons carry two short lines each, the estimate wraps instead of widening the window.
        grid = QGridLayout(bar)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Quality:", bar), 0, 0)
        self.checkpoint_buttons = {}
        row = QHBoxLayout()
        for name in CHECKPOINTS:
            button = tool_button(act.checkpoints[name], bar, text_beside=False)
            action = act.checkpoints[name]
            action.changed.connect(lambda b=button, a=action: b.setText(button_text(a.text())))
            button.setText(button_text(action.text()))
            self.checkpoint_buttons[name] = button
            row.addWidget(button)
        row.addStretch(1)
        grid.addLayout(row, 0, 1)
        grid.addWidget(QLabel("Images:", bar), 1, 0)
        row = QHBoxLayout()
        self.image_mode_buttons = {}
        for name, action in act.image_modes.items():
            self.image_mode_buttons[name] = tool_button(action, bar, text_beside=False)
            row.addWidget(self.image_mode_buttons[name])
        row.addSpacing(16)
        row.addWidget(QLabel("Target:", bar))
        self.target_mode = QComboBox(bar)
        for key, text in TARGET_MODES.items():
            self.target_mode.addItem(text, key)
        self.target_mode.setToolTip(
            "A checkpoint for every image, or a target: the engine then chooses A, B, C or exact storage per image"
        )
        self.size_edit = QLineEdit("100 MB", bar)
        self.size_edit.setToolTip("The whole archive's size, e.g. 2 GB, 850 KB, 1.5 MiB")
        self.size_edit.setMinimumWidth(self.size_edit.fontMetrics().horizontalAdvance("850.5 MiB") + 24)
        self.size_edit.setMaximumWidth(160)
        self.quality_spin = QDoubleSpinBox(bar)
        self.quality_spin.setDecimals(4)
        self.quality_spin.setRange(0.9, 1.0)
        self.quality_spin.setSingleStep(0.001)
        self.quality_spin.setValue(0.99)
        self.quality_spin.setToolTip("The MS-SSIM every image must reach (1: stored exactly)")
        for w in (self.target_mode, self.size_edit, self.quality_spin):
            row.addWidget(w)
        row.addStretch(1)
        grid.addLayout(row, 1, 1)
        self._running = False
        self.target_mode.currentIndexChanged.connect(self._target_edited)
        self.size_edit.textChanged.connect(self._target_edited)
        self.quality_spin.valueChanged.connect(self._target_edited)
        self._show_target_controls()
        self.estimate_label = QLabel("", bar)
        self.estimate_label.setToolTip("Estimated from a sample of your images, coded in the background")
        self.estimate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)  # wraps: the window never widens for a long estimate
        self.estimate_label.setSizePolicy(policy)
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setMinimumHeight(2 * self.estimate_label.fontMetrics().lineSpacing() + 2)
        grid.addWidget(self.estimate_label, 2, 0, 1, 2)
        self.compress_button = tool_button(act.compress, bar)
        self.compress_button.setMinimumSize(130, 44)
        grid.addWidget(self.compress_button, 0, 2, 2, 1)
        location_row = QHBoxLayout()
        self.location_box = QCheckBox("Remove location", bar)
        self.location_box.setToolTip(
            "Remove the GPS position (EXIF GPS, XMP and IPTC place fields) from the "
            "archived photos; every other tag, the date taken included, is kept"
        )
        self.location_box.setAccessibleName("Remove location from the archived photos")
        self.location_label = QLabel("", bar)
        location_row.addWidget(self.location_box)
        location_row.addWidget(self.location_label, 1)
        grid.addLayout(location_row, 3, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        v.addWidget(bar)
        self._inputs = inputs
        for signal in (inputs.rowsInserted, inputs.rowsRemoved, inputs.modelReset, inputs.dataChanged):
            signal.connect(self.show_locations)
        self.show_locations()

    @property
    def strip_location(self) -> bool:
        return self.location_box.isChecked()

    def show_locations(self, *args) -> None:
        """How many of the selected images carry a location (counted by the input scan)."""
        images, _, _ = self._inputs.totals()
        located = self._inputs.located()
        if not images:
            text = ""
        elif located:
            text = f"{located} of {images} image{'s' if images != 1 else ''} carry a location (GPS)"
        else:
            text = "no image carries a location"
        if self._inputs.scanning and images:
            text += " · scanning…"
        self.location_label.setText(text)

    # target ---------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.target_mode.currentData()

    def target(self) -> tuple[str, float | None]:
        """("checkpoint", None), ("size", bytes) or ("quality", MS-SSIM); ("size", None) while the size is invalid."""
        if self.mode == "size":
            try:
                return "size", float(parse_size(self.size_edit.text()))
            except ValueError:
                return "size", None
        if self.mode == "quality":
            return "quality", round(self.quality_spin.value(), 4)
        return "checkpoint", None

    def set_target(self, mode: str, size_text: str | None = None, quality: float | None = None) -> None:
        if size_text is not None:
            self.size_edit.setText(size_text)
        if quality is not None:
            self.quality_spin.setValue(quality)
        index = self.target_mode.findData(mode)
        self.target_mode.setCurrentIndex(max(index, 0))

    def set_running(self, running: bool) -> None:
        """During a compression its quality, target, images mode and location removal are locked."""
        self._running = running
        for button in self.image_mode_buttons.values():
            button.setEnabled(not running)
        self.location_box.setEnabled(not running)
        self._show_target_controls()

    def _show_target_controls(self) -> None:
        mode = self.mode
        self.size_edit.setVisible(mode == "size")
        self.quality_spin.setVisible(mode == "quality")
        for w in (self.target_mode, self.size_edit, self.quality_spin):
            w.setEnabled(not self._running)
        for button in self.checkpoint_buttons.values():
            button.setEnabled(mode == "checkpoint" and not self._running)
        valid = self.target() != ("size", None)
        self.size_edit.setStyleSheet("" if valid else "color: #c0392b")

    def _target_edited(self, *args) -> None:
        self._show_target_controls()
        self.target_changed.emit()

    # estimate ---------------------------------------------------------------------------
    def show_estimate(self, est: Estimate | None, checkpoint: str, running: bool, image_mode: str = "lossy") -> None:
        """The checkpoint labels (typical MS-SSIM once measured) and both modes' size estimates: re-coded (at
        ``checkpoint``, or as the target would choose) and originals kept exactly (the chosen mode in bold)."""
        for name, action in self.actions.checkpoints.items():
            action.setText(checkpoint_label(name, est.typical_ms_ssim.get(name) if est else None))
        if est is None:
            self.estimate_label.setText("")
            return
        exact = f"≈ {human_size(est.lossless)}"
        exact = f"<b>{exact}</b>" if image_mode == "lossless" else exact
        kept = f"Originals kept exactly: {exact}"
        if est.sampled == 0 and est.sample_target:
            self.estimate_label.setText(f"Original {human_size(est.original)} · {kept} · estimating the re-coded size…")
            return
        if est.done:
            more = f" · from {est.sampled} sample image{'s' if est.sampled != 1 else ''}"
        elif running:
            more = f" · refining, {est.sampled} of {est.sample_target} samples"
        else:
            more = f" · from {est.sampled} of {est.sample_target} samples"
        size = est.ranges[checkpoint].estimate
        share = f" ({100 * size / est.original:.0f} % of {human_size(est.original)})" if est.original else ""
        mode, value = self.target()
        if mode != "checkpoint" and image_mode != "lossless":
            self.estimate_label.setText(self._target_text(est, mode, value) + more + f" · {kept}")
            return
        recoded = size_or_range(est, checkpoint)
        recoded = f"<b>{recoded}</b>" if image_mode != "lossless" else recoded
        self.estimate_label.setText(f"Estimated archive re-coded at {checkpoint}: {recoded}{share}{more} · {kept}")

    @staticmethod
    def _target_text(est: Estimate, mode: str, value: float | None) -> str:
        if value is None:
            return "<span style='color:#c0392b'>Type a size such as 2 GB, 850 KB or 1.5 MiB</span>"
        t = estimate_target(est, mode, value)
        if t is None:
            return "Estimating…"
        chosen = ", ".join(f"{name} {n}" for name, n in t.counts.items() if n)
        if mode == "size":
            smallest = range_text(t.smallest.low, t.smallest.high)
            if t.verdict == NOT_REACHABLE:
                return (
                    f"Target {human_size(value)}: <b>not reachable</b>, {smallest} at the smallest choices ({chosen})"
                )
            if t.verdict == UNCERTAIN:
                return (
                    f"Target {human_size(value)}: <b>may not be reachable</b>: {smallest} at the smallest "
                    f"choices ({chosen}); compress measures every image and says"
                )
            return (
                f"Target {human_size(value)}: <b>≈ {human_size(t.size)}</b> · {chosen} · "
                f"lowest MS-SSIM ≈ {t.min_ms_ssim:.3f}"
            )
        return f"MS-SSIM ≥ {value:.4f}: <b>≈ {human_size(t.size)}</b> · {chosen}"
