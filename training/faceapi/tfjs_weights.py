"""Read face-api's tfjs weight files (``*-weights_manifest.json`` + ``*.bin``) into numpy.

face-api ships its weights uint8-quantized: ``value = q * scale + min`` (tfjs
``quantization`` entry).  We dequantize exactly as tfjs does so that the ONNX
graphs reproduce the package's own outputs.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_DTYPES = {
    "float32": np.float32,
    "int32": np.int32,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "float16": np.float16,
}


def _stored_weights(model_dir: Path, stem: str):
    """Yields ``(manifest entry, stored array, quantization or None)`` in file order; the stored
    array holds the raw codes of quantized weights and the values of the others."""
    manifest = json.loads((model_dir / f"{stem}-weights_manifest.json").read_text())
    for group in manifest:
        blob = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = tuple(w["shape"])
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            dtype = _DTYPES[q["dtype"]] if q else _DTYPES[w["dtype"]]
            raw = np.frombuffer(blob, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
            offset += count * np.dtype(dtype).itemsize
            yield w, raw, q
        if offset != len(blob):
            raise ValueError(f"{stem}: read {offset} bytes of {len(blob)}")


def _float_value(raw: np.ndarray, q) -> np.ndarray:
    if q and "scale" in q:
        # tfjs computes in double precision, then stores float32
        return (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
    return raw.astype(np.float32)  # plain float32, or float16 quantization


def load_tfjs_weights(model_dir: Path, stem: str) -> dict[str, np.ndarray]:
    """Return ``{name: float32 array}`` for ``<stem>-weights_manifest.json`` in ``model_dir``."""
    return {w["name"]: _float_value(raw, q) for w, raw, q in _stored_weights(model_dir, stem)}


class TfjsWeight:
    """One tfjs weight: ``value`` is the float32 array tfjs would build; for uint8/uint16
    quantized weights ``q``/``scale``/``min`` hold the stored integers and the affine map."""

    __slots__ = ("name", "value", "q", "scale", "min")

    def __init__(
        self,
        name: str,
        value: np.ndarray,
        q: np.ndarray | None,
        scale: float | None,
        min_: float | None,
    ):
        self.name = name
        self.value = value
        self.q = q
        self.scale = scale
        self.min = min_


def load_tfjs_weights_quantized(model_dir: Path, stem: str) -> dict[str, TfjsWeight]:
    """Like :func:`load_tfjs_weights` but keeps the raw uint8 codes of quantized weights."""
    out: dict[str, TfjsWeight] = {}
    for w, raw, q in _stored_weights(model_dir, stem):
        name = w["name"]
        if q and "scale" in q:
            out[name] = TfjsWeight(
                name, _float_value(raw, q), raw, float(q["scale"]), float(q["min"])
            )
        else:
            out[name] = TfjsWeight(name, _float_value(raw, q), None, None, None)
    return out


# ---------------------------------------------------------------------------
# Shared building blocks for the PyTorch re-implementations of face-api's nets.
# ---------------------------------------------------------------------------

import torch  # noqa: E402  (kept below the numpy-only reader on purpose)
import torch.nn.functional as F  # noqa: E402

#: quantized tensors with at least this many elements stay uint8 in the ONNX file;
#: smaller ones (biases, batch-norm vectors) are stored as float32.
QUANT_MIN_ELEMENTS = 1024


def _to_torch_layout(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "conv":  # tf [kh, kw, in, out] -> torch [out, in, kh, kw]
        return np.ascontiguousarray(a.transpose(3, 2, 0, 1))
    if layout == "dw":  # tf [kh, kw, in, mult] -> torch [in*mult, 1, kh, kw]
        kh, kw, cin, mult = a.shape
        return np.ascontiguousarray(a.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw))
    if layout == "vec4d":  # [C] -> [1, C, 1, 1] (NCHW broadcast)
        return np.ascontiguousarray(a.reshape(1, -1, 1, 1))
    if layout == "none":
        return np.ascontiguousarray(a)
    raise ValueError(layout)


def dequantize_f32(q: np.ndarray, scale: float, min_: float) -> np.ndarray:
    """What the ONNX graph computes: Cast(q) * float32(scale) + float32(min), in float32."""
    return q.astype(np.float32) * np.float32(scale) + np.float32(min_)


class TfjsNet(torch.nn.Module):
    """Base class: registers tfjs weights as buffers named ``w_<n>`` and remembers which of
    them are uint8-quantized, so the exporter can store those as uint8 in the ONNX file."""

    def __init__(self, weights: dict[str, TfjsWeight]):
        super().__init__()
        self._tfjs = weights
        self.qinfo: dict[str, tuple[np.ndarray, float, float]] = {}
        self._count = 0

    def take(self, tfname: str, layout: str = "none") -> str:
        w = self._tfjs[tfname]
        name = f"w{self._count:03d}_" + "".join(c if c.isalnum() else "_" for c in tfname)
        self._count += 1
        if (
            w.q is not None
            and w.q.dtype == np.uint8
            and w.q.ndim >= 2
            and w.q.size >= QUANT_MIN_ELEMENTS
        ):
            q = _to_torch_layout(w.q, layout)
            value = dequantize_f32(q, w.scale, w.min)
            self.qinfo[name] = (q, w.scale, w.min)
        else:
            value = _to_torch_layout(w.value.astype(np.float32), layout)
        self.register_buffer(name, torch.from_numpy(value.copy()))
        return name

    def b(self, name: str) -> torch.Tensor:
        return getattr(self, name)


def pad_same(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """TensorFlow 'SAME' padding (extra pixel bottom/right) for a static spatial size."""
    h, w = int(x.shape[2]), int(x.shape[3])

    def amount(n: int) -> tuple[int, int]:
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    (pt, pb), (pl, pr) = amount(h), amount(w)
    if pt == pb == pl == pr == 0:
        return x
    return F.pad(x, (pl, pr, pt, pb))


def conv_same(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    bias: torch.Tensor | None = None,
    groups: int = 1,
) -> torch.Tensor:
    """tf.conv2d / tf.depthwiseConv2d with padding 'same'."""
    k = int(w.shape[2])
    if stride == 1 and k % 2 == 1:
        return F.conv2d(x, w, bias, stride=1, padding=k // 2, groups=groups)
    return F.conv2d(pad_same(x, k, stride), w, bias, stride=stride, groups=groups)
