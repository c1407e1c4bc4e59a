"""face-api's FaceRecognitionNet (dlib's ResNet-29 face descriptor) in PyTorch (NCHW).

Mirrors @vladmandic/face-api src/faceRecognitionNet/{FaceRecognitionNet,convLayer,
residualLayer,scaleLayer}.ts.
Input: [N, 3, 150, 150] RGB normalized as (pixel - [122.782, 117.001, 104.298]) / 255.
Output: [N, 128] descriptor (not L2-normalized).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .tfjs_weights import TfjsNet, TfjsWeight

MEAN_RGB = [122.782, 117.001, 104.298]

LAYERS = [
    ("conv32_1", False),
    ("conv32_2", False),
    ("conv32_3", False),
    ("conv64_down", True),
    ("conv64_1", False),
    ("conv64_2", False),
    ("conv64_3", False),
    ("conv128_down", True),
    ("conv128_1", False),
    ("conv128_2", False),
    ("conv256_down", True),
    ("conv256_1", False),
    ("conv256_2", False),
    ("conv256_down_out", True),
]


class FaceRecognitionNet(TfjsNet):
    def __init__(self, weights: dict[str, TfjsWeight]):
        super().__init__(weights)
        self.convs = {"conv32_down": self._conv_params("conv32_down")}
        for name, _ in LAYERS:
            self.convs[f"{name}/conv1"] = self._conv_params(f"{name}/conv1")
            self.convs[f"{name}/conv2"] = self._conv_params(f"{name}/conv2")
        self.fc = self.take("fc")  # [256, 128], no bias

    def _conv_params(self, p: str):
        return (
            self.take(f"{p}/conv/filters", "conv"),
            self.take(f"{p}/conv/bias"),
            self.take(f"{p}/scale/weights", "vec4d"),
            self.take(f"{p}/scale/biases", "vec4d"),
        )

    def _conv(
        self, x: torch.Tensor, key: str, stride: int, relu: bool, valid: bool
    ) -> torch.Tensor:
        w, b, sw, sb = self.convs[key]
        k = int(self.b(w).shape[2])
        out = F.conv2d(x, self.b(w), self.b(b), stride=stride, padding=0 if valid else k // 2)
        out = out * self.b(sw) + self.b(sb)  # scaleLayer
        return torch.relu(out) if relu else out

    def _residual(self, x: torch.Tensor, name: str) -> torch.Tensor:
        out = self._conv(x, f"{name}/conv1", 1, True, False)
        out = self._conv(out, f"{name}/conv2", 1, False, False)
        return torch.relu(out + x)

    def _residual_down(self, x: torch.Tensor, name: str) -> torch.Tensor:
        out = self._conv(x, f"{name}/conv1", 2, True, True)  # convDown: stride 2, 'valid'
        out = self._conv(out, f"{name}/conv2", 1, False, False)
        pooled = F.avg_pool2d(x, 2, 2)
        if int(pooled.shape[2]) != int(out.shape[2]) or int(pooled.shape[3]) != int(out.shape[3]):
            # face-api appends one zero row (bottom) and one zero column (right)
            out = F.pad(out, (0, 1, 0, 1))
        extra = int(out.shape[1]) - int(pooled.shape[1])
        if extra:
            pooled = F.pad(pooled, (0, 0, 0, 0, 0, extra))  # zero channels appended
        return torch.relu(pooled + out)

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        out = self._conv(face, "conv32_down", 2, True, True)  # 7x7 stride 2 'valid'
        out = F.max_pool2d(out, 3, 2)  # 'valid'
        for name, down in LAYERS:
            out = self._residual_down(out, name) if down else self._residual(out, name)
        out = out.mean(dim=(2, 3))
        return torch.matmul(out, self.b(self.fc))


def build(weights: dict[str, TfjsWeight]) -> FaceRecognitionNet:
    return FaceRecognitionNet(weights).eval()
