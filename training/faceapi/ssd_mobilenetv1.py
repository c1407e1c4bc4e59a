"""face-api's SSD-MobileNetV1 face detector in PyTorch (NCHW).

Mirrors @vladmandic/face-api src/ssdMobilenetv1/{mobileNetV1,pointwiseConvLayer,
predictionLayer,boxPredictionLayer,outputLayer}.ts.  The graph stops before box decoding:
outputs are the raw box encodings [N, A, 4] (ty, tx, th, tw), the sigmoid face score
[N, A] and the anchors [A, 4] (ymin, xmin, ymax, xmax), A = 5118 for a 512x512 input.
Input: [N, 3, 512, 512] RGB already normalized as (pixel - 127.5) / 127.5.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .tfjs_weights import TfjsNet, TfjsWeight, conv_same

BN_EPSILON = 0.0010000000474974513  # mobileNetV1.ts
DOWNSAMPLE_LAYERS = (2, 4, 6, 12)  # getStridesForLayerIdx


class SsdMobilenetV1(TfjsNet):
    def __init__(self, weights: dict[str, TfjsWeight]):
        super().__init__(weights)
        self.pw = {}
        self.dw = {}
        self.pw[("MobilenetV1", 0)] = self._pointwise("MobilenetV1", 0)
        for i in range(1, 14):
            p = f"MobilenetV1/Conv2d_{i}_depthwise"
            filt = self.take(f"{p}/depthwise_weights", "dw")
            g = weights[f"{p}/BatchNorm/gamma"].value
            beta = weights[f"{p}/BatchNorm/beta"].value
            mean = weights[f"{p}/BatchNorm/moving_mean"].value
            var = weights[f"{p}/BatchNorm/moving_variance"].value
            # tf.batchNorm: (x - mean) * scale / sqrt(var + eps) + offset, folded to x * a + b
            a = g.astype(np.float64) / np.sqrt(var.astype(np.float64) + BN_EPSILON)
            bb = beta.astype(np.float64) - mean.astype(np.float64) * a
            an, bn = f"bn{i:02d}_mul", f"bn{i:02d}_add"
            self.register_buffer(an, torch.from_numpy(a.astype(np.float32).reshape(1, -1, 1, 1)))
            self.register_buffer(bn, torch.from_numpy(bb.astype(np.float32).reshape(1, -1, 1, 1)))
            self.dw[i] = (filt, an, bn)
            self.pw[("MobilenetV1", i)] = self._pointwise("MobilenetV1", i)
        for i in range(8):
            self.pw[("Prediction", i)] = self._pointwise("Prediction", i)
        self.box = []
        for i in range(6):
            p = f"Prediction/BoxPredictor_{i}"
            self.box.append(
                (
                    self.take(f"{p}/BoxEncodingPredictor/weights", "conv"),
                    self.take(f"{p}/BoxEncodingPredictor/biases"),
                    self.take(f"{p}/ClassPredictor/weights", "conv"),
                    self.take(f"{p}/ClassPredictor/biases"),
                )
            )
        anchors = weights["Output/extra_dim"].value.reshape(-1, 4).astype(np.float32)
        self.register_buffer("anchors", torch.from_numpy(anchors.copy()))

    def _pointwise(self, prefix: str, idx: int) -> tuple[str, str]:
        p = f"{prefix}/Conv2d_{idx}_pointwise"
        return self.take(f"{p}/weights", "conv"), self.take(f"{p}/convolution_bn_offset")

    def _pw(self, x: torch.Tensor, key, stride: int) -> torch.Tensor:
        w, b = self.pw[key]
        return torch.clamp(conv_same(x, self.b(w), stride, self.b(b)), 0.0, 6.0)

    def _dw(self, x: torch.Tensor, i: int, stride: int) -> torch.Tensor:
        w, a, b = self.dw[i]
        out = conv_same(x, self.b(w), stride, groups=int(x.shape[1]))
        return torch.clamp(out * self.b(a) + self.b(b), 0.0, 6.0)

    def _box(self, x: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        bw, bb, cw, cb = self.box[i]
        n = x.shape[0]
        enc = F.conv2d(x, self.b(bw), self.b(bb))  # 1x1: 'same' == 'valid'
        cls = F.conv2d(x, self.b(cw), self.b(cb))
        # NHWC flattening order, as tfjs reshape([N, -1, 1, 4]) / ([N, -1, 3])
        enc = enc.permute(0, 2, 3, 1).reshape(n, -1, 4)
        cls = cls.permute(0, 2, 3, 1).reshape(n, -1, 3)
        return enc, cls

    def forward(self, image: torch.Tensor):
        out = self._pw(image, ("MobilenetV1", 0), 2)
        conv11 = None
        for i in range(1, 14):
            out = self._dw(out, i, 2 if i in DOWNSAMPLE_LAYERS else 1)
            out = self._pw(out, ("MobilenetV1", i), 1)
            if i == 11:
                conv11 = out
        c0 = self._pw(out, ("Prediction", 0), 1)
        c1 = self._pw(c0, ("Prediction", 1), 2)
        c2 = self._pw(c1, ("Prediction", 2), 1)
        c3 = self._pw(c2, ("Prediction", 3), 2)
        c4 = self._pw(c3, ("Prediction", 4), 1)
        c5 = self._pw(c4, ("Prediction", 5), 2)
        c6 = self._pw(c5, ("Prediction", 6), 1)
        c7 = self._pw(c6, ("Prediction", 7), 2)
        preds = [self._box(t, i) for i, t in enumerate([conv11, out, c1, c3, c5, c7])]
        box_encodings = torch.cat([p[0] for p in preds], 1)
        classes = torch.cat([p[1] for p in preds], 1)
        scores = torch.sigmoid(classes[:, :, 1])
        return box_encodings, scores, self.anchors


def build(weights: dict[str, TfjsWeight]) -> SsdMobilenetV1:
    return SsdMobilenetV1(weights).eval()
