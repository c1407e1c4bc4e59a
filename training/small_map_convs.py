#!/usr/bin/env python3
"""Run an RRFNet's convolutions on its smallest feature maps as large matrix products.

    /usr/bin/python3 -m training.small_map_convs --id rrf28

Deep in the trunk each patch's feature map is 5x5 pixels or fewer. ONNX Runtime's CPU engine runs a
convolution as one matrix product per batch item, with as many columns as the map has pixels: on
WebAssembly, rrf28's layers on 5x5 maps ran at about half the speed (multiply-adds a second) of
those on 9x9 maps, and those on 2x2 and 1x1 maps, where most 3x3 taps multiply the zero padding,
at a third or less: over half of the model's time. Two rewrites give the same numbers with well-shaped products:

- **Written out** (maps of at most ``MAX_PIXELS`` pixels). A convolution is linear, so it becomes
  the same linear map written out: the input flattened to one row per batch item, times a matrix
  whose blocks are the kernel's taps (zero where a tap falls on padding), plus the bias. One
  product for the whole batch, with HW/9 as many multiplications on an HxW map. The matrix is
  built inside the graph from the stored kernel (a Gather of its taps), so the file keeps its size;
  ONNX Runtime folds it into a constant when the session starts (at most ``MAX_MATRIX`` floats).
- **Tiled** (stride-1 3x3 convolutions on maps of at most ``TILE_MAX_PIXELS`` pixels and
  ``TILE_MAX_CHANNELS`` channels). The patches of one face (or of its mirror image) are laid out
  side by side on one canvas, one zero pixel between neighbours, and the layers run on the
  canvas: the zero pixels are exactly the padding each patch had, so every patch pixel gets the
  very same sum. After each convolution the gaps are set back to zero (a mask) before the next
  one reads them. The canvas costs half as many multiplications again (7x7 patches of 5x5 on a
  43x43 canvas) but runs as one wide product per face; with more channels the per-patch product
  is wide enough already (rrf56's 5x5 maps of 128 channels: no gain measured).

Patch i's feature still depends on patch i's pixels alone: a written-out row reads its own input
row only, and a tiled patch reads only zero gaps around it (`tests/models/rrf-models.test.ts`
checks that bit for bit, and checks the file against PyTorch's features of the same weights). The
results are the convolutions' up to float32 rounding in the order of the sums (tiling: identical).

``rewrite_file`` serves ``training.export_rrf``; run as a script, this rewrites a shipped file in
place and updates its manifest entry (the LFW figures then need ``patchface eval lfw
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

#: Largest feature map (height x width) whose convolutions are written out as one matrix: up to
#: 3x3 the product has no more multiplications than the convolution.
MAX_PIXELS = 9
#: Largest matrix written out, in floats (6 MB): ONNX Runtime holds each one in memory, and a
#: 3x3 map of 256 channels would need 21 MB for no fewer multiplications.
MAX_MATRIX = 1_500_000
#: ConstantOfShape's fill value: the zero tap
ZERO = numpy_helper.from_array(np.zeros(1, np.float32))
#: Largest map and channel count whose convolutions are tiled (rrf28: 5x5 maps of 64 channels).
TILE_MAX_PIXELS = 25
TILE_MAX_CHANNELS = 64


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return list(a.ints) if a.ints else a.i
    return default


def _plain_conv(node: onnx.NodeProto) -> bool:
    """A convolution both rewrites can take: one group, no dilation, explicit padding."""
    return (
        node.op_type == "Conv"
        and _attr(node, "group", 1) == 1
        and _attr(node, "dilations", [1, 1]) == [1, 1]
        and not any(a.name == "auto_pad" and a.s not in (b"", b"NOTSET") for a in node.attribute)
    )


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


def map_shapes(model: onnx.ModelProto, patch_input_size: int) -> dict:
    """Shape inference over the graph. It resizes each cut-out patch to ``patch_input_size`` pixels
    with a computed size, which shape inference cannot follow; it is told that size and infers the
    rest."""
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
    return {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.input)}


def write_out(model: onnx.ModelProto, patch_input_size: int, max_pixels: int = MAX_PIXELS) -> int:
    """Writes out every plain square convolution on a map of at most ``max_pixels`` pixels as one
    matrix product; returns how many."""
    info = map_shapes(model, patch_input_size)
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
            or not _plain_conv(node)
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


def _is_tiled_conv(node: onnx.NodeProto) -> bool:
    return (
        _plain_conv(node)
        and _attr(node, "kernel_shape", [0, 0]) == [3, 3]
        and _attr(node, "strides", [1, 1]) == [1, 1]
        and _attr(node, "pads", [0, 0, 0, 0]) == [1, 1, 1, 1]
    )


def canvas_grid(patches: int) -> tuple[int, int]:
    """Rows and columns of patches on one canvas: the squarest layout of ``patches``."""
    rows = int(np.sqrt(patches))
    while patches % rows:
        rows -= 1
    return rows, patches // rows


def tile(model: onnx.ModelProto, patch_input_size: int, patches: int) -> int:
    """Runs the stride-1 3x3 convolutions on maps of at most ``TILE_MAX_PIXELS`` pixels and
    ``TILE_MAX_CHANNELS`` channels, with the ReLUs and residual sums between them, on canvases of
    ``patches`` patches each (one per face or mirror image: the batch holds each one's patches in a
    row); returns how many convolutions."""
    info = map_shapes(model, patch_input_size)
    g = model.graph
    names = [n.name for n in g.node]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError("tiling tells nodes apart by name: every node needs its own")

    def channels(name: str) -> int:
        return info[name].type.tensor_type.shape.dim[1].dim_value

    sizes = {
        _spatial(info, n.input[0])
        for n in g.node
        if _is_tiled_conv(n) and _spatial(info, n.input[0]) is not None
    }
    count = 0
    for hw in sorted(
        s for s in sizes if s[0] * s[1] > MAX_PIXELS and s[0] * s[1] <= TILE_MAX_PIXELS
    ):

        def on_map(name: str) -> bool:
            return _spatial(info, name) == hw and channels(name) <= TILE_MAX_CHANNELS

        region = [
            n
            for n in g.node
            if (_is_tiled_conv(n) and on_map(n.input[0]) and on_map(n.output[0]))
            or (n.op_type in ("Relu", "Add") and all(on_map(i) for i in [*n.input, *n.output]))
        ]
        if any(n.op_type == "Conv" for n in region):
            count += _tile_region(g, region, hw, canvas_grid(patches), channels)
    return count


def _tile_region(g, region, hw, grid, channels) -> int:
    (h, w), (rows, cols) = hw, grid
    height, width = rows * (h + 1) + 1, cols * (w + 1) + 1
    prefix = f"/tiled{h}x{w}"
    mask = np.zeros((1, 1, height, width), np.float32)
    for r in range(rows):
        for c in range(cols):
            mask[0, 0, 1 + r * (h + 1) : (r + 1) * (h + 1), 1 + c * (w + 1) : (c + 1) * (w + 1)] = 1
    g.initializer.append(numpy_helper.from_array(mask, f"{prefix}/mask"))

    def const(name: str, value: np.ndarray) -> str:
        g.initializer.append(numpy_helper.from_array(np.array(value, np.int64), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs) -> onnx.NodeProto:
        return helper.make_node(op, inputs, [out], name=out, **attrs)

    in_region = {n.name for n in region}  # exported nodes have unique names
    made_inside = {o for n in region for o in n.output}
    read_outside = {i for n in g.node if n.name not in in_region for i in n.input}
    read_outside |= {o.name for o in g.output}
    nodes: list[onnx.NodeProto] = []
    canvas: dict[str, str] = {}  # map tensor -> its canvas
    clean: set[str] = set()  # canvases whose gaps are zero
    masked: dict[str, str] = {}

    def to_canvas(t: str) -> str:
        if t not in canvas:
            c, b = channels(t), f"{t}/tiled"
            nodes.extend(
                [
                    # [F*P, C, h, w] -> cells of (h+1) x (w+1), zero row and column at the end
                    node(
                        "Pad", [t, const(f"{b}/cell_pads", [0, 0, 0, 0, 0, 0, 1, 1])], f"{b}/cells"
                    ),
                    node(
                        "Reshape",
                        [f"{b}/cells", const(f"{b}/grid_shape", [-1, rows, cols, c, h + 1, w + 1])],
                        f"{b}/grid",
                    ),
                    node("Transpose", [f"{b}/grid"], f"{b}/rows_cols", perm=[0, 3, 1, 4, 2, 5]),
                    node(
                        "Reshape",
                        [
                            f"{b}/rows_cols",
                            const(f"{b}/plane_shape", [-1, c, height - 1, width - 1]),
                        ],
                        f"{b}/plane",
                    ),
                    # and the zero row and column before the first patches
                    node(
                        "Pad", [f"{b}/plane", const(f"{b}/edge_pads", [0, 0, 1, 1, 0, 0, 0, 0])], b
                    ),
                ]
            )
            canvas[t] = b
            clean.add(b)
        return canvas[t]

    def from_canvas(t: str, out: str) -> None:
        c, b = channels(out), f"{out}/untiled"
        nodes.extend(
            [
                node(
                    "Slice",
                    [
                        t,
                        const(f"{b}/start", [1, 1]),
                        const(f"{b}/end", [height, width]),
                        const(f"{b}/axes", [2, 3]),
                    ],
                    f"{b}/plane",
                ),
                node(
                    "Reshape",
                    [f"{b}/plane", const(f"{b}/grid_shape", [-1, c, rows, h + 1, cols, w + 1])],
                    f"{b}/grid",
                ),
                node("Transpose", [f"{b}/grid"], f"{b}/cells_first", perm=[0, 2, 4, 1, 3, 5]),
                node(
                    "Reshape",
                    [f"{b}/cells_first", const(f"{b}/cells_shape", [-1, c, h + 1, w + 1])],
                    f"{b}/cells",
                ),
                node(
                    "Slice",
                    [
                        f"{b}/cells",
                        const(f"{b}/cell_start", [0, 0]),
                        const(f"{b}/cell_end", [h, w]),
                        const(f"{b}/cell_axes", [2, 3]),
                    ],
                    out,
                ),
            ]
        )

    for n in g.node:
        if n.name not in in_region:
            nodes.append(n)
            continue
        inputs = [
            f"{i}/tiled"
            if i in made_inside
            else i
            if (n.op_type == "Conv" and k > 0)
            else to_canvas(i)
            for k, i in enumerate(n.input)
        ]
        if n.op_type == "Conv" and inputs[0] not in clean:
            # the gaps hold what the last convolution computed there: zero them again
            if inputs[0] not in masked:
                masked[inputs[0]] = f"{inputs[0]}/masked"
                nodes.append(node("Mul", [inputs[0], f"{prefix}/mask"], masked[inputs[0]]))
                clean.add(masked[inputs[0]])
            inputs[0] = masked[inputs[0]]
        out = f"{n.output[0]}/tiled"
        tiled = helper.make_node(n.op_type, inputs, [out], name=f"{n.name}/tiled")
        tiled.attribute.extend(n.attribute)
        nodes.append(tiled)
        if n.op_type in ("Relu", "Add") and all(i in clean for i in inputs):
            clean.add(out)
        if n.output[0] in read_outside:
            from_canvas(out, n.output[0])
    del g.node[:]
    g.node.extend(nodes)
    return sum(n.op_type == "Conv" for n in region)


def rewrite_file(path: Path, patch_input_size: int, patches: int) -> dict:
    """Rewrites the ONNX file at ``path`` in place; returns the record its manifest entry keeps."""
    before = mf.file_entry_fields(path)["sha256"]
    model = onnx.load(str(path))
    written_out = write_out(model, patch_input_size)
    tiled = tile(model, patch_input_size, patches)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return {"fromSha256": before, "writtenOut": written_out, "tiled": tiled}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--id", required=True, help="rrf28 or rrf56 (public/models/manifest.json)")
    args = ap.parse_args()
    entry = next((m for m in mf.rrf_entries(mf.read_manifest()) if m["id"] == args.id), None)
    if entry is None:
        raise SystemExit(f"{args.id}: not an RRFNet in {mf.MANIFEST_PATH}")
    if entry.get("smallMapConvolutions"):
        raise SystemExit(f"{args.id}: already rewritten; export the plain file again first")
    path = mf.MODELS_DIR / entry["file"]
    record = rewrite_file(path, entry["patchInputSize"], len(entry["patches"]))
    entry = {
        **entry,
        **mf.file_entry_fields(path),
        "smallMapConvolutions": record,
        "threshold": None,
        "lfw": None,
        "hide": None,
    }
    mf.upsert(entry)
    print(json.dumps({"file": str(path), **record, "bytes": entry["bytes"]}))


if __name__ == "__main__":
    main()
