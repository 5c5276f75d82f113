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


def _latent_shapes(model: ModelSet, height: int, width: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    hp, wp = -(-height // PAD_MULTIPLE) * PAD_MULTIPLE, -(-width // PAD_MULTIPLE) * PAD_MULTIPLE
    arch = model.arch
    y_shape = (int(arch["M"]), hp // LATENT_STRIDE, wp // LATENT_STRIDE)
    z_shape = (int(arch["MZ"]), hp // PAD_MULTIPLE, wp // PAD_MULTIPLE)
    return y_shape, z_shape


def _hyper(model: ModelSet, cp: Checkpoint, z_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gained mean (float32) and table index (int64) of every latent."""
    mean_fx, log_scale_fx = hyper_decode(z_q, model.hyper_decoder)
    gain = cp.gain[:, None, None]
    mean_gained = (mean_fx.astype(np.float32) / np.float32(1 << ACT_FRAC_BITS)) * gain
    indexes = scale_indexes(log_scale_fx + cp.log_gain_fixed[:, None, None])
    return mean_gained, indexes


def encode_image(model: ModelSet, rgb: np.ndarray, checkpoint: str, entropy: int = ENTROPY_RANGE,
                 check: Callable[[], None] | None = None) -> EncodedImage:
    """uint8 HxWx3 -> bitstream."""
    if entropy not in (ENTROPY_RANGE, ENTROPY_LZMA):
        raise ValueError(f"unknown entropy mode {entropy}")
    cp = model.checkpoint(checkpoint)
    height, width = rgb.shape[:2]
    y = analysis(model, pad_to_multiple(rgb), check)
    z_q = np.round(hyper_analysis(model, y)).astype(np.int64)
    if check:
        check()
    mean_gained, indexes = _hyper(model, cp, z_q)
    symbols = np.round(y * cp.gain[:, None, None] - mean_gained).astype(np.int64)
    writer = make_writer(entropy)
    z_ids = np.broadcast_to(np.arange(z_q.shape[0])[:, None, None], z_q.shape)
    writer.write(z_q, z_ids, model.tables.z)
    writer.write(symbols, indexes, model.tables.y)
    header = HEADER.pack(BITSTREAM_VERSION, entropy, cp.id, 0, height, width)
    return EncodedImage(header + writer.finish(), height, width)


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
    symbols = reader.read(indexes, model.tables.y)
    return z_q, symbols, mean_gained, cp, height, width


def decode_latents(model: ModelSet, data: bytes) -> tuple[np.ndarray, int, int]:
    """Bitstream -> (y_hat float32 (M, h, w), height, width); integer work, then one float step."""
    _, symbols, mean_gained, cp, height, width = decode_symbols(model, data)
    y_hat = (symbols.astype(np.float32) + mean_gained) * cp.inv_gain[:, None, None]
    return y_hat, height, width


def decode_image(model: ModelSet, data: bytes, check: Callable[[], None] | None = None) -> np.ndarray:
    """Bitstream -> uint8 HxWx3."""
    y_hat, height, width = decode_latents(model, data)
    return synthesis(model, y_hat, check)[:height, :width]
