"""face-api's FaceLandmark68Net in PyTorch (NCHW).

Mirrors @vladmandic/face-api src/faceFeatureExtractor/{FaceFeatureExtractor,denseBlock}.ts,
src/common/depthwiseSeparableConv.ts and src/faceProcessor/FaceProcessor.ts (fc layer).
Input: [N, 3, 112, 112] RGB normalized as (pixel - [122.782, 117.001, 104.298]) / 255.
Output: [N, 136] raw landmarks, interleaved x, y, relative to the 112x112 input
(before FaceLandmark68NetBase.postProcess, which only undoes padToSquare).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .tfjs_weights import TfjsNet, TfjsWeight, conv_same

MEAN_RGB = [122.782, 117.001, 104.298]


class FaceLandmark68Net(TfjsNet):
    def __init__(self, weights: dict[str, TfjsWeight]):
        super().__init__(weights)
        self.blocks = []
        for d in range(4):
            convs = []
            for c in range(4):
                p = f"dense{d}/conv{c}"
                if d == 0 and c == 0:
                    convs.append(
                        ("conv", self.take(f"{p}/filters", "conv"), self.take(f"{p}/bias"))
                    )
                else:
                    convs.append(
                        (
                            "sep",
                            self.take(f"{p}/depthwise_filter", "dw"),
                            self.take(f"{p}/pointwise_filter", "conv"),
                            self.take(f"{p}/bias"),
                        )
                    )
            self.blocks.append(convs)
        self.fc_w = self.take("fc/weights")  # [256, 136]
        self.fc_b = self.take("fc/bias")

    def _sep(self, x: torch.Tensor, params, stride: int) -> torch.Tensor:
        # tf.separableConv2d(x, dw, pw, stride, 'same') + bias
        _, dw, pw, b = params
        out = conv_same(x, self.b(dw), stride, groups=int(x.shape[1]))
        return F.conv2d(out, self.b(pw), self.b(b))

    def _dense4(self, x: torch.Tensor, convs, first: bool) -> torch.Tensor:
        if first:
            _, w, b = convs[0]
            out1 = torch.relu(conv_same(x, self.b(w), 2, self.b(b)))
        else:
            out1 = torch.relu(self._sep(x, convs[0], 2))
        out2 = self._sep(out1, convs[1], 1)
        in3 = torch.relu(out1 + out2)
        out3 = self._sep(in3, convs[2], 1)
        in4 = torch.relu(out1 + (out2 + out3))
        out4 = self._sep(in4, convs[3], 1)
        return torch.relu(out1 + (out2 + (out3 + out4)))

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        out = face
        for d in range(4):
            out = self._dense4(out, self.blocks[d], d == 0)
        out = F.avg_pool2d(out, 7, 2)  # tf.avgPool([7, 7], [2, 2], 'valid') on 7x7 -> 1x1
        out = torch.flatten(out, 1)
        return torch.matmul(out, self.b(self.fc_w)) + self.b(self.fc_b)


def build(weights: dict[str, TfjsWeight]) -> FaceLandmark68Net:
    return FaceLandmark68Net(weights).eval()
