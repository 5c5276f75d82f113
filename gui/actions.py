"""The window's actions (menu entries, buttons and shortcuts share them) and its menus."""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QStyle

from ..codec.engine import CHECKPOINTS
from .format import checkpoint_label

SP = QStyle.StandardPixmap


@dataclass
class Actions:
    add_folder: QAction
    add_files: QAction
    samples: QAction
    remove: QAction
    clear: QAction
    compress: QAction
    cancel: QAction
    open_archive: QAction
    close_archive: QAction
    extract_all: QAction
    extract_selected: QAction
    test: QAction
    show_in_folder: QAction
    open_result: QAction
    dismiss: QAction
    split: QAction
    side: QAction
    fit: QAction
    zoom_100: QAction
    zoom_200: QAction
    zoom_in: QAction
    zoom_out: QAction
    open_logs: QAction
    about: QAction
    quit: QAction
    checkpoints: dict[str, QAction]
    checkpoint_group: QActionGroup
    mode_group: QActionGroup
    precisions: dict[str, QAction]
    precision_group: QActionGroup
    image_modes: dict[str, QAction]  # "lossy", "lossless"
    image_mode_group: QActionGroup
    add_to_archive: QAction
    show_files: QAction  # the Files page: the per-file plan, then every file's result
    settings: QAction

    def all(self) -> list[QAction]:
        out: list[QAction] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, QAction):
                out.append(value)
            elif isinstance(value, dict):
                out.extend(value.values())
        return out


def _action(
    win: QMainWindow, text: str, tip: str, shortcut=None, icon: SP | None = None, checkable: bool = False
) -> QAction:
    act = QAction(text, win)
    if icon is not None:
        act.setIcon(win.style().standardIcon(icon))
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        act.setShortcuts([QKeySequence(k) for k in keys])
        tip = f"{tip} ({act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
    act.setToolTip(tip)
    act.setStatusTip(tip)
    act.setCheckable(checkable)
    win.addAction(act)  # shortcuts work wherever the focus is
    return act


def create_actions(win: QMainWindow) -> Actions:
    a = _action
    std = QKeySequence.StandardKey
    cps = {
        name: a(win, checkpoint_label(name), f"Code images at checkpoint {name}", f"Alt+{i + 1}", checkable=True)
        for i, name in enumerate(CHECKPOINTS)
    }
    group = QActionGroup(win)
    for act in cps.values():
        group.addAction(act)
    precisions = {
        "auto": a(
            win,
            "Network precision: automatic",
            "Use each checkpoint's measured default (int8 or fp32)",
            None,
            checkable=True,
        ),
        "fp32": a(
            win,
            "Full-precision networks (fp32)",
            "Run the codec's networks in 32-bit floating point",
            None,
            checkable=True,
        ),
        "int8": a(
            win,
            "Compressed networks (int8)",
            "Run the compressed networks (pruned, 8-bit): smaller, faster",
            None,
            checkable=True,
        ),
    }
    precision_group = QActionGroup(win)
    for act in precisions.values():
        precision_group.addAction(act)
    image_modes = {
        "lossy": a(
            win,
            "Re-code images (smallest)",
            "Code photos with the learned codec at the chosen quality: "
            "much smaller, visually close (a JPEG gets a second generation of loss)",
            None,
            checkable=True,
        ),
        "lossless": a(
            win,
            "Keep originals exactly",
            "Every file comes back bit for bit: JPEGs re-packed "
            "losslessly with JPEG XL (about 19 % smaller), other files stored byte-exact",
            None,
            checkable=True,
        ),
    }
    image_mode_group = QActionGroup(win)
    for act in image_modes.values():
        image_mode_group.addAction(act)
    split = a(win, "Split", "Compare with a draggable divider", "Ctrl+Shift+1", checkable=True)
    side = a(win, "Side by side", "Compare side by side", "Ctrl+Shift+2", checkable=True)
    modes = QActionGroup(win)
    modes.addAction(split)
    modes.addAction(side)
    return Actions(
        add_folder=a(win, "Add &folder…", "Add a folder to compress", "Ctrl+Shift+O", SP.SP_DirOpenIcon),
        add_files=a(win, "Add f&iles…", "Add photos or other files to compress", "Ctrl+Shift+I", SP.SP_FileIcon),
        samples=a(
            win,
            "Try with &sample photos",
            "Load a few small sample photos to try Latentzip",
            None,
            SP.SP_DialogHelpButton,
        ),
        remove=a(win, "&Remove", "Remove the selected inputs from the list", std.Delete, SP.SP_TrashIcon),
        clear=a(win, "C&lear list", "Remove every input", "Ctrl+Shift+Del", SP.SP_DialogResetButton),
        compress=a(win, "&Compress…", "Write the inputs into an .ltz archive", std.Save, SP.SP_DialogSaveButton),
        cancel=a(win, "Cancel", "Stop the running operation; nothing is left behind", "Esc", SP.SP_DialogCancelButton),
        open_archive=a(
            win, "&Open archive…", "Open an .ltz archive to see, extract or test it", std.Open, SP.SP_DialogOpenButton
        ),
        close_archive=a(win, "Close archive", "Close the open archive", std.Close, SP.SP_DialogCloseButton),
        extract_all=a(win, "&Extract all…", "Extract every entry to a folder", "Ctrl+E", SP.SP_ArrowDown),
        extract_selected=a(
            win, "Extract &selected…", "Extract the selected entries to a folder", "Ctrl+Shift+E", SP.SP_ArrowDown
        ),
        test=a(win, "&Test archive", "Check every entry without writing files", "Ctrl+T", SP.SP_DialogApplyButton),
        show_in_folder=a(
            win, "Show in folder", "Open the folder of the result in the file manager", "Ctrl+Shift+F", SP.SP_DirIcon
        ),
        open_result=a(win, "Open archive", "Show the new archive's contents", None, SP.SP_FileDialogContentsView),
        dismiss=a(win, "Dismiss", "Hide this result", None, SP.SP_DialogCloseButton),
        split=split,
        side=side,
        fit=a(win, "Fit", "Fit the image in the view", "Ctrl+0"),
        zoom_100=a(win, "100 %", "One image pixel per screen pixel", "Ctrl+1"),
        zoom_200=a(win, "200 %", "Two screen pixels per image pixel (nearest neighbour)", "Ctrl+2"),
        zoom_in=a(win, "Zoom in", "Zoom in", std.ZoomIn),
        zoom_out=a(win, "Zoom out", "Zoom out", std.ZoomOut),
        open_logs=a(win, "Open log folder", "Open the folder with Latentzip's log file", None),
        about=a(win, "About Latentzip", "Version and bundled models", None),
        quit=a(win, "&Quit", "Quit Latentzip", std.Quit),
        checkpoints=cps,
        checkpoint_group=group,
        mode_group=modes,
        precisions=precisions,
        precision_group=precision_group,
        image_modes=image_modes,
        image_mode_group=image_mode_group,
        add_to_archive=a(
            win,
            "&Add to archive…",
            "Add files or a folder to the open archive: new and changed files only, identical files stored once",
            "Ctrl+Shift+A",
            SP.SP_FileDialogNewFolder,
        ),
        show_files=a(
            win,
            "Every &file…",
            "What happens to each file: the plan before compressing, then each "
            "file's size in the archive, saving and MS-SSIM",
            "Ctrl+Shift+L",
            SP.SP_FileDialogDetailedView,
        ),
        settings=a(
            win,
            "Se&ttings…",
            "Default quality, images mode, precision, threads, where archives go, location removal",
            "Ctrl+,",
        ),
    )


def build_menus(win: QMainWindow, act: Actions) -> None:
    bar = win.menuBar()
    file_menu = bar.addMenu("&File")
    for item in (
        act.add_folder,
        act.add_files,
        act.samples,
        None,
        act.open_archive,
        act.close_archive,
        None,
        act.settings,
        None,
        act.quit,
    ):
        file_menu.addSeparator() if item is None else file_menu.addAction(item)
    comp = bar.addMenu("&Compress")
    for item in (
        act.compress,
        act.cancel,
        act.show_files,
        None,
        *act.image_modes.values(),
        None,
        *act.checkpoints.values(),
        None,
        act.remove,
        act.clear,
    ):
        comp.addSeparator() if item is None else comp.addAction(item)
    precision_menu = comp.addMenu("Network &precision")
    for item in act.precisions.values():
        precision_menu.addAction(item)
    arch = bar.addMenu("&Archive")
    for item in (
        act.extract_all,
        act.extract_selected,
        act.test,
        act.add_to_archive,
        None,
        act.show_in_folder,
        act.open_result,
        act.dismiss,
    ):
        arch.addSeparator() if item is None else arch.addAction(item)
    view = bar.addMenu("&View")
    for item in (act.split, act.side, None, act.fit, act.zoom_100, act.zoom_200, act.zoom_in, act.zoom_out):
        view.addSeparator() if item is None else view.addAction(item)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(act.open_logs)
    help_menu.addAction(act.about)


def set_icon(win: QMainWindow, icon: QIcon) -> None:
    if not icon.isNull():
        win.setWindowIcon(icon)
