"""Encode an RGB image to a latent bitstream and back (one model set, one checkpoint).

Bitstream (little-endian), version 1 (sets without a rate ladder): u8 version (1) |
u8 entropy mode (1 range, 2 lzma) | u8 checkpoint id | u8 reserved (0) | u32 height |
u32 width | latent stream. The checkpoint's gains come from the set's gains.npz.

Version 2 (sets with a rate ladder): u8 version (2) | u8 entropy mode | u8 checkpoint id |
u8 reserved (0) | u16 level step | u16 reserved (0) | u32 height | u32 width | latent stream.
The gains are derived from the level step in integer arithmetic (rate_ladder.py); the
checkpoint id names the checkpoint the image was coded for (its default precision, its
floor); the level is that checkpoint's own, or higher when the image was raised to meet it.

Data flow: pad -> g_a -> y -> h_a -> z -> round -> z_q; integer h_s(z_q) ->
(mean, log scale) -> table index per latent; symbols = round(y*gain - mean*gain).
The decoder rebuilds the same indexes from z_q with integer arithmetic alone,
decodes the symbols, and runs g_s on (symbols + mean*gain) * inv_gain.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..api.errors import ArchiveFormatError, ArchiveLimitError
from ..entropy.latent_streams import ENTROPY_LZMA, ENTROPY_RANGE, make_reader, make_writer
from ..entropy.tables import ACT_FRAC_BITS, scale_indexes
from .hyper_int import hyper_decode
from .model_set import Checkpoint, ModelSet
from .rate_ladder import MAX_STEP
from .transforms import LATENT_STRIDE, PAD_MULTIPLE, analysis, hyper_analysis, pad_to_multiple, synthesis

BITSTREAM_VERSION = 1  # a checkpoint id (sets without a rate ladder)
BITSTREAM_VERSION_LEVEL = 2  # a checkpoint id and a level step (sets with a rate ladder)
HEADER = struct.Struct("<BBBBII")
HEADER_LEVEL = struct.Struct("<BBBBHHII")
MAX_SIDE = 65_536
MAX_PIXELS = 400_000_000


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    height: int
    width: int
    y_hat: np.ndarray | None = None  # what the decoder will feed to g_s (when asked for)


def _latent_shapes(model: ModelSet, height: int, width: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    hp, wp = -(-height // PAD_MULTIPLE) * PAD_MULTIPLE, -(-width // PAD_MULTIPLE) * PAD_MULTIPLE
    arch = model.arch
    y_shape = (int(arch["M"]), hp // LATENT_STRIDE, wp // LATENT_STRIDE)
    z_shape = (int(arch["MZ"]), hp // PAD_MULTIPLE, wp // PAD_MULTIPLE)
    return y_shape, z_shape


HYPER_BAND = 8  # z rows per band of the integer hyper-decoder (halo below)
HYPER_HALO = 2  # z rows; h_s's receptive field is under 2 z rows
Y_CHANNEL_CHUNK = 16  # y is coded in chunks of channels, to bound the coder's working memory


def _hyper(
    model: ModelSet, cp: Checkpoint, z_q: np.ndarray, check: Callable[[], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gained mean (float32) and table index (uint8) of every latent.

    Runs the integer hyper-decoder in bands of z rows with halos; being pure
    integer arithmetic, banding changes nothing in the result, only the memory.
    """
    mz, hz, wz = z_q.shape
    m = int(model.arch["M"])
    mean_gained = np.empty((m, hz * 4, wz * 4), dtype=np.float32)
    indexes = np.empty((m, hz * 4, wz * 4), dtype=np.uint8)
    gain = cp.gain[:, None, None]
    for r0 in range(0, hz, HYPER_BAND):
        if check:
            check()
        r1 = min(hz, r0 + HYPER_BAND)
        c0, c1 = max(0, r0 - HYPER_HALO), min(hz, r1 + HYPER_HALO)
        mean_fx, log_scale_fx = hyper_decode(z_q[:, c0:c1], model.hyper_decoder)
        rows = slice((r0 - c0) * 4, (r1 - c0) * 4)
        out = slice(r0 * 4, r1 * 4)
        mean_gained[:, out] = (mean_fx[:, rows].astype(np.float32) / np.float32(1 << ACT_FRAC_BITS)) * gain
        indexes[:, out] = scale_indexes(log_scale_fx[:, rows] + cp.log_gain_fixed[:, None, None])
    return mean_gained, indexes


def _channel_chunks(m: int) -> list[slice]:
    return [slice(c, min(m, c + Y_CHANNEL_CHUNK)) for c in range(0, m, Y_CHANNEL_CHUNK)]


def encode_image(
    model: ModelSet,
    rgb: np.ndarray,
    checkpoint: str,
    entropy: int = ENTROPY_RANGE,
    check: Callable[[], None] | None = None,
    keep_latents: bool = False,
    level_step: int | None = None,
) -> EncodedImage:
    """uint8 HxWx3 -> bitstream (and, with keep_latents, the decoder's y_hat, to skip decoding).

    ``level_step``: code at that step of the set's rate ladder instead of the checkpoint's own level.
    """
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ValueError(f"unknown entropy mode {entropy}")
    cp = model.checkpoint(checkpoint)
    height, width = rgb.shape[:2]
    y = analysis(model, pad_to_multiple(rgb), check, checkpoint=cp.name)
    z_q = hyper_latents(model, y, cp.name)
    return encode_latents(model, y, z_q, cp.name, height, width, entropy, check, keep_latents, level_step)


def hyper_latents(model: ModelSet, y: np.ndarray, checkpoint: str) -> np.ndarray:
    """h_a and rounding: the integer hyper-latents z_q of ``y`` (the same for every checkpoint of one precision)."""
    return np.round(hyper_analysis(model, y, checkpoint=checkpoint)).astype(np.int64)


def encode_latents(
    model: ModelSet,
    y: np.ndarray,
    z_q: np.ndarray,
    checkpoint: str,
    height: int,
    width: int,
    entropy: int = ENTROPY_RANGE,
    check: Callable[[], None] | None = None,
    keep_latents: bool = False,
    level_step: int | None = None,
) -> EncodedImage:
    """The bitstream of already analysed latents at ``checkpoint`` (at ``level_step`` of the set's rate
    ladder, if given). Consumes ``y`` (works in place): pass a copy to code the same latents at several
    checkpoints or levels."""
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ValueError(f"unknown entropy mode {entropy}")
    cp = model.checkpoint(checkpoint) if level_step is None else model.at_level(checkpoint, level_step)
    if check:
        check()
    mean_gained, indexes = _hyper(model, cp, z_q, check)
    writer = make_writer(entropy)
    z_ids = np.broadcast_to(np.arange(z_q.shape[0])[:, None, None], z_q.shape)
    writer.write(z_q, z_ids, model.tables.z)
    y *= cp.gain[:, None, None]
    y -= mean_gained
    symbols = np.round(y, out=y)  # y now holds the integer symbols, as float32
    for chunk in _channel_chunks(symbols.shape[0]):
        writer.write(symbols[chunk].astype(np.int32), indexes[chunk], model.tables.y)
    header = _pack_header(entropy, cp, height, width)
    y_hat = None
    if keep_latents:
        symbols += mean_gained
        symbols *= cp.inv_gain[:, None, None]
        y_hat = symbols
    return EncodedImage(header + writer.finish(), height, width, y_hat)


def _pack_header(entropy: int, cp: Checkpoint, height: int, width: int) -> bytes:
    if cp.level_step is None:
        return HEADER.pack(BITSTREAM_VERSION, entropy, cp.id, 0, height, width)
    return HEADER_LEVEL.pack(BITSTREAM_VERSION_LEVEL, entropy, cp.id, 0, cp.level_step, 0, height, width)


@dataclass(frozen=True)
class StreamHeader:
    version: int
    entropy: int
    checkpoint_id: int
    level_step: int | None  # None in version 1
    height: int
    width: int

    @property
    def size(self) -> int:
        return HEADER.size if self.version == BITSTREAM_VERSION else HEADER_LEVEL.size


def read_stream_header(data: bytes) -> StreamHeader:
    """The bitstream's header (either version), validated before any allocation."""
    if len(data) < 1:
        raise ArchiveFormatError("image bitstream is too short")
    version = data[0]
    if version == BITSTREAM_VERSION:
        layout, step = HEADER, None
    elif version == BITSTREAM_VERSION_LEVEL:
        layout = HEADER_LEVEL
    else:
        raise ArchiveFormatError(f"unsupported image bitstream version {version}")
    if len(data) < layout.size:
        raise ArchiveFormatError("image bitstream is too short")
    if version == BITSTREAM_VERSION:
        _, entropy, cp_id, _, height, width = HEADER.unpack_from(data)
    else:
        _, entropy, cp_id, _, step, _, height, width = HEADER_LEVEL.unpack_from(data)
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ArchiveFormatError(f"unknown entropy mode {entropy}")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE) or height * width > MAX_PIXELS:
        raise ArchiveLimitError(f"image dimensions {width}x{height} are beyond the limit")
    return StreamHeader(version, entropy, cp_id, step, height, width)


def read_header(data: bytes) -> tuple[int, int, int, int]:
    """(entropy mode, checkpoint id, height, width), validated before any allocation."""
    head = read_stream_header(data)
    return head.entropy, head.checkpoint_id, head.height, head.width


def stream_checkpoint(model: ModelSet, head: StreamHeader) -> Checkpoint:
    """The gains a stream was coded with: its checkpoint's, or those of its level step."""
    cp = model.checkpoint_by_id(head.checkpoint_id)
    if head.level_step is None:
        return cp
    if model.ladder is None:
        raise ArchiveFormatError(f"the image names a rate level, but model set {model.id} has no rate ladder")
    if not 0 <= head.level_step <= min(model.ladder.top_step, MAX_STEP):
        raise ArchiveFormatError(
            f"rate level step {head.level_step} is beyond the model's axis (0..{model.ladder.top_step})"
        )
    return model.at_level(cp.name, head.level_step)


def decode_symbols(model: ModelSet, data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, Checkpoint, int, int]:
    """Bitstream -> (z_q, symbols, gained means, checkpoint, height, width), by integer work alone.

    z_q and the symbols are what every machine must agree on bit for bit.
    """
    head = read_stream_header(data)
    cp = stream_checkpoint(model, head)
    height, width = head.height, head.width
    y_shape, z_shape = _latent_shapes(model, height, width)
    reader = make_reader(head.entropy, data[head.size :], int(np.prod(y_shape) + np.prod(z_shape)))
    z_ids = np.broadcast_to(np.arange(z_shape[0])[:, None, None], z_shape)
    z_q = reader.read(z_ids, model.tables.z)
    mean_gained, indexes = _hyper(model, cp, z_q)
    symbols = np.empty(y_shape, dtype=np.int32)
    for chunk in _channel_chunks(y_shape[0]):
        symbols[chunk] = reader.read(indexes[chunk], model.tables.y)
    return z_q, symbols, mean_gained, cp, height, width


def decode_latents(model: ModelSet, data: bytes) -> tuple[np.ndarray, int, int]:
    """Bitstream -> (y_hat float32 (M, h, w), height, width); integer work, then one float step."""
    _, symbols, mean_gained, cp, height, width = decode_symbols(model, data)
    return _dequantize(symbols, mean_gained, cp), height, width


def _dequantize(symbols: np.ndarray, mean_gained: np.ndarray, cp: Checkpoint) -> np.ndarray:
    return (symbols.astype(np.float32) + mean_gained) * cp.inv_gain[:, None, None]


def decode_image(
    model: ModelSet, data: bytes, check: Callable[[], None] | None = None, precision: str | None = None
) -> np.ndarray:
    """Bitstream -> uint8 HxWx3 (``precision`` overrides the set's, as in ``reconstruct``)."""
    _, symbols, mean_gained, cp, height, width = decode_symbols(model, data)
    return synthesis(model, _dequantize(symbols, mean_gained, cp), check, checkpoint=cp.name, precision=precision)[
        :height, :width
    ]


def reconstruct(
    model: ModelSet, encoded: EncodedImage, check: Callable[[], None] | None = None, precision: str | None = None
) -> np.ndarray:
    """The image the decoder will produce, from an encoding made with ``keep_latents``.

    ``precision``: the decoder's precision ("auto": what extraction uses by default), else the set's.
    """
    if encoded.y_hat is None:
        return decode_image(model, encoded.data, check, precision)
    cp = model.checkpoint_by_id(read_header(encoded.data)[1])  # the decoder's precision follows the checkpoint
    return synthesis(model, encoded.y_hat, check, checkpoint=cp.name, precision=precision)[
        : encoded.height, : encoded.width
    ]
