"""Keyboard: the Tab chain reaches every action's button; every action is in a menu; tooltips."""

from __future__ import annotations

import pytest
from gui_support import make_folder, wait_idle, wait_scanned
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QTabBar, QToolButton

pytestmark = [pytest.mark.gui, pytest.mark.timeout(60)]


def _walk(qtbot, win) -> list:
    """Press Tab until the focus comes back round; the widgets it visited."""
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    win.tabs.tabBar().setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5000)
    seen = [QApplication.focusWidget()]
    for _ in range(150):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        if widget is seen[0]:
            return seen
        assert widget not in seen, f"the Tab chain loops without coming back: {widget!r}"
        seen.append(widget)
    raise AssertionError("Tab never came back to the start")


def _reached_actions(chain) -> set:
    return {w.defaultAction() for w in chain if isinstance(w, QToolButton) and w.defaultAction() is not None}


def _visible_enabled_buttons(win) -> set:
    return {
        b.defaultAction()
        for b in win.findChildren(QToolButton)
        if b.defaultAction() is not None and b.isVisibleTo(win) and b.isEnabled()
    }


def test_tab_reaches_every_action_in_every_state(qtbot, window, tmp_path, dialog_log):
    act = window.actions
    # 1. empty window: the drop zone's three ways in, the quality choice
    chain = _walk(qtbot, window)
    reached = _reached_actions(chain)
    assert {act.add_folder, act.add_files, act.samples, *act.checkpoints.values()} <= reached
    assert _visible_enabled_buttons(window) <= reached
    assert any(isinstance(w, QTabBar) for w in chain)

    # 2. a folder loaded, an image selected: list, preview, view controls, compress
    folder = make_folder(tmp_path, "trip", images=2)
    window.add_paths([folder])
    wait_scanned(qtbot, window)
    tree = window.input_panel.tree
    tree.selectionModel().setCurrentIndex(
        window.inputs.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    chain = _walk(qtbot, window)
    reached = _reached_actions(chain)
    assert {
        act.add_folder,
        act.add_files,
        act.remove,
        act.clear,
        act.split,
        act.side,
        act.fit,
        act.zoom_100,
        act.zoom_200,
        act.compress,
        *act.checkpoints.values(),
    } <= reached
    assert _visible_enabled_buttons(window) <= reached
    assert tree in chain and window.preview.view in chain and window.preview.table in chain
    order = [chain.index(w) for w in (tree, window.preview.view, window.compress_button)]
    assert order == sorted(order)  # inputs, then preview, then Compress: reading order

    # 3. compressed, archive open with a selection, result band showing
    dialog_log.save_path = tmp_path / "trip.ltz"
    act.compress.trigger()
    wait_idle(qtbot, window)
    act.open_result.trigger()
    qtbot.waitUntil(lambda: window.archive_page.archive is not None, timeout=10_000)
    page = window.archive_page
    page.tree.setCurrentIndex(page.proxy.index(0, 0))
    chain = _walk(qtbot, window)
    reached = _reached_actions(chain)
    assert {
        act.extract_all,
        act.extract_selected,
        act.test,
        act.close_archive,
        act.show_in_folder,
        act.dismiss,
    } <= reached
    assert _visible_enabled_buttons(window) <= reached
    assert page.filter in chain and page.tree in chain


def test_every_action_is_in_a_menu_with_a_tooltip(window):
    in_menus = set()
    pending = [a.menu() for a in window.menuBar().actions()]
    while pending:  # menus and their submenus
        menu = pending.pop()
        for action in menu.actions():
            in_menus.add(action)
            if action.menu() is not None:
                pending.append(action.menu())
    for action in window.actions.all():
        assert action in in_menus, action.text()
        assert action.toolTip(), action.text()
    shortcuts = [a.shortcut().toString() for a in window.actions.all() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts)), "two actions share a shortcut"
    for action in (window.actions.compress, window.actions.open_archive, window.actions.cancel):
        assert action.shortcut().toString() in action.toolTip()


def test_keyboard_only_checkpoint_and_zoom(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)
    assert window.checkpoint == "C"
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.checkpoint == "A"
