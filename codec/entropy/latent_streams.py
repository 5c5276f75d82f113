"""Two ways to store integer latents, behind one writer/reader interface.

- ``range``: the learned entropy model's frozen 16-bit tables drive a range
  coder (constriction). Values outside a table's range are coded as its escape
  symbol and their true values go, zigzag-varint coded, to a side stream: they
  survive exactly, nothing is clipped.
- ``lzma``: the paper's mode (Johnson and Avasthi): the same integers as raw
  little-endian numpy bytes, compressed with LZMA. Tables are not used.

A writer gets ``write(values, table_ids, tables)`` calls; the reader must be
called with the same table ids in the same order and returns the values.
Groups are coded table by table (ascending id), positions in C order.
"""

from __future__ import annotations

import lzma
import struct
from typing import Protocol

import constriction
import numpy as np

from ..api.errors import ArchiveFormatError
from .tables import TOTAL, TableSet

ENTROPY_RANGE = 1
ENTROPY_LZMA = 2
ENTROPY_NAMES = {"range": ENTROPY_RANGE, "lzma": ENTROPY_LZMA}
MAX_ESCAPES_BYTES = 64 << 20
OVERRUN_SLACK_BITS = 64  # the decoder's initial state; see RangeReader


class LatentWriter(Protocol):
    def write(self, values: np.ndarray, table_ids: np.ndarray, tables: TableSet) -> None: ...

    def finish(self) -> bytes: ...


class LatentReader(Protocol):
    def read(self, table_ids: np.ndarray, tables: TableSet) -> np.ndarray: ...


class _ModelCache:
    """constriction models built once per table row from the integer frequencies.

    The frequencies are exact multiples of 2^-16, so the float64 probabilities
    handed to constriction are exact and its fixed-point model is a pure
    function of the integer table (``perfect=False`` set explicitly on both
    sides).

    The models are kept on the TableSet itself: a cache keyed by ``id(tables)``
    would hand a new table set the models of a freed one that had the same id.
    """

    def get(self, tables: TableSet, row: int) -> object:
        model = tables.coder_models.get(row)
        if model is None:
            probs = tables.row(row).astype(np.float64) / TOTAL
            model = constriction.stream.model.Categorical(probs, perfect=False)
            tables.coder_models[row] = model
        return model


_MODELS = _ModelCache()


def _zigzag_varints(values: list[int]) -> bytes:
    out = bytearray()
    for v in values:
        z = (v << 1) if v >= 0 else ((-v << 1) - 1)
        while z >= 0x80:
            out.append((z & 0x7F) | 0x80)
            z >>= 7
        out.append(z)
    return bytes(out)


def _read_varints(data: bytes) -> list[int]:
    values, z, shift = [], 0, 0
    for byte in data:
        z |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            raise ArchiveFormatError("escape value too large")
        if not byte & 0x80:
            values.append((z >> 1) if not z & 1 else -((z + 1) >> 1))
            z, shift = 0, 0
    if shift:
        raise ArchiveFormatError("escape stream ends mid-value")
    return values


def _groups(table_ids: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(table id, flat positions) in ascending id order."""
    flat = table_ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    ids, starts = np.unique(flat[order], return_index=True)
    bounds = list(starts[1:]) + [flat.size]
    return [(int(t), order[s:e]) for t, s, e in zip(ids, starts, bounds, strict=False)]


class RangeWriter:
    def __init__(self) -> None:
        self._encoder = constriction.stream.queue.RangeEncoder()
        self._escapes: list[int] = []

    def write(self, values: np.ndarray, table_ids: np.ndarray, tables: TableSet) -> None:
        flat = values.reshape(-1).astype(np.int64)
        for t, positions in _groups(table_ids):
            n_symbols = tables.symbol_count(t)
            vals = flat[positions]
            idx = vals - tables.radius_low(t)
            escaped = (idx < 0) | (idx >= n_symbols)
            if escaped.any():
                self._escapes.extend(int(v) for v in vals[escaped])
                idx = np.where(escaped, n_symbols, idx)
            self._encoder.encode(idx.astype(np.int32), _MODELS.get(tables, t))

    def finish(self) -> bytes:
        words = self._encoder.get_compressed().astype("<u4").tobytes()
        escapes = _zigzag_varints(self._escapes)
        return struct.pack("<II", len(words), len(escapes)) + words + escapes


class RangeReader:
    """Decodes a range-coded stream, refusing to read past its end.

    constriction's decoder quietly continues past the last word, so a stream
    that declares more symbols than its data holds would decode forever-flat
    latents. A stream of b bits cannot code symbols carrying more than about b
    bits of information under the model that coded them; the reader adds up
    each decoded symbol's cost (-log2 of its table frequency) and raises as
    soon as the total exceeds the stream's bits (plus 1 % and
    ``OVERRUN_SLACK_BITS`` for rounding), which only reading past the end can
    cause.
    """

    def __init__(self, data: bytes) -> None:
        if len(data) < 8:
            raise ArchiveFormatError("range-coded stream is too short")
        n_words, n_esc = struct.unpack_from("<II", data)
        if n_words % 4 or n_esc > MAX_ESCAPES_BYTES or 8 + n_words + n_esc != len(data):
            raise ArchiveFormatError("range-coded stream has inconsistent lengths")
        words = np.frombuffer(data, dtype="<u4", count=n_words // 4, offset=8).astype(np.uint32)
        self._decoder = constriction.stream.queue.RangeDecoder(words)
        self._escapes = _read_varints(data[8 + n_words :])
        self._next_escape = 0
        self._bits_available = 8 * n_words * 1.01 + OVERRUN_SLACK_BITS
        self._bits_read = 0.0
        self._costs: dict[tuple[int, int], np.ndarray] = {}

    def _cost(self, tables: TableSet, t: int, idx: np.ndarray) -> float:
        """Information in bits of the decoded symbol indexes ``idx`` of table ``t``."""
        key = (id(tables), t)  # the tables outlive the reader: an id cannot be reused meanwhile
        costs = self._costs.get(key)
        if costs is None:
            costs = np.log2(TOTAL) - np.log2(tables.row(t).astype(np.float64))
            self._costs[key] = costs
        return float(costs[idx].sum())

    def read(self, table_ids: np.ndarray, tables: TableSet) -> np.ndarray:
        out = np.empty(table_ids.size, dtype=np.int64)
        for t, positions in _groups(table_ids):
            n_symbols = tables.symbol_count(t)
            idx = np.asarray(self._decoder.decode(_MODELS.get(tables, t), positions.size), dtype=np.int64)
            self._bits_read += self._cost(tables, t, idx)
            if self._bits_read > self._bits_available:
                raise ArchiveFormatError(
                    "range-coded stream ends before its symbols (the decoder would read past the end of its data)"
                )
            vals = idx + tables.radius_low(t)
            escaped = np.flatnonzero(idx == n_symbols)
            if escaped.size:
                end = self._next_escape + escaped.size
                if end > len(self._escapes):
                    raise ArchiveFormatError("escape stream is shorter than the coded escapes")
                vals[escaped] = self._escapes[self._next_escape : end]
                self._next_escape = end
            out[positions] = vals
        return out.reshape(table_ids.shape)


class LzmaWriter:
    """Raw integers (int16 where they fit, else int32) in one LZMA stream."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, values: np.ndarray, table_ids: np.ndarray, tables: TableSet) -> None:
        v = values.reshape(-1).astype(np.int64)
        fits16 = v.size == 0 or (v.min() >= -(2**15) and v.max() < 2**15)
        dtype = "<i2" if fits16 else "<i4"
        self._parts.append(bytes([2 if fits16 else 4]) + v.astype(dtype).tobytes())

    def finish(self) -> bytes:
        return lzma.compress(b"".join(self._parts), format=lzma.FORMAT_XZ, preset=6)


class LzmaReader:
    def __init__(self, data: bytes, max_size: int) -> None:
        decomp = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            self._raw = decomp.decompress(data, max_length=max_size)
        except lzma.LZMAError as exc:
            raise ArchiveFormatError(f"LZMA latent stream is corrupt: {exc}") from exc
        if not decomp.eof:
            raise ArchiveFormatError("LZMA latent stream is longer than its latents")
        self._pos = 0

    def read(self, table_ids: np.ndarray, tables: TableSet) -> np.ndarray:
        if self._pos >= len(self._raw):
            raise ArchiveFormatError("LZMA latent stream ends early")
        width = self._raw[self._pos]
        if width not in (2, 4):
            raise ArchiveFormatError("LZMA latent stream has a bad element width")
        n = table_ids.size
        end = self._pos + 1 + width * n
        if end > len(self._raw):
            raise ArchiveFormatError("LZMA latent stream ends early")
        vals = np.frombuffer(self._raw, dtype="<i2" if width == 2 else "<i4", count=n, offset=self._pos + 1)
        self._pos = end
        return vals.astype(np.int64).reshape(table_ids.shape)


def make_writer(mode: int) -> LatentWriter:
    if mode == ENTROPY_RANGE:
        return RangeWriter()
    if mode == ENTROPY_LZMA:
        return LzmaWriter()
    raise ValueError(f"unknown entropy mode {mode}")


def make_reader(mode: int, data: bytes, value_count: int) -> LatentReader:
    """``value_count`` bounds what an LZMA stream may expand to."""
    if mode == ENTROPY_RANGE:
        return RangeReader(data)
    if mode == ENTROPY_LZMA:
        return LzmaReader(data, max_size=value_count * 4 + 64)
    raise ArchiveFormatError(f"unknown entropy mode {mode}")
