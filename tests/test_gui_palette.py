"""The system's light or dark scheme: a dark scheme gives a dark window palette, and back."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from latentzip.gui.app import create_application  # noqa: E402
from latentzip.gui.palette import apply_color_scheme, is_dark  # noqa: E402

pytestmark = [pytest.mark.gui]
Role = QPalette.ColorRole


def _contrast(palette: QPalette, fg: QPalette.ColorRole, bg: QPalette.ColorRole) -> int:
    return abs(palette.color(fg).lightness() - palette.color(bg).lightness())


@pytest.fixture
def app(qapp):
    app = create_application()
    yield app
    apply_color_scheme(app, Qt.ColorScheme.Light)  # the other tests run light


def test_a_dark_scheme_gives_the_window_a_dark_palette(qtbot, app, window):
    assert not is_dark(window.palette())
    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what the system says when it turns dark
    qtbot.waitUntil(lambda: is_dark(window.palette()), timeout=2000)
    palette = window.palette()
    assert is_dark(window.preview.table.palette())
    assert palette.color(Role.Base).lightness() < 80 and palette.color(Role.Text).lightness() > 180
    for fg, bg in (
        (Role.WindowText, Role.Window),
        (Role.Text, Role.Base),
        (Role.ButtonText, Role.Button),
        (Role.HighlightedText, Role.Highlight),
    ):
        assert _contrast(palette, fg, bg) > 90, (fg, bg)
    disabled = palette.color(QPalette.ColorGroup.Disabled, Role.ButtonText).lightness()
    assert abs(disabled - palette.color(Role.Button).lightness()) > 40  # disabled, yet readable
    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    qtbot.waitUntil(lambda: not is_dark(window.palette()), timeout=2000)


def test_unknown_scheme_keeps_the_platform_palette(qtbot, app):
    before = QApplication.palette().color(Role.Window)
    apply_color_scheme(app, Qt.ColorScheme.Unknown)
    assert QApplication.palette().color(Role.Window) == before
