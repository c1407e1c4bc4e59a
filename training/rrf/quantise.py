"""uint8 weights for the exported students, per output channel (per patch and output for the heads).

``training.export_rrf`` quantises with these functions and ``training.recover_checkpoint`` checks
a rebuilt checkpoint against them: re-quantising its weights must give back the shipped codes.
"""

from __future__ import annotations

import numpy as np
import torch

from .model import RRFNet

#: ONNX initialiser names are the network's parameter names under Exportable's ``model``
PREFIX = "model."


def quantise(
    w: np.ndarray, axes_kept: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 codes with a (scale, min) pair per slice along ``axes_kept``."""
    reduce = tuple(a for a in range(w.ndim) if a not in axes_kept)
    lo = w.min(axis=reduce, keepdims=True).astype(np.float32)
    hi = w.max(axis=reduce, keepdims=True).astype(np.float32)
    scale = np.maximum((hi - lo) / 255, np.float32(1e-12)).astype(np.float32)
    q = np.clip(np.round((w - lo) / scale), 0, 255).astype(np.uint8)
    return q, scale, lo


def quantise_parameter(name: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RRFNet parameter's codes: per output channel, and per patch and output for the heads."""
    return quantise(w, (0, 2) if name == "heads" else (0,))


class Exportable(torch.nn.Module):
    """The student with quantised weights, plus the map the ONNX rewriter needs (``qinfo``)."""

    def __init__(self, model: RRFNet):
        super().__init__()
        self.model = model
        self.qinfo: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.ndim < 2:
                    continue  # biases stay float32
                w = p.detach().numpy()
                q, scale, lo = quantise_parameter(name, w)
                p.copy_(torch.from_numpy(q.astype(np.float32) * scale + lo))
                self.qinfo[PREFIX + name] = (q, scale, lo)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.model(faces)
