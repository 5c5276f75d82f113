"""IMAGE entries: an image coded lossily, its typed header (``ImageHeader``) and its payload.

Payload layout (little-endian): u32 len + codec bitstream | u32 len + metadata blob
(``ImageMetadata.to_bytes``) | u32 len + alpha plane (a PNG of mode L, or
empty). The lengths are checked against the payload before slicing.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from PIL import Image

from ..api.errors import ArchiveFormatError, ArchiveLimitError
from ..api.options import FALLBACK_FLOOR, FALLBACK_LARGER, FALLBACK_LIMIT
from ..api.outcomes import OutcomeKind
from ..api.reports import FileOutcome
from ..container import EntryKind
from ..entropy.latent_streams import ENTROPY_NAMES
from ..images import DecodedImage
from ..images.jpeg_tables import HEADER_KEY as JPEG_TABLES_KEY
from ..ops import floor_raise
from ..ops.image_trials import ImageCoder
from ..ops.scan import Member
from ..runtime.model_set import ModelSet
from ..runtime.rate_ladder import LEVEL_STEPS
from .entry import EncodedEntry
from .jpeg import RepackCache
from .member import base_header

_LEN = struct.Struct("<I")
PAYLOAD_FRAMING = 3 * _LEN.size  # the payload's three u32 lengths

MAX_PIXELS_PER_BYTE = 1024
"""The decode-bomb limit L (docs/FORMAT.md): an IMAGE entry declares at most L pixels (width x height)
per byte of its payload. Writers store an image that would code smaller than that losslessly instead;
readers refuse an entry above it before reading or allocating anything. Real coded images stay far
below it (a flat grey frame codes at about 250 pixels per byte)."""
MAX_PIXELS_PER_BYTE_LZMA = 16384
"""L for an entry whose header says ``entropy: lzma``: xz on int16 latents of a large flat frame can pass
1024 pixels per byte, and archives written before L existed may hold one; this bound still keeps a
kilobyte of payload under 17 megapixels. Writers apply L (1024) to both modes."""


@dataclass(frozen=True)
class ImagePayload:
    bitstream: bytes
    metadata: bytes
    alpha_png: bytes

    def to_bytes(self) -> bytes:
        parts = (self.bitstream, self.metadata, self.alpha_png)
        return b"".join(_LEN.pack(len(p)) + p for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "") -> ImagePayload:
        parts, pos = [], 0
        for _ in range(3):
            if pos + 4 > len(data):
                raise ArchiveFormatError("image payload is truncated", name)
            (n,) = _LEN.unpack_from(data, pos)
            pos += 4
            if pos + n > len(data):
                raise ArchiveFormatError("image payload part runs past its end", name)
            parts.append(bytes(data[pos : pos + n]))
            pos += n
        if pos != len(data):
            raise ArchiveFormatError("image payload has trailing bytes", name)
        return cls(*parts)


def encode_alpha(alpha: np.ndarray | None) -> bytes:
    """Alpha plane -> lossless PNG bytes (empty when there is no alpha)."""
    if alpha is None:
        return b""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(alpha, dtype=np.uint8), mode="L").save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def decode_alpha(data: bytes, height: int, width: int, name: str = "") -> np.ndarray | None:
    """PNG bytes -> alpha plane, refusing anything but an L image of the stated size."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG" or im.size != (width, height) or im.mode != "L":
                raise ArchiveLimitError("alpha plane does not match the image", name)
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ArchiveFormatError(f"alpha plane does not decode: {exc}", name) from exc


@dataclass(frozen=True)
class ImageHeader:
    """The fields an IMAGE entry's header holds beside the base ones (docs/FORMAT.md).

    ``level_step``: the rate-ladder step it was coded at (None for a set without a ladder); ``raised``:
    the step was raised over the checkpoint's to meet the floor; ``jpeg_tables``: a JPEG source's
    quantisation tables (``JpegTables.to_header``), so that extraction writes a JPEG like it.
    """

    width: int
    height: int
    format: str
    grayscale: bool
    alpha: bool
    model: str
    checkpoint: str
    entropy: str
    ms_ssim: float
    bpp: float
    precision: str
    level_step: int | None = None
    raised: bool = False
    jpeg_tables: dict[str, Any] | None = None

    def to_header(self) -> dict[str, Any]:
        """The header fields, as written after the base ones."""
        fields: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "grayscale": self.grayscale,
            "alpha": self.alpha,
            "model": self.model,
            "checkpoint": self.checkpoint,
            "entropy": self.entropy,
            "ms_ssim": self.ms_ssim,
            "bpp": self.bpp,
            "precision": self.precision,
        }
        if self.level_step is not None:
            fields["level_step"] = self.level_step
            if self.raised:
                fields["raised"] = True
        if self.jpeg_tables is not None:
            fields[JPEG_TABLES_KEY] = self.jpeg_tables
        return fields

    @classmethod
    def from_header(cls, header: Mapping[str, Any], name: str = "") -> ImageHeader:
        """Read an entry's header as extraction does: width and height must be positive integers, the
        other fields take their defaults when absent (``check_entry_header`` judges them first)."""
        width, height = header.get("width"), header.get("height")
        if type(width) is not int or type(height) is not int or width < 1 or height < 1:
            raise ArchiveFormatError("image entry without a valid width and height", name)
        step = header.get("level_step")
        return cls(
            width=width,
            height=height,
            format=str(header.get("format", "PNG")),
            grayscale=bool(header.get("grayscale", False)),
            alpha=bool(header.get("alpha", False)),
            model=str(header.get("model", "")),
            checkpoint=str(header.get("checkpoint", "")),
            entropy=str(header.get("entropy", "")),
            ms_ssim=_number(header.get("ms_ssim")),
            bpp=_number(header.get("bpp")),
            precision=str(header.get("precision", "")),
            level_step=step if type(step) is int else None,
            raised=bool(header.get("raised", False)),
            jpeg_tables=header.get(JPEG_TABLES_KEY),  # judged by JpegTables.from_header
        )


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def code_image(
    member: Member,
    decoded: DecodedImage,
    model: ModelSet,
    attempts: Sequence[tuple[str, float]],
    entropy: str,
    check: Callable[[], None],
    repack: RepackCache | None = None,
    unplanned_note: str = "",
    colour_limit: float | None = None,
) -> EncodedEntry | FileOutcome:
    """Code one image: its IMAGE entry, or a "stored" outcome saying why it must be stored instead
    (``fallback``; ``unplanned_note`` when ``attempts`` is empty).

    ``attempts``: the (checkpoint, MS-SSIM floor) pairs to try in order (``targets.image_attempts``);
    ``colour_limit``: the largest whole-image colour error (grey levels) every attempt must also keep
    (None: no limit). An image that misses its floor at the last attempt is raised along the set's rate
    axis until it meets it (floor_raise.py); sets without a rate ladder cannot raise. ``repack``: a
    JPEG's lossless re-pack, which a raised coding must also undercut.
    """
    rgb = decoded.rgb
    outcome = FileOutcome(member.name, OutcomeKind.STORED, member.size, 0, note=unplanned_note)
    coder = ImageCoder(model, rgb, bool(decoded.grayscale), ENTROPY_NAMES[entropy], check)
    for i, (checkpoint, ms_ssim_floor) in enumerate(attempts):
        floor = floor_raise.Floor(ms_ssim_floor, colour_limit)
        trial = coder.code(checkpoint, last_use=i == len(attempts) - 1 and model.ladder is None)
        raised, tries = False, 0
        if not floor.met(trial) and i == len(attempts) - 1 and model.ladder is not None:
            found = floor_raise.search_level(trial, floor, model.ladder.top_step, partial(coder.code, checkpoint))
            tries = found.tries
            if found.passed is not None:
                trial, raised = found.passed, True
            elif found.best_failed is not None:
                trial = found.best_failed
        if not floor.met(trial):
            if model.ladder is None:
                why = "and this model set cannot raise the rate"
            elif trial.step >= model.ladder.top_step:
                why = "even at the top rate level" + (f" after {tries} raise(s)" if tries else "")
            else:
                why = "at its level"
            missed = (
                f"colour error {trial.colour:.2f} grey levels over the limit {floor.colour}"
                if floor.colour_missed(trial)
                else f"MS-SSIM {trial.score:.4f} under the {checkpoint} floor {ms_ssim_floor}"
            )
            outcome = FileOutcome(
                member.name,
                OutcomeKind.STORED,
                member.size,
                0,
                note=f"{missed} {why}; stored byte-exact",
                fallback=FALLBACK_FLOOR,
                fallback_checkpoint=checkpoint,
            )
            continue
        payload = ImagePayload(trial.result.data, decoded.metadata.to_bytes(), encode_alpha(decoded.alpha)).to_bytes()
        if rgb.shape[0] * rgb.shape[1] > MAX_PIXELS_PER_BYTE * len(payload):  # readers refuse such an entry
            return FileOutcome(
                member.name,
                OutcomeKind.STORED,
                member.size,
                0,
                note=f"codes to more than {MAX_PIXELS_PER_BYTE} pixels per byte, the format's "
                "limit (a nearly flat image); stored byte-exact",
                fallback=FALLBACK_LIMIT,  # kept exactly the way every coded-then-refused image is (a JPEG re-packed)
                fallback_checkpoint=checkpoint,
            )
        repacked = repack.get() if raised and repack is not None and len(payload) < member.size else None
        if len(payload) >= member.size or (repacked is not None and len(payload) >= len(repacked)):
            than = "the file" if len(payload) >= member.size else "its lossless JPEG XL re-pack"
            return FileOutcome(
                member.name,
                OutcomeKind.STORED,
                member.size,
                0,
                note=f"coding would not make it smaller than {than}; stored byte-exact",
                fallback=FALLBACK_LARGER,
                fallback_checkpoint=checkpoint,
            )
        height, width = rgb.shape[:2]
        fields = ImageHeader(
            width=width,
            height=height,
            format=decoded.format,
            grayscale=bool(decoded.grayscale),
            alpha=decoded.alpha is not None,
            model=model.content_hash,
            checkpoint=checkpoint,
            entropy=entropy,
            ms_ssim=round(trial.score, 6),
            bpp=round(len(payload) * 8 / (height * width), 6),
            precision=model.precision_for("decoder", checkpoint, "auto"),
            level_step=trial.step if trial.step >= 0 else None,
            raised=raised,
            jpeg_tables=decoded.jpeg_tables.to_header() if decoded.jpeg_tables is not None else None,
        )
        header = base_header(member, EntryKind.IMAGE)
        header.update(fields.to_header())
        coded = FileOutcome(
            member.name,
            OutcomeKind.LOSSY,
            member.size,
            len(payload),
            pixels=height * width,
            ms_ssim=trial.score,
            psnr=trial.result.psnr,
            checkpoint=checkpoint,
            source_format=decoded.format,
            level=trial.step / LEVEL_STEPS if trial.step >= 0 else None,
            raised=raised,
        )
        return EncodedEntry(member.name, header, payload, outcome=coded)
    return outcome
