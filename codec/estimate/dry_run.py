"""What ``latentzip compress --dry-run`` prints: the per-file plan, the estimate with its range, a target's verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..api.options import CompressOptions
from ..ops.plan import FilePlan, PlanAction, count_files_and_folders
from .planner import EXACT, QUALITY, SIZE, make_plan
from .sampling import Estimate
from .sizes import range_text, size_text

ACTION_WORDS = {
    PlanAction.STORE: "stored exactly",
    PlanAction.LZMA: "stored exactly (LZMA)",
    PlanAction.REPACK: "JPEG re-packed (kept exactly)",
    PlanAction.DUPLICATE: "duplicate (header only)",
    PlanAction.SKIP: "skipped",
    PlanAction.LINK: "link",
    PlanAction.FOLDER: "folder",
}


COUNT_WORDS = {
    PlanAction.CODE: "to code",
    PlanAction.STORE: "stored",
    PlanAction.LZMA: "LZMA",
    PlanAction.REPACK: "JPEG re-pack",
    PlanAction.DUPLICATE: "duplicate",
    PlanAction.SKIP: "skipped",
    PlanAction.LINK: "link",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _target(options: CompressOptions) -> tuple[str, float] | None:
    if options.target_size is not None:
        return SIZE, float(options.target_size)
    if options.min_quality is not None:
        return QUALITY, float(options.min_quality)
    return None


def plan_lines(rows: Sequence[FilePlan], est: Estimate, options: CompressOptions) -> list[str]:
    """One line per file: what compress will do and its estimated bytes in the archive (folders apart)."""
    target = _target(options)
    chosen: dict[str, str] = {}
    if target is not None and est.items:
        chosen = make_plan(list(est.items), est.fixed, *target).choices
    lines = []
    for r in rows:
        if r.action is PlanAction.FOLDER:
            continue
        if r.action is not PlanAction.CODE:
            what, size = ACTION_WORDS[r.action], r.estimated
        elif options.images == "lossless":
            what, size = "stored exactly", r.size
        elif r.name in chosen:
            choice = chosen[r.name]
            what = "stored exactly (the target's choice)" if choice == EXACT else f"coded at {choice} (target)"
            item = next(i for i in est.items if i.name == r.name)
            size = item.option(choice).size
        else:
            found = est.image_bytes(r.name, r.size, options.checkpoint)
            size = found[0] if found else None
            what = f"coded at {options.checkpoint}" + ("" if found is None or found[1] else " (extrapolated)")
        shown = "?" if size is None else f"≈ {size_text(size)}"
        reason = f"  ({r.reason})" if r.reason and r.action is not PlanAction.DUPLICATE else ""
        lines.append(f"  {r.name}: {what}, {size_text(r.size)} -> {shown}{reason}")
    return lines


def summary_lines(rows: Sequence[FilePlan], est: Estimate, options: CompressOptions) -> list[str]:
    """The plan's counts, the estimate with its range, and a target's verdict."""
    files, folders = count_files_and_folders(
        [r.action is PlanAction.FOLDER for r in rows if r.action.is_folder or True]
    )
    actions = Counter(r.action for r in rows if r.action is not PlanAction.FOLDER)
    counts = ", ".join(f"{n} {COUNT_WORDS[a]}" for a, n in sorted(actions.items(), key=lambda x: x[0].value))
    lines = [
        f"plan: {_plural(files, 'file')}, {_plural(folders, 'folder')} ({counts}); original {size_text(est.original)}"
    ]
    sampled = f"from {est.sampled} of {est.images} images sampled" if est.images else "no image to code"
    target = _target(options)
    if options.images == "lossless":
        lines.append(f"estimate, originals kept exactly: ≈ {size_text(est.lossless)}")
    elif target is None:
        r = est.ranges[options.checkpoint]
        lines.append(
            f"estimate at {options.checkpoint}: ≈ {size_text(r.estimate)} "
            f"(range {range_text(r.low, r.high)}), {sampled}"
        )
    else:
        t = est.target(*target)
        if t is None:
            lines.append("estimate: no image could be sampled")
        else:
            chosen = ", ".join(f"{name} {n}" for name, n in t.counts.items() if n)
            if t.mode == SIZE:
                lines.append(
                    f"target {size_text(t.target)}: {t.verdict} (smallest archive "
                    f"{range_text(t.smallest.low, t.smallest.high)}); estimate ≈ {size_text(t.size)} with "
                    f"{chosen}, {sampled}"
                )
            else:
                lines.append(
                    f"target MS-SSIM >= {t.target:.4f}: estimate ≈ {size_text(t.size)} with {chosen}, {sampled}"
                )
    lines.append("dry run: nothing was written")
    return lines
