"""Export the fine-tuned int8 student (``training/qat.py``) as the model set's int8 variant.

    python -m training.qat --export [--out DIR]

1. The student's g_a and g_s go to float ONNX (``training/export.py``).
2. ONNX Runtime's static quantizer lays out the QDQ graph (Conv, the GDN Mul
   ops and DepthToSpace in int8; the convolutions next to the pixels and the
   latents left in float, ``EXPORT_RECIPE``).
3. ``apply_ranges`` replaces the activation scales and zero points it
   calibrated with the ranges the student was fine-tuned with (calibrated
   the same way, on the same crops), so the file computes what the
   fine-tuning simulated, and requantizes the int32 biases to match (ORT
   fuses its int8 kernels only then).
4. ``weight_only_int8`` stores the float convolutions' weights as int8 too.
5. h_a (the hyper-encoder, not fine-tuned) is quantized after training,
   calibrated on the student's latents.

The files (xz-compressed) replace ``*.int8.onnx.xz`` in the default set and are listed in its
manifest's ``variants`` (files, content hash and tables untouched), or go to
``--out`` for ``bench/int8.py --variant``.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from training.fake_quant import BIAS_MARGIN, INT32_MAX, ActQuant, QuantTransforms
from training.onnx_weights import save_model
from training.qat_core import STUDENT_COMMITTED, calibrate, load_teacher, parse_levels, student_from_state

EXPORT_RECIPE = "image+latent"  # the convolutions that compute in float (from int8-stored weights)


def weight_only_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Store the float convolutions' weights as int8 per output channel, widened by Cast and Mul.

    The convolutions ONNX Runtime's quantizer left in float then cost int8's bytes on disk and still
    compute in float, from weights rounded as the fine-tuning rounded them (symmetric, -127..127).
    Cast and Mul of constants are folded when the session loads (a DequantizeLinear would not be, in
    a QDQ graph), so the float kernels get plain constant weights to pre-pack, as in the float files.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    new_nodes = []
    for node in graph.node:
        if node.op_type != "Conv" or node.input[1] not in inits:
            continue
        init = inits[node.input[1]]
        if init.data_type != TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(init).astype(np.float32)
        scale = np.maximum(np.abs(w.reshape(w.shape[0], -1)).max(axis=1) / 127.0, 1e-12).astype(np.float32)
        q = np.clip(np.round(w / scale[:, None, None, None]), -127, 127).astype(np.int8)
        name = init.name
        graph.initializer.remove(init)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, name + ".int8"),
                numpy_helper.from_array(scale[:, None, None, None], name + ".scale"),
            ]
        )
        new_nodes += [
            helper.make_node("Cast", [name + ".int8"], [name + ".wide"], to=TensorProto.FLOAT, name=name + "_widen"),
            helper.make_node("Mul", [name + ".wide", name + ".scale"], [name], name=name + "_scale"),
        ]
    for n in reversed(new_nodes):
        graph.node.insert(0, n)
    return out


def quantizer_order(run: object, x: torch.Tensor, quantizers: list[ActQuant]) -> list[ActQuant]:
    """The activation quantizers in the order a forward pass reaches them."""
    order: list[ActQuant] = []
    hooks = [q.register_forward_hook(lambda m, a, o: order.append(m) if m not in order else None) for q in quantizers]
    try:
        with torch.no_grad():
            run(x)  # type: ignore[operator]
    finally:
        for h in hooks:
            h.remove()
    return order


def _before_qdq(tensor: str, producer: dict[str, onnx.NodeProto]) -> str:
    """The float tensor a (QuantizeLinear, DequantizeLinear) pair reproduces, or ``tensor`` itself."""
    node = producer.get(tensor)
    while node is not None and node.op_type in ("DequantizeLinear", "QuantizeLinear"):
        tensor = node.input[0]
        node = producer.get(tensor)
    return tensor


def apply_ranges(model: onnx.ModelProto, quantizers: list[ActQuant]) -> onnx.ModelProto:
    """Give the QDQ graph's activation QuantizeLinear nodes the student's ranges, in graph order.

    A DepthToSpace only moves values, so its output keeps the range of its input when that is
    quantized; every other QuantizeLinear takes the next quantizer. The counts must agree.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    quant_of: dict[str, tuple[float, int]] = {}
    pending = iter(quantizers)
    used = 0
    for node in graph.node:
        if node.op_type != "QuantizeLinear":
            continue
        src = producer.get(node.input[0])
        moved = _before_qdq(src.input[0], producer) if src is not None and src.op_type == "DepthToSpace" else None
        if moved in quant_of:
            scale, zero = quant_of[moved]
        else:
            q = next(pending, None)
            if q is None:
                raise ValueError("the graph quantizes more tensors than the student simulates")
            used += 1
            s, z = q.qparams()
            scale, zero = float(s[0]), int(z[0])
        quant_of[node.input[0]] = (scale, zero)
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(np.array(scale, np.float32), node.input[1]))
        inits[node.input[2]].CopyFrom(numpy_helper.from_array(np.array(zero, np.uint8), node.input[2]))
    if used != len(quantizers):
        raise ValueError(f"the graph quantizes {used} tensors, the student simulates {len(quantizers)}")
    _requantize_biases(graph, inits, producer)
    return out


def _requantize_biases(
    graph: onnx.GraphProto, inits: dict[str, onnx.TensorProto], producer: dict[str, onnx.NodeProto]
) -> None:
    """Int32 biases at scale input_scale * weight_scale again, after the input ranges changed.

    ONNX Runtime fuses DequantizeLinear -> Conv -> QuantizeLinear into an int8 QLinearConv only when the
    bias has that scale; otherwise the convolution silently runs in float.
    """
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 3:
            continue
        dqs = [producer.get(name) for name in node.input[:3]]
        if not all(d is not None and d.op_type == "DequantizeLinear" for d in dqs):
            continue
        x_dq, w_dq, b_dq = dqs
        x_scale = float(numpy_helper.to_array(inits[x_dq.input[1]]))
        w_scale = numpy_helper.to_array(inits[w_dq.input[1]]).astype(np.float32)
        b_q = numpy_helper.to_array(inits[b_dq.input[0]]).astype(np.float64)
        b_scale = numpy_helper.to_array(inits[b_dq.input[1]]).astype(np.float64)
        bias = b_q * b_scale
        # where the int32 bias would overflow, widen that channel's weight scale (as fake_quant_weight does)
        floor = (np.abs(bias) / (np.float32(x_scale) * INT32_MAX) * BIAS_MARGIN).astype(np.float32)
        if np.any(floor > w_scale):
            w_q = numpy_helper.to_array(inits[w_dq.input[0]]).astype(np.float64)
            shape = (-1,) + (1,) * (w_q.ndim - 1)
            wider = np.maximum(w_scale, floor)
            w_q = np.clip(np.round(w_q * (w_scale / wider).reshape(shape)), -127, 127).astype(np.int8)
            inits[w_dq.input[0]].CopyFrom(numpy_helper.from_array(w_q, w_dq.input[0]))
            inits[w_dq.input[1]].CopyFrom(numpy_helper.from_array(wider.astype(np.float32), w_dq.input[1]))
            w_scale = wider.astype(np.float32)
        scale = (np.float32(x_scale) * w_scale).astype(np.float32)
        q = np.clip(np.round(bias / scale.astype(np.float64)), -(2**31), 2**31 - 1).astype(np.int32)
        inits[b_dq.input[0]].CopyFrom(numpy_helper.from_array(q, b_dq.input[0]))
        inits[b_dq.input[1]].CopyFrom(numpy_helper.from_array(scale.reshape(b_scale.shape), b_dq.input[1]))


def int8_transform(
    float_path: Path, dst: Path, input_name: str, feeds: list[np.ndarray], quantizers: list[ActQuant]
) -> None:
    """QDQ layout from ONNX Runtime, the student's ranges, int8-stored float weights."""
    from training.quantize import quantize_transform

    with tempfile.TemporaryDirectory() as tmp:
        laid_out = Path(tmp) / "laid-out.onnx"
        quantize_transform(float_path, laid_out, input_name, feeds, recipe=EXPORT_RECIPE, method="minmax")
        save_model(weight_only_int8(apply_ranges(onnx.load(str(laid_out)), quantizers)), dst)


def float_transforms(student: QuantTransforms, M: int, out: Path, weights: str) -> tuple[Path, Path]:
    """The student's g_a and g_s as float ONNX (``encoder.onnx``, ``decoder.onnx``) in ``out``."""
    from training.export import export_onnx
    from training.freeze import freeze_gdn

    enc, dec = out / "encoder.onnx", out / "decoder.onnx"
    export_onnx(freeze_gdn(copy.deepcopy(student.g_a)), 3, (256, 256), enc, "image", "y", weights)
    export_onnx(freeze_gdn(copy.deepcopy(student.g_s)), M, (16, 16), dec, "y_hat", "image", weights)
    return enc, dec


def export_student(
    student: QuantTransforms, M: int, out: Path, images: list[np.ndarray], latents: list[np.ndarray]
) -> tuple[Path, Path]:
    """Write the int8 encoder and decoder of a calibrated student into ``out`` (xz-compressed)."""
    from latentzip.codec.runtime.model_set import INT8_FILES

    enc8, dec8 = out / INT8_FILES["encoder"], out / INT8_FILES["decoder"]
    order_a = quantizer_order(student.encode, torch.from_numpy(images[0]), student.quantizers("a"))
    order_s = quantizer_order(student.decode, torch.from_numpy(latents[0]), student.quantizers("s"))
    with tempfile.TemporaryDirectory() as tmp:
        enc32, dec32 = float_transforms(student, M, Path(tmp), "fp32")
        int8_transform(enc32, enc8, "image", images[:4], order_a)
        int8_transform(dec32, dec8, "y_hat", latents[:4], order_s)
    return enc8, dec8


def export_float(student: QuantTransforms, M: int, out: Path | None) -> int:
    """The student's transforms in float (fp16-stored weights): what pruning and fine-tuning give alone."""
    if out is None:
        raise SystemExit("--float writes a folder for bench/int8.py --variant: give --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    for f in float_transforms(student, M, out, "fp16"):
        print(f"{f}: {f.stat().st_size / 1e6:.2f} MB")
    return 0


def export(args: argparse.Namespace) -> int:
    import onnxruntime as ort

    from latentzip.codec.runtime.model_set import INT8_FILES, ModelSet, read_model
    from training.quantize import (
        HYPER_OPS,
        calibration_crops,
        default_set,
        encoder_inputs,
        quantize_to_variant,
        refuse_released,
        write_variant,
    )

    path = args.checkpoint or (args.run / "last.pt" if (args.run / "last.pt").exists() else STUDENT_COMMITTED)
    state = torch.load(path, map_location="cpu", weights_only=False)
    student = student_from_state(state).eval()
    if args.float:
        return export_float(student, int(state["M"]), args.out)
    teacher = load_teacher(args.teacher)
    levels = parse_levels(args.levels)
    torch.manual_seed(0)
    # the ranges recalibrated on the final weights, as fine-tuning recalibrates them every few hundred steps
    bias_shift = calibrate(student, teacher, levels, args.data)
    folder = default_set()
    if args.out is None:
        refuse_released(folder)
    target = args.out or folder
    target.mkdir(parents=True, exist_ok=True)
    images = encoder_inputs(calibration_crops(args.data, cover=True))
    with torch.no_grad():
        latents = []
        for x in images[:4]:
            y = student.encode(torch.from_numpy(x))
            latents.append(torch.round(y * 2).div(2).numpy())  # any latents do: the layout, not the ranges
    enc8, _ = export_student(student, int(state["M"]), target, images, latents)
    # h_a, quantized after training on the student's int8 latents
    enc = ort.InferenceSession(read_model(enc8), providers=["CPUExecutionProvider"])
    ys = [enc.run(None, {"image": x})[0] for x in images]
    quantize_to_variant(
        folder / "hyper_encoder.onnx",
        target / INT8_FILES["hyper_encoder"],
        "y",
        ys,
        recipe="none",
        method="percentile",
        ops=HYPER_OPS,
    )
    info = {
        "tool": "training/qat.py: quantization-aware fine-tuning; QDQ layout by onnxruntime quantize_static "
        "with the fine-tuned ranges",
        "keep_float": EXPORT_RECIPE + " (their weights stored int8)",
        "student_step": int(state["step"]),
        "widths_a": list(state["widths_a"]),
        "widths_s": list(state["widths_s"]),
        "calibration": "percentile 99.99 (training crops spanning the gamut and tonal range)",
        "weights": "int8 per channel, symmetric",
        "output_bias_correction_grey_levels": bias_shift,
        "activations": "uint8 per tensor",
        "data": "+".join(d.name for d in args.data),
    }
    if args.out is None:
        write_variant(folder, info, None)
        ModelSet.load(folder)  # the listed files are there and match their hashes
    for name in INT8_FILES.values():
        print(f"{target / name}: {(target / name).stat().st_size / 1e6:.2f} MB")
    return 0
