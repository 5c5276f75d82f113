"""Structured pruning (whole channels) of g_a and g_s, without retraining: an experiment.

    python -m training.prune --set resources/models/<id> --ratio 0.25 --out /tmp/pruned [--int8]

Removes the least important ``ratio`` of the N inner channels at every GDN /
IGDN of the encoder and the decoder (the latent channels M stay: the entropy
tables are per latent channel). A channel's importance is its mean energy
after GDN times the energy of the next convolution's weights on it, on the
calibration crops of ``training/quantize.py``. What a dropped channel
contributed on average is folded back: its mean GDN input energy into the
other channels' beta, and its mean output into the next convolution's bias.

Writes ``encoder.onnx`` and ``decoder.onnx`` (float, and with ``--int8`` their
int8 versions) into ``--out``, for ``bench/int8.py --variant NAME=DIR``.
Nothing here is shipped: without fine-tuning the quality loss is large (see
bench/results/int8.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from latentzip.codec.runtime.model_set import INT8_FILES, ModelSet
from training.quantize import DEFAULTS, calibration_crops, decoder_inputs, encoder_inputs, quantize_to_variant


def _gdn_blocks(graph: onnx.GraphProto) -> list[dict]:
    """Each GDN: its input/output tensors, gamma/beta names, and the convs before and after it."""
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    blocks = []
    for sq in (n for n in graph.node if n.op_type == "Mul" and n.input[0] == n.input[1]):
        x = sq.input[0]
        gdn_conv = consumers[sq.output[0]][0]
        out_mul = next(n for n in consumers[x] if n.op_type == "Mul" and n is not sq)
        prev = producer[x]
        shuffle = 1
        if prev.op_type == "DepthToSpace":
            shuffle = next(a.i for a in prev.attribute if a.name == "blocksize")
            prev = producer[prev.input[0]]
        nxt = consumers[out_mul.output[0]][0]
        blocks.append(
            {
                "x": x,
                "out": out_mul.output[0],
                "gamma": gdn_conv.input[1],
                "beta": gdn_conv.input[2],
                "prev_w": prev.input[1],
                "prev_b": prev.input[2],
                "shuffle": shuffle,
                "next_w": nxt.input[1],
                "next_b": nxt.input[2],
            }
        )
    return blocks


def _stats(model: onnx.ModelProto, tensors: list[str], feeds: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Per-channel mean, mean square of intermediate tensors over the calibration inputs."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in tensors:
        m.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    sums = {t: [0.0, 0.0, 0] for t in tensors}
    for feed in feeds:
        outs = sess.run(tensors, feed)
        for t, a in zip(tensors, outs, strict=False):
            a = a[0].reshape(a.shape[1], -1).astype(np.float64)
            sums[t][0] += a.sum(axis=1)
            sums[t][1] += (a * a).sum(axis=1)
            sums[t][2] += a.shape[1]
    return {t: {"mean": s / n, "sq": q / n} for t, (s, q, n) in sums.items()}


def prune(src: Path, dst: Path, feeds: list[dict], ratio: float) -> list[int]:
    """Prune one transform; returns the channels kept per GDN."""
    model = onnx.load(str(src))
    init = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    blocks = _gdn_blocks(model.graph)
    stats = _stats(model, [t for b in blocks for t in (b["x"], b["out"])], feeds)
    kept = []
    for b in blocks:
        n = init[b["beta"]].shape[0]
        w_next = init[b["next_w"]]
        importance = stats[b["out"]]["sq"] * (w_next.astype(np.float64) ** 2).sum(axis=(0, 2, 3))
        keep = np.sort(np.argsort(importance)[::-1][: n - int(round(ratio * n))])
        drop = np.setdiff1d(np.arange(n), keep)
        gamma, beta = init[b["gamma"]][:, :, 0, 0].astype(np.float64), init[b["beta"]].astype(np.float64)
        beta = beta + gamma[:, drop] @ stats[b["x"]]["sq"][drop]  # the dropped channels' mean energy
        init[b["beta"]] = beta[keep].astype(np.float32)
        init[b["gamma"]] = gamma[np.ix_(keep, keep)][:, :, None, None].astype(np.float32)
        bias_next = init[b["next_b"]].astype(np.float64)
        bias_next += w_next[:, drop].sum(axis=(2, 3)) @ stats[b["out"]]["mean"][drop]
        init[b["next_b"]] = bias_next.astype(np.float32)
        init[b["next_w"]] = w_next[:, keep]
        r2 = b["shuffle"] ** 2
        # DepthToSpace (CRD mode): output channel c comes from conv rows c*r*r ... c*r*r + r*r - 1
        rows = (keep[:, None] * r2 + np.arange(r2)[None]).reshape(-1)
        init[b["prev_w"]] = init[b["prev_w"]][rows]
        init[b["prev_b"]] = init[b["prev_b"]][rows]
        kept.append(len(keep))
    for t in model.graph.initializer:
        t.CopyFrom(numpy_helper.from_array(init[t.name].astype(numpy_helper.to_array(t).dtype), t.name))
    del model.graph.value_info[:]
    onnx.save(model, str(dst))
    return kept


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, required=True)
    ap.add_argument("--ratio", type=float, default=0.25)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--int8", action="store_true", help="also write int8 versions of the pruned transforms")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = ModelSet.load(args.set).at("fp32")
    crops = calibration_crops(count=DEFAULTS["crops"], size=DEFAULTS["crop"], seed=DEFAULTS["seed"])
    images = encoder_inputs(crops)
    latents = decoder_inputs(model, crops)
    enc_kept = prune(args.set / "encoder.onnx", args.out / "encoder.onnx", [{"image": x} for x in images], args.ratio)
    dec_kept = prune(args.set / "decoder.onnx", args.out / "decoder.onnx", [{"y_hat": y} for y in latents], args.ratio)
    print(f"kept channels: encoder {enc_kept}, decoder {dec_kept}")
    if args.int8:
        int8 = args.out / "int8"
        int8.mkdir(exist_ok=True)
        quantize_to_variant(args.out / "encoder.onnx", int8 / INT8_FILES["encoder"], "image", images)
        quantize_to_variant(args.out / "decoder.onnx", int8 / INT8_FILES["decoder"], "y_hat", latents)
        hyper = args.set / INT8_FILES["hyper_encoder"]
        if hyper.is_file():
            (int8 / hyper.name).write_bytes(hyper.read_bytes())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
