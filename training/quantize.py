"""Int8 variants of a model set's transforms: g_a, h_a and g_s.

    python -m training.quantize [--set resources/models/<id>] [--default A=int8 B=int8 C=int8]

Static post-training quantization with ONNX Runtime: QDQ format, int8
weights per output channel (symmetric), uint8 activations per tensor (the
u8s8 pair that ONNX Runtime's x86 kernels run with VNNI / AMX), calibrated
on 48 crops of the training photos (``../shared/data/train`` and ``train2``,
held-out images excluded; never Kodak nor robust/) that span the gamut and
tonal range (``--cover``: saturated, dark, bright and edged crops besides
random ones). Activation ranges are the 99.99th percentile of the calibration
values: clipping the rare outliers costs less than the coarser steps of the
full range (on the held-out images, min-max ranges lost 5x more MS-SSIM). The
decoder is calibrated on the real de-quantized latents ``y_hat`` of those
crops at every checkpoint of the set, the hyper-encoder on the encoder's
latents.

Quantized ops: Conv, the Mul ops of GDN/IGDN and DepthToSpace, so tensors
stay uint8 from layer to layer (only GDN's square root runs in float, between
a DequantizeLinear and a QuantizeLinear). ``--recipe`` names convolutions to
keep in float32 instead, as a "+"-joined list of roles, or ``none``. The
default, ``image+latent+gdn``, leaves in int8 only the large convolutions
between the first and the last (most of the work): GDN's squares double the
dynamic range that one uint8 scale must hold, and quantizing them cost the
most quality on the held-out training images (``bench/int8_screen.py``;
training/README.md has the table), where the settings are chosen:

- ``gdn``: the 1x1 convolutions inside GDN/IGDN (with their Mul ops);
- ``image``: the convolution that touches the pixels (the encoder's first,
  the decoder's last: 3 or 12 channels);
- ``latent``: the convolution that touches the latents (the encoder's last,
  the decoder's first).

Writes ``encoder.int8.onnx.xz``, ``hyper_encoder.int8.onnx.xz`` and
``decoder.int8.onnx.xz`` (xz-compressed ONNX) beside the float files and lists them, with their
sha256, in ``manifest["variants"]["int8"]``; the manifest's ``files`` and
``content_hash`` (what archives name) are left unchanged, so an archive
decodes the same way whichever precision made it: the entropy path is integer
either way, only the float transforms differ. ``--default`` sets
``manifest["variants"]["default_precision"]``, the precision the app uses per
checkpoint when the user leaves it on ``auto`` (unnamed checkpoints: fp32).
Running it again replaces the int8 files and keeps earlier defaults unless
``--default`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import INT8_FILES, PRECISIONS, ModelSet
from training.data import load_rgb, split
from training.onnx_weights import save_model, to_fp32_storage

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "resources" / "models"
TRAIN = REPO.parent / "shared" / "data" / "train"
TRAIN2 = REPO.parent / "shared" / "data" / "train2"
ROLES = ("gdn", "image", "latent")
OPS = ("Conv", "Mul", "DepthToSpace")  # op types that become int8
HYPER_OPS = ("Conv", "Relu")
METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile}
DEFAULTS = {
    "recipe": "image+latent+gdn",
    "method": "percentile",
    "percentile": 99.99,
    "crops": 48,
    "crop": 256,
    "seed": 0,
    "data": (TRAIN, TRAIN2),
    "cover": True,
}


def crop_traits(patch: np.ndarray) -> dict[str, float]:
    """What a calibration crop stresses: saturation, darkness, brightness and edge contrast."""
    rgb = patch.astype(np.float32)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    edges = np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean()
    return {
        "saturated": float(np.percentile(chroma, 95)),
        "dark": -float(luma.mean()),
        "bright": float(luma.mean()),
        "edges": float(edges),
    }


def calibration_crops(
    folder: Path | list[Path] = TRAIN, count: int = 24, size: int = 256, seed: int = 0, cover: bool = False
) -> list[np.ndarray]:
    """``count`` uint8 crops (size x size) from the training split, some flipped.

    With ``cover``, the crops span the gamut and tonal range: of 8 random candidates
    per crop, a fifth each are the most saturated, the darkest, the brightest and the
    most edged (text, line art), the rest drawn at random, so int8 ranges hold on
    saturated light, night scenes and black-on-white edges as well as on average photos.
    """
    folders = [folder] if isinstance(folder, Path) else list(folder)
    if any("kodak" in str(f).lower() or "robust" in str(f).lower() for f in folders):
        raise SystemExit("calibration must not use Kodak or the robustness set (they are evaluation sets)")
    paths, _ = split(folders)
    rng = np.random.default_rng(seed)
    images = [im for im in (load_rgb(p) for p in paths) if min(im.shape[:2]) >= size]
    if not images:
        raise SystemExit(f"no training image in {folders} is at least {size} px on its short side")

    def random_crop() -> np.ndarray:
        im = images[rng.integers(len(images))]
        top = rng.integers(im.shape[0] - size + 1)
        left = rng.integers(im.shape[1] - size + 1)
        patch = im[top : top + size, left : left + size]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        return np.ascontiguousarray(patch)

    if not cover:
        return [random_crop() for _ in range(count)]
    candidates = [random_crop() for _ in range(8 * count)]
    traits = [crop_traits(c) for c in candidates]
    chosen: list[int] = []
    per_trait = count // 5
    for trait in ("saturated", "dark", "bright", "edges"):
        ranked = sorted(range(len(candidates)), key=lambda i: -traits[i][trait])
        chosen += [i for i in ranked if i not in chosen][:per_trait]
    rest = [i for i in range(len(candidates)) if i not in chosen]
    chosen += [int(i) for i in rng.choice(rest, size=count - len(chosen), replace=False)]
    return [candidates[i] for i in chosen]


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, arrays: list[np.ndarray]) -> None:
        self.items = iter([{name: a} for a in arrays])

    def get_next(self) -> dict | None:
        return next(self.items, None)


def encoder_inputs(crops: list[np.ndarray]) -> list[np.ndarray]:
    return [np.ascontiguousarray(c.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0) for c in crops]


def hyper_encoder_inputs(model: ModelSet, images: list[np.ndarray]) -> list[np.ndarray]:
    """The float encoder's latents y of the calibration images."""
    sess = model.session("encoder")
    return [sess.run(None, {"image": x})[0] for x in images]


def decoder_inputs(model: ModelSet, crops: list[np.ndarray]) -> list[np.ndarray]:
    """The de-quantized latents the decoder sees, every crop at every checkpoint (float encoder)."""
    out = []
    for name in sorted(model.checkpoints):
        for crop in crops:
            enc = image_codec.encode_image(model, crop, name)
            y_hat, _, _ = image_codec.decode_latents(model, enc.data)
            out.append(np.ascontiguousarray(y_hat[None], dtype=np.float32))
    return out


def conv_roles(path: Path) -> dict[str, str]:
    """Node name -> role: "gdn" (GDN/IGDN: its 1x1 conv and Mul ops), "image", "latent" or "inner".

    A GDN convolution is recognised by its input, a Mul of a tensor by itself;
    every Mul in these graphs belongs to a GDN. A DepthToSpace takes the role
    of the convolution before it.
    """
    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    roles = {n.name: "gdn" for n in graph.node if n.op_type == "Mul"}
    main = []
    for node in (n for n in graph.node if n.op_type == "Conv"):
        src = producer.get(node.input[0])
        if src is not None and src.op_type == "Mul" and src.input[0] == src.input[1]:
            roles[node.name] = "gdn"
        else:
            main.append(node.name)
    pixels_first = graph.input[0].name == "image"
    for i, name in enumerate(main):
        first, last = i == 0, i == len(main) - 1
        roles[name] = "image" if (first if pixels_first else last) else "latent" if (first or last) else "inner"
    for node in (n for n in graph.node if n.op_type == "DepthToSpace"):
        src = producer.get(node.input[0])
        roles[node.name] = roles.get(src.name, "inner") if src is not None else "inner"
    return roles


def parse_recipe(recipe: str) -> set[str]:
    keep = set() if recipe == "none" else set(recipe.split("+"))
    if not keep <= set(ROLES):
        raise ValueError(f"bad recipe {recipe!r}: 'none' or a '+'-joined subset of {', '.join(ROLES)}")
    return keep


def excluded(roles: dict[str, str], recipe: str) -> list[str]:
    """Names of the nodes to leave in float: those of the recipe's roles."""
    keep = parse_recipe(recipe)
    return [name for name, role in roles.items() if role in keep]


def quantize_to_variant(src: Path, dst: Path, input_name: str, inputs: list[np.ndarray], **options) -> None:
    """``quantize_transform`` into a variant file: xz-compressed when ``dst`` ends in .xz."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "quantized.onnx"
        quantize_transform(src, plain, input_name, inputs, **options)
        save_model(onnx.load(str(plain)), dst)


def quantize_transform(
    src: Path,
    dst: Path,
    input_name: str,
    inputs: list[np.ndarray],
    recipe: str = "image",
    method: str = "percentile",
    ops: tuple[str, ...] = OPS,
    percentile: float = 99.99,
    fmt: str = "qdq",
    reduce_range: bool = False,
) -> None:
    """Static int8 quantization of one transform (float16-stored weights are widened first)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / dst.name
        plain = Path(tmp) / ("fp32-" + src.name)
        onnx.save(to_fp32_storage(onnx.load(str(src))), str(plain))
        quantize_static(
            str(plain),
            str(out),
            _Reader(input_name, inputs),
            quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
            op_types_to_quantize=list(ops),
            per_channel=True,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded(conv_roles(plain), recipe),
            calibrate_method=METHODS[method],
            extra_options={
                "WeightSymmetric": True,
                "ActivationSymmetric": False,
                "CalibPercentile": percentile,
                "CalibTensorRangeSymmetric": False,
            },
        )
        shutil.move(str(out), dst)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refuse_released(folder: Path) -> None:
    """A released bundled set's files never change (archives and golden archives depend on them): SystemExit.

    Copies elsewhere (experiments, tests) may be rewritten.
    """
    bundled = folder.resolve().parent == MODELS.resolve()
    if bundled and json.loads((folder / "manifest.json").read_text()).get("released") is True:
        raise SystemExit(
            f"model set {folder.name} is released: its files never change; export a new set, "
            "or write the variant elsewhere (--out)"
        )


def unlist_variant(folder: Path) -> None:
    """Drop the int8 listing from the manifest (the defaults stay), e.g. before rewriting the files."""
    refuse_released(folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("variants", {}).pop("int8", None) is not None:
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def write_variant(folder: Path, recipe: dict, defaults: dict[str, str] | None) -> dict:
    """List the int8 files in manifest["variants"] (files and content hash untouched)."""
    refuse_released(folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    files = {name: sha256(folder / name) for name in INT8_FILES.values() if (folder / name).is_file()}
    variants = manifest.get("variants", {})
    variants["int8"] = {"files": files, "recipe": recipe}
    old = variants.get("default_precision", {})
    chosen = defaults if defaults is not None else old
    variants["default_precision"] = {name: chosen.get(name, "fp32") for name in sorted(manifest["checkpoints"])}
    manifest["variants"] = variants
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def quantize_set(
    folder: Path,
    recipe: str = "image+latent+gdn",
    method: str = "percentile",
    percentile: float = 99.99,
    crops: int = 48,
    crop: int = 256,
    seed: int = 0,
    data: Path | list[Path] | None = None,
    defaults: dict[str, str] | None = None,
    out: Path | None = None,
    cover: bool = True,
) -> dict:
    """Write the int8 transforms of the set in ``folder`` and list them in its manifest (the defaults are
    ``DEFAULTS``'s, chosen on the held-out training photos; ``data`` None: train/ and train2/).

    With ``out``, the files go there instead and the manifest is left alone
    (for experiments); the recipe is returned.
    """
    if out is None:
        unlist_variant(folder)  # until the new files are written and hashed, none is listed
    model = ModelSet.load(folder).at("fp32")
    target = out or folder
    data = list(DEFAULTS["data"]) if data is None else data
    samples = calibration_crops(data, crops, crop, seed, cover=cover)
    images = encoder_inputs(samples)
    common = {"recipe": recipe, "method": method, "percentile": percentile}
    quantize_to_variant(folder / "encoder.onnx", target / INT8_FILES["encoder"], "image", images, **common)
    quantize_to_variant(
        folder / "hyper_encoder.onnx",
        target / INT8_FILES["hyper_encoder"],
        "y",
        hyper_encoder_inputs(model, images),
        recipe="none",
        method=method,
        ops=HYPER_OPS,
        percentile=percentile,
    )
    quantize_to_variant(
        folder / "decoder.onnx", target / INT8_FILES["decoder"], "y_hat", decoder_inputs(model, samples), **common
    )
    info = {
        "tool": "onnxruntime.quantization.quantize_static (QDQ)",
        "ops": list(OPS),
        "keep_float": recipe,
        "calibration": f"{method} {percentile}" if method == "percentile" else method,
        "weights": "int8 per channel, symmetric",
        "activations": "uint8 per tensor",
        "crops": crops,
        "crop": crop,
        "seed": seed,
        "data": "+".join(f.name for f in ([data] if isinstance(data, Path) else data)),
        "cover": cover,
    }
    if out is not None:
        return info
    return write_variant(folder, info, defaults)


def parse_defaults(items: list[str] | None) -> dict[str, str] | None:
    if items is None:
        return None
    defaults = {}
    for item in items:
        name, _, precision = item.partition("=")
        if precision not in PRECISIONS or precision == "auto":
            raise SystemExit(f"bad default {item!r}: use NAME=fp32 or NAME=int8")
        defaults[name] = precision
    return defaults


def default_set() -> Path:
    pointer = json.loads((MODELS / "default.json").read_text())
    return MODELS / pointer["id"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=None, help="model-set folder (default: the default bundled set)")
    ap.add_argument(
        "--recipe",
        default=DEFAULTS["recipe"],
        help="roles kept in float: none or a '+'-joined subset of " + ", ".join(ROLES),
    )
    ap.add_argument("--method", choices=sorted(METHODS), default=DEFAULTS["method"])
    ap.add_argument("--percentile", type=float, default=DEFAULTS["percentile"])
    ap.add_argument("--crops", type=int, default=DEFAULTS["crops"])
    ap.add_argument("--crop", type=int, default=DEFAULTS["crop"])
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--data", type=Path, nargs="+", default=list(DEFAULTS["data"]))
    ap.add_argument(
        "--cover",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS["cover"],
        help="calibration crops that span the gamut and tonal range (see calibration_crops)",
    )
    ap.add_argument(
        "--default",
        nargs="*",
        default=None,
        metavar="NAME=PRECISION",
        help="the app's precision per checkpoint under 'auto' (unnamed ones: fp32; "
        "without this option the manifest's current defaults stay)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the int8 files into this folder and leave the set alone (bench/int8.py --variant)",
    )
    ap.add_argument(
        "--defaults-only",
        action="store_true",
        help="only set the defaults (--default) of a set that already has its int8 files",
    )
    args = ap.parse_args()
    folder = args.set or default_set()
    if args.defaults_only:
        ModelSet.load(folder)  # the listed int8 files must be there and match
        manifest = json.loads((folder / "manifest.json").read_text())
        recipe = manifest["variants"]["int8"]["recipe"]
        manifest = write_variant(folder, recipe, parse_defaults(args.default or []))
        print("default precision:", manifest["variants"]["default_precision"])
        return 0
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    manifest = quantize_set(
        folder,
        args.recipe,
        args.method,
        args.percentile,
        args.crops,
        args.crop,
        args.seed,
        args.data,
        parse_defaults(args.default),
        out=args.out,
        cover=args.cover,
    )
    if args.out is not None:
        print(manifest)  # the recipe; the set is left alone
        return 0
    for which, name in INT8_FILES.items():
        print(
            f"{folder / name}: {(folder / name).stat().st_size / 1e6:.2f} MB "
            f"(float {(folder / f'{which}.onnx').stat().st_size / 1e6:.2f} MB)"
        )
    print("default precision:", manifest["variants"]["default_precision"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
