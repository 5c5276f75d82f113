"""Encode an RGB image to a latent bitstream and back (one model set, one checkpoint).

Bitstream (little-endian): u8 version | u8 entropy mode (1 range, 2 lzma) |
u8 checkpoint id | u8 reserved (0) | u32 height | u32 width | latent stream.

Data flow: pad -> g_a -> y -> h_a -> z -> round -> z_q; integer h_s(z_q) ->
(mean, log scale) -> table index per latent; symbols = round(y*gain - mean*gain).
The decoder rebuilds the same indexes from z_q with integer arithmetic alone,
decodes the symbols, and runs g_s on (symbols + mean*gain) * inv_gain.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..entropy.latent_streams import ENTROPY_LZMA, ENTROPY_RANGE, make_reader, make_writer
from ..entropy.tables import ACT_FRAC_BITS, scale_indexes
from ..errors import ArchiveFormatError, ArchiveLimitError
from .hyper_int import hyper_decode
from .model_set import Checkpoint, ModelSet
from .transforms import LATENT_STRIDE, PAD_MULTIPLE, analysis, hyper_analysis, pad_to_multiple, synthesis

BITSTREAM_VERSION = 1
HEADER = struct.Struct("<BBBBII")
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


def _hyper(model: ModelSet, cp: Checkpoint, z_q: np.ndarray,
           check: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
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


def encode_image(model: ModelSet, rgb: np.ndarray, checkpoint: str, entropy: int = ENTROPY_RANGE,
                 check: Callable[[], None] | None = None, keep_latents: bool = False) -> EncodedImage:
    """uint8 HxWx3 -> bitstream (and, with keep_latents, the decoder's y_hat, to skip decoding)."""
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ValueError(f"unknown entropy mode {entropy}")
    cp = model.checkpoint(checkpoint)
    height, width = rgb.shape[:2]
    y = analysis(model, pad_to_multiple(rgb), check, checkpoint=cp.name)
    z_q = hyper_latents(model, y, cp.name)
    return encode_latents(model, y, z_q, cp.name, height, width, entropy, check, keep_latents)


def hyper_latents(model: ModelSet, y: np.ndarray, checkpoint: str) -> np.ndarray:
    """h_a and rounding: the integer hyper-latents z_q of ``y`` (the same for every checkpoint of one precision)."""
    return np.round(hyper_analysis(model, y, checkpoint=checkpoint)).astype(np.int64)


def encode_latents(model: ModelSet, y: np.ndarray, z_q: np.ndarray, checkpoint: str, height: int, width: int,
                   entropy: int = ENTROPY_RANGE, check: Callable[[], None] | None = None,
                   keep_latents: bool = False) -> EncodedImage:
    """The bitstream of already analysed latents at ``checkpoint``. Consumes ``y`` (works in place):
    pass a copy to code the same latents at several checkpoints."""
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ValueError(f"unknown entropy mode {entropy}")
    cp = model.checkpoint(checkpoint)
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
    header = HEADER.pack(BITSTREAM_VERSION, entropy, cp.id, 0, height, width)
    y_hat = None
    if keep_latents:
        symbols += mean_gained
        symbols *= cp.inv_gain[:, None, None]
        y_hat = symbols
    return EncodedImage(header + writer.finish(), height, width, y_hat)


def read_header(data: bytes) -> tuple[int, int, int, int]:
    """(entropy mode, checkpoint id, height, width), validated before any allocation."""
    if len(data) < HEADER.size:
        raise ArchiveFormatError("image bitstream is too short")
    version, entropy, cp_id, _, height, width = HEADER.unpack_from(data)
    if version != BITSTREAM_VERSION:
        raise ArchiveFormatError(f"unsupported image bitstream version {version}")
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ArchiveFormatError(f"unknown entropy mode {entropy}")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE) or height * width > MAX_PIXELS:
        raise ArchiveLimitError(f"image dimensions {width}x{height} are beyond the limit")
    return entropy, cp_id, height, width


def decode_symbols(model: ModelSet, data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, Checkpoint, int, int]:
    """Bitstream -> (z_q, symbols, gained means, checkpoint, height, width), by integer work alone.

    z_q and the symbols are what every machine must agree on bit for bit.
    """
    entropy, cp_id, height, width = read_header(data)
    cp = model.checkpoint_by_id(cp_id)
    y_shape, z_shape = _latent_shapes(model, height, width)
    reader = make_reader(entropy, data[HEADER.size :], int(np.prod(y_shape) + np.prod(z_shape)))
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


def decode_image(model: ModelSet, data: bytes, check: Callable[[], None] | None = None) -> np.ndarray:
    """Bitstream -> uint8 HxWx3."""
    _, symbols, mean_gained, cp, height, width = decode_symbols(model, data)
    return synthesis(model, _dequantize(symbols, mean_gained, cp), check, checkpoint=cp.name)[:height, :width]


def reconstruct(model: ModelSet, encoded: EncodedImage, check: Callable[[], None] | None = None) -> np.ndarray:
    """The image the decoder will produce, from an encoding made with ``keep_latents``."""
    if encoded.y_hat is None:
        return decode_image(model, encoded.data, check)
    cp = model.checkpoint_by_id(read_header(encoded.data)[1])  # the decoder's precision follows the checkpoint
    return synthesis(model, encoded.y_hat, check, checkpoint=cp.name)[: encoded.height, : encoded.width]
