"""Full precision against int8 transforms (and any other variant): model bytes, times, bpp, MS-SSIM, PSNR.

    python bench/int8.py [--folder ../shared/data/kodak | --heldout] [--set resources/models/<id>] \
        [--checkpoints ABC] [--mixed] [--dynamic] [--variant NAME=DIR ...] [--threads N]

For each checkpoint, every configuration codes every image of the folder with
the real codec (``image_codec.encode_image`` / ``decode_image``: padding,
tiling, hyper-prior, range coding), images in the outer loop and
configurations in the inner one, so that all rows share the machine's state.
Configurations: ``fp32`` (encoder, hyper_encoder and decoder .onnx),
``int8`` (the .int8.onnx files made by ``training/quantize.py``), with
``--mixed`` int8 encoder side (g_a, h_a) with the fp32 decoder and the
reverse, and each ``--variant NAME=DIR`` (a folder holding an encoder and a
decoder ONNX file, optionally a hyper-encoder: e.g. a pruned set).

Columns: model bytes (every file a build shipping only that precision needs;
"transforms" is g_a, h_a and g_s alone), encode and decode wall time
summed over the folder (and the part spent in g_a / g_s), bpp of the image
bitstreams, mean MS-SSIM and PSNR, and the MS-SSIM change against fp32 at the
same bpp (the change less fp32's local rate-distortion slope times the bpp
change). Writes bench/results/<name>.md and .csv.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
from common import fmt, folder_images, load_rgb, machine_line, warn_if_busy, write_report
from heldout import heldout_images

from latentzip.codec import metrics
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import (
    INT8_FILES,
    ModelRegistry,
    ModelSet,
    models_root,
    read_model,
    session_options,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO.parent / "shared" / "data" / "kodak"
SHARED_FILES = ("hyper_encoder.onnx", "hyper_decoder.npz", "tables.npz", "gains.npz", "manifest.json")


class TimedSession:
    """An ONNX Runtime session (the app's options) that adds the time of every run to a counter."""

    arena: bool | None = None  # None: the app's setting

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        self.path = path
        opts = session_options(threads)
        if self.arena is not None:
            opts.enable_cpu_mem_arena = self.arena
        self.sess = ort.InferenceSession(read_model(path), opts, providers=["CPUExecutionProvider"])
        self.seconds = 0.0

    def run(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self.sess.run(*args, **kwargs)
        self.seconds += time.perf_counter() - t0
        return out


class Config:
    """One (encoder, decoder) pair bound to a model set: a view whose sessions are these files."""

    def __init__(
        self, name: str, model: ModelSet, encoder: Path, decoder: Path, threads: int, hyper_encoder: Path | None = None
    ) -> None:
        self.name, self.encoder, self.decoder = name, encoder, decoder
        self.enc = TimedSession(encoder, threads)
        self.dec = TimedSession(decoder, threads)
        hyper_encoder = hyper_encoder or model.folder / "hyper_encoder.onnx"
        self.model = copy.copy(model)
        hyper = TimedSession(hyper_encoder, threads)
        sessions = {"encoder": self.enc, "decoder": self.dec, "hyper_encoder": hyper}
        # ModelSet is frozen: the view's own attribute shadows its session() method
        object.__setattr__(self.model, "session", lambda which, checkpoint=None, precision=None: sessions[which])
        files = [encoder, decoder, hyper_encoder] + [model.folder / f for f in SHARED_FILES[1:]]
        self.model_bytes = sum(f.stat().st_size for f in files if f.is_file())
        self.transform_bytes = sum(f.stat().st_size for f in (encoder, hyper_encoder, decoder))


def configs_for(model: ModelSet, mixed: bool, variants: list[str], threads: int) -> list[Config]:
    f = model.folder
    e32, h32, d32 = f / "encoder.onnx", f / "hyper_encoder.onnx", f / "decoder.onnx"
    e8, h8, d8 = (f / INT8_FILES[w] for w in ("encoder", "hyper_encoder", "decoder"))
    h8 = h8 if h8.is_file() else h32
    out = [Config("fp32", model, e32, d32, threads, h32)]
    if e8.is_file() and d8.is_file():
        out.append(Config("int8", model, e8, d8, threads, h8))
        if mixed:
            out.append(Config("int8 encoder, fp32 decoder", model, e8, d32, threads, h8))
            out.append(Config("fp32 encoder, int8 decoder", model, e32, d8, threads, h32))
    else:
        print(f"note: {f.name} has no int8 files; run python -m training.quantize first", file=sys.stderr)
    for item in variants:
        name, _, folder = item.partition("=")
        d = Path(folder)
        found = {}
        for which in ("encoder", "hyper_encoder", "decoder"):
            names = (INT8_FILES[which], f"{which}.int8.onnx", f"{which}.onnx")
            found[which] = next((d / n for n in names if (d / n).is_file()), None)
        if found["encoder"] is None or found["decoder"] is None:
            raise SystemExit(f"variant {name}: {d} needs an encoder and a decoder ONNX file")
        out.append(Config(name, model, found["encoder"], found["decoder"], threads, found["hyper_encoder"]))
    return out


def dynamic_variant(model: ModelSet, out: Path) -> str:
    """Dynamic int8 (ConvInteger: weights int8 offline, activations quantized per run) of the float files."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sys.path.append(str(REPO))
    from training.onnx_weights import to_fp32_storage

    out.mkdir(parents=True, exist_ok=True)
    for which in ("encoder", "decoder"):
        plain = out / f"{which}.float.onnx"
        onnx.save(to_fp32_storage(onnx.load(str(model.folder / f"{which}.onnx"))), str(plain))
        quantize_dynamic(
            str(plain),
            str(out / f"{which}.int8.onnx"),
            op_types_to_quantize=["Conv"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
        plain.unlink()
    return f"dynamic int8 (ConvInteger)={out}"


def run(model: ModelSet, images: list[Path], checkpoints: str, configs: list[Config]) -> list[dict]:
    fields = {"bits": 0, "enc": 0.0, "dec": 0.0, "cpu": 0.0, "ga": 0.0, "gs": 0.0}
    acc = {(cp, c.name): {**fields, "ms": [], "psnr": []} for cp in checkpoints for c in configs}
    pixels = 0
    warm = np.zeros((64, 64, 3), np.uint8)
    for c in configs:  # first runs (allocation, kernel choice) are not timed
        image_codec.decode_image(c.model, image_codec.encode_image(c.model, warm, checkpoints[0]).data)
    for path in images:
        rgb = load_rgb(path)
        pixels += rgb.shape[0] * rgb.shape[1]
        for cp in checkpoints:
            for c in configs:
                a = acc[(cp, c.name)]
                ga0, gs0 = c.enc.seconds, c.dec.seconds
                c0, t0 = time.process_time(), time.perf_counter()
                enc = image_codec.encode_image(c.model, rgb, cp)
                t1 = time.perf_counter()
                out = image_codec.decode_image(c.model, enc.data)
                t2, c2 = time.perf_counter(), time.process_time()
                a["bits"] += len(enc.data) * 8
                a["enc"] += t1 - t0
                a["dec"] += t2 - t1
                a["cpu"] += c2 - c0
                a["ga"] += c.enc.seconds - ga0
                a["gs"] += c.dec.seconds - gs0
                a["ms"].append(metrics.ms_ssim(rgb, out))
                a["psnr"].append(metrics.psnr(rgb, out))
        print(f"  {path.name}", flush=True)
    rows = []
    for cp in checkpoints:
        for c in configs:
            a = acc[(cp, c.name)]
            rows.append(
                {
                    "checkpoint": cp,
                    "precision": c.name,
                    "encoder": c.encoder.name,
                    "decoder": c.decoder.name,
                    "model_bytes": c.model_bytes,
                    "transform_bytes": c.transform_bytes,
                    "encode_s": a["enc"],
                    "decode_s": a["dec"],
                    "g_a_s": a["ga"],
                    "g_s_s": a["gs"],
                    "cpu_s": a["cpu"],
                    "bpp": a["bits"] / pixels,
                    "ms_ssim": float(np.mean(a["ms"])),
                    "psnr": float(np.mean(a["psnr"])),
                    "images": len(images),
                }
            )
    add_deltas(rows)
    return rows


def add_deltas(rows: list[dict]) -> None:
    """Speed-up and MS-SSIM change against fp32, also at fp32's bpp (local slope of fp32's curve)."""
    base = {r["checkpoint"]: r for r in rows if r["precision"] == "fp32"}
    curve = sorted(base.values(), key=lambda r: r["bpp"])
    for r in rows:
        b = base[r["checkpoint"]]
        r["speedup"] = (b["encode_s"] + b["decode_s"]) / max(1e-9, r["encode_s"] + r["decode_s"])
        r["d_bpp"] = r["bpp"] - b["bpp"]
        r["d_ms_ssim"] = r["ms_ssim"] - b["ms_ssim"]
        slope = local_slope(curve, b)
        r["d_ms_ssim_same_bpp"] = None if slope is None else r["d_ms_ssim"] - slope * r["d_bpp"]


def local_slope(curve: list[dict], point: dict) -> float | None:
    if len(curve) < 2:
        return None
    i = curve.index(point)
    lo, hi = curve[max(0, i - 1)], curve[min(len(curve) - 1, i + 1)]
    if lo is hi or hi["bpp"] == lo["bpp"]:
        lo, hi = (curve[0], curve[1]) if i == 0 else (curve[-2], curve[-1])
    return (hi["ms_ssim"] - lo["ms_ssim"]) / max(1e-9, hi["bpp"] - lo["bpp"])


MAX_LOSS = 0.002  # issue 7: at most this much MS-SSIM lost at the same bpp


def recommend(rows: list[dict]) -> dict[str, str]:
    """The issue's rule per checkpoint: int8 where smaller, at least as fast, within MAX_LOSS; else fp32."""
    out = {}
    for r in rows:
        if r["precision"] != "int8":
            continue
        base = next(b for b in rows if b["precision"] == "fp32" and b["checkpoint"] == r["checkpoint"])
        loss = r["d_ms_ssim_same_bpp"] if r["d_ms_ssim_same_bpp"] is not None else r["d_ms_ssim"]
        ok = r["model_bytes"] < base["model_bytes"] and r["speedup"] >= 1.0 and loss >= -MAX_LOSS
        out[r["checkpoint"]] = "int8" if ok else "fp32"
    return out


def markdown(
    rows: list[dict], title: str, machine: str, command: str, threads: int, set_id: str, folder: Path | None = None
) -> str:
    lines = [
        f"### {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}; ONNX Runtime with {threads} thread(s)  ",
        f"Model set: {set_id}",
        "",
        "| checkpoint | precision | model files | transforms | encode (s) | g_a (s) | decode (s) | g_s (s) | "
        "speed-up | CPU (s) | bpp | MS-SSIM | PSNR (dB) | ΔMS-SSIM | ΔMS-SSIM at fp32's bpp |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['checkpoint']} | {r['precision']} | {r['model_bytes'] / 1e6:.2f} MB | "
            f"{r['transform_bytes'] / 1e6:.2f} MB | {r['encode_s']:.2f} | {r['g_a_s']:.2f} | {r['decode_s']:.2f} | "
            f"{r['g_s_s']:.2f} | {r['speedup']:.2f}x | {r['cpu_s']:.2f} | {r['bpp']:.4f} | {r['ms_ssim']:.4f} | "
            f"{r['psnr']:.2f} | "
            f"{r['d_ms_ssim']:+.4f} | {fmt(r['d_ms_ssim_same_bpp'], '+.4f')} |"
        )
    lines += [
        "",
        "Model files: everything a build shipping only that precision needs (encoder, decoder, hyper "
        "encoder, integer hyper decoder, tables, gains, manifest); one set serves A, B and C. Times: sums over "
        "the folder, one run, configurations interleaved image by image; g_a / g_s: the part spent in the "
        "analysis / synthesis network; speed-up: fp32's encode plus decode time over this row's; CPU: process "
        "time of encode plus decode (steadier than wall time when other work shares the machine). Targets "
        "(issue 7): at most 3 MB of model files, at least 1.5x faster encode plus decode, at most 0.002 "
        "MS-SSIM lost at the same bpp.",
    ]
    chosen = recommend(rows)
    if chosen:
        args = " ".join(f"{k}={v}" for k, v in sorted(chosen.items()))
        target = f"--set {folder} " if folder else ""
        lines += [
            "",
            f"Default precision by the issue's rule (int8 where smaller, at least as fast, and within "
            f"{MAX_LOSS} MS-SSIM at the same bpp): {args}. To ship it: "
            f"`python -m training.quantize {target}--defaults-only --default {args}`",
        ]
    return "\n".join(lines) + "\n"


def kernels(path: Path) -> dict[str, int]:
    """Operator counts of the graph ONNX Runtime actually runs (after its fusions) for one model file."""
    import collections
    import tempfile

    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = session_options(1)
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(read_model(path), opts, providers=["CPUExecutionProvider"])
        ops = collections.Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)
    return dict(ops.most_common())


def kernel_table(configs: list[Config]) -> str:
    """Which operators run in int8 (QLinear*, uint8 DepthToSpace) and which stay float, per file."""
    lines = [
        "",
        "Operators ONNX Runtime runs (its optimized graph; QLinearConv / QLinearMul are int8 kernels, "
        "Conv runs in float, Reorder* / Transpose are layout changes):",
        "",
        "| file | operators |",
        "|---|---|",
    ]
    seen = set()
    for c in configs:
        for path in (c.encoder, c.decoder):
            if path in seen:
                continue
            seen.add(path)
            ops = ", ".join(f"{k} {v}" for k, v in kernels(path).items())
            lines.append(f"| {path.parent.name}/{path.name} | {ops} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--heldout", action="store_true", help="the held-out training images instead of the folder")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (development)")
    ap.add_argument("--set", type=Path, default=None, help="model-set folder (default: the default bundled set)")
    ap.add_argument("--checkpoints", default="ABC")
    ap.add_argument("--mixed", action="store_true", help="also int8 encoder + fp32 decoder and the reverse")
    ap.add_argument("--variant", nargs="*", default=[], metavar="NAME=DIR", help="more encoder/decoder pairs")
    ap.add_argument(
        "--dynamic",
        action="store_true",
        help="also dynamic int8 of the float transforms (ConvInteger), written to build/int8-variants/",
    )
    ap.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="ONNX Runtime threads (default: all, as the app)"
    )
    ap.add_argument(
        "--arena",
        choices=("app", "on", "off"),
        default="app",
        help="ONNX Runtime's CPU memory arena: as the app sets it (default), or forced on / off",
    )
    ap.add_argument("--name", default=None, help="result file name (default: int8 on Kodak, else int8-<folder>)")
    args = ap.parse_args()

    machine = machine_line()
    if args.arena != "app":
        TimedSession.arena = args.arena == "on"
    warn_if_busy(machine)
    model = ModelSet.load(args.set).at("fp32") if args.set else ModelRegistry([models_root()]).get(precision="fp32")
    images = heldout_images() if args.heldout else folder_images(args.folder)
    if args.limit:
        images = images[: args.limit]
    variants = list(args.variant)
    if args.dynamic:
        variants.append(dynamic_variant(model, REPO / "build" / "int8-variants" / "dynamic"))
    configs = configs_for(model, args.mixed, variants, args.threads)
    rows = run(model, images, args.checkpoints, configs)
    folder_name = "heldout" if args.heldout else args.folder.name
    name = args.name or ("int8" if folder_name == "kodak" and not args.limit else f"int8-{folder_name}")
    command = "python bench/int8.py " + " ".join(sys.argv[1:])
    arena = "" if args.arena == "app" else f", memory arena {args.arena}"
    md = markdown(
        rows,
        f"fp32 against int8 on {folder_name} ({len(images)} images{arena})",
        machine,
        command.strip(),
        args.threads,
        model.id,
        args.set,
    )
    write_report(name, md + kernel_table(configs), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
