#!/usr/bin/env python3
"""Convert four @vladmandic/face-api networks to ONNX (public/models/) + manifest entries.

    /usr/bin/python3 training/convert_faceapi.py

Each network is re-implemented in PyTorch (training/faceapi/*.py) on top of the package's own
tfjs weight files, traced to ONNX (opset 13), and then rewritten so that every weight tensor
face-api ships as uint8 stays uint8 in the ONNX file, dequantized in-graph by
Cast -> Mul(scale) -> Add(min) (DequantizeLinear cannot express a non-integer zero point).
Deterministic: re-running produces byte-identical files.  Numerical equivalence with face-api
is checked in Node: scripts/check-faceapi-conversion.ts, tests/faceapi-conversion.test.ts.
"""
from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

import manifest as mf  # noqa: E402
from faceapi import landmark68, recognition, ssd_mobilenetv1, tiny_face_detector  # noqa: E402
from faceapi.tfjs_weights import TfjsNet, load_tfjs_weights_quantized  # noqa: E402

FACEAPI_DIR = ROOT / "node_modules" / "@vladmandic" / "face-api"
WEIGHTS_DIR = FACEAPI_DIR / "model"
PACKAGE = "@vladmandic/face-api@1.7.15"
LICENSE = "MIT (face-api); dlib ResNet weights public domain"
OPSET = 13


def _source(stem: str) -> dict:
    return {"package": PACKAGE, "weights": f"model/{stem}", "license": LICENSE}


def export_onnx(net: TfjsNet, dummy: torch.Tensor, input_name: str, output_names: list[str],
                dynamic_axes: dict, path: Path, doc: str, output_dims: dict | None = None) -> None:
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (dummy,), buf, input_names=[input_name], output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
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
    model.producer_name = "patchface/training/convert_faceapi.py"
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
            helper.make_node("Cast", [f"{n}__q"], [f"{n}__f"], name=f"{n}__cast", to=TensorProto.FLOAT),
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
            new_nodes.append(helper.make_node("Identity", [src], [out.name], name=f"{out.name}__identity"))
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


def convert_ssd() -> dict:
    stem = "ssd_mobilenetv1_model"
    net = ssd_mobilenetv1.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "ssd_mobilenetv1.onnx"
    export_onnx(net, torch.zeros(1, 3, 512, 512), "image", ["boxEncodings", "scores", "anchors"],
                {"image": {0: "N"}, "boxEncodings": {0: "N"}, "scores": {0: "N"}}, path,
                "face-api SsdMobilenetv1: raw box encodings, face scores, anchors",
                {"boxEncodings": ["N", 5118, 4], "scores": ["N", 5118]})
    a = int(net.anchors.shape[0])
    return {
        "id": "ssd", **mf.file_entry_fields(path), "role": "detector", "kind": "ssd",
        "input": {"name": "image", "size": 512, "layout": "NCHW", "rgb": True,
                  "mean": 127.5, "scale": 1 / 127.5},
        "output": {
            "name": "boxEncodings", "dims": ["N", a, 4],
            "tensors": {"boxEncodings": ["N", a, 4], "scores": ["N", a], "anchors": [a, 4]},
            "boxEncoding": ["ty", "tx", "th", "tw"], "anchorLayout": ["ymin", "xmin", "ymax", "xmax"],
            "variances": [10, 10, 5, 5],
        },
        "preprocess": "face-api: padToSquare (image top-left, zero padding bottom/right), "
                      "resizeBilinear to 512 (alignCorners=false, halfPixelCenters=false)",
        "defaults": {"minConfidence": 0.5, "iouThreshold": 0.5, "maxResults": 100},
        "patches": None, "regionWeights": None, "threshold": None, "lfw": None,
        "source": _source(stem),
    }


def convert_tiny() -> dict:
    stem = "tiny_face_detector_model"
    net = tiny_face_detector.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "tiny_face_detector.onnx"
    export_onnx(net, torch.zeros(1, 3, 416, 416), "image", ["grid"],
                {"image": {0: "N", 2: "H", 3: "W"}, "grid": {0: "N", 2: "H/32", 3: "W/32"}}, path,
                "face-api TinyFaceDetector: raw tiny-yolo grid (no sigmoid/exp)")
    na = len(tiny_face_detector.BOX_ANCHORS)
    return {
        "id": "tiny", **mf.file_entry_fields(path), "role": "detector", "kind": "tiny-yolo",
        "input": {"name": "image", "size": [416, 416], "layout": "NCHW", "rgb": True,
                  "mean": tiny_face_detector.MEAN_RGB, "scale": 1 / 255, "multipleOf": 32},
        "output": {"name": "grid", "dims": ["N", na * 5, "H/32", "W/32"],
                   "cell": "channel = anchor * 5 + [tx, ty, tw, th, score]", "stride": 32},
        "anchors": tiny_face_detector.BOX_ANCHORS,
        "preprocess": "face-api: padToSquare (image top-left, zero padding bottom/right), "
                      "resizeBilinear to inputSize (alignCorners=false, halfPixelCenters=false)",
        "defaults": {"inputSize": 416, "scoreThreshold": 0.5, "iouThreshold": tiny_face_detector.IOU_THRESHOLD},
        "patches": None, "regionWeights": None, "threshold": None, "lfw": None,
        "source": _source(stem),
    }


def convert_landmarks() -> dict:
    stem = "face_landmark_68_model"
    net = landmark68.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "landmark68.onnx"
    export_onnx(net, torch.zeros(1, 3, 112, 112), "face", ["landmarks"],
                {"face": {0: "N"}, "landmarks": {0: "N"}}, path,
                "face-api FaceLandmark68Net: raw 68 landmarks, interleaved x,y in 0..1 of the input")
    return {
        "id": "landmarks68", **mf.file_entry_fields(path), "role": "landmarks", "kind": "landmarks68",
        "input": {"name": "face", "size": 112, "layout": "NCHW", "rgb": True,
                  "mean": landmark68.MEAN_RGB, "scale": 1 / 255},
        "output": {"name": "landmarks", "dims": ["N", 136], "layout": "interleaved x,y in 0..1 of the input square"},
        "preprocess": "face-api: crop of the detection box, padToSquare centred (extra pixel of an odd "
                      "difference at bottom/right), resizeBilinear to 112 (halfPixelCenters=false)",
        "patches": None, "regionWeights": None, "threshold": None, "lfw": None,
        "source": _source(stem),
    }


def convert_recognition() -> dict:
    stem = "face_recognition_model"
    net = recognition.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "fullface.onnx"
    export_onnx(net, torch.zeros(1, 3, 150, 150), "face", ["embedding"],
                {"face": {0: "N"}, "embedding": {0: "N"}}, path,
                "face-api FaceRecognitionNet (dlib ResNet-29): 128-d descriptor, not normalized")
    return {
        "id": "fullface", **mf.file_entry_fields(path), "role": "embedder", "kind": "fullface",
        "input": {"name": "face", "size": 150, "layout": "NCHW", "rgb": True,
                  "mean": recognition.MEAN_RGB, "scale": 1 / 255},
        "output": {"name": "embedding", "dims": ["N", 128], "normalized": False},
        "preprocess": "face-api: aligned face chip (extractFaces of the landmark-aligned box), padToSquare "
                      "centred, resizeBilinear to 150 (halfPixelCenters=false)",
        "metric": "euclidean distance of raw descriptors, face-api match threshold 0.6; cosine also works",
        "patches": None, "regionWeights": None, "threshold": None, "lfw": None,
        "source": _source(stem),
    }


def main() -> None:
    torch.manual_seed(0)
    mf.MODELS_DIR.mkdir(parents=True, exist_ok=True)
    for convert in (convert_ssd, convert_tiny, convert_landmarks, convert_recognition):
        entry = convert()
        mf.upsert(entry)
        print(f"{entry['file']}: {entry['bytes']} bytes sha256 {entry['sha256'][:16]}")


if __name__ == "__main__":
    main()
