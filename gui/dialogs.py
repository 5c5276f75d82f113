"""Every modal question the window asks, in one place (tests replace these functions).

Errors are shown in plain words; the technical details (paths of temporary files, errno, tracebacks)
go to the log, never into a dialog.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

ARCHIVE_FILTER = "Latentzip archives (*.ltz);;All files (*)"
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff);;All files (*)"


def ask_folder(parent: QWidget, title: str, start: Path | None) -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, title, str(start or Path.home()))
    return Path(path) if path else None


def ask_files(parent: QWidget, title: str, start: Path | None) -> list[Path]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, str(start or Path.home()), IMAGE_FILTER)
    return [Path(p) for p in paths]


def ask_add_inputs(parent: QWidget, archive_name: str, start: Path | None) -> list[Path]:
    """Files or a folder to add to an archive: asks which, then shows that chooser."""
    box = QMessageBox(QMessageBox.Icon.Question, "Add to archive", f"Add to “{archive_name}”:", parent=parent)
    box.setInformativeText("New and changed files are added; unchanged ones are skipped, identical ones stored once.")
    files = box.addButton("Files…", QMessageBox.ButtonRole.AcceptRole)
    folder = box.addButton("Folder…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is files:
        paths, _ = QFileDialog.getOpenFileNames(
            parent, "Add files to the archive", str(start or Path.home()), "All files (*)"
        )
        return [Path(p) for p in paths]
    if box.clickedButton() is folder:
        path = QFileDialog.getExistingDirectory(parent, "Add a folder to the archive", str(start or Path.home()))
        return [Path(path)] if path else []
    return []


def ask_open_archive(parent: QWidget, start: Path | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open archive", str(start or Path.home()), ARCHIVE_FILTER)
    return Path(path) if path else None


def ask_save_archive(parent: QWidget, suggested: Path) -> Path | None:
    """Where to write the archive; the overwrite question is asked separately (``ask_replace``)."""
    path, _ = QFileDialog.getSaveFileName(
        parent, "Save archive as", str(suggested), ARCHIVE_FILTER, options=QFileDialog.Option.DontConfirmOverwrite
    )
    if not path:
        return None
    out = Path(path)
    return out if out.suffix.lower() == ".ltz" else out.with_name(out.name + ".ltz")


def ask_confirm(parent: QWidget, title: str, what: str, detail: str, yes: str) -> bool:
    """A warning with a ``yes`` button and Cancel (the default)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, what, parent=parent)
    box.setInformativeText(detail)
    accept = box.addButton(yes, QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is accept


def ask_resume(parent: QWidget, what: str, detail: str) -> bool:
    """Resume an interrupted compression (the default) or start over."""
    box = QMessageBox(QMessageBox.Icon.Question, "Resume?", what, parent=parent)
    box.setInformativeText(detail)
    resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Start over", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(resume)
    box.exec()
    return box.clickedButton() is resume


def ask_replace(parent: QWidget, what: str, detail: str = "") -> bool:
    return ask_confirm(parent, "Replace?", what, detail, "Replace")


def ask_other_folder(parent: QWidget, title: str, what: str, detail: str) -> bool:
    """A failure at the destination, with its fix: True when the user chooses another folder."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, what, parent=parent)
    box.setInformativeText(detail)
    choose = box.addButton("Choose another folder…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(choose)
    box.exec()
    return box.clickedButton() is choose


def edit_settings(parent: QWidget, values):
    """The Settings dialog: the accepted ``SettingsValues``, or None if cancelled."""
    from .settings_dialog import SettingsDialog

    dialog = SettingsDialog(values, parent)
    return dialog.values() if dialog.exec() == SettingsDialog.DialogCode.Accepted else None


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    box = QMessageBox(QMessageBox.Icon.Critical, title, message, parent=parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def show_info(parent: QWidget | None, title: str, message: str) -> None:
    QMessageBox.information(parent, title, message)
