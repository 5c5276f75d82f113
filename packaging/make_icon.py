"""Draw the app icon (resources/icons/latentzip.png) with QPainter: `python packaging/make_icon.py`.

`python packaging/make_icon.py --size 1024 --out big.png` draws it at another size (the macOS
.icns wants 512 and 1024 pixels; packaging/platform_icons.py asks for them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPainterPath, QPen  # noqa: E402

SIZE = 256
OUT = Path(__file__).resolve().parent.parent / "resources" / "icons" / "latentzip.png"


def draw(size: int = SIZE) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size / 256, size / 256)
    grad = QLinearGradient(0, 0, 256, 256)
    grad.setColorAt(0, QColor("#2f80ed"))
    grad.setColorAt(1, QColor("#1b4fa0"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(grad)
    p.drawRoundedRect(QRectF(12, 12, 232, 232), 48, 48)
    # a photo card
    card = QRectF(44, 60, 168, 136)
    p.setBrush(QColor("#ffffff"))
    p.drawRoundedRect(card, 14, 14)
    inner = card.adjusted(12, 12, -12, -12)
    p.setBrush(QColor("#bfe3ff"))
    p.drawRoundedRect(inner, 6, 6)
    p.save()
    p.setClipRect(inner)
    p.setBrush(QColor("#ffcc33"))
    p.drawEllipse(QPointF(inner.right() - 30, inner.top() + 28), 14, 14)
    hills = QPainterPath()
    hills.moveTo(inner.left(), inner.bottom())
    hills.lineTo(inner.left() + 40, inner.top() + 52)
    hills.lineTo(inner.left() + 72, inner.top() + 82)
    hills.lineTo(inner.left() + 100, inner.top() + 46)
    hills.lineTo(inner.right(), inner.bottom())
    hills.closeSubpath()
    p.setBrush(QColor("#2e9e5b"))
    p.drawPath(hills)
    p.restore()
    # the zipper: teeth down the card's right third, a pull tab at the bottom
    x = card.left() + card.width() * 0.5
    p.setBrush(QColor("#1b4fa0"))
    for i, y in enumerate(range(int(card.top()) - 6, int(card.bottom()) - 10, 14)):
        dx = -7 if i % 2 else 0
        p.drawRoundedRect(QRectF(x + dx, y, 9, 8), 2, 2)
    p.setPen(QPen(QColor("#ffffff"), 4))
    p.setBrush(QColor("#ffb020"))
    p.drawRoundedRect(QRectF(x - 11, card.bottom() - 16, 22, 38), 7, 7)
    p.end()
    return img


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    app = QGuiApplication(sys.argv[:1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    draw(args.size).save(str(args.out), "PNG")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
