"""The archive's size before compressing, from a few sampled images, with a stated range.

The engine's one estimate, shown by the GUI and printed by ``latentzip compress
--dry-run``. It starts from the per-file plan (``plan.plan_inputs``: what compress
will do with every file) and measures a few images exactly as compress will code
them (``sample_image``: the estimate pass of a size target, on one image: its
exact payload at every checkpoint, its own header's bytes). Everything else is
known or bounded before any image is coded:

- files stored as they are, LZMA, JPEG re-packs, duplicates, folders: their
  payload from the plan and their entry's framing and header from the container
  (``container.overhead``);
- each image not sampled: the payload per byte of file of the sampled images of
  its kind (JPEG or each other suffix; every sampled image when its kind has
  none), never more than its file (the engine stores an image that would not
  shrink), plus a coded image's entry overhead.

The range is a 95 % prediction interval: each unsampled image's payload per
byte varies around its kind's ratio as the samples' do (so one large unsampled
file widens it more than many small ones), the ratio itself is uncertain by as
much, Student's t for the few samples, and a floor of ``MIN_RELATIVE_SPREAD``
of the extrapolated bytes (the sample's spread
understates the unseen images'), plus a few bytes per entry either way for
the index and the header figures not known before writing. With no sample yet the range is what the rules
bound: from ``LOW_RATIO`` of the images' bytes up to their files' size, a wide
but true range rather than a single figure that moves 4x as samples land.

A sampled file far larger than its kind's median (``GIANT_FACTOR``) counts as
itself only: its payload per byte is no guide to the ordinary files.

Samples are spread over sizes and kinds (``pick_sample``): each kind gets a
share of the samples by its bytes, at least one (two when there are enough):
its largest file, then others evenly spread over the rest sorted by size, interleaved between kinds so the
first few samples already see every kind.

A size target's verdict compares the target with the range of the smallest
archive the planner can reach: "reachable" when even its upper end fits,
"not reachable" when even its lower end does not, "uncertain" otherwise; so it
never contradicts what compress then does while the range holds the truth.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..api.options import CHECKPOINTS, CompressOptions
from ..api.progress import CancelToken
from ..container.format import EntryKind
from ..container.overhead import ARCHIVE_OVERHEAD, entry_overhead, image_header, index_bytes, typical_header
from ..entries.jpeg_repack import estimated_lossless_size
from ..ops.plan import FilePlan, PlanAction, plan_inputs
from ..ops.scan import FILE, Member
from ..runtime.model_set import ModelRegistry, ModelSet, default_registry
from .estimate_pass import CompressorRules, estimate_file, quality_floors
from .planner import EXACT, SIZE, CheckpointEstimate, ItemEstimate, Option, image_options, make_plan

SAMPLE_SIZE = 6
MIN_RELATIVE_SPREAD = 0.04  # of the extrapolated bytes: the least half-width a range is given
OVERHEAD_SPREAD_BASE, OVERHEAD_SPREAD_ENTRY = 256, 16  # bytes either way: the index and unknown header figures
GIANT_FACTOR = 3  # a sampled file this many times its kind's median size is not extrapolated from
LOW_RATIO = 0.01  # with no sample of any kind: the least payload per byte of file an image is assumed to reach
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
# Student's t, two-sided 95 %, by degrees of freedom (more than 10: 2.2, more than 30: 2.0)
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}

REACHABLE, NOT_REACHABLE, UNCERTAIN = "reachable", "not reachable", "uncertain"
NOT_AN_IMAGE = "not an image"  # the note compress gives a file that is not an image


def kind_of(name: str) -> str:
    """The group an image is extrapolated with: "jpeg", or its suffix."""
    suffix = Path(name).suffix.lower()
    return "jpeg" if suffix in JPEG_SUFFIXES else suffix


def _t95(samples: int) -> float:
    df = samples - 1
    return _T95.get(df, 2.2 if df <= 30 else 2.0)


# ---------------------------------------------------------------------------------------------------------------------
# samples


@dataclass(frozen=True)
class ImageSample:
    """One image measured as compress will store it: its options (payload and overhead per choice) and, per
    checkpoint, the archive bytes compress would spend on it at that checkpoint."""

    name: str
    size: int
    item: ItemEstimate | None  # None: the engine would store it (not decodable, too large to code)
    stored_bytes: int  # its entry when stored exactly (payload and overhead)
    at_checkpoint: dict[str, int]  # checkpoint -> entry bytes when compressed at that checkpoint
    ms_ssim: dict[str, float]  # checkpoint -> estimated MS-SSIM (coded checkpoints only)
    overhead: int  # its entry's framing and header (coded, or stored when it cannot be coded)


def bytes_at(item: ItemEstimate, checkpoint: str, can_raise: bool) -> int:
    """The entry bytes compress spends on an image at ``checkpoint``, from its options: that checkpoint's when
    it is offered; else, when the set can raise the rate, the next offered checkpoint (an upper bound of the
    raised level); else exact storage."""
    by_choice = {o.choice: o for o in item.options}
    if checkpoint in by_choice:
        return by_choice[checkpoint].size
    exact = by_choice[EXACT].size
    if not can_raise:
        return exact
    later = [by_choice[c].size for c in CHECKPOINTS[CHECKPOINTS.index(checkpoint) + 1 :] if c in by_choice]
    return min([*later[:1], exact])


def sample_image(
    row: FilePlan,
    options: CompressOptions,
    model: ModelSet,
    rules: CompressorRules,
    check: Callable[[], None] | None = None,
) -> ImageSample | None:
    """Measure one planned image (``row.action`` is CODE) as compress will code it; None: it cannot be read."""
    if row.path is None:
        return None
    try:
        st = row.path.stat()
    except OSError:
        return None
    member = Member(row.name, row.path, FILE, row.size, st.st_mtime_ns, stat.S_IMODE(st.st_mode), sha256="0" * 64)
    measured = estimate_file(
        member, model, rules, entropy=options.entropy, floors=quality_floors(options.quality_floor), check=check
    )
    if measured is None:
        return None
    if measured.item is None:
        stored = measured.fixed
        overhead = entry_overhead(measured.header)
        return ImageSample(row.name, row.size, None, stored, dict.fromkeys(CHECKPOINTS, stored), {}, overhead)
    # the estimate pass leaves a JPEG's tables out of the options (compress's size plans are kept as they are);
    # the archive holds them in the coded entry's header
    extra = measured.tables_bytes
    item = measured.item
    item = replace(
        item, options=tuple(replace(o, size=o.size + extra if o.choice != EXACT else o.size) for o in item.options)
    )
    can_raise = model.can_raise
    scores = {o.choice: o.ms_ssim for o in item.options if o.choice != EXACT}
    return ImageSample(
        row.name,
        row.size,
        item,
        item.option(EXACT).size,
        {cp: bytes_at(item, cp, can_raise) for cp in CHECKPOINTS},
        scores,
        entry_overhead(measured.header) + extra,
    )


def pick_sample(rows: Sequence[FilePlan], k: int = SAMPLE_SIZE) -> list[FilePlan]:
    """Up to ``k`` of the coded images, spread over kinds and sizes, in the order to measure them (deterministic)."""
    images = [r for r in rows if r.action is PlanAction.CODE]
    if len(images) <= k:
        return sorted(images, key=lambda r: (-r.size, r.name))
    groups: dict[str, list[FilePlan]] = {}
    for r in sorted(images, key=lambda r: (r.size, r.name)):
        groups.setdefault(kind_of(r.name), []).append(r)
    total = sum(r.size for r in images) or 1
    order = sorted(groups, key=lambda g: -sum(r.size for r in groups[g]))
    least = 2 if k >= 2 * len(groups) else 1
    shares = {g: min(len(groups[g]), least) for g in order[:k]}
    while sum(shares.values()) < k:  # the rest by bytes: to the kind furthest under its share
        open_ = [g for g in order if shares.get(g, 0) < len(groups[g])]
        if not open_:
            break
        g = max(open_, key=lambda g: sum(r.size for r in groups[g]) / total * k - shares.get(g, 0))
        shares[g] = shares.get(g, 0) + 1
    picked: dict[str, list[FilePlan]] = {}
    for g, n in shares.items():
        # the largest file always (it weighs most, and a lone giant is what extrapolation gets most wrong),
        # the others spread evenly over the rest, by size
        members, largest = groups[g][:-1], groups[g][-1]
        spread = [members[min(len(members) - 1, int((i + 0.5) * len(members) / (n - 1)))] for i in range(n - 1)]
        picked[g] = [largest, *sorted(spread, key=lambda r: -r.size)]
    out: list[FilePlan] = []
    while any(picked.values()):
        for g in order:
            if picked.get(g):
                out.append(picked[g].pop(0))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# the estimate


@dataclass(frozen=True)
class SizeRange:
    """An estimated size and the range it is stated with."""

    estimate: int
    low: int
    high: int

    def contains(self, size: int) -> bool:
        return self.low <= size <= self.high

    @property
    def relative_spread(self) -> float:
        """Half the range's width over the estimate."""
        return (self.high - self.low) / 2 / max(1, self.estimate)


@dataclass(frozen=True)
class TargetEstimate:
    """What a size or quality target would choose for the selection, from the estimate."""

    mode: str  # "size" or "quality"
    target: float
    size: int  # estimated archive bytes with the plan's choices
    counts: dict[str, int]  # images per choice: A, B, C, exact
    min_ms_ssim: float
    feasible: bool  # at the estimate
    smallest: SizeRange  # the smallest archive the planner can reach (every image at its smallest option)
    verdict: str  # REACHABLE, NOT_REACHABLE or UNCERTAIN (always REACHABLE for a quality target)


@dataclass(frozen=True)
class Estimate:
    """The archive the selection would give, per checkpoint, with ranges; and each image's options."""

    original: int  # the files' bytes
    ranges: dict[str, SizeRange]  # checkpoint -> archive bytes
    lossless: int  # "Keep originals exactly": JPEGs re-packed at the typical ratio, the rest as planned
    sampled: int
    sample_target: int
    images: int  # coded images in the plan
    typical_ms_ssim: dict[str, float] = field(default_factory=dict)
    items: tuple[ItemEstimate, ...] = ()  # every image's options (extrapolated when not sampled)
    fixed: int = 0  # the bytes that do not depend on a target's choices
    smallest: SizeRange | None = None  # every image at its smallest option
    own: dict[str, dict[str, int]] = field(default_factory=dict)  # sampled image name -> checkpoint -> bytes
    own_scores: dict[str, dict[str, float]] = field(default_factory=dict)  # sampled name -> checkpoint -> MS-SSIM
    ratios: dict[str, dict[str, float]] = field(default_factory=dict)  # checkpoint -> kind -> payload per byte

    @property
    def sizes(self) -> dict[str, int]:
        """Checkpoint -> the central estimate."""
        return {cp: r.estimate for cp, r in self.ranges.items()}

    @property
    def done(self) -> bool:
        """Every planned sample is in."""
        return self.sampled >= self.sample_target

    def image_bytes(self, name: str, size: int, checkpoint: str) -> tuple[int, bool] | None:
        """One image's estimated entry bytes at ``checkpoint`` and whether its own sample says so (None: no
        sample of any kind yet)."""
        own = self.own.get(name, {}).get(checkpoint)
        if own is not None:
            return own, True
        ratios = self.ratios.get(checkpoint, {})
        ratio = ratios.get(kind_of(name), ratios.get("", None))
        return (min(size, int(size * ratio)), False) if ratio is not None else None

    def target(self, mode: str, target: float) -> TargetEstimate | None:
        """Plan the images for a size or quality target (None until a sample is in)."""
        if self.images and self.sampled == 0:
            return None
        plan = make_plan(list(self.items), self.fixed, mode, target)
        smallest = self.smallest or SizeRange(plan.estimated_size, plan.estimated_size, plan.estimated_size)
        verdict = REACHABLE
        if mode == SIZE:
            verdict = REACHABLE if smallest.high <= target else NOT_REACHABLE if smallest.low > target else UNCERTAIN
        return TargetEstimate(
            mode,
            target,
            plan.estimated_size,
            plan.counts(),
            plan.estimated_min_ms_ssim,
            plan.feasible,
            smallest,
            verdict,
        )


def _overhead(row: FilePlan) -> tuple[dict[str, object], int]:
    """A planned file's header as compress will write it (typical figures where unknown) and its entry bytes
    besides the payload."""
    kind = {
        PlanAction.STORE: EntryKind.STORED,
        PlanAction.LZMA: EntryKind.LZMA,
        PlanAction.REPACK: EntryKind.JPEG_REPACK,
        PlanAction.DUPLICATE: EntryKind.DUPLICATE,
        PlanAction.FOLDER: EntryKind.DIRECTORY,
        PlanAction.LINK: EntryKind.SYMLINK,
        PlanAction.CODE: EntryKind.IMAGE,
    }[row.action]
    mtime_ns = mode = link = None
    if row.path is not None:
        try:
            st = row.path.lstat()
            mtime_ns, mode = st.st_mtime_ns, stat.S_IMODE(st.st_mode)
            link = os.readlink(row.path) if row.action is PlanAction.LINK else None
        except OSError:
            pass
    header = typical_header(row.name, kind, row.size, mtime_ns=mtime_ns, mode=mode, link=link)
    if row.action is PlanAction.DUPLICATE:
        header["same_as"] = row.reason.removeprefix("same content as ")
    elif row.action in (PlanAction.STORE, PlanAction.LZMA):
        header["note"] = row.reason or NOT_AN_IMAGE
    elif row.action is PlanAction.CODE:
        header = image_header(header)
    return header, entry_overhead(header)


@dataclass
class _Kind:
    """The sampled images of one kind at one checkpoint: (payload, file bytes) pairs."""

    pairs: list[tuple[float, int]] = field(default_factory=list)
    population: int = 0  # coded images of this kind in the plan

    @property
    def ratio(self) -> float:
        return sum(y for y, _ in self.pairs) / max(1, sum(x for _, x in self.pairs))

    def half_width(self, rest: Sequence[int], pooled: _Kind | None) -> float:
        """The 95 % half-width of the prediction ``ratio * sum(rest)`` for the unsampled files ``rest`` (their
        sizes): each image's own ratio varies around the kind's (the samples' spread), and so does the ratio."""
        own = len(self.pairs)
        source = self if own >= 2 else pooled
        if source is None or len(source.pairs) < 2:
            return math.inf
        r = source.ratio
        spread = sum((y / x - r) ** 2 for y, x in source.pairs if x) / (len(source.pairs) - 1)
        basis = self.pairs if own else source.pairs  # the samples the ratio was taken from
        total = sum(x for _, x in basis)
        ratio_var = sum(x * x for _, x in basis) / total**2 if total else 1.0
        unsampled = sum(rest)
        variance = spread * (sum(x * x for x in rest) + unsampled**2 * ratio_var)
        return _t95(len(source.pairs)) * math.sqrt(variance)


def estimate(
    rows: Sequence[FilePlan],
    samples: Mapping[str, ImageSample],
    sample_target: int | None = None,
) -> Estimate:
    """The archive ``rows`` (``plan_inputs``' plan) would give, from the sampled images; see the module docstring.

    Pure: reads no file and runs no network. ``sample_target``: how many samples are planned (default: every
    coded image, up to ``SAMPLE_SIZE``).
    """
    images = [r for r in rows if r.action is PlanAction.CODE]
    sample_target = min(len(images), SAMPLE_SIZE) if sample_target is None else sample_target
    headers: list[dict[str, object]] = []
    fixed = ARCHIVE_OVERHEAD
    lossless = ARCHIVE_OVERHEAD
    for r in rows:
        if r.action is PlanAction.SKIP:
            continue
        header, overhead = _overhead(r)
        headers.append(header)
        if r.action is not PlanAction.CODE:
            fixed += overhead + (r.estimated or 0)
            lossless += overhead + (r.estimated or 0)
        else:
            repack_header = typical_header(r.name, EntryKind.JPEG_REPACK, r.size)
            lossless += entry_overhead(repack_header) + estimated_lossless_size(r.name, r.size)
    index = index_bytes(headers)
    fixed += index
    lossless += index
    sampled = {r.name: samples[r.name] for r in images if r.name in samples}
    coded_overhead = {r.name: _overhead(r)[1] for r in images}

    giants = _giants(images, sampled)
    ranges: dict[str, SizeRange] = {}
    ratios: dict[str, dict[str, float]] = {}
    for cp in CHECKPOINTS:
        kinds: dict[str, _Kind] = {}
        pooled = _Kind(population=len(images))
        for r in images:
            kinds.setdefault(kind_of(r.name), _Kind()).population += 1
        for s in sampled.values():
            if s.name in giants:  # measured, and counted as is; not a guide to the ordinary files
                continue
            pair = (float(s.at_checkpoint[cp] - s.overhead), s.size)
            kinds[kind_of(s.name)].pairs.append(pair)
            pooled.pairs.append(pair)
        ratios[cp] = {k: v.ratio for k, v in kinds.items() if v.pairs}
        if pooled.pairs:
            ratios[cp][""] = pooled.ratio
        known = sum(s.at_checkpoint[cp] for s in sampled.values())
        mid = float(fixed + known)
        slack = OVERHEAD_SPREAD_BASE + OVERHEAD_SPREAD_ENTRY * len(headers)
        low, high = mid - slack, mid + slack
        for k, kind in kinds.items():
            rest = [r for r in images if kind_of(r.name) == k and r.name not in sampled]
            unsampled = sum(r.size for r in rest)
            overhead = sum(coded_overhead[r.name] for r in rest)
            if not rest:
                continue
            ratio = kind.ratio if kind.pairs else pooled.ratio if pooled.pairs else None
            if ratio is None:  # nothing measured yet: what the rules bound
                mid += overhead + unsampled * math.sqrt(LOW_RATIO)
                low += overhead + unsampled * LOW_RATIO
                high += overhead + unsampled
                continue
            central = min(1.0, ratio) * unsampled
            spread = max(kind.half_width([r.size for r in rest], pooled), MIN_RELATIVE_SPREAD * central)
            if not kind.pairs:  # extrapolated from other kinds: at least a factor of two either way
                spread = max(spread, central / 2)
            mid += overhead + central
            low += overhead + max(unsampled * LOW_RATIO, central - spread)
            high += overhead + min(float(unsampled), central + spread)
        ranges[cp] = SizeRange(round(mid), math.floor(low), math.ceil(high))

    typical = {
        cp: sum(v) / len(v) for cp in CHECKPOINTS if (v := [s.ms_ssim[cp] for s in sampled.values() if cp in s.ms_ssim])
    }
    found = (_item(r, sampled.get(r.name), ratios, typical, coded_overhead[r.name]) for r in images)
    items = tuple(i for i in found if i is not None)
    smallest = _smallest(sampled, ranges[CHECKPOINTS[0]], fixed) if sampled or not images else None
    return Estimate(
        original=sum(r.size for r in rows if r.action is not PlanAction.SKIP),
        ranges=ranges,
        lossless=lossless,
        sampled=len(sampled),
        sample_target=sample_target,
        images=len(images),
        typical_ms_ssim=typical,
        items=items,
        fixed=fixed,
        smallest=smallest,
        own={n: dict(s.at_checkpoint) for n, s in sampled.items()},
        own_scores={n: dict(s.ms_ssim) for n, s in sampled.items()},
        ratios=ratios,
    )


def _giants(images: Sequence[FilePlan], sampled: Mapping[str, ImageSample]) -> set[str]:
    """Sampled files over ``GIANT_FACTOR`` times their kind's median size, when other samples of the kind remain:
    their own payload is known, and their ratio (a 20 MP photo among 4 MP ones) would mislead the rest's."""
    by_kind: dict[str, list[int]] = {}
    for r in images:
        by_kind.setdefault(kind_of(r.name), []).append(r.size)
    giants = set()
    for kind, sizes in by_kind.items():
        median = sorted(sizes)[len(sizes) // 2]
        mine = [s for s in sampled.values() if kind_of(s.name) == kind]
        big = {s.name for s in mine if s.size > GIANT_FACTOR * median}
        if len(mine) > len(big):
            giants |= big
    return giants


def _item(
    row: FilePlan,
    sample: ImageSample | None,
    ratios: Mapping[str, Mapping[str, float]],
    typical: Mapping[str, float],
    overhead: int,
) -> ItemEstimate | None:
    """One image's options: its sample's, or extrapolated from the ratios of its kind and the typical MS-SSIM."""
    if sample is not None:
        if sample.item is not None:
            return replace(sample.item, name=row.name)
        return ItemEstimate(row.name, (Option(EXACT, sample.stored_bytes, 1.0),))
    estimates = {}
    for cp in CHECKPOINTS:
        by_kind = ratios.get(cp, {})
        ratio = by_kind.get(kind_of(row.name), by_kind.get(""))
        if ratio is not None and cp in typical:
            estimates[cp] = CheckpointEstimate(int(row.size * ratio), typical[cp])
    if not estimates:
        return None
    return image_options(row.name, estimates, row.size, row.size, overhead, overhead)


def _smallest(sampled: Mapping[str, ImageSample], first: SizeRange, fixed: int) -> SizeRange:
    """The smallest archive: sampled images at their smallest option, the rest as extrapolated at the smallest
    checkpoint (``first``: its range), with that range's spread."""
    known = sum(min(o.size for o in s.item.options) if s.item else s.stored_bytes for s in sampled.values())
    at_first = sum(s.at_checkpoint[CHECKPOINTS[0]] for s in sampled.values())
    mid = first.estimate - at_first + known
    return SizeRange(mid, first.low - at_first + known, first.high - at_first + known)


# ---------------------------------------------------------------------------------------------------------------------
# the whole pass, for the command line and the bench


def compressor_rules() -> CompressorRules:
    """The compressor's own rules for the estimate pass (imported when called: the compressor imports the planner)."""
    from ..entries.member import base_header
    from ..entries.stored import lzma_pays
    from ..images import classify_and_decode

    return CompressorRules(classify_and_decode, lzma_pays, base_header)


def sample_planned_image(
    row: FilePlan,
    options: CompressOptions = CompressOptions(),
    *,
    registry: ModelRegistry | None = None,
    cancel: CancelToken | None = None,
) -> ImageSample | None:
    """``sample_image`` with the options' model set (what a worker thread runs for the GUI's estimate)."""
    cancel = cancel or CancelToken()
    model = (registry or default_registry()).get(options.model_hash, options.precision)
    return sample_image(row, options, model, compressor_rules(), cancel.check)


def renamed(sample: ImageSample, name: str) -> ImageSample:
    """The same measurement for the same file under another archive path (a cached sample, inputs rearranged)."""
    item = replace(sample.item, name=name) if sample.item is not None else None
    return replace(sample, name=name, item=item)


def estimate_inputs(
    inputs: Iterable[Path],
    options: CompressOptions = CompressOptions(),
    *,
    rows: Sequence[FilePlan] | None = None,
    max_samples: int = SAMPLE_SIZE,
    registry: ModelRegistry | None = None,
    cancel: CancelToken | None = None,
    on_update: Callable[[Estimate], None] | None = None,
) -> Estimate:
    """Plan ``inputs`` (unless ``rows`` is given), measure up to ``max_samples`` images and return the estimate;
    ``on_update`` gets the estimate before the first sample and after each. Nothing is written."""
    cancel = cancel or CancelToken()
    lossy = replace(options, images="lossy", target_size=None, min_quality=None)
    rows = list(rows) if rows is not None else plan_inputs([Path(p) for p in inputs], lossy, cancel)
    picks = pick_sample(rows, max_samples)
    samples: dict[str, ImageSample] = {}
    current = estimate(rows, samples, len(picks))
    if on_update:
        on_update(current)
    if not picks:
        return current
    model = (registry or default_registry()).get(options.model_hash, options.precision)
    rules = compressor_rules()
    target = len(picks)
    for row in picks:
        cancel.check()
        sample = sample_image(row, lossy, model, rules, cancel.check)
        if sample is None:
            target -= 1  # unreadable: compress will report it; it is counted as planned
        else:
            samples[row.name] = sample
        current = estimate(rows, samples, target)
        if on_update:
            on_update(current)
    return current
