"""The one engine API that the command line and the GUI both call.

All functions are safe to call from a worker thread, report through a
``ProgressSink``, stop at the next check of a ``CancelToken``, raise
``LatentzipError`` subclasses that name the file, and never print.
"""

from __future__ import annotations

from .api.options import (
    CHECKPOINTS,
    COLOUR_LIMIT,
    IMAGE_MODES,
    QUALITY_FLOORS,
    CompressOptions,
    ExtractOptions,
)
from .api.outcomes import Issue, IssueCode, Operation, OutcomeKind
from .api.progress import CancelToken, NullSink, ProgressEvent, ProgressSink
from .api.reports import (
    CompressReport,
    ExtractReport,
    FileOutcome,
    TargetResult,
    TestReport,
    floor_lines,
    floor_tallies,
    second_generation_note,
)
from .entries.jpeg_repack import estimated_lossless_size
from .estimate.dry_run import ACTION_WORDS as PLAN_ACTION_WORDS
from .estimate.sampling import Estimate, ImageSample, SizeRange, TargetEstimate, estimate, estimate_inputs
from .ops.adder import AddReport, add, infer_options
from .ops.browse import SalvageListing, entry_bytes, salvage_listing
from .ops.compressor import compress
from .ops.extractor import decode_image_entry, extract, list_entries, output_name, test_archive
from .ops.partial_file import stale_partials
from .ops.plan import FilePlan, PlanAction, count_files_and_folders, plan_inputs
from .ops.preview import CheckpointPreview, PreviewReport, preview_image, preview_pixels
from .ops.region_preview import CodedTile, RegionFigures, RegionPreview, clip_region, image_size, is_large, tiles_for
from .runtime.model_set import ModelRegistry, default_registry, execution_providers

__all__ = [
    "compress",
    "add",
    "infer_options",
    "AddReport",
    "second_generation_note",
    "extract",
    "list_entries",
    "test_archive",
    "preview_image",
    "preview_pixels",
    "RegionPreview",
    "RegionFigures",
    "CodedTile",
    "clip_region",
    "image_size",
    "is_large",
    "tiles_for",
    "decode_image_entry",
    "output_name",
    "stale_partials",
    "CompressOptions",
    "ExtractOptions",
    "CompressReport",
    "ExtractReport",
    "TestReport",
    "FileOutcome",
    "TargetResult",
    "PreviewReport",
    "CheckpointPreview",
    "ProgressEvent",
    "ProgressSink",
    "NullSink",
    "CancelToken",
    "ModelRegistry",
    "default_registry",
    "execution_providers",
    "CHECKPOINTS",
    "QUALITY_FLOORS",
    "COLOUR_LIMIT",
    "estimated_lossless_size",
    "IMAGE_MODES",
    "OutcomeKind",
    "Operation",
    "IssueCode",
    "Issue",
    "floor_lines",
    "floor_tallies",
    "plan_inputs",
    "PLAN_ACTION_WORDS",
    "estimate",
    "estimate_inputs",
    "Estimate",
    "ImageSample",
    "SizeRange",
    "TargetEstimate",
    "FilePlan",
    "PlanAction",
    "count_files_and_folders",
    "entry_bytes",
    "salvage_listing",
    "SalvageListing",
]
