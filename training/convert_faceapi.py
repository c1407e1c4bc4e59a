#!/usr/bin/env python3
"""Convert four @vladmandic/face-api networks to ONNX (public/models/) + manifest entries.

    /usr/bin/python3 -m training.convert_faceapi

Each network is re-implemented in PyTorch (training/faceapi/*.py) on top of the package's own
tfjs weight files, traced to ONNX (opset 13), and then rewritten so that every weight tensor
face-api ships as uint8 stays uint8 in the ONNX file, dequantized in-graph (training/onnx_export.py).
Deterministic: re-running produces byte-identical files.  Numerical equivalence with face-api
is checked in Node: scripts/check-faceapi-conversion.ts, tests/models/faceapi-conversion.test.ts.
"""
from __future__ import annotations

import torch

from training import manifest as mf
from training.faceapi import landmark68, recognition, ssd_mobilenetv1, tiny_face_detector
from training.faceapi.tfjs_weights import load_tfjs_weights_quantized
from training.onnx_export import export_onnx

FACEAPI_DIR = mf.ROOT / "node_modules" / "@vladmandic" / "face-api"
WEIGHTS_DIR = FACEAPI_DIR / "model"
PACKAGE = "@vladmandic/face-api@1.7.15"
LICENSE = "MIT (face-api); dlib ResNet weights public domain"


def _source(stem: str) -> dict:
    return {"package": PACKAGE, "weights": f"model/{stem}", "license": LICENSE}


def convert_ssd() -> dict:
    stem = "ssd_mobilenetv1_model"
    net = ssd_mobilenetv1.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "ssd_mobilenetv1.onnx"
    export_onnx(
        net,
        torch.zeros(1, 3, 512, 512),
        "image",
        ["boxEncodings", "scores", "anchors"],
        {"image": {0: "N"}, "boxEncodings": {0: "N"}, "scores": {0: "N"}},
        path,
        "face-api SsdMobilenetv1: raw box encodings, face scores, anchors",
        {"boxEncodings": ["N", 5118, 4], "scores": ["N", 5118]},
    )
    a = int(net.anchors.shape[0])
    return {
        "id": "ssd",
        **mf.file_entry_fields(path),
        "role": "detector",
        "kind": "ssd",
        "input": {
            "name": "image",
            "size": 512,
            "layout": "NCHW",
            "rgb": True,
            "mean": 127.5,
            "scale": 1 / 127.5,
        },
        "output": {
            "name": "boxEncodings",
            "dims": ["N", a, 4],
            "tensors": {"boxEncodings": ["N", a, 4], "scores": ["N", a], "anchors": [a, 4]},
            "boxEncoding": ["ty", "tx", "th", "tw"],
            "anchorLayout": ["ymin", "xmin", "ymax", "xmax"],
            "variances": [10, 10, 5, 5],
        },
        "preprocess": "face-api: padToSquare (image top-left, zero padding bottom/right), "
        "resizeBilinear to 512 (alignCorners=false, halfPixelCenters=false)",
        "defaults": {"minConfidence": 0.5, "iouThreshold": 0.5, "maxResults": 100},
        "patches": None,
        "regionWeights": None,
        "threshold": None,
        "lfw": None,
        "source": _source(stem),
    }


def convert_tiny() -> dict:
    stem = "tiny_face_detector_model"
    net = tiny_face_detector.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "tiny_face_detector.onnx"
    export_onnx(
        net,
        torch.zeros(1, 3, 416, 416),
        "image",
        ["grid"],
        {"image": {0: "N", 2: "H", 3: "W"}, "grid": {0: "N", 2: "H/32", 3: "W/32"}},
        path,
        "face-api TinyFaceDetector: raw tiny-yolo grid (no sigmoid/exp)",
    )
    na = len(tiny_face_detector.BOX_ANCHORS)
    return {
        "id": "tiny",
        **mf.file_entry_fields(path),
        "role": "detector",
        "kind": "tiny-yolo",
        "input": {
            "name": "image",
            "size": [416, 416],
            "layout": "NCHW",
            "rgb": True,
            "mean": tiny_face_detector.MEAN_RGB,
            "scale": 1 / 255,
            "multipleOf": 32,
        },
        "output": {
            "name": "grid",
            "dims": ["N", na * 5, "H/32", "W/32"],
            "cell": "channel = anchor * 5 + [tx, ty, tw, th, score]",
            "stride": 32,
        },
        "anchors": tiny_face_detector.BOX_ANCHORS,
        "preprocess": "face-api: padToSquare (image top-left, zero padding bottom/right), "
        "resizeBilinear to inputSize (alignCorners=false, halfPixelCenters=false)",
        "defaults": {
            "inputSize": 416,
            "scoreThreshold": 0.5,
            "iouThreshold": tiny_face_detector.IOU_THRESHOLD,
        },
        "patches": None,
        "regionWeights": None,
        "threshold": None,
        "lfw": None,
        "source": _source(stem),
    }


def convert_landmarks() -> dict:
    stem = "face_landmark_68_model"
    net = landmark68.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "landmark68.onnx"
    export_onnx(
        net,
        torch.zeros(1, 3, 112, 112),
        "face",
        ["landmarks"],
        {"face": {0: "N"}, "landmarks": {0: "N"}},
        path,
        "face-api FaceLandmark68Net: raw 68 landmarks, interleaved x,y in 0..1 of the input",
    )
    return {
        "id": "landmarks68",
        **mf.file_entry_fields(path),
        "role": "landmarks",
        "kind": "landmarks68",
        "input": {
            "name": "face",
            "size": 112,
            "layout": "NCHW",
            "rgb": True,
            "mean": landmark68.MEAN_RGB,
            "scale": 1 / 255,
        },
        "output": {
            "name": "landmarks",
            "dims": ["N", 136],
            "layout": "interleaved x,y in 0..1 of the input square",
        },
        "preprocess": "face-api: crop of the detection box, padToSquare centred (extra pixel of an odd "
        "difference at bottom/right), resizeBilinear to 112 (halfPixelCenters=false)",
        "patches": None,
        "regionWeights": None,
        "threshold": None,
        "lfw": None,
        "source": _source(stem),
    }


def convert_recognition() -> dict:
    stem = "face_recognition_model"
    net = recognition.build(load_tfjs_weights_quantized(WEIGHTS_DIR, stem))
    path = mf.MODELS_DIR / "fullface.onnx"
    export_onnx(
        net,
        torch.zeros(1, 3, 150, 150),
        "face",
        ["embedding"],
        {"face": {0: "N"}, "embedding": {0: "N"}},
        path,
        "face-api FaceRecognitionNet (dlib ResNet-29): 128-d descriptor, not normalized",
    )
    return {
        "id": "fullface",
        **mf.file_entry_fields(path),
        "role": "embedder",
        "kind": "fullface",
        "input": {
            "name": "face",
            "size": 150,
            "layout": "NCHW",
            "rgb": True,
            "mean": recognition.MEAN_RGB,
            "scale": 1 / 255,
        },
        "output": {"name": "embedding", "dims": ["N", 128], "normalized": False},
        "preprocess": "face-api: aligned face chip (extractFaces of the landmark-aligned box), padToSquare "
        "centred, resizeBilinear to 150 (halfPixelCenters=false)",
        "metric": "euclidean distance of raw descriptors, face-api match threshold 0.6; cosine also works",
        "patches": None,
        "regionWeights": None,
        "threshold": None,
        "lfw": None,
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
