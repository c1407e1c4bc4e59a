"""Tracing a PyTorch network to ONNX with its uint8 weights kept as uint8 in the file.

Shared by ``training.convert_faceapi`` (face-api's networks) and ``training.export_rrf`` (the RRF
students). Every weight tensor listed in the network's ``qinfo`` (name -> uint8 codes, scale, min)
is stored as its codes and dequantised in the graph by Cast -> Mul(scale) -> Add(min)
(DequantizeLinear cannot express a non-integer zero point). Deterministic: the same network gives
the same bytes.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
#: written into every exported file's ``producer_name``; unchanged since the first export, so that
#: re-exports stay byte-identical to the shipped files
PRODUCER = "patchface/training/convert_faceapi.py"


def export_onnx(
    net: torch.nn.Module,
    dummy: torch.Tensor,
    input_name: str,
    output_names: list[str],
    dynamic_axes: dict,
    path: Path,
    doc: str,
    output_dims: dict | None = None,
) -> None:
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (dummy,),
            buf,
            input_names=[input_name],
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    model = quantize_initializers(model, net.qinfo)
    for out in model.graph.output:  # readable output shapes instead of tracer-generated names
        for d, v in zip(out.type.tensor_type.shape.dim, (output_dims or {}).get(out.name, [])):
            if isinstance(v, int):
                d.ClearField("dim_param")
                d.dim_value = v
            else:
                d.ClearField("dim_value")
                d.dim_param = v
    model.producer_name = PRODUCER
    model.producer_version = "1"
    model.doc_string = doc
    model.graph.name = path.stem
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def quantize_initializers(model: onnx.ModelProto, qinfo: dict) -> onnx.ModelProto:
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    missing = [n for n in qinfo if n not in inits]
    if missing:
        raise RuntimeError(f"quantized weights not found as ONNX initializers: {missing[:5]}")
    new_nodes = []
    keep = []
    for t in g.initializer:
        if t.name not in qinfo:
            keep.append(t)
            continue
        q, scale, mn = qinfo[t.name]
        expected = q.astype(np.float32) * np.float32(scale) + np.float32(mn)
        if not np.array_equal(numpy_helper.to_array(t), expected):
            raise RuntimeError(f"{t.name}: initializer differs from its dequantized uint8 codes")
        n = t.name
        keep += [
            numpy_helper.from_array(q.astype(np.uint8), f"{n}__q"),
            numpy_helper.from_array(np.array(scale, dtype=np.float32), f"{n}__scale"),
            numpy_helper.from_array(np.array(mn, dtype=np.float32), f"{n}__min"),
        ]
        new_nodes += [
            helper.make_node(
                "Cast", [f"{n}__q"], [f"{n}__f"], name=f"{n}__cast", to=TensorProto.FLOAT
            ),
            helper.make_node("Mul", [f"{n}__f", f"{n}__scale"], [f"{n}__s"], name=f"{n}__mul"),
            helper.make_node("Add", [f"{n}__s", f"{n}__min"], [n], name=f"{n}__add"),
        ]
    # graph outputs that are plain constants (SSD anchors) get an Identity node
    init_names = {t.name for t in keep}
    for out in g.output:
        if out.name in init_names:
            src = f"{out.name}__const"
            for t in keep:
                if t.name == out.name:
                    t.name = src
            new_nodes.append(
                helper.make_node("Identity", [src], [out.name], name=f"{out.name}__identity")
            )
    nodes = new_nodes + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(keep)
    # drop unused initializers
    used = {i for node in g.node for i in node.input} | {o.name for o in g.output}
    unused = [t for t in g.initializer if t.name not in used]
    for t in unused:
        g.initializer.remove(t)
    return model
