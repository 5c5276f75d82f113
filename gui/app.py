"""Start the desktop app: ``latentzip gui [ARCHIVE] [--smoke]`` calls ``run_app``.

Sets up logging to a rotating file in the user log folder, an exception hook
that logs any uncaught exception and shows it (never a silent exit), the
QApplication (high-DPI is Qt 6's default; the system's light or dark scheme is followed by
palette.py), and the main window. ``--smoke`` opens the window, prints the time
to the first painted frame and quits with 0.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from . import paths, qt_refcounts
from .palette import follow_system_scheme

log = logging.getLogger("latentzip.gui")
SMOKE_TIMEOUT_MS = 60_000


def setup_logging() -> Path | None:
    """Log INFO and above to ``latentzip.log`` (rotating, 3 x 1 MB) in the user log folder."""
    root = logging.getLogger("latentzip")
    if any(getattr(h, "_latentzip", False) for h in root.handlers):
        return None
    try:
        file = paths.log_dir() / "latentzip.log"
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            file, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        file, handler = None, logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    handler._latentzip = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return file


class _ErrorReporter(QObject):
    """Says that something went wrong, on the GUI thread whichever thread raised it; the log keeps the
    exception and its traceback (no dialog shows them)."""

    report = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.report.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._showing = False

    def _show(self) -> None:
        if self._showing:
            return  # one dialog at a time; the rest are in the log
        self._showing = True
        try:
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                "Latentzip: unexpected error",
                "Something went wrong inside Latentzip. The window stays open; your files are "
                "untouched unless an operation said otherwise.",
                parent=QApplication.activeWindow(),
            )
            box.setInformativeText(
                "The details are in the log file (Help ▸ Open log folder); please include it if you report the problem."
            )
            box.exec()
        finally:
            self._showing = False


_reporter: _ErrorReporter | None = None


def _handle(exc_type, exc, tb, where: str = "") -> None:
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("uncaught exception%s:\n%s", where, details)
    if _reporter is not None:
        _reporter.report.emit()
    else:
        sys.__excepthook__(exc_type, exc, tb)


def install_exception_hook() -> None:
    """Uncaught exceptions (GUI thread, Qt slots, Python threads) are logged and shown."""
    global _reporter
    if _reporter is None:
        _reporter = _ErrorReporter()
    sys.excepthook = lambda t, e, tb: _handle(t, e, tb)
    threading.excepthook = lambda args: _handle(
        args.exc_type, args.exc_value, args.exc_traceback, f" in thread {args.thread.name if args.thread else '?'}"
    )


def create_application(argv: list[str] | None = None) -> QApplication:
    qt_refcounts.install()
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Latentzip")
    app.setApplicationDisplayName("Latentzip")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Latentzip")
    app.setDesktopFileName("latentzip")
    icon = QIcon(str(paths.icon_path()))
    if not icon.isNull():
        app.setWindowIcon(icon)
    follow_system_scheme(app)
    if QThread.currentThread().objectName() == "":
        QThread.currentThread().setObjectName("gui")
    return app


class _FirstFrame(QObject):
    """Notes the first Paint event of the window (smoke mode)."""

    painted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if not self.seen and event.type() == QEvent.Type.Paint:
            self.seen = True
            QTimer.singleShot(0, self.painted.emit)  # after this frame is finished
        return False


def run_app(archive: Path | None = None, smoke: bool = False) -> int:
    """Open the window (with ``archive`` in the Archive page); the process's exit code."""
    start = time.perf_counter()
    log_file = setup_logging()
    log.info("Latentzip %s starting (log: %s)", __version__, log_file)
    app = create_application()
    install_exception_hook()
    from .main_window import MainWindow  # after the QApplication exists

    window = MainWindow()
    code: list[int] = []
    if smoke:
        watcher = _FirstFrame()
        window.installEventFilter(watcher)

        def painted() -> None:
            print(f"first frame after {time.perf_counter() - start:.2f} s", flush=True)
            code.append(0)
            window.close()
            app.quit()

        def too_slow() -> None:
            if not code:
                print(f"no frame painted within {SMOKE_TIMEOUT_MS / 1000:.0f} s", flush=True)
                code.append(1)
                window.close()
                app.quit()

        watcher.painted.connect(painted)
        QTimer.singleShot(SMOKE_TIMEOUT_MS, too_slow)
    window.show()
    if archive is not None:
        window.open_archive(Path(archive))
    result = app.exec()
    window.shutdown()
    log.info("Latentzip closed (%s)", result)
    return code[0] if code else int(result)
