"""The planner of a size or quality target: pure functions over per-image options.

``plan_for_size``: every image starts at its smallest option (options whose
estimated MS-SSIM is under their checkpoint's floor, or that would not be
smaller than the file, are not offered), then the upgrades with the best
MS-SSIM gain per byte are taken greedily while the estimated total (fixed
bytes for the other entries, header and index included) stays under the
target. When even the smallest choices exceed it, the plan keeps them and says
it is not feasible. ``plan_for_quality``: per image, the smallest option whose
estimated MS-SSIM reaches the target plus a safety margin, else exact storage.

MS-SSIM estimates only rank the upgrades (size target) and pick the checkpoint
(quality target); the engine measures the MS-SSIM of every image it codes, and
with a quality target an image that misses is coded again at the next
checkpoint, or stored exactly (``attempts``). Nothing here reads a file or runs
a network.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..api.options import CHECKPOINTS, QUALITY_FLOORS
from ..api.reports import FileOutcome, TargetResult

EXACT = "exact"
CHOICES = (*CHECKPOINTS, EXACT)
SIZE, QUALITY = "size", "quality"
QUALITY_MARGIN = 0.002  # MS-SSIM headroom over a quality target when choosing from estimates
SIZE_MARGIN_BASE, SIZE_MARGIN_ENTRY = 256, 16  # bytes kept free under a size target: the overhead is estimated
STORED_NOTE = "stored byte-exact: the target's choice"


@dataclass(frozen=True)
class CheckpointEstimate:
    """One image at one checkpoint, as the estimate pass measures it."""

    payload_bytes: int  # exact: bitstream + metadata + alpha + framing
    ms_ssim: float  # estimated (exact when the whole image was decoded)


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
