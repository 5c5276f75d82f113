"""A target instead of a checkpoint: the names compressor.py, the CLI and the tests use, from their homes.

The work is split by job (issue 14, part 2):

- ``estimate.sizes``: ``parse_size`` ("2GB" -> bytes);
- ``estimate.image_estimate``: one image's exact coded size and estimated MS-SSIM per checkpoint (ONNX);
- ``container.overhead``: the container's framing and each entry's header, the compressed index;
- ``estimate.planner``: the pure planner (options per image, plans for a size or a quality);
- ``estimate.estimate_pass``: every member measured the way the compressor will store it;
- ``estimate.sampling``: the estimate from a few sampled images, with its range (GUI and ``--dry-run``).

This module only re-exports; new code imports from the modules above.
"""

from __future__ import annotations

from .container.overhead import ARCHIVE_OVERHEAD, IMAGE_HEADER_EXTRA, entry_overhead, image_header, index_bytes
from .estimate.estimate_pass import estimate_members
from .estimate.image_estimate import PAYLOAD_FRAMING, estimate_image, measure_stored_size, sample_tiles
from .estimate.planner import (
    CHOICES,
    EXACT,
    QUALITY,
    QUALITY_MARGIN,
    SIZE,
    SIZE_MARGIN_BASE,
    SIZE_MARGIN_ENTRY,
    STORED_NOTE,
    CheckpointEstimate,
    ItemEstimate,
    Option,
    Plan,
    attempts,
    count_choices,
    floor_for,
    image_attempts,
    image_options,
    make_plan,
    plan_for_quality,
    plan_for_size,
    prune,
    stored_instead,
    target_result,
)
from .estimate.sizes import parse_size

__all__ = [
    "ARCHIVE_OVERHEAD",
    "CHOICES",
    "EXACT",
    "IMAGE_HEADER_EXTRA",
    "PAYLOAD_FRAMING",
    "QUALITY",
    "QUALITY_MARGIN",
    "SIZE",
    "SIZE_MARGIN_BASE",
    "SIZE_MARGIN_ENTRY",
    "STORED_NOTE",
    "CheckpointEstimate",
    "ItemEstimate",
    "Option",
    "Plan",
    "attempts",
    "count_choices",
    "entry_overhead",
    "estimate_image",
    "estimate_members",
    "floor_for",
    "image_attempts",
    "image_header",
    "image_options",
    "index_bytes",
    "make_plan",
    "measure_stored_size",
    "parse_size",
    "plan_for_quality",
    "plan_for_size",
    "prune",
    "sample_tiles",
    "stored_instead",
    "target_result",
]
