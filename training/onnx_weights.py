"""Store an ONNX graph's float32 weights as float16 on disk, computing in float32.

Each large float32 initializer ``W`` becomes a float16 initializer ``W.fp16``
and a ``Cast(to=FLOAT)`` node that produces ``W`` again, so every operator
still runs in float32: ONNX Runtime folds the casts into float32 constants
when it loads the session, and the run time is unchanged. The files are half
the size; the weights carry float16's 11-bit mantissa (a relative rounding of
at most 2^-11), which the export test and the Kodak bench measure.

``to_fp32_storage`` turns them back into float32 initializers (the float16
values, widened exactly) for tools that need plain initializers, such as ONNX
Runtime's quantizer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SUFFIX = ".fp16"
MIN_ELEMENTS = 256  # small tensors (biases, GDN betas) stay float32: no gain, and they are sensitive


def to_fp16_storage(model: onnx.ModelProto, min_elements: int = MIN_ELEMENTS) -> onnx.ModelProto:
    """A copy of ``model`` whose float32 initializers of ``min_elements`` or more are stored as float16."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    kept, casts = [], []
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        if init.data_type != TensorProto.FLOAT or values.size < min_elements:
            kept.append(init)
            continue
        half = values.astype(np.float16)
        if not np.all(np.isfinite(half)):
            raise ValueError(f"initializer {init.name} overflows float16")
        kept.append(numpy_helper.from_array(half, init.name + SUFFIX))
        casts.append(
            helper.make_node("Cast", [init.name + SUFFIX], [init.name], to=TensorProto.FLOAT, name=f"cast_{init.name}")
        )
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # casts first: the graph stays topologically sorted
    onnx.checker.check_model(out)
    return out


def to_fp32_storage(model: onnx.ModelProto) -> onnx.ModelProto:
    """Undo ``to_fp16_storage``: float32 initializers again, the cast nodes removed."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    halves = {init.name: init for init in graph.initializer if init.name.endswith(SUFFIX)}
    restored, drop = [], set()
    for node in graph.node:
        if node.op_type == "Cast" and len(node.input) == 1 and node.input[0] in halves:
            restored.append(
                numpy_helper.from_array(numpy_helper.to_array(halves[node.input[0]]).astype(np.float32), node.output[0])
            )
            drop.add(node.name)
    kept = [init for init in graph.initializer if init.name not in halves]
    del graph.initializer[:]
    graph.initializer.extend(kept + restored)
    nodes = [n for n in graph.node if n.name not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(out)
    return out


def stored_fp16(model: onnx.ModelProto) -> bool:
    """Whether ``model`` holds weights in this module's float16 storage."""
    return any(init.name.endswith(SUFFIX) for init in model.graph.initializer)


def save_model(model: onnx.ModelProto, dst: Path) -> None:
    """Write ``model`` to ``dst``: xz-compressed when the name ends in .xz (as ``read_model`` reads it)."""
    import lzma

    from latentzip.codec.runtime.model_set import COMPRESSED_SUFFIX

    if not dst.name.endswith(COMPRESSED_SUFFIX):
        onnx.save(model, str(dst))
        return
    data = lzma.compress(model.SerializeToString(), format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dst)
