"""A PySide6 fault worked around: calls into Qt that drop references to None, True and False.

With PySide6 6.12 (an abi3 wheel) on Python 3.11, every Qt method that returns nothing
(``label.setText(...)``, ``action.setEnabled(...)``) hands back ``None`` without owning a reference,
and every ``signal.emit(...)`` does the same with ``True``: each call takes one reference away.
Python 3.12 made these objects immortal, so it does not notice; on 3.11 a long session (progress
events, previews, estimates) drives a count to zero and the interpreter aborts with "Fatal Python
error: bool_dealloc" (or none_dealloc), usually on quit, when the last references are released.

``install()`` measures whether such calls lose references and, only then, gives the three singletons
a count no session can exhaust (2**40), which is what Python 3.12's immortal objects do: they are
never freed in any case. A PySide6 without the fault, or Python 3.12+, is left untouched.
pyproject.toml excludes 6.12.0 (6.11.3 has no such fault); this guard stays for a later release
that brings the fault back.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

PROBE_CALLS = 64
SPARE_REFERENCES = 1 << 40
_installed = False


class _Probe(QObject):
    ping = Signal()


def lost_references() -> dict[str, int]:
    """References lost by ``PROBE_CALLS`` void Qt calls (None) and emits (True): measured, not assumed."""
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")
    for _ in range(PROBE_CALLS):
        probe.ping.emit()
    return {"None": none_before - sys.getrefcount(None), "True": true_before - sys.getrefcount(True)}


def install() -> bool:
    """Give None, True and False spare references if Qt calls lose them; True when done (once)."""
    global _installed
    if _installed:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # immortal singletons: nothing to lose
    lost = lost_references()
    if max(lost.values()) < PROBE_CALLS * 3 // 4:  # other threads may move a count a little meanwhile
        return False
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt, the object's first field
        refcount.value += SPARE_REFERENCES
    _installed = True
    return True
