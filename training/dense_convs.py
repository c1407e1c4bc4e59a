#!/usr/bin/env python3
"""Run an RRFNet's convolutions on its smallest feature maps as one matrix product over the batch.

    /usr/bin/python3 -m training.dense_convs --id rrf28

Deep in the trunk each patch's feature map is 3x3, 2x2 or 1x1 pixels. ONNX Runtime's CPU engine
runs a convolution as one small matrix product per batch item, with as few columns as the map has
pixels, and most of its 3x3 taps multiply the zero padding: on WebAssembly those layers ran at a
fifth of the speed of the wide ones and took over half of rrf28's time. A convolution is linear,
so on a map of at most ``MAX_PIXELS`` pixels it is rewritten here as the same linear map, written
out: the input flattened to one row per batch item, times a matrix whose blocks are the kernel's
taps (zero where a tap falls on padding), plus the bias. That is one well-shaped product for the
whole batch, with fewer multiplications than the convolution (HW/9 as many on an HxW map).

The matrix is built inside the graph from the stored kernel (a Gather of its taps), so the file
keeps its size; ONNX Runtime folds it into a constant when the session starts. Each output row
still reads its own input row only, so patch i's feature still depends on patch i's pixels alone
(`tests/models/rrf-models.test.ts` checks that bit for bit). The result is the convolution's, up
to float32 rounding in the order of the sums.

``densify`` serves ``training.export_rrf``; run as a script, this rewrites a shipped file in place
and updates its manifest entry's file fields (the LFW figures then need ``patchface eval lfw
--write-manifest``, since the file's hash, which the caches key on, changed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from training import manifest as mf

#: Largest feature map (height x width) whose convolutions become one matrix product: up to 3x3
#: the product has no more multiplications than the convolution.
MAX_PIXELS = 9
#: Largest matrix written out, in floats (6 MB): ONNX Runtime holds each one in memory, and a
#: 3x3 map of 256 channels would need 21 MB for no fewer multiplications.
MAX_MATRIX = 1_500_000
ZERO = numpy_helper.from_array(np.zeros(1, np.float32))


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return list(a.ints) if a.ints else a.i
    return default


def tap_indices(
    in_hw: tuple[int, int], out_hw: tuple[int, int], kernel: int, stride: int, pads: list[int]
) -> np.ndarray:
    """For each (input pixel, output pixel) the flat kernel tap joining them, or kernel**2 (a zero
    tap) where none does."""
    (h, w), (oh, ow) = in_hw, out_hw
    taps = np.full((h * w, oh * ow), kernel * kernel, dtype=np.int64)
    for py in range(h):
        for px in range(w):
            for qy in range(oh):
                for qx in range(ow):
                    ky, kx = py - (qy * stride - pads[0]), px - (qx * stride - pads[1])
                    if 0 <= ky < kernel and 0 <= kx < kernel:
                        taps[py * w + px, qy * ow + qx] = ky * kernel + kx
    return taps


def _spatial(value_info: dict, name: str) -> tuple[int, int] | None:
    t = value_info.get(name)
    if t is None:
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2] is None or dims[3] is None:
        return None
    return dims[2], dims[3]


def _weight_shape(info: dict, g: onnx.GraphProto, name: str) -> list[int]:
    for t in g.initializer:
        if t.name == name:
            return list(t.dims)
    return [d.dim_value for d in info[name].type.tensor_type.shape.dim]


def densify(model: onnx.ModelProto, patch_input_size: int, max_pixels: int = MAX_PIXELS) -> int:
    """Rewrites every plain square convolution on a map of at most ``max_pixels`` pixels; returns
    how many. The graph resizes each cut-out patch to ``patch_input_size`` pixels with a computed
    size, which shape inference cannot follow; it is told that size and infers the rest."""
    hint = onnx.ModelProto()
    hint.CopyFrom(model)
    for node in hint.graph.node:
        if node.op_type == "Resize":
            hint.graph.value_info.append(
                helper.make_tensor_value_info(
                    node.output[0],
                    onnx.TensorProto.FLOAT,
                    ["B", 3, patch_input_size, patch_input_size],
                )
            )
    inferred = shape_inference.infer_shapes(hint)
    info = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.input)}
    g = model.graph
    nodes, count = [], 0
    for node in g.node:
        in_hw = _spatial(info, node.input[0]) if node.op_type == "Conv" else None
        out_hw = _spatial(info, node.output[0]) if in_hw else None
        kernel = _attr(node, "kernel_shape", [0, 0])
        stride = _attr(node, "strides", [1, 1])
        if (
            out_hw is None
            or in_hw[0] * in_hw[1] > max_pixels
            or any(a.name == "auto_pad" and a.s not in (b"", b"NOTSET") for a in node.attribute)
            or _attr(node, "group", 1) != 1
            or _attr(node, "dilations", [1, 1]) != [1, 1]
            or kernel[0] != kernel[1]
            or stride[0] != stride[1]
        ):
            nodes.append(node)
            continue
        co, ci = _weight_shape(info, g, node.input[1])[:2]
        if ci * in_hw[0] * in_hw[1] * co * out_hw[0] * out_hw[1] > MAX_MATRIX:
            nodes.append(node)
            continue
        nodes += _dense_nodes(g, node, in_hw, out_hw, kernel[0], stride[0], ci, co)
        count += 1
    del g.node[:]
    g.node.extend(nodes)
    return count


def _dense_nodes(g, conv, in_hw, out_hw, kernel, stride, ci, co) -> list[onnx.NodeProto]:
    """Nodes computing ``conv`` as Reshape -> MatMul -> Add -> Reshape, the matrix built from its
    kernel by constant operations (folded by ONNX Runtime when the session starts)."""
    x, w = conv.input[0], conv.input[1]
    (h, wd), (oh, ow) = in_hw, out_hw
    prefix = f"{conv.name or conv.output[0]}/dense"

    def const(name: str, value: np.ndarray) -> str:
        g.initializer.append(numpy_helper.from_array(value, f"{prefix}/{name}"))
        return f"{prefix}/{name}"

    def node(op: str, inputs: list[str], out: str, **attrs) -> onnx.NodeProto:
        return helper.make_node(op, inputs, [out], name=f"{prefix}/{op}_{len(nodes)}", **attrs)

    def tensor(name: str) -> str:
        return f"{prefix}/{name}"

    taps = tap_indices(in_hw, out_hw, kernel, stride, _attr(conv, "pads", [0, 0, 0, 0]))
    nodes: list[onnx.NodeProto] = []
    steps = [
        # kernel [Co, Ci, k, k] -> taps [Ci, k*k, Co], then one zero tap appended
        ("Transpose", [w], "taps4", {"perm": [1, 2, 3, 0]}),
        (
            "Reshape",
            [tensor("taps4"), const("taps_shape", np.array([ci, kernel * kernel, co]))],
            "taps",
            {},
        ),
        (
            "ConstantOfShape",
            [const("zero_shape", np.array([ci, 1, co]))],
            "zero_tap",
            {"value": ZERO},
        ),
        ("Concat", [tensor("taps"), tensor("zero_tap")], "taps_z", {"axis": 1}),
        # blocks [Ci, HW, OHW, Co] -> [Ci, HW, Co, OHW] -> matrix [Ci*HW, Co*OHW], row c*HW + p
        # and column o*OHW + q: the NCHW order of the flattened input and output
        ("Gather", [tensor("taps_z"), const("tap_index", taps)], "blocks", {"axis": 1}),
        ("Transpose", [tensor("blocks")], "blocks_t", {"perm": [0, 1, 3, 2]}),
        (
            "Reshape",
            [tensor("blocks_t"), const("matrix_shape", np.array([ci * h * wd, co * oh * ow]))],
            "matrix",
            {},
        ),
        ("Reshape", [x, const("rows_shape", np.array([-1, ci * h * wd]))], "rows", {}),
        ("MatMul", [tensor("rows"), tensor("matrix")], "product", {}),
    ]
    if len(conv.input) > 2 and conv.input[2]:
        steps += [
            ("Unsqueeze", [conv.input[2], const("bias_axis", np.array([1]))], "bias2", {}),
            (
                "Expand",
                [tensor("bias2"), const("bias_grid_shape", np.array([co, oh * ow]))],
                "bias_grid",
                {},
            ),
            (
                "Reshape",
                [tensor("bias_grid"), const("bias_shape", np.array([co * oh * ow]))],
                "bias_row",
                {},
            ),
            ("Add", [tensor("product"), tensor("bias_row")], "sum", {}),
        ]
    last = steps[-1][2]
    for op, inputs, out, attrs in steps:
        nodes.append(node(op, inputs, tensor(out), **attrs))
    nodes.append(
        node(
            "Reshape",
            [tensor(last), const("out_shape", np.array([-1, co, oh, ow]))],
            conv.output[0],
        )
    )
    return nodes


def densify_file(path: Path, patch_input_size: int) -> dict:
    """Rewrites the ONNX file at ``path`` in place; returns the record its manifest entry keeps."""
    before = mf.file_entry_fields(path)["sha256"]
    model = onnx.load(str(path))
    count = densify(model, patch_input_size)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return {"fromSha256": before, "convolutions": count, "maxPixels": MAX_PIXELS}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--id", required=True, help="rrf28 or rrf56 (public/models/manifest.json)")
    args = ap.parse_args()
    entry = next((m for m in mf.rrf_entries(mf.read_manifest()) if m["id"] == args.id), None)
    if entry is None:
        raise SystemExit(f"{args.id}: not an RRFNet in {mf.MANIFEST_PATH}")
    path = mf.MODELS_DIR / entry["file"]
    record = densify_file(path, entry["patchInputSize"])
    if record["convolutions"] == 0:
        raise SystemExit(f"{path}: no convolution left to write out as a matrix product")
    entry = {
        **entry,
        **mf.file_entry_fields(path),
        "denseConvolutions": record,
        "threshold": None,
        "lfw": None,
        "hide": None,
    }
    mf.upsert(entry)
    print(json.dumps({"file": str(path), **record, "bytes": entry["bytes"]}))


if __name__ == "__main__":
    main()
