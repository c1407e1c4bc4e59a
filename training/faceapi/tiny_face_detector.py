"""face-api's TinyFaceDetector (tiny-yolov2 with separable convs) in PyTorch (NCHW).

Mirrors @vladmandic/face-api src/tinyYolov2/TinyYolov2Base.ts (runMobilenet with
isFirstLayerConv2d, 7 filter sizes => no conv6/conv7), depthwiseSeparableConv.ts, leaky.ts.
Input: [N, 3, H, W], H and W multiples of 32, RGB normalized as (pixel - MEAN_RGB) / 255.
Output: raw conv8 map [N, 25, H/32, W/32]; channel = anchor * 5 + (x, y, w, h, score).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .tfjs_weights import TfjsNet, TfjsWeight

MEAN_RGB = [117.001, 114.697, 97.404]  # src/tinyFaceDetector/const.ts
BOX_ANCHORS = [  # src/tinyFaceDetector/const.ts, [w, h] in grid cells
    [1.603231, 2.094468],
    [6.041143, 7.080126],
    [2.882459, 3.518061],
    [4.266906, 5.178857],
    [9.041765, 10.66308],
]
IOU_THRESHOLD = 0.4


def leaky(x: torch.Tensor) -> torch.Tensor:
    # face-api: relu(x - 0.1x) + 0.1x, i.e. leaky relu with alpha 0.1
    return F.leaky_relu(x, 0.10000000149011612)


class TinyFaceDetector(TfjsNet):
    def __init__(self, weights: dict[str, TfjsWeight]):
        super().__init__(weights)
        self.conv0 = (self.take("conv0/filters", "conv"), self.take("conv0/bias"))
        self.sep = []
        for i in range(1, 6):
            self.sep.append(
                (
                    self.take(f"conv{i}/depthwise_filter", "dw"),
                    self.take(f"conv{i}/pointwise_filter", "conv"),
                    self.take(f"conv{i}/bias"),
                )
            )
        self.conv8 = (self.take("conv8/filters", "conv"), self.take("conv8/bias"))

    def _sep(self, x: torch.Tensor, i: int) -> torch.Tensor:
        dw, pw, b = self.sep[i]
        out = F.conv2d(x, self.b(dw), padding=1, groups=int(x.shape[1]))  # tf.pad 1 + 'valid'
        out = F.conv2d(out, self.b(pw), self.b(b))
        return leaky(out)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = leaky(F.conv2d(image, self.b(self.conv0[0]), self.b(self.conv0[1])))  # 'valid'
        for i in range(5):
            # tf.maxPool 2x2 stride 2 'same': odd sizes get one extra (ignored) row/col at the end
            out = F.max_pool2d(out, 2, 2, ceil_mode=True)
            out = self._sep(out, i)
        # tf.maxPool 2x2 stride 1 'same': pad one row/col at bottom/right; replicating the edge
        # is exact for a 2x2 max window (the replicated value is already in the window)
        out = F.max_pool2d(F.pad(out, (0, 1, 0, 1), mode="replicate"), 2, 1)
        return F.conv2d(out, self.b(self.conv8[0]), self.b(self.conv8[1]))


def build(weights: dict[str, TfjsWeight]) -> TinyFaceDetector:
    return TinyFaceDetector(weights).eval()
