"""The Compress page's layout: inputs | preview, and the bar with quality, estimate and Compress."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSplitter,
                               QVBoxLayout, QWidget)

from ..codec.engine import CHECKPOINTS
from .actions import Actions
from .drop_zone import InputPanel, tool_button
from .estimate import Estimate
from .format import checkpoint_label, human_size
from .input_list import InputModel
from .preview_panel import PreviewPanel


class CompressPage(QWidget):
    def __init__(self, inputs: InputModel, act: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.actions = act
        v = QVBoxLayout(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.input_panel = InputPanel(inputs, act.add_folder, act.add_files, act.samples, act.remove, act.clear,
                                      self.splitter)
        self.preview = PreviewPanel([act.split, act.side, act.fit, act.zoom_100, act.zoom_200], self.splitter)
        self.splitter.addWidget(self.input_panel)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        v.addWidget(self.splitter, 1)

        bar = QFrame(self)
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(bar)
        grid.addWidget(QLabel("Quality:", bar), 0, 0)
        self.checkpoint_buttons = {}
        row = QHBoxLayout()
        for name in CHECKPOINTS:
            self.checkpoint_buttons[name] = tool_button(act.checkpoints[name], bar, text_beside=False)
            row.addWidget(self.checkpoint_buttons[name])
        row.addStretch(1)
        grid.addLayout(row, 0, 1)
        self.estimate_label = QLabel("", bar)
        self.estimate_label.setToolTip("Estimated from a sample of your images, coded in the background")
        self.estimate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.estimate_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        grid.addWidget(self.estimate_label, 1, 1)
        self.compress_button = tool_button(act.compress, bar)
        self.compress_button.setMinimumSize(130, 44)
        grid.addWidget(self.compress_button, 0, 2, 2, 1)
        location_row = QHBoxLayout()
        self.location_box = QCheckBox("Remove location", bar)
        self.location_box.setToolTip("Remove the GPS position (EXIF GPS, XMP and IPTC place fields) from the "
                                     "archived photos; every other tag, the date taken included, is kept")
        self.location_box.setAccessibleName("Remove location from the archived photos")
        self.location_label = QLabel("", bar)
        location_row.addWidget(self.location_box)
        location_row.addWidget(self.location_label, 1)
        grid.addLayout(location_row, 2, 1)
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

    def show_estimate(self, est: Estimate | None, checkpoint: str, running: bool) -> None:
        """The checkpoint labels (typical MS-SSIM once measured) and the size estimate for ``checkpoint``."""
        for name, action in self.actions.checkpoints.items():
            action.setText(checkpoint_label(name, est.typical_ms_ssim.get(name) if est else None))
        if est is None:
            self.estimate_label.setText("")
            return
        if est.sampled == 0 and est.sample_target:
            self.estimate_label.setText(f"Original {human_size(est.original)} · estimating the archive size…")
            return
        size = est.sizes[checkpoint]
        share = f" ({100 * size / est.original:.0f} % of {human_size(est.original)})" if est.original else ""
        if est.done:
            more = f" · from {est.sampled} sample image{'s' if est.sampled != 1 else ''}"
        elif running:
            more = f" · refining, {est.sampled} of {est.sample_target} samples"
        else:
            more = f" · from {est.sampled} of {est.sample_target} samples"
        self.estimate_label.setText(f"Estimated archive at {checkpoint}: <b>≈ {human_size(size)}</b>{share}{more}")
