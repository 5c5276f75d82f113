"""The ``latentzip`` command line: the engine with a terminal progress sink.

Exit codes: 0 success; 1 failure (nothing written under the final name);
2 partial success (some inputs unreadable or entries damaged), with a summary.
Never imports Qt nor PyTorch; ``latentzip gui`` is dispatched to gui/ by the launcher (app/cli.py).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from . import engine
from .api.errors import CancelledError, LatentzipError
from .api.progress import ProgressEvent
from .container import EntryKind
from .estimate.dry_run import plan_lines, summary_lines
from .estimate.sampling import SAMPLE_SIZE
from .estimate.sizes import parse_size, size_text
from .ops.volumes import volumes_of
from .runtime.model_set import PRECISIONS, execution_providers
from .runtime.rate_ladder import LEVEL_STEPS

EXIT_OK, EXIT_FAIL, EXIT_PARTIAL = 0, 1, 2
KIND_NAMES = {
    EntryKind.STORED: "stored",
    EntryKind.LZMA: "stored (lzma)",
    EntryKind.IMAGE: "lossy image",
    EntryKind.DIRECTORY: "folder",
    EntryKind.SYMLINK: "link",
    EntryKind.JPEG_REPACK: "lossless jpeg",
    EntryKind.DUPLICATE: "duplicate",
}


class TerminalSink:
    """Prints a one-line progress display and warnings to stderr."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream, self.quiet = stream, quiet
        self._last = 0.0
        self._tty = stream.isatty()

    def progress(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        final = event.files_done == event.files_total
        if not final and now - self._last < (0.2 if self._tty else 2.0):
            return
        self._last = now
        eta = event.eta_s
        eta_text = f", ETA {eta:.0f} s" if eta is not None and not final else ""
        line = f"{event.operation}: {event.files_done}/{event.files_total} files{eta_text}  {event.current}"
        if self._tty:
            self.stream.write("\r\x1b[K" + line[:160] + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def warning(self, name: str, message: str) -> None:
        if not self.quiet:
            clear = "\r\x1b[K" if self._tty else ""
            self.stream.write(f"{clear}warning: {name}: {message}\n")


def _size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quality_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an MS-SSIM: {text!r} (example: 0.99)") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"an MS-SSIM target is between 0 and 1, not {text}")
    return value


def _colour_limit_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of grey levels: {text!r} (example: 1.0)") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a colour limit is 0 (none) or a positive number of grey levels, not {text}")
    return value


def _threads_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of threads: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"threads must be at least 1, not {text}")
    return value


class _IntermixedParser(argparse.ArgumentParser):
    """A subcommand's parser that takes positionals anywhere on the line (``extract a.ltz -o OUT
    'pattern*'``): argparse's intermixed parsing, which the top parser (it has subcommands) cannot use."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="print nothing but errors")
    ap = argparse.ArgumentParser(
        prog="latentzip", description="Archive folders of photos with a learned image codec.", parents=[common]
    )
    ap.add_argument("--version", action="store_true", help="print the version and the bundled model hashes")

    class _SubcommandParser(_IntermixedParser):
        """A subcommand's parser, with the options every command takes (``common``)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(parents=[common], **kwargs)

    sub = ap.add_subparsers(dest="command", parser_class=_SubcommandParser)

    c = sub.add_parser("compress", help="archive folders and files into one .ltz file")
    c.add_argument("inputs", nargs="+", type=Path)
    c.add_argument("-o", "--output", type=Path, help="archive path (default: NAME.ltz beside the first input)")
    c.add_argument(
        "-q",
        "--checkpoint",
        dest="checkpoint",
        choices=engine.CHECKPOINTS,
        default=None,
        help="A: smallest, B: balanced (default), C: best quality",
    )
    target = c.add_mutually_exclusive_group()
    target.add_argument(
        "--target-size",
        metavar="SIZE",
        type=_size_arg,
        help="choose per image A, B, C or exact storage so that the whole archive fits SIZE "
        "(e.g. 2GB, 850KB, 1.5MiB) with the best quality",
    )
    target.add_argument(
        "--min-quality",
        metavar="MS-SSIM",
        type=_quality_arg,
        help="choose per image the smallest of A, B, C or exact storage that reaches this MS-SSIM (e.g. 0.99)",
    )
    c.add_argument(
        "--colour-limit",
        metavar="GREY",
        type=_colour_limit_arg,
        default=engine.COLOUR_LIMIT,
        help="raise an image's rate until no channel's mean moves more than GREY grey levels "
        f"(default {engine.COLOUR_LIMIT}; 0: no limit)",
    )
    c.add_argument(
        "--entropy",
        choices=("range", "lzma"),
        default="range",
        help="latent coding: learned model + range coder (default) or the paper's LZMA",
    )
    c.add_argument(
        "--images",
        choices=("lossy", "lossless"),
        default="lossy",
        help="lossless keeps every file exactly: JPEGs re-packed with JPEG XL (rebuilt bit for bit), "
        "other files byte-exact",
    )
    c.add_argument("--overwrite", action="store_true", help="replace an existing archive")
    c.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing: print what would happen to each file and the archive's estimated size, with its "
        "range, from a few sampled images (and, with --target-size, whether the target is reachable)",
    )
    c.add_argument(
        "--samples",
        type=int,
        default=SAMPLE_SIZE,
        metavar="N",
        help=f"with --dry-run: images coded to estimate the size (default {SAMPLE_SIZE})",
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue the compression that a killed run left unfinished beside the archive "
        "(same inputs and options): its finished entries are kept",
    )
    c.add_argument(
        "--split-every",
        metavar="SIZE",
        type=_size_arg,
        help="write numbered volumes (NAME.001.ltz, NAME.002.ltz...) of at most SIZE each (e.g. 4GB), every one "
        "a complete archive; extract, test and list take the first and find the rest",
    )
    c.add_argument(
        "--strip-location",
        action="store_true",
        help="remove the GPS position (EXIF GPS, XMP and IPTC location fields) from the stored images; "
        "every other tag is kept",
    )

    a = sub.add_parser("add", help="add new and changed files to an archive (unchanged ones are skipped)")
    a.add_argument("archive", type=Path)
    a.add_argument("inputs", nargs="+", type=Path)
    a.add_argument(
        "--images",
        choices=("lossy", "lossless"),
        default=None,
        help="image mode for the new files (default: the archive's own; lossless unless it holds lossy-coded images)",
    )
    a.add_argument(
        "-q",
        "--checkpoint",
        dest="checkpoint",
        choices=engine.CHECKPOINTS,
        default=None,
        help="checkpoint for new lossy images (default: the archive's own, else B)",
    )
    a.add_argument("--entropy", choices=("range", "lzma"), default=None, help="latent coding for new lossy images")

    x = sub.add_parser("extract", help="restore files from an archive (all its volumes, given one)")
    x.add_argument("archive", type=Path)
    x.add_argument("patterns", nargs="*", help="shell-style patterns on archive paths")
    x.add_argument("-o", "--output", type=Path, default=Path("."), help="target folder (default: here)")
    x.add_argument("--overwrite", action="store_true", help="replace existing files")
    x.add_argument("--keep-going", action="store_true", help="skip damaged entries (and salvage a lost index)")
    x.add_argument("--as-png", action="store_true", help="write lossy images as PNG")

    ls = sub.add_parser("list", help="list the archive's contents")
    ls.add_argument("archive", type=Path, nargs="+", help="an archive, or volumes (one finds the rest)")
    ls.add_argument(
        "--details",
        action="store_true",
        help="also show, per file, which metadata is stored (EXIF, GPS, date taken, ICC, XMP...)",
    )
    t = sub.add_parser("test", help="verify every entry without writing files")
    t.add_argument("archive", type=Path, nargs="+", help="an archive, or volumes (one finds the rest)")
    p = sub.add_parser("preview", help="bpp, MS-SSIM and PSNR of an image at A, B and C")
    p.add_argument("image", type=Path)
    for parser in (c, x):
        parser.add_argument(
            "--cluster",
            metavar="ADDRESS",
            help="code the images on a Ray cluster: 'ray' (RAY_ADDRESS, else the cluster started on this machine "
            "with `ray start`, else a local one) or an address (ray://HEAD:10001); needs "
            '`pip install "latentzip[cluster]"`',
        )
        parser.add_argument(
            "--cluster-workers",
            metavar="N",
            type=int,
            help="with --cluster: Ray workers, each holding the models (default: one per CPU of the cluster)",
        )
    for parser in (c, a, x, t, p):
        parser.add_argument(
            "--precision",
            choices=PRECISIONS,
            default="auto",
            help="network precision: the model's default per checkpoint (auto), float32 or int8 "
            "(the pruned, 8-bit networks); "
            "any precision decodes any archive",
        )
    for parser in (c, a, x, t):
        parser.add_argument(
            "--threads",
            type=_threads_arg,
            default=None,
            metavar="N",
            help="images coded or decoded at once (files, and tiles of a large photo); default: "
            "LATENTZIP_THREADS, else one per core. The archive's bytes do not depend on it",
        )
    return ap


def _print_version(out: TextIO) -> int:
    out.write(f"latentzip {__version__}\n")
    out.write(f"execution: {', '.join(execution_providers())} (ONNX Runtime)\n")
    registry = engine.default_registry()
    hashes = registry.hashes()
    if not hashes:
        out.write("models: none installed\n")
    for h in hashes:
        default = " (default)" if h == registry.default_hash() else ""
        out.write(f"model {h}{default}\n")
    return EXIT_OK


def _cmd_compress(args: argparse.Namespace, sink: TerminalSink, out: TextIO) -> int:
    inputs: list[Path] = args.inputs
    output = args.output or inputs[0].resolve().parent / f"{inputs[0].resolve().name}.ltz"
    targeted = args.target_size is not None or args.min_quality is not None
    if targeted and args.checkpoint is not None:
        raise ValueError("choose a checkpoint (-q) or a target (--target-size, --min-quality), not both")
    if targeted and args.images != "lossy":
        raise ValueError("a size or quality target needs --images lossy")
    checkpoint = args.checkpoint or "B"
    options = engine.CompressOptions(
        checkpoint=checkpoint,
        entropy=args.entropy,
        images=args.images,
        overwrite=args.overwrite,
        resume=args.resume,
        target_size=args.target_size,
        min_quality=args.min_quality,
        colour_limit=args.colour_limit or None,
        strip_location=args.strip_location,
        precision=args.precision,
        threads=args.threads,
        split_every=args.split_every,
    )
    if args.dry_run:
        if output.exists() and not args.overwrite:
            out.write(f"note: {output} exists: compress would refuse it without --overwrite\n")
        return _dry_run(inputs, options, args.samples, out)
    with _on_cluster(args) as cluster:
        encoder = None
        if cluster is not None:
            from .ops.cluster import RayEncoder

            encoder = RayEncoder(cluster, workers=args.cluster_workers)
        try:
            report = engine.compress(inputs, output, options, sink, encoder=encoder)
        finally:
            if encoder is not None:
                encoder.close()
    if not args.quiet:
        if report.volumes:
            out.write(f"volumes: {', '.join(str(v) for v in report.volumes)}\n")
        lossy = [o for o in report.outcomes if o.kind == "lossy"]
        out.write(
            f"{report.archive}: {size_text(report.original_size)} -> {size_text(report.archive_size)} "
            f"(ratio {report.ratio:.1f}), {len(report.outcomes)} entries, {len(lossy)} coded images, "
            f"{report.seconds:.1f} s\n"
        )
        if report.target is not None:
            out.write("".join(line + "\n" for line in target_lines(report.target, lossy)))
        elif report.lossy_pixels:
            mean = sum(o.ms_ssim or 0 for o in lossy) / len(lossy)
            out.write(f"images: checkpoint {checkpoint}, mean MS-SSIM {mean:.4f}\n")
        for line in engine.floor_lines(report.floors):
            out.write(f"floors: {line}\n")
        _write_repack_lines(report, out)
        note = engine.second_generation_note(report.lossy_jpeg_sources)
        if note:
            out.write(f"note: {note}\n")
        if args.strip_location:
            n = report.locations_removed
            out.write(f"location removed from {n} file{'s' if n != 1 else ''}\n")
    return _summarise(report.failed, "could not be archived", sink)


def _dry_run(inputs: list[Path], options: engine.CompressOptions, samples: int, out: TextIO) -> int:
    """``compress --dry-run``: the plan and the estimate; nothing is written."""
    rows = engine.plan_inputs(inputs, options)
    est = engine.estimate_inputs(inputs, options, max_samples=0 if options.images == "lossless" else samples)
    out.write("".join(line + "\n" for line in plan_lines(rows, est, options)))
    out.write("".join(line + "\n" for line in summary_lines(rows, est, options)))
    return EXIT_OK


def _write_repack_lines(report: engine.CompressReport, out: TextIO) -> None:
    repacked = [o for o in report.outcomes if o.kind == "lossless-jpeg"]
    if repacked:
        before, after = sum(o.original_size for o in repacked), sum(o.stored_size for o in repacked)
        out.write(
            f"jpegs: {len(repacked)} re-packed losslessly (JPEG XL, rebuilt bit for bit): "
            f"{size_text(before)} -> {size_text(after)} ({100 * (1 - after / before):.1f} % smaller)\n"
        )
    if report.duplicates:
        out.write(f"duplicates: {report.duplicates} file(s) identical to another, stored once\n")


def _cmd_add(args: argparse.Namespace, sink: TerminalSink, out: TextIO) -> int:
    options = None
    if args.images is not None or args.checkpoint is not None or args.entropy is not None:
        base = engine.infer_options(engine.list_entries(args.archive))
        options = engine.CompressOptions(
            images=args.images or base.images,
            checkpoint=args.checkpoint or base.checkpoint,
            entropy=args.entropy or base.entropy,
            precision=args.precision,
            threads=args.threads,
        )
    report = engine.add(args.archive, args.inputs, options, sink, precision=args.precision, threads=args.threads)
    if not args.quiet:
        out.write(
            f"{report.archive}: added {len(report.added)}, replaced {len(report.replaced)}, "
            f"skipped {len(report.skipped)} unchanged, {len(report.deduplicated)} deduplicated; "
            f"{size_text(report.archive_size_before)} -> {size_text(report.archive_size)}, "
            f"images {report.images}, {report.seconds:.1f} s\n"
        )
        if not report.changed:
            out.write("nothing new: the archive was left as it was\n")
        note = engine.second_generation_note(report.lossy_jpeg_sources)
        if note:
            out.write(f"note: {note}\n")
    return _summarise(report.failed, "could not be added", sink)


def target_lines(result: engine.TargetResult, lossy: list[engine.FileOutcome]) -> list[str]:
    """The summary of a size or quality target: what it chose, and whether it was met."""
    met = "met" if result.met else "NOT met"
    if result.mode == "size":
        lines = [
            f"target: archive size {size_text(result.target)} ({result.target:.0f} bytes): "
            f"{size_text(result.achieved)} ({result.achieved:.0f} bytes, {100 * result.error:+.1f} %), {met}"
        ]
        if not result.feasible:
            lines.append(
                "target: even the smallest choice for every image is estimated over the size; coded at the smallest"
            )
    else:
        lines = [f"target: minimum MS-SSIM {result.target:.4f}: lowest image {result.achieved:.4f}, {met}"]
    chosen = ", ".join(f"{name} {n}" for name, n in result.choices.items())
    scores = [o.ms_ssim for o in lossy if o.ms_ssim is not None]
    figures = f"; coded MS-SSIM mean {sum(scores) / len(scores):.4f}, min {min(scores):.4f}" if scores else ""
    lines.append(f"images: {chosen}{figures}")
    lines.append(f"estimate: {result.estimate_seconds:.1f} s")
    return lines


def _summarise(failed: list[tuple[str, str]], what: str, sink: TerminalSink) -> int:
    if not failed:
        return EXIT_OK
    sink.stream.write(f"{len(failed)} item(s) {what}:\n")
    for name, reason in failed:
        sink.stream.write(f"  {name}: {reason}\n")
    return EXIT_PARTIAL


def _cmd_extract(args: argparse.Namespace, sink: TerminalSink, out: TextIO) -> int:
    options = engine.ExtractOptions(
        patterns=tuple(args.patterns),
        overwrite=args.overwrite,
        keep_going=args.keep_going,
        as_png=args.as_png,
        precision=args.precision,
        threads=args.threads,
    )
    with _on_cluster(args) as cluster:
        decoder = None
        if cluster is not None:
            from .ops.cluster import RayDecoder

            decoder = RayDecoder(cluster, workers=args.cluster_workers, precision=args.precision)
        try:
            report = engine.extract(volumes_of(args.archive), args.output, options, sink, decoder=decoder)
        finally:
            if decoder is not None:
                decoder.close()
    if not args.quiet:
        salvage = f" (index not used: {report.index_problem}; entries found by scanning)" if report.salvaged else ""
        out.write(f"extracted {len(report.written)} entries to {args.output} in {report.seconds:.1f} s{salvage}\n")
    if args.patterns and not report.written and not report.failed:
        sink.stream.write("error: no entry matches the given patterns\n")
        return EXIT_FAIL
    code = _summarise(report.failed, "were damaged or unsafe and skipped", sink)
    if report.failed and not report.written:
        sink.stream.write("error: nothing could be extracted\n")
        return EXIT_FAIL
    return EXIT_PARTIAL if report.salvaged and code == EXIT_OK else code


def _archives(given: list[Path]) -> list[Path]:
    """The archives named, each with the other volumes of its set (in order, once each)."""
    found: list[Path] = []
    for path in given:
        found += [v for v in volumes_of(path) if v not in found]
    return found


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    rows: Iterable[tuple[Any, Any, str]]
    if args.details:
        from .ops.archive_details import entry_details, entry_floor_row

        rows = itertools.chain.from_iterable(entry_details(a) for a in _archives(args.archive))
    else:
        rows = ((r, None, "") for a in _archives(args.archive) for r in engine.list_entries(a))
    floor_rows = []
    for r, summary, problem in rows:
        kind = KIND_NAMES.get(r.kind, str(r.kind))
        line = f"{r.path}\t{kind}\t{r.size}\t{r.payload_len}"
        if r.kind == EntryKind.IMAGE:
            e = r.extra
            line += f"\t{e.get('width')}x{e.get('height')}\t{e.get('checkpoint')}\t{e.get('bpp', 0):.3f} bpp"
            if args.details and isinstance(e.get("level_step"), int):
                raised = ", raised to meet the floor" if e.get("raised") else ""
                line += f"\tlevel {e['level_step'] / LEVEL_STEPS:.2f}{raised}"
        elif r.kind == EntryKind.SYMLINK:
            line += f"\t-> {r.link}"
        elif r.kind == EntryKind.DUPLICATE:
            line += f"\t= {r.same_as}"
        elif r.extra.get("note"):
            line += f"\t({r.extra['note']})"
        if args.details and r.kind not in (EntryKind.DIRECTORY, EntryKind.SYMLINK):
            line += "\t" + (
                summary.describe()
                if summary is not None
                else f"metadata not read: {problem}"
                if problem
                else "no image metadata"
            )
            floor_rows.append(entry_floor_row(r))
        out.write(line + "\n")
    for line in engine.floor_lines(engine.floor_tallies(floor_rows)):
        out.write(f"floors: {line}\n")
    return EXIT_OK


def _cmd_test(args: argparse.Namespace, sink: TerminalSink, out: TextIO) -> int:
    code, archives = EXIT_OK, _archives(args.archive)
    for archive in archives:
        report = engine.test_archive(archive, sink, precision=args.precision, threads=args.threads)
        if report.ok:
            if not args.quiet:
                out.write(f"{archive}: all {report.checked} entries OK\n")
            continue
        for name, reason in report.damaged:
            where = f"{archive.name}: " if len(archives) > 1 else ""
            sink.stream.write(f"damaged: {where}{name}: {reason}\n")
        code = EXIT_FAIL
    return code


@contextmanager
def _on_cluster(args: argparse.Namespace) -> Iterator[Any]:
    """The Ray cluster ``--cluster`` names (None without it), disconnected afterwards; ClusterError when
    Ray is not installed or the cluster cannot be reached."""
    if args.cluster is None:
        if args.cluster_workers is not None:
            raise ValueError("--cluster-workers needs --cluster")
        yield None
        return
    from .ops.cluster import RayCluster

    cluster = RayCluster(args.cluster)
    try:
        yield cluster
    finally:
        cluster.close()


def _cmd_preview(args: argparse.Namespace, out: TextIO) -> int:
    rep = engine.preview_image(args.image, precision=args.precision)
    left, top, w, h = rep.region
    if rep.cropped:
        out.write(f"{args.image}: {rep.full_size[0]}x{rep.full_size[1]}, previewed on the centre {w}x{h} region\n")
    else:
        out.write(f"{args.image}: {w}x{h}\n")
    for name, res in rep.results.items():
        out.write(f"{name}: {res.bpp:.3f} bpp  {res.metric} {res.ms_ssim:.4f}  PSNR {res.psnr:.2f} dB\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.quiet = getattr(args, "quiet", False)
    out, err = sys.stdout, sys.stderr
    sink = TerminalSink(err, args.quiet)
    try:
        if args.version:
            return _print_version(out)
        if args.command == "compress":
            return _cmd_compress(args, sink, out)
        if args.command == "add":
            return _cmd_add(args, sink, out)
        if args.command == "extract":
            return _cmd_extract(args, sink, out)
        if args.command == "list":
            return _cmd_list(args, out)
        if args.command == "test":
            return _cmd_test(args, sink, out)
        if args.command == "preview":
            return _cmd_preview(args, out)
        build_parser().print_help(out)
        return EXIT_OK
    except KeyboardInterrupt:
        err.write("\ninterrupted; nothing was written under the final name\n")
        return EXIT_FAIL
    except CancelledError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAIL
    except LatentzipError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAIL
    except OSError as exc:
        name = exc.filename or ""
        err.write(f"error: {name}{': ' if name else ''}{exc.strerror or exc}\n")
        return EXIT_FAIL
    except ValueError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAIL
    except Exception as exc:  # a bug: still one line, and nothing written under the final name
        err.write(f"error: unexpected failure ({type(exc).__name__}: {exc}); please report it\n")
        return EXIT_FAIL
