"""Before/after comparison: a split view with a draggable divider, or side by side.

One widget paints both sides with the same zoom and centre, so zoom and pan
stay in sync. Zoom is in image pixels per *device* pixel: 100 % shows one
image pixel on one screen pixel on any display scale. Zoomed in, pixels are
drawn nearest-neighbour (blocks, so artefacts can be judged); zoomed out,
smoothly. Mouse: drag the divider, drag elsewhere to pan, wheel to zoom around
the pointer, double-click for fit / 100 %. Keys: Left/Right move the divider,
Shift+arrows pan, +/- zoom, 0 fit, 1 100 %, 2 200 %, M switches the mode.

A large photo is shown as a downscaled whole (``full_size`` names its real
size, in which the view's coordinates are kept) with full-resolution tiles
drawn over it as they arrive (``set_tile``); the "after" side dims what has no
coded tile yet. ``view_changed`` fires on every zoom, pan, resize or mode
change; ``view_region`` is the part of the image in view.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_ZOOM, MAX_ZOOM = 0.05, 32.0
GRAB_PX = 10


class CompareView(QWidget):
    zoom_changed = Signal(str)
    mode_changed = Signal(str)
    view_changed = Signal()

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
        self._size = QSize()  # the image's real size (the QImages may be downscaled)
        self._tiles: dict[str, dict[tuple, QImage]] = {"before": {}, "after": {}}
        self._dim_after = False  # dim the "after" side where no tile covers it
        self._labels = ("Original", "Compressed")
        self._message = "Select an image to compare it before and after compression"
        self._mode = "split"
        self._zoom: float | None = None  # None: fit
        self._center = QPointF()
        self._divider = 0.5
        self._drag: str | None = None  # "divider" or "pan"
        self._last_pos = QPointF()

    # content -----------------------------------------------------------------
    def set_images(
        self,
        before: QImage | None,
        after: QImage | None,
        keep_view: bool = False,
        full_size: QSize | None = None,
        dim_after: bool = False,
    ) -> None:
        """``full_size``: the image's real size when ``before`` is a downscaled whole (then ``after`` may be
        the same overview, dimmed with ``dim_after`` where tiles have not come yet)."""
        size = QSize(full_size) if full_size is not None else (before.size() if before is not None else QSize())
        same_size = before is not None and self._before is not None and size == self._size
        self._before, self._after, self._size, self._dim_after = before, after, size, dim_after
        if not (keep_view and same_size):
            self._tiles = {"before": {}, "after": {}}
        if before is not None and not (keep_view and same_size):
            self._zoom = None
            self._center = QPointF(size.width() / 2, size.height() / 2)
        self._emit_zoom()
        self.update()

    def set_tile(self, side: str, box: tuple[int, int, int, int], image: QImage) -> None:
        """Draw ``image`` over ``box`` (full-image pixels) on ``side`` ("before" or "after")."""
        self._tiles[side][tuple(box)] = image
        self.update()

    def clear_tiles(self, side: str) -> None:
        self._tiles[side] = {}
        self.update()

    def tiles(self, side: str) -> dict[tuple, QImage]:
        return dict(self._tiles[side])

    def view_region(self) -> tuple[int, int, int, int]:
        """The part of the image in view (left, top, width, height in full-image pixels)."""
        if self._before is None:
            return 0, 0, 0, 0
        vp = self._viewports()[0]
        a, b = self._to_image(vp.topLeft(), vp), self._to_image(vp.bottomRight(), vp)
        x0, y0 = max(0, int(a.x())), max(0, int(a.y()))
        x1, y1 = min(self._size.width(), int(b.x() + 0.999)), min(self._size.height(), int(b.y() + 0.999))
        return x0, y0, max(0, x1 - x0), max(0, y1 - y0)

    def set_after(self, after: QImage | None, dim: bool = False) -> None:
        self._after, self._dim_after = after, dim
        self.update()

    def set_labels(self, before: str, after: str) -> None:
        self._labels = (before, after)
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text
        self.update()

    def has_image(self) -> bool:
        return self._before is not None

    def before_image(self) -> QImage | None:
        return self._before

    def image_size(self) -> QSize:
        """The image's real size (that of a large photo, not of its downscaled whole)."""
        return QSize(self._size)

    # view state --------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode in ("split", "side") and mode != self._mode:
            self._mode = mode
            self.mode_changed.emit(mode)
            self._emit_zoom()
            self.view_changed.emit()
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
            self._center = QPointF(self._size.width() / 2, self._size.height() / 2)
        self._emit_zoom()
        self.view_changed.emit()
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
        self.view_changed.emit()
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom() * factor, anchor)

    def pan_by(self, dx_px: float, dy_px: float) -> None:
        """Move the image by a widget-pixel offset."""
        scale = self._scale()
        if scale > 0:
            self._center -= QPointF(dx_px / scale, dy_px / scale)
            self._clamp_center()
            self.view_changed.emit()
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
        fit = min(vp.width() / max(1, self._size.width()), vp.height() / max(1, self._size.height()))
        return max(MIN_ZOOM, fit * self._dpr())

    def _scale(self) -> float:
        """Logical (widget) pixels per image pixel."""
        return self.zoom() / self._dpr()

    def _image_rect(self, viewport: QRectF) -> QRectF:
        s = self._scale()
        w, h = self._size.width() * s, self._size.height() * s
        c = viewport.center()
        return QRectF(c.x() - self._center.x() * s, c.y() - self._center.y() * s, w, h)

    def _to_image(self, pos: QPointF, viewport: QRectF) -> QPointF:
        s = self._scale()
        c = viewport.center()
        return QPointF((pos.x() - c.x()) / s + self._center.x(), (pos.y() - c.y()) / s + self._center.y())

    def _clamp_center(self) -> None:
        if self._before is not None:
            self._center = QPointF(
                min(max(self._center.x(), 0.0), float(self._size.width())),
                min(max(self._center.y(), 0.0), float(self._size.height())),
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
            sides = ("before", "after")
            for vp, image, label, side in zip(
                self._viewports(), (self._before, after), self._labels, sides, strict=False
            ):
                p.save()
                p.setClipRect(vp)
                target = self._image_rect(vp)
                self._paint_side(p, target, image, side)
                self._paint_label(p, label, self._label_area(target, vp), left=True)
                p.restore()
        else:
            vp = self._viewports()[0]
            target = self._image_rect(vp)
            x = self._divider_x()
            p.save()
            p.setClipRect(QRectF(vp.left(), vp.top(), x - vp.left(), vp.height()))
            self._paint_side(p, target, self._before, "before")
            p.restore()
            p.save()
            p.setClipRect(QRectF(x, vp.top(), vp.right() - x, vp.height()))
            self._paint_side(p, target, after, "after")
            p.restore()
            self._paint_divider(p, x)
            area = self._label_area(target, vp)
            self._paint_label(p, self._labels[0], area, left=True)
            self._paint_label(p, self._labels[1], area, left=False)
        if self._message and (self._after is None or self._dim_after):
            self._paint_label(p, self._message, QRectF(self.rect()), left=True, bottom=True)
        self._paint_focus(p)

    def _paint_side(self, p: QPainter, target: QRectF, image: QImage, side: str) -> None:
        """The (maybe downscaled) whole, dimmed on the "after" side if asked, then the side's tiles."""
        p.drawImage(target, image)
        if side == "after" and self._dim_after:
            p.fillRect(target, QColor(0, 0, 0, 120))
        s = self._scale()
        for (left, top, w, h), tile in self._tiles[side].items():
            p.drawImage(QRectF(target.left() + left * s, target.top() + top * s, w * s, h * s), tile)

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
        self.view_changed.emit()
