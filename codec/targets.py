"""A target instead of a checkpoint: per-image estimates, and the plan that meets an archive size or a quality.

With ``--target-size`` the whole archive (headers and index included) should
end at or under a number of bytes; with ``--min-quality`` every coded image
should reach an MS-SSIM. Either way the engine chooses, per image, one of the
checkpoints A, B, C or exact storage (the file's bytes, MS-SSIM 1), from quick
estimates made before anything is written.

Estimates (``estimate_image``)
------------------------------
The codec is one variable-rate network: the analysis transform g_a and the
hyper-analysis h_a do not depend on the checkpoint (only the per-channel gains
that scale y before rounding do; a checkpoint run at another precision gets its
own g_a). So each image is analysed once, at full resolution, and its latents
are then quantised and range-coded at every checkpoint. That gives each
checkpoint's *exact* coded size (the same bitstream the coder writes later, the
bytes of metadata and alpha added) for the price of one g_a plus three cheap
entropy passes. Sizes are what a size target is judged on, so they are not
approximated at all: a size target misses only by the per-entry and index
overhead (estimated to within a few dozen bytes per entry) and by the
granularity of the choices.

MS-SSIM needs the synthesis transform g_s, which costs as much as g_a. Instead
of decoding the whole image three times, a few 256 x 256 tiles spread over the
image (about a quarter of its pixels, 2 to 8 tiles, each decoded with a small
latent halo) are synthesised per checkpoint, and the pixel-weighted mean of
their MS-SSIM is the estimate; small images are decoded whole, exactly.

The trade-offs considered:

- Encoding the full image at each checkpoint and decoding it (exact sizes and
  exact MS-SSIM) costs about 3 g_a + 3 g_s per image before coding; the scheme
  here costs 1 g_a + a fraction of 3 g_s and keeps the sizes exact, which is
  what the size target needs. On a 12 MP photo the tiles are ~5 % of a decode.
- Running the encoder on a downscaled copy or on tiles only would be faster
  still, but bits per pixel change with scale and with content, so the size
  estimate would carry errors of 10 % or more per image; a size target could
  then not be promised within 5 %.
- Keeping the three bitstreams for the coding pass would save the second g_a,
  but would hold (or spool) three codings of every image of a library; the
  coding pass instead encodes the chosen checkpoint again (deterministic: the
  same bytes as estimated).

Measured on Kodak (``make bench-targets``, bench/results/targets.md): size
targets of 0.8 and 1.2 MB land 0.09 % and 0.08 % under; the tile MS-SSIM
estimate is off by 0.001 on average (worst 0.008) at the chosen checkpoints.
On these small images the estimate pass takes about as long as the coding
pass, or a little more (one g_a, three entropy passes, 2 tiles per checkpoint);
on large photos the tiles are a few percent of a decode and it approaches one g_a.

MS-SSIM estimates only rank the upgrades (size target) and pick the checkpoint
(quality target); the engine measures the MS-SSIM of every image it codes, and
with a quality target an image that misses is coded again at the next
checkpoint, or stored exactly (``attempts``).

Planning (pure functions)
-------------------------
``plan_for_size``: every image starts at its smallest option (options whose
estimated MS-SSIM is under their checkpoint's floor, or that would not be
smaller than the file, are not offered), then the upgrades with the best
MS-SSIM gain per byte are taken greedily while the estimated total (fixed
bytes for the other entries, header and index included) stays under the
target. When even the smallest choices exceed it, the plan keeps them and says
it is not feasible. ``plan_for_quality``: per image, the smallest option whose
estimated MS-SSIM reaches the target plus a safety margin, else exact storage.
"""

from __future__ import annotations

import heapq
import lzma
import math
import random
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics
from .container.format import ENTRY_OVERHEAD, FILE_HEADER_LEN, INDEX_PREFIX, TRAILER_LEN, EntryKind
from .container.records import encode_json
from .entries.image import PAYLOAD_FRAMING, ImageHeader, encode_alpha
from .entries.stored import lzma_filters
from .entropy.latent_streams import ENTROPY_NAMES
from .errors import LatentzipError
from .images import DecodedImage, rebuild_grayscale
from .reports import CHECKPOINTS, QUALITY_FLOORS, FileOutcome, TargetResult
from .runtime import image_codec
from .runtime.model_set import ModelSet
from .runtime.transforms import LATENT_STRIDE, analysis, pad_to_multiple, synthesis
from .scan import DIRECTORY, FILE, SYMLINK, Member

EXACT = "exact"
CHOICES = (*CHECKPOINTS, EXACT)
SIZE, QUALITY = "size", "quality"
QUALITY_MARGIN = 0.002  # MS-SSIM headroom over a quality target when choosing from estimates
TILE = 16  # latents: 256 px tiles for the MS-SSIM estimate
TILE_HALO = 2  # latents around a tile (g_s's receptive field is under 2)
TILE_FRACTION = 0.25  # share of the pixels sampled by the tiles
MIN_TILES, MAX_TILES = 2, 8
FULL_DECODE_SHARE = 0.7  # decode the whole image when the tiles would cost this share of it or more
SIZE_MARGIN_BASE, SIZE_MARGIN_ENTRY = 256, 16  # bytes kept free under a size target: the overhead is estimated
LZMA_MEASURE_MAX = 32 << 20  # non-image files up to this size are LZMA-compressed to measure them exactly

# ---------------------------------------------------------------------------------------------------------------------
# sizes


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``"2GB"``, ``"850KB"``, ``"1.5MiB"``, ``"1200"`` -> bytes (decimal units: powers of 1000,
    binary units: KiB, MiB, GiB, TiB). Raises ValueError on anything else, or on zero."""
    match = _SIZE_RE.match(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 2GB, 850KB, 1.5MiB)")
    value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"a size target must be at least 1 byte, not {text!r}")
    return int(round(value))


# ---------------------------------------------------------------------------------------------------------------------
# estimates


@dataclass(frozen=True)
class CheckpointEstimate:
    payload_bytes: int  # exact: bitstream + metadata + alpha + framing
    ms_ssim: float  # estimated (exact when the whole image was decoded)


def sample_tiles(height: int, width: int, fraction: float = TILE_FRACTION) -> list[tuple[int, int]] | None:
    """Top-left corners (in latents) of the tiles to decode, spread over the image; None: decode it whole."""
    th, tw = height // (TILE * LATENT_STRIDE), width // (TILE * LATENT_STRIDE)
    if th == 0 or tw == 0:
        return None
    wanted = min(MAX_TILES, th * tw, max(MIN_TILES, math.ceil(fraction * height * width / (TILE * LATENT_STRIDE) ** 2)))
    cost = wanted * (TILE + 2 * TILE_HALO) ** 2 / (math.ceil(height / LATENT_STRIDE) * math.ceil(width / LATENT_STRIDE))
    if cost >= FULL_DECODE_SHARE:
        return None
    # centre the grid of whole tiles in the image, then take tiles evenly spread over it
    r_off = (height // LATENT_STRIDE - th * TILE) // 2
    c_off = (width // LATENT_STRIDE - tw * TILE) // 2
    grid = [(r_off + r * TILE, c_off + c * TILE) for r in range(th) for c in range(tw)]
    picks = sorted({int((i + 0.5) * len(grid) / wanted) for i in range(wanted)})
    return [grid[i] for i in picks]


def _as_stored(recon: np.ndarray, grayscale: bool) -> np.ndarray:
    return rebuild_grayscale(recon) if grayscale else recon  # as extraction rebuilds it


def _estimate_ms_ssim(
    model: ModelSet,
    y_hat: np.ndarray,
    rgb: np.ndarray,
    checkpoint: str,
    grayscale: bool,
    tiles: list[tuple[int, int]] | None,
    check: Callable[[], None] | None,
) -> float:
    height, width = rgb.shape[:2]
    if tiles is None:
        recon = synthesis(model, y_hat, check, checkpoint=checkpoint)[:height, :width]
        return metrics.ms_ssim(_as_stored(recon, grayscale), rgb)
    _, hl, wl = y_hat.shape
    total, weight = 0.0, 0
    for r0, c0 in tiles:
        if check:
            check()
        a0, b0 = max(0, r0 - TILE_HALO), max(0, c0 - TILE_HALO)
        a1, b1 = min(hl, r0 + TILE + TILE_HALO), min(wl, c0 + TILE + TILE_HALO)
        out = synthesis(model, np.ascontiguousarray(y_hat[:, a0:a1, b0:b1]), checkpoint=checkpoint)
        top, left = (r0 - a0) * LATENT_STRIDE, (c0 - b0) * LATENT_STRIDE
        side = TILE * LATENT_STRIDE
        recon = out[top : top + side, left : left + side]
        y, x = r0 * LATENT_STRIDE, c0 * LATENT_STRIDE
        original = np.ascontiguousarray(rgb[y : y + side, x : x + side])
        total += metrics.ms_ssim(_as_stored(recon, grayscale), original) * side * side
        weight += side * side
    return total / weight


def estimate_image(
    model: ModelSet,
    rgb: np.ndarray,
    *,
    grayscale: bool = False,
    extra_bytes: int = 0,
    entropy: int = image_codec.ENTROPY_RANGE,
    checkpoints: Iterable[str] = CHECKPOINTS,
    check: Callable[[], None] | None = None,
) -> dict[str, CheckpointEstimate]:
    """Per checkpoint: the exact payload size and an MS-SSIM estimate (see the module docstring).

    ``extra_bytes``: the image's metadata and alpha blobs, stored beside the bitstream.
    """
    height, width = rgb.shape[:2]
    padded = pad_to_multiple(rgb)
    tiles = sample_tiles(height, width)
    analysed: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    results: dict[str, CheckpointEstimate] = {}
    for name in checkpoints:
        key = (model.precision_for("encoder", name), model.precision_for("hyper_encoder", name))
        if key not in analysed:  # one g_a per precision: the latents do not depend on the checkpoint
            y = analysis(model, padded, check, checkpoint=name)
            analysed[key] = (y, image_codec.hyper_latents(model, y, name))
        y, z_q = analysed[key]
        encoded = image_codec.encode_latents(
            model, y.copy(), z_q, name, height, width, entropy, check, keep_latents=True
        )
        if encoded.y_hat is None:  # keep_latents=True always returns them
            raise ValueError("the encoder did not keep the latents")
        score = _estimate_ms_ssim(model, encoded.y_hat, rgb, name, grayscale, tiles, check)
        results[name] = CheckpointEstimate(len(encoded.data) + extra_bytes + PAYLOAD_FRAMING, float(score))
    return results


def measure_stored_size(path: Path, size: int, use_lzma: bool) -> int:
    """The payload bytes of a byte-exact entry: the size, or the LZMA size (measured; extrapolated for huge files)."""
    if not use_lzma:
        return size
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, filters=lzma_filters(size))
    total = 0
    with open(path, "rb") as fh:
        while total < LZMA_MEASURE_MAX:
            chunk = fh.read(1 << 20)
            if not chunk:
                return total + len(comp.flush())
            total += len(comp.compress(chunk))
        read = fh.tell()
    total += len(comp.flush())
    return int(total * size / read)


# ---------------------------------------------------------------------------------------------------------------------
# archive overhead


def entry_overhead(header: Mapping[str, object]) -> int:
    """Bytes an entry adds around its payload in the file: framing and header JSON (its index item apart)."""
    return ENTRY_OVERHEAD + len(encode_json(dict(header)))


ARCHIVE_OVERHEAD = FILE_HEADER_LEN + INDEX_PREFIX.size + TRAILER_LEN
IMAGE_HEADER_EXTRA = ImageHeader(
    width=10000,
    height=10000,
    format="JPEG",
    grayscale=False,
    alpha=False,
    model="0" * 64,
    checkpoint="B",
    entropy="range",
    ms_ssim=0.987654,
    bpp=1.234567,
    precision="int8",
    level_step=1000,
).to_header()


STORED_NOTE = "stored byte-exact: the target's choice"


def image_header(base: Mapping[str, object]) -> dict[str, object]:
    """A coded image's header as the compressor writes it, with typical values for the figures."""
    return {**base, **IMAGE_HEADER_EXTRA}


def index_bytes(headers: Iterable[Mapping[str, object]]) -> int:
    """The compressed index for these headers: offsets, lengths, CRCs and figures not known yet are filled
    with random digits of the same length (they compress as badly as the real ones)."""
    rng = random.Random(1)
    objs, offset = [], 10
    for h in headers:
        obj = dict(h)
        if "ms_ssim" in obj:
            obj.update(ms_ssim=round(rng.uniform(0.95, 0.999), 6), bpp=round(rng.uniform(0.2, 2.0), 6))
        length = rng.randrange(10_000, 1_000_000)
        obj.update(offset=offset, payload_len=length, crc=rng.randrange(1 << 32))
        offset += length + 400
        objs.append(obj)
    return len(zlib.compress(encode_json(objs), 6))


# ---------------------------------------------------------------------------------------------------------------------
# planning


@dataclass(frozen=True)
class Option:
    choice: str  # "A", "B", "C" or EXACT
    size: int  # estimated archive bytes of the entry: payload and overhead
    ms_ssim: float  # estimated; 1.0 for EXACT


@dataclass(frozen=True)
class ItemEstimate:
    """One image's options, smallest first, none dominated (larger and no better)."""

    name: str
    options: tuple[Option, ...]

    def option(self, choice: str) -> Option:
        return next(o for o in self.options if o.choice == choice)


def stored_instead(payload_bytes: int, ms_ssim: float, original_size: int, floor: float) -> bool:
    """The engine's store-or-code rule for a coded image: stored byte-exact when its MS-SSIM is under the
    checkpoint's floor or its payload would not be smaller than the file."""
    return ms_ssim < floor or payload_bytes >= original_size


def image_options(
    name: str,
    estimates: Mapping[str, CheckpointEstimate],
    original_size: int,
    stored_size: int,
    coded_overhead: int,
    stored_overhead: int,
    floors: Mapping[str, float] = QUALITY_FLOORS,
) -> ItemEstimate:
    """The choices the engine would keep for one image: a checkpoint whose estimated MS-SSIM reaches its
    floor and whose payload is smaller than the file (otherwise the engine stores it), and exact storage."""
    options = [
        Option(cp, est.payload_bytes + coded_overhead, est.ms_ssim)
        for cp, est in estimates.items()
        if not stored_instead(est.payload_bytes, est.ms_ssim, original_size, floors[cp])
    ]
    options.append(Option(EXACT, stored_size + stored_overhead, 1.0))
    return ItemEstimate(name, prune(options))


def prune(options: Iterable[Option]) -> tuple[Option, ...]:
    """Sorted by size, dropping every option that another matches in quality for no more bytes."""
    kept: list[Option] = []
    for opt in sorted(options, key=lambda o: (o.size, -o.ms_ssim)):
        if not kept or opt.ms_ssim > kept[-1].ms_ssim:
            kept.append(opt)
    return tuple(kept)


@dataclass(frozen=True)
class Plan:
    mode: str  # SIZE or QUALITY
    target: float  # bytes, or MS-SSIM
    choices: dict[str, str]  # image name -> "A", "B", "C" or EXACT
    estimated_size: int  # the whole archive, estimated
    estimated_min_ms_ssim: float  # over the images (1.0 when none)
    feasible: bool  # the estimates say the target can be met

    def counts(self) -> dict[str, int]:
        return count_choices(self.choices.values())


def count_choices(choices: Iterable[str]) -> dict[str, int]:
    """Images per choice, in the order A, B, C, exact (every key present)."""
    counts = dict.fromkeys(CHOICES, 0)
    for c in choices:
        counts[c] += 1
    return counts


def _summary(
    mode: str, target: float, items: list[ItemEstimate], picked: list[int], fixed_bytes: int, feasible: bool
) -> Plan:
    chosen = [item.options[i] for item, i in zip(items, picked, strict=False)]
    size = fixed_bytes + sum(o.size for o in chosen)
    low = min((o.ms_ssim for o in chosen), default=1.0)
    return Plan(
        mode, target, {item.name: o.choice for item, o in zip(items, chosen, strict=False)}, size, low, feasible
    )


def _best_move(item: ItemEstimate, current: int, budget: float) -> tuple[float, int] | None:
    """The upgrade with the best MS-SSIM gain per byte that fits ``budget`` bytes: (ratio, option index)."""
    here = item.options[current]
    best = None
    for k in range(current + 1, len(item.options)):
        opt = item.options[k]
        extra = opt.size - here.size
        if extra > budget:
            break  # sorted by size: the rest do not fit either
        ratio = (opt.ms_ssim - here.ms_ssim) / max(extra, 1)
        if best is None or ratio > best[0]:
            best = (ratio, k)
    return best


def plan_for_size(items: list[ItemEstimate], target: int, fixed_bytes: int = 0, margin: int = 0) -> Plan:
    """Fewest bytes first, then the best MS-SSIM gain per byte while the estimate stays within ``target``
    less ``margin`` (headroom for the overhead estimate).

    ``fixed_bytes``: everything that is not a choice: the other files' entries, folders, the archive's own
    header, index framing and trailer.
    """
    picked = [0] * len(items)
    total = fixed_bytes + sum(item.options[0].size for item in items)
    if total > target:
        return _summary(SIZE, target, items, picked, fixed_bytes, feasible=False)
    budget = max(0, target - margin - total)
    heap: list[tuple[float, int, int, int]] = []

    def push(i: int) -> None:
        move = _best_move(items[i], picked[i], budget)
        if move is not None:
            heapq.heappush(heap, (-move[0], i, picked[i], move[1]))

    for i in range(len(items)):
        push(i)
    while heap:
        _, i, frm, to = heapq.heappop(heap)
        if picked[i] != frm:
            continue  # stale
        extra = items[i].options[to].size - items[i].options[frm].size
        if extra > budget:  # no longer fits: offer this image's best move that still does
            push(i)
            continue
        picked[i] = to
        budget -= extra
        push(i)
    return _summary(SIZE, target, items, picked, fixed_bytes, feasible=True)


def plan_for_quality(
    items: list[ItemEstimate], min_quality: float, fixed_bytes: int = 0, margin: float = QUALITY_MARGIN
) -> Plan:
    """Per image, the smallest option whose estimated MS-SSIM reaches ``min_quality + margin`` (exact storage,
    MS-SSIM 1, always does)."""
    wanted = min(1.0, min_quality + margin)
    picked = [next(k for k, o in enumerate(item.options) if o.ms_ssim >= wanted or o.choice == EXACT) for item in items]
    return _summary(QUALITY, min_quality, items, picked, fixed_bytes, feasible=True)


def attempts(choice: str, mode: str) -> tuple[str, ...]:
    """Checkpoints to try, in order, for an image planned at ``choice`` (empty: store it exactly).

    An image that misses after coding (under its floor, or under a quality target) is coded at the next one:
    a larger checkpoint for a quality target, a smaller one (with a lower floor) for a size target, so that a
    wrong estimate never turns into a byte-exact copy that breaks the size. After the last, it is stored.
    """
    if choice == EXACT:
        return ()
    i = CHECKPOINTS.index(choice)
    rest = CHECKPOINTS[i + 1 :] if mode == QUALITY else tuple(reversed(CHECKPOINTS[:i]))
    return (choice, *rest)


def floor_for(checkpoint: str, mode: str, target: float, quality_floor: float | None = None) -> float:
    """The MS-SSIM an image coded at ``checkpoint`` must reach to be kept coded."""
    floor = QUALITY_FLOORS[checkpoint] if quality_floor is None else quality_floor
    return max(floor, target) if mode == QUALITY else floor


# ---------------------------------------------------------------------------------------------------------------------
# the engine's estimate pass


def estimate_members(
    members: list[Member],
    model: ModelSet,
    *,
    decode: Callable[[Path], tuple[object, DecodedImage | None]],
    lzma_pays: Callable[[Path], bool],
    base_header: Callable[[Member, EntryKind], dict],
    entropy: str = "range",
    quality_floor: float | None = None,
    check: Callable[[], None] | None = None,
    on_file: Callable[[Member], None] | None = None,
) -> tuple[list[ItemEstimate], int]:
    """Estimate every member the way the compressor will store it: (the images' options, the fixed bytes).

    ``decode``, ``lzma_pays`` and ``base_header`` are the compressor's own; the fixed bytes are everything
    that does not depend on the choices (other entries, the archive's header, index and trailer).
    """
    floors = {cp: QUALITY_FLOORS[cp] if quality_floor is None else quality_floor for cp in CHECKPOINTS}
    items: list[ItemEstimate] = []
    headers: list[dict] = []
    first_with: dict[str, str] = {}  # content hash -> the first member's name (later ones are duplicates)
    fixed = ARCHIVE_OVERHEAD
    for member in members:
        if check:
            check()
        if on_file:
            on_file(member)
        if member.kind == DIRECTORY or member.kind == SYMLINK:
            header = base_header(member, EntryKind.DIRECTORY if member.kind == DIRECTORY else EntryKind.SYMLINK)
            headers.append(header)
            fixed += entry_overhead(header)
            continue
        if member.kind != FILE:
            continue
        if member.sha256 is not None and member.sha256 in first_with:  # stored once: a header only
            header = {**base_header(member, EntryKind.DUPLICATE), "same_as": first_with[member.sha256]}
            headers.append(header)
            fixed += entry_overhead(header)
            continue
        if member.sha256 is not None:
            first_with[member.sha256] = member.name
        try:
            use_lzma = lzma_pays(member.path)
            stored = measure_stored_size(member.path, member.size, use_lzma)
        except OSError:
            continue  # the compressor will report it as unreadable
        stored_header = {**base_header(member, EntryKind.LZMA if use_lzma else EntryKind.STORED), "note": STORED_NOTE}
        decoded = None
        try:
            _, decoded = decode(member.path)
        except (LatentzipError, OSError):
            decoded = None
        estimates = None
        if decoded is not None:
            try:
                extra = len(decoded.metadata.to_bytes()) + len(encode_alpha(decoded.alpha))
                estimates = estimate_image(
                    model,
                    decoded.rgb,
                    grayscale=bool(decoded.grayscale),
                    extra_bytes=extra,
                    entropy=ENTROPY_NAMES[entropy],
                    check=check,
                )
            except (LatentzipError, ValueError, MemoryError):
                estimates = None
            del decoded
        if estimates is None:
            headers.append(stored_header)
            fixed += entry_overhead(stored_header) + stored
            continue
        coded_header = image_header(base_header(member, EntryKind.IMAGE))
        headers.append(coded_header)
        items.append(
            image_options(
                member.name,
                estimates,
                member.size,
                stored,
                entry_overhead(coded_header),
                entry_overhead(stored_header),
                floors,
            )
        )
    return items, fixed + index_bytes(headers)


def make_plan(items: list[ItemEstimate], fixed_bytes: int, mode: str, target: float) -> Plan:
    """``plan_for_size`` or ``plan_for_quality``."""
    if mode == SIZE:
        return plan_for_size(items, int(target), fixed_bytes, margin=SIZE_MARGIN_BASE + SIZE_MARGIN_ENTRY * len(items))
    if mode == QUALITY:
        return plan_for_quality(items, float(target), fixed_bytes)
    raise ValueError(f"unknown target mode {mode!r}")


def image_attempts(
    plan: Plan | None,
    name: str,
    checkpoint: str,
    floor: float,
    quality_floor: float | None = None,
    can_raise: bool = False,
) -> tuple[tuple[str, float], ...]:
    """(checkpoint, floor) pairs the compressor tries for one image: without a plan, just its own checkpoint.

    ``can_raise`` (the model set has a rate ladder): with a quality target, an image planned for exact storage
    (no checkpoint estimated to reach the target) is first tried at the lowest checkpoint, which the compressor
    raises until it meets the target and its floor; it is stored only when even the top level misses. A size
    target keeps the plan's exact storage: the plan counted those bytes (perhaps LZMA-compressed).
    """
    if plan is None or name not in plan.choices:
        return ((checkpoint, floor),)
    if plan.choices[name] == EXACT and can_raise and plan.mode == QUALITY:
        lowest = CHECKPOINTS[0]
        return ((lowest, floor_for(lowest, plan.mode, plan.target, quality_floor)),)
    return tuple(
        (cp, floor_for(cp, plan.mode, plan.target, quality_floor)) for cp in attempts(plan.choices[name], plan.mode)
    )


def target_result(
    plan: Plan, outcomes: Iterable[FileOutcome], archive_size: int, estimate_seconds: float = 0.0
) -> TargetResult:
    """Compare what was written with the plan and the target."""
    finals = []
    low = 1.0
    for o in outcomes:
        if o.name not in plan.choices:
            continue
        if o.kind == "lossy" and o.checkpoint:
            finals.append(o.checkpoint)
            low = min(low, o.ms_ssim if o.ms_ssim is not None else 1.0)
        else:
            finals.append(EXACT)
    if plan.mode == SIZE:
        achieved, met, estimated = float(archive_size), archive_size <= plan.target, float(plan.estimated_size)
    else:
        achieved, met, estimated = low, low >= plan.target, plan.estimated_min_ms_ssim
    return TargetResult(
        plan.mode,
        plan.target,
        estimated,
        achieved,
        met,
        count_choices(finals),
        plan.counts(),
        plan.feasible,
        estimate_seconds,
    )
