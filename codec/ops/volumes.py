"""Numbered volumes: ``library.001.ltz``, ``library.002.ltz``... each a complete archive on its own.

``compress --split-every SIZE`` writes entries into ``VolumeSet``: a new volume starts before an entry that
would take the current one past SIZE (an entry bigger than SIZE gets a volume of its own; a stored file
counts at its full size, before LZMA). Every volume is written to its own hidden temporary file and the
compressor renames them all into place at the end, so a failure leaves no volume under a final name.
``volumes_of`` finds the set again from any one of its names, for extract, test and list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ..api.errors import ExistingFileError, InputError
from ..api.reports import FileOutcome
from ..container import ArchiveWriter
from ..container.format import MAGIC
from ..container.overhead import ARCHIVE_OVERHEAD, entry_overhead
from ..container.records import encode_json
from ..entries.entry import EncodedEntry
from ..entries.sink import WriterSink
from . import partial_file

_NUMBERED = re.compile(r"^(?P<stem>.+)\.(?P<number>\d{3,})(?P<ext>\.[^.]*)?$")
INDEX_ITEM_EXTRA = 96  # an index item beyond its header's JSON: offset, payload length, crc (uncompressed, a bound)


def _no_check() -> None:
    return None


def volume_path(output: Path, number: int) -> Path:
    """The ``number``-th volume (from 1) of the archive ``output``: ``library.ltz`` -> ``library.001.ltz``."""
    return output.with_name(f"{output.stem}.{number:03d}{output.suffix}")


def existing_volumes(output: Path) -> list[Path]:
    """The files already named as volumes of ``output`` (``library.NNN.ltz``, three digits, 001 up), in number
    order, gaps included: any of them would be replaced by a new set. Other names that merely look
    numbered (``library.2023.ltz``) are not volumes and are never touched."""
    found = []
    for path in output.parent.glob(f"{_glob_escape(output.stem)}.[0-9][0-9][0-9]{_glob_escape(output.suffix)}"):
        match = _NUMBERED.match(path.name)
        if match and match["stem"] == output.stem and (match["ext"] or "") == output.suffix and int(match["number"]):
            found.append((int(match["number"]), path))
    return [path for _, path in sorted(found)]


def stale_volumes(output: Path, written: int) -> list[Path]:
    """The later volumes of an older, longer set under ``output``'s name, after a new set of ``written``
    volumes: ``written + 1``, ``written + 2``... while each exists and is a Latentzip archive (an
    overwrite removes them, as they would be read with the new ones; anything else is left alone)."""
    stale, number = [], written + 1
    while (path := volume_path(output, number)).is_file() and not path.is_symlink() and _is_archive(path):
        stale.append(path)
        number += 1
    return stale


def stale_volume_partials(output: Path) -> list[Path]:
    """Hidden temporary volumes (``.library.NNN.ltz.PID.partial``) left by split runs that no longer live."""
    pattern = re.compile(rf"^\.{re.escape(output.stem)}\.(\d{{3}}){re.escape(output.suffix)}\.\d+\.partial$")
    numbers = set()
    for path in output.parent.glob(f".{_glob_escape(output.stem)}.[0-9][0-9][0-9]*.partial"):
        match = pattern.match(path.name)
        if match and int(match[1]):
            numbers.add(int(match[1]))
    return [stale for number in sorted(numbers) for stale in partial_file.stale_partials(volume_path(output, number))]


def stale_volume_note(path: Path) -> str:
    """What to tell the user about a temporary volume an interrupted split run left (never deleted unasked)."""
    return f"an interrupted run left {path} ({path.stat().st_size} bytes; a split run cannot be resumed): delete it"


def _is_archive(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def volumes_of(archive: Path) -> list[Path]:
    """Every volume of the set ``archive`` belongs to (001, 002... while they exist), or just ``archive``
    when its name is not a volume's. InputError when volumes exist beyond a missing one."""
    match = _NUMBERED.match(archive.name)
    if not match:
        return [archive]
    first = archive.with_name(f"{match['stem']}{match['ext'] or ''}")
    found, number = [], 1
    while (path := volume_path(first, number)).is_file():
        found.append(path)
        number += 1
    beyond = [p for p in existing_volumes(first) if p not in found]
    if beyond and (found or archive in beyond):  # a gap: never restore part of a set as if it were all of it
        raise InputError(
            f"volume {path.name} of this set is missing ({len(found)} before it, {len(beyond)} after); "
            "put every volume in one folder",
            str(archive),
        )
    return found if archive in found else [archive]


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def entry_bytes(entry: EncodedEntry) -> int:
    """What ``entry`` adds to a volume: its framing, header and payload, and its index item (bounds)."""
    if entry.header is None:
        return 0
    payload = entry.stream.size if entry.stream is not None else len(entry.payload)
    return entry_overhead(entry.header) + payload + len(encode_json(entry.header)) + INDEX_ITEM_EXTRA


class VolumeSet:
    """An ``EntrySink`` over numbered volumes of at most ``limit`` bytes each (see the module's docstring).

    The caller asks ``needs_new_volume(entry)`` before writing an entry and, when it does, calls
    ``next_volume()`` first and forgets what it deduplicates against (a DUPLICATE entry never points
    into another volume). ``finished()`` closes the last volume and gives (temporary file, final name)
    of each, to be renamed into place; leaving the ``with`` block removes the temporary files left.
    """

    def __init__(self, output: Path, limit: int, overwrite: bool, check: Callable[[], None] = _no_check) -> None:
        if limit < 1:
            raise ValueError("the volume size must be at least one byte")
        existing = existing_volumes(output)
        if existing and not overwrite:
            raise ExistingFileError(
                "a volume of this archive exists; use overwrite to replace the set", str(existing[0])
            )
        self.output, self.limit, self.check = output, limit, check
        self._stack = ExitStack()
        self._done: list[tuple[Path, Path]] = []
        self._fh: BinaryIO | None = None
        self._tmp = self._final = output
        self._writer: ArchiveWriter | None = None
        self._sink: WriterSink | None = None
        self._entries = 0
        self._reserved = 0  # index items of the entries written, as a bound

    def __enter__(self) -> VolumeSet:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.__exit__(exc_type, exc, tb)

    @property
    def count(self) -> int:
        """Volumes started so far."""
        return len(self._done) + (self._writer is not None)

    def _open(self) -> None:
        self._final = volume_path(self.output, len(self._done) + 1)
        self._fh, self._tmp = self._stack.enter_context(partial_file.writing(self._final, "no volume was written"))
        self._writer = ArchiveWriter(self._fh)
        self._sink = WriterSink(self._writer, self.check)
        self._entries, self._reserved = 0, 0

    def needs_new_volume(self, entry: EncodedEntry) -> bool:
        """Whether ``entry`` would take the current volume past the limit (never for its first entry)."""
        if entry.header is None or self._entries == 0 or self._fh is None:
            return False
        size = self._fh.tell() + entry_bytes(entry) + self._reserved + ARCHIVE_OVERHEAD
        return size > self.limit

    def next_volume(self) -> None:
        """Close the current volume (its index and trailer) and start the next one."""
        self._close_current()
        self._open()

    def write(self, entry: EncodedEntry) -> FileOutcome | None:
        if self._sink is None:
            raise ValueError("the volume set is closed")
        outcome = self._sink.write(entry)
        if entry.header is not None:
            self._entries += 1
            self._reserved += len(encode_json(entry.header)) + INDEX_ITEM_EXTRA
        return outcome

    def _close_current(self) -> None:
        if self._writer is None or self._fh is None:
            return
        self._writer.close()
        partial_file.finish(self._fh)
        self._done.append((self._tmp, self._final))
        self._writer = self._sink = self._fh = None

    def finished(self) -> list[tuple[Path, Path]]:
        """Close the last volume; (temporary file, final name) of every volume, in order."""
        self._close_current()
        return list(self._done)
