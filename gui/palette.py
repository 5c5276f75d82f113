"""The system's light or dark scheme, followed: Qt 6's ``QStyleHints.colorScheme``.

Where the platform reports a dark scheme the window gets a dark palette (on the Fusion style, which
draws every widget from the palette); back to light, the platform's own palette returns. The palette
follows a change of the system's scheme while the app runs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

Role, Group = QPalette.ColorRole, QPalette.ColorGroup
# Fusion marks a checked tool button by darkening it a little: invisible on a dark palette
DARK_STYLE_SHEET = (
    "QToolButton:checked { background-color: #1f5f9e; color: #ffffff; "
    "border: 1px solid #3d8ee0; border-radius: 3px; padding: 2px 5px; }"
)


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for text, selections, links and disabled controls."""
    p = QPalette()
    colours = {
        Role.Window: QColor(45, 45, 48),
        Role.WindowText: QColor(230, 230, 230),
        Role.Base: QColor(30, 30, 32),
        Role.AlternateBase: QColor(52, 52, 56),
        Role.ToolTipBase: QColor(60, 60, 64),
        Role.ToolTipText: QColor(235, 235, 235),
        Role.PlaceholderText: QColor(150, 150, 150),
        Role.Text: QColor(230, 230, 230),
        Role.Button: QColor(58, 58, 62),
        Role.ButtonText: QColor(230, 230, 230),
        Role.BrightText: QColor(255, 90, 90),
        Role.Light: QColor(80, 80, 86),
        Role.Midlight: QColor(66, 66, 70),
        Role.Mid: QColor(50, 50, 54),
        Role.Dark: QColor(25, 25, 27),
        Role.Shadow: QColor(10, 10, 10),
        Role.Highlight: QColor(42, 130, 218),
        Role.HighlightedText: QColor(255, 255, 255),
        Role.Link: QColor(100, 170, 255),
        Role.LinkVisited: QColor(170, 140, 255),
    }
    for role, colour in colours.items():
        p.setColor(role, colour)
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        p.setColor(Group.Disabled, role, QColor(125, 125, 125))
    p.setColor(Group.Disabled, Role.Highlight, QColor(80, 80, 80))
    return p


def is_dark(palette: QPalette) -> bool:
    return palette.color(Role.Window).lightness() < 128


def apply_color_scheme(app: QApplication, scheme: Qt.ColorScheme | None = None) -> None:
    """The palette for ``scheme`` (default: what the system reports now)."""
    scheme = app.styleHints().colorScheme() if scheme is None else scheme
    if scheme == Qt.ColorScheme.Dark:
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")
        app.setPalette(dark_palette())
        app.setStyleSheet(DARK_STYLE_SHEET)
    elif is_dark(app.palette()):  # back to light: the platform's own palette and style
        app.setPalette(QPalette())
        app.setPalette(app.style().standardPalette())
        if app.styleSheet() == DARK_STYLE_SHEET:
            app.setStyleSheet("")


def follow_system_scheme(app: QApplication) -> None:
    """Apply the system's scheme now and whenever it changes (connected once per application)."""
    apply_color_scheme(app)
    if app.property("latentzip_follows_scheme"):
        return
    app.setProperty("latentzip_follows_scheme", True)
    app.styleHints().colorSchemeChanged.connect(lambda scheme: apply_color_scheme(app, scheme))
