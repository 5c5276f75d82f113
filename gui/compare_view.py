"""Before/after comparison: a split view with a draggable divider, or side by side.

One widget paints both sides with the same zoom and centre, so zoom and pan
stay in sync. Zoom is in image pixels per *device* pixel: 100 % shows one
image pixel on one screen pixel on any display scale. Zoomed in, pixels are
drawn nearest-neighbour (blocks, so artefacts can be judged); zoomed out,
smoothly. Mouse: drag the divider, drag elsewhere to pan, wheel to zoom around
the pointer, double-click for fit / 100 %. Keys: Left/Right move the divider,
Shift+arrows pan, +/- zoom, 0 fit, 1 100 %, 2 200 %, M switches the mode.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_ZOOM, MAX_ZOOM = 0.05, 32.0
GRAB_PX = 10


class CompareView(QWidget):
    zoom_changed = Signal(str)
    mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 160)
        self.setAccessibleName("Before and after comparison")
        self.setToolTip("Drag the divider to compare; wheel to zoom, drag to pan, double-click for fit / 100 %")
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._labels = ("Original", "Compressed")
        self._message = "Select an image to compare it before and after compression"
        self._mode = "split"
        self._zoom: float | None = None  # None: fit
        self._center = QPointF()
        self._divider = 0.5
        self._drag: str | None = None  # "divider" or "pan"
        self._last_pos = QPointF()

    # content -----------------------------------------------------------------
    def set_images(self, before: QImage | None, after: QImage | None, keep_view: bool = False) -> None:
        same_size = before is not None and self._before is not None and before.size() == self._before.size()
        self._before, self._after = before, after
        if before is not None and not (keep_view and same_size):
            self._zoom = None
            self._center = QPointF(before.width() / 2, before.height() / 2)
        self._emit_zoom()
        self.update()

    def set_after(self, after: QImage | None) -> None:
        self._after = after
        self.update()

    def set_labels(self, before: str, after: str) -> None:
        self._labels = (before, after)
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text
        self.update()

    def has_image(self) -> bool:
        return self._before is not None

    # view state --------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode in ("split", "side") and mode != self._mode:
            self._mode = mode
            self.mode_changed.emit(mode)
            self._emit_zoom()
            self.update()

    def toggle_mode(self) -> None:
        self.set_mode("side" if self._mode == "split" else "split")

    @property
    def divider(self) -> float:
        return self._divider

    def set_divider(self, fraction: float) -> None:
        self._divider = min(1.0, max(0.0, fraction))
        self.update()

    def zoom(self) -> float:
        """The effective zoom: image pixels per device pixel (fit resolved)."""
        return self._zoom if self._zoom is not None else self._fit_zoom()

    def is_fit(self) -> bool:
        return self._zoom is None

    def zoom_fit(self) -> None:
        self._zoom = None
        if self._before is not None:
            self._center = QPointF(self._before.width() / 2, self._before.height() / 2)
        self._emit_zoom()
        self.update()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (widget coords; default the centre) fixed."""
        if self._before is None:
            return
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        viewport = self._viewport_at(anchor) if anchor is not None else self._viewports()[0]
        anchor = anchor if anchor is not None else viewport.center()
        before = self._to_image(anchor, viewport)
        self._zoom = zoom
        after = self._to_image(anchor, viewport)
        self._center += before - after
        self._clamp_center()
        self._emit_zoom()
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom() * factor, anchor)

    def pan_by(self, dx_px: float, dy_px: float) -> None:
        """Move the image by a widget-pixel offset."""
        scale = self._scale()
        if scale > 0:
            self._center -= QPointF(dx_px / scale, dy_px / scale)
            self._clamp_center()
            self.update()

    def view_center(self) -> QPointF:
        return QPointF(self._center)

    # geometry ----------------------------------------------------------------
    def _dpr(self) -> float:
        return max(1.0, self.devicePixelRatioF())

    def _viewports(self) -> list[QRectF]:
        r = QRectF(self.rect())
        if self._mode == "side":
            half = (r.width() - 4) / 2
            return [QRectF(r.left(), r.top(), half, r.height()), QRectF(r.left() + half + 4, r.top(), half, r.height())]
        return [r]

    def _viewport_at(self, pos: QPointF) -> QRectF:
        for vp in self._viewports():
            if vp.contains(pos):
                return vp
        return self._viewports()[0]

    def _fit_zoom(self) -> float:
        if self._before is None:
            return 1.0
        vp = self._viewports()[0]
        fit = min(vp.width() / self._before.width(), vp.height() / self._before.height())
        return max(MIN_ZOOM, fit * self._dpr())

    def _scale(self) -> float:
        """Logical (widget) pixels per image pixel."""
        return self.zoom() / self._dpr()

    def _image_rect(self, viewport: QRectF) -> QRectF:
        s = self._scale()
        w, h = self._before.width() * s, self._before.height() * s
        c = viewport.center()
        return QRectF(c.x() - self._center.x() * s, c.y() - self._center.y() * s, w, h)

    def _to_image(self, pos: QPointF, viewport: QRectF) -> QPointF:
        s = self._scale()
        c = viewport.center()
        return QPointF((pos.x() - c.x()) / s + self._center.x(), (pos.y() - c.y()) / s + self._center.y())

    def _clamp_center(self) -> None:
        if self._before is not None:
            self._center = QPointF(
                min(max(self._center.x(), 0.0), float(self._before.width())),
                min(max(self._center.y(), 0.0), float(self._before.height())),
            )

    def _divider_x(self) -> float:
        return self.rect().left() + self._divider * self.rect().width()

    def _emit_zoom(self) -> None:
        if self._before is None:
            self.zoom_changed.emit("")
            return
        pct = round(self.zoom() * 100)
        self.zoom_changed.emit(f"Fit ({pct} %)" if self._zoom is None else f"{pct} %")

    # painting ----------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(pal.ColorRole.Base).darker(108))
        if self._before is None:
            p.setPen(pal.color(pal.ColorRole.PlaceholderText))
            p.drawText(
                self.rect().adjusted(20, 20, -20, -20),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
            self._paint_focus(p)
            return
        smooth = self.zoom() < 1.0
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        after = self._after if self._after is not None else self._before
        if self._mode == "side":
            for vp, image, label in zip(self._viewports(), (self._before, after), self._labels, strict=False):
                p.save()
                p.setClipRect(vp)
                target = self._image_rect(vp)
                p.drawImage(target, image)
                self._paint_label(p, label, self._label_area(target, vp), left=True)
                p.restore()
        else:
            vp = self._viewports()[0]
            target = self._image_rect(vp)
            x = self._divider_x()
            p.save()
            p.setClipRect(QRectF(vp.left(), vp.top(), x - vp.left(), vp.height()))
            p.drawImage(target, self._before)
            p.restore()
            p.save()
            p.setClipRect(QRectF(x, vp.top(), vp.right() - x, vp.height()))
            p.drawImage(target, after)
            p.restore()
            self._paint_divider(p, x)
            area = self._label_area(target, vp)
            self._paint_label(p, self._labels[0], area, left=True)
            self._paint_label(p, self._labels[1], area, left=False)
        if self._after is None and self._message:
            self._paint_label(p, self._message, QRectF(self.rect()), left=True, bottom=True)
        self._paint_focus(p)

    @staticmethod
    def _label_area(target: QRectF, viewport: QRectF) -> QRectF:
        """Labels sit in the corners of the visible part of the image (or of the view if it is tiny)."""
        visible = target.intersected(viewport)
        return visible if visible.width() > 200 and visible.height() > 60 else viewport

    def _paint_divider(self, p: QPainter, x: float) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(QColor(255, 255, 255, 230), 2))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        centre = QPointF(x, self.height() / 2)
        p.setBrush(QColor(255, 255, 255, 240))
        p.setPen(QPen(QColor(0, 0, 0, 90), 1))
        p.drawEllipse(centre, 14, 14)
        p.setBrush(QColor(60, 60, 60))
        p.setPen(Qt.PenStyle.NoPen)
        for sign in (-1, 1):
            path = QPainterPath()
            tip = centre + QPointF(sign * 9, 0)
            path.moveTo(tip)
            path.lineTo(centre + QPointF(sign * 3, -5))
            path.lineTo(centre + QPointF(sign * 3, 5))
            path.closeSubpath()
            p.drawPath(path)

    def _paint_label(self, p: QPainter, text: str, area: QRectF, left: bool, bottom: bool = False) -> None:
        if not text:
            return
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 16, fm.height() + 8
        x = area.left() + 10 if left else area.right() - 10 - w
        y = area.bottom() - 10 - h if bottom else area.top() + 10
        box = QRectF(x, y, w, h)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(QColor(255, 255, 255))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()

    def _paint_focus(self, p: QPainter) -> None:
        if self.hasFocus():
            pen = QPen(self.palette().color(self.palette().ColorRole.Highlight), 2)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))

    # input -------------------------------------------------------------------
    def _near_divider(self, pos: QPointF) -> bool:
        return self._mode == "split" and abs(pos.x() - self._divider_x()) <= GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton or self._before is None:
            return super().mousePressEvent(event)
        pos = event.position()
        self._drag = "divider" if self._near_divider(pos) else "pan"
        self._last_pos = pos
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._drag == "divider":
            self.set_divider((pos.x() - self.rect().left()) / max(1, self.rect().width()))
        elif self._drag == "pan":
            delta = pos - self._last_pos
            self.pan_by(delta.x(), delta.y())
        elif self._before is not None:
            shape = Qt.CursorShape.SplitHCursor if self._near_divider(pos) else Qt.CursorShape.OpenHandCursor
            self.setCursor(shape)
        self._last_pos = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None
        self.setCursor(Qt.CursorShape.ArrowCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._before is None:
            return
        if self._zoom is None:
            self.set_zoom(1.0, event.position())
        else:
            self.zoom_fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps and self._before is not None:
            self.zoom_by(1.25**steps, event.position())
            event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        step = 40.0
        if mods & Qt.KeyboardModifier.ShiftModifier and key in (
            Qt.Key.Key_Left,
            Qt.Key.Key_Right,
            Qt.Key.Key_Up,
            Qt.Key.Key_Down,
        ):
            dx = {Qt.Key.Key_Left: step, Qt.Key.Key_Right: -step}.get(key, 0.0)
            dy = {Qt.Key.Key_Up: step, Qt.Key.Key_Down: -step}.get(key, 0.0)
            self.pan_by(dx, dy)
        elif key == Qt.Key.Key_Left:
            self.set_divider(self._divider - 0.05)
        elif key == Qt.Key.Key_Right:
            self.set_divider(self._divider + 0.05)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(0.8)
        elif key == Qt.Key.Key_0:
            self.zoom_fit()
        elif key == Qt.Key.Key_1:
            self.set_zoom(1.0)
        elif key == Qt.Key.Key_2:
            self.set_zoom(2.0)
        elif key == Qt.Key.Key_M:
            self.toggle_mode()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        if self._zoom is None:
            self._emit_zoom()
        super().resizeEvent(event)
