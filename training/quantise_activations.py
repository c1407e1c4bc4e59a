#!/usr/bin/env python3
"""Static int8 inference for a shipped RRFNet ONNX file: the trunk runs on 8-bit integers.

    /usr/bin/python3 -m training.quantise_activations --id rrf28 [--faces 512]

The exported file stores its weights as uint8 codes but computes in float32. This rewrites the
trunk in ONNX's QDQ form: each convolution's weights become int8 codes with one scale per output
channel (symmetric), its bias int32 codes, and every activation the convolutions and residual
additions read is quantised to uint8 with one fixed scale and zero point per tensor. ONNX Runtime's
CPU engines fuse that form into integer kernels (QLinearConv): rrf28 runs 2.7 times faster on
WebAssembly. Its WebGPU engine has no QuantizeLinear kernel and computes the rest in float, so the
shipped files stay float (MODEL_CARD.md, "What was tried").

The scales are fixed numbers, chosen once here from the range each tensor takes on prepared
training faces (the first ``--faces`` of the cache, plain and mirrored, never an LFW image), and
stored in the graph. Nothing is measured at run time, so patch i's feature still depends on
patch i's pixels alone (dynamic quantisation, with scales taken from the whole batch, would
break exactly that). The heads, the mean over space and the constant stay float32.

The file is rewritten in place and its manifest entry gains ``int8`` (what was done, on what);
its threshold, LFW and hidden-region figures are then stale until ``patchface eval lfw --write-manifest`` runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

from training import manifest as mf
from training.recover_checkpoint import shipped_weights
from training.rrf.data import centre_crop, load_cache
from training.rrf.model import RRFNet, flip_faces


#: Candidate clips, as fractions of a tensor's observed range; the one with the least squared
#: quantisation error over the calibration values is kept (a long tail otherwise costs resolution).
CLIPS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2)
#: Values kept per tensor and batch to choose its clip from.
SAMPLES = 40_000


def weight_codes(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 codes (as float) and one symmetric scale per output channel of a conv weight."""
    scale = w.abs().reshape(len(w), -1).amax(1).clamp_min(1e-12) / 127
    return torch.round(w / scale[:, None, None, None]).clamp(-127, 127), scale


def fake_uint8(t: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    scale, zero = uint8_params(lo, hi)
    q = torch.clamp(torch.round(t / float(scale)) + int(zero), 0, 255)
    return (q - int(zero)) * float(scale)


def least_error_range(values: torch.Tensor, lo: float, hi: float) -> list[float]:
    errors = [
        (float(((fake_uint8(values, lo * c, hi * c) - values) ** 2).mean()), c) for c in CLIPS
    ]
    c = min(errors)[1]
    return [lo * c, hi * c]


def trunk_pass(model: RRFNet, faces: torch.Tensor, batch: int, hooks: list) -> None:
    """Runs the trunk over ``faces`` and their mirror images (as the mirrored graph does) for what
    ``hooks`` record, then removes them."""
    with torch.no_grad():
        for s in range(0, len(faces), batch):
            x = faces[s : s + batch]
            model.trunk_features(torch.cat([x, flip_faces(x)]))
    for h in hooks:
        h.remove()


def calibration_ranges(model: RRFNet, faces: torch.Tensor, batch: int) -> dict[str, list[float]]:
    """[lo, hi] of every quantised activation over ``faces`` (normalised) and their mirror images,
    keyed by the ONNX tensor that carries it: the observed range, clipped where that lowers the
    squared quantisation error."""
    observed: dict[str, list[float]] = {}
    samples: dict[str, list[torch.Tensor]] = {}
    gen = torch.Generator().manual_seed(0)

    def seen(key: str, t: torch.Tensor) -> None:
        lo, hi = float(t.min()), float(t.max())
        r = observed.setdefault(key, [lo, hi])
        r[0], r[1] = min(r[0], lo), max(r[1], hi)
        flat = t.detach().flatten()
        samples.setdefault(key, []).append(
            flat[torch.randint(0, len(flat), (SAMPLES,), generator=gen)]
        )

    hooks = [
        model.stem.register_forward_pre_hook(lambda m, i: seen("/model/Resize_output_0", i[0])),
        model.stem.register_forward_hook(lambda m, i, o: seen("/model/stem/Relu_output_0", o)),
    ]
    for k, block in enumerate(model.blocks):
        at = f"/model/blocks.{k}"
        hooks += [
            block.conv1.register_forward_hook(
                lambda m, i, o, at=at: seen(f"{at}/conv1/Relu_output_0", o)
            ),
            block.conv2.register_forward_hook(
                lambda m, i, o, at=at: seen(f"{at}/conv2/conv/Conv_output_0", o)
            ),
            block.register_forward_hook(lambda m, i, o, at=at: seen(f"{at}/Relu_output_0", o)),
        ]
        if block.down:
            hooks.append(
                block.register_forward_pre_hook(
                    lambda m, i, at=at: seen(
                        f"{at}/shortcut", F.avg_pool2d(i[0], 2, 2, ceil_mode=True)
                    )
                )
            )
    trunk_pass(model, faces, batch, hooks)
    ranges = {k: least_error_range(torch.cat(samples[k]), *r) for k, r in observed.items()}
    # Max pooling never leaves the range of what it pools: the same grid serves both.
    ranges["/model/MaxPool_output_0"] = list(ranges["/model/stem/Relu_output_0"])
    return ranges


def bias_corrections(model: RRFNet, faces: torch.Tensor, batch: int) -> dict[str, np.ndarray]:
    """Per conv bias (ONNX name), the mean shift its weight rounding adds to the conv's output over
    ``faces`` and their mirror images; subtracting it keeps each channel's mean where it was."""
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []
    for name, conv in model.named_modules():
        if not isinstance(conv, torch.nn.Conv2d):
            continue
        codes, scale = weight_codes(conv.weight.detach())
        delta = codes * scale[:, None, None, None] - conv.weight.detach()

        def shift(m, i, name=name, delta=delta):
            x = i[0][::8]  # every 8th crop is plenty for a mean
            y = F.conv2d(x, delta, None, m.stride, m.padding)
            sums[name] = sums.get(name, 0) + y.sum((0, 2, 3))
            counts[name] = counts.get(name, 0) + y.shape[0] * y.shape[2] * y.shape[3]

        hooks.append(conv.register_forward_pre_hook(shift))
    trunk_pass(model, faces, batch, hooks)
    return {f"model.{n}.bias": (sums[n] / counts[n]).numpy() for n in sums}


def uint8_params(lo: float, hi: float) -> tuple[np.float32, np.uint8]:
    """Scale and zero point covering [lo, hi] (widened to hold 0, as quantisation requires)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = np.float32(max(hi - lo, 1e-8) / 255)
    return scale, np.uint8(np.clip(np.round(-lo / scale), 0, 255))


class GraphEditor:
    def __init__(self, model: onnx.ModelProto):
        self.graph = model.graph
        self.nodes = list(self.graph.node)
        self.inits = {t.name: t for t in self.graph.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.added: list[onnx.NodeProto] = []

    def value(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.inits[name])

    def constant(self, name: str, array: np.ndarray) -> str:
        self.inits[name] = numpy_helper.from_array(array, name)
        return name

    def float_weight(self, name: str) -> np.ndarray:
        """A weight as the graph computes it: codes * scale + min (Cast, Mul, Add), or as stored."""
        if name in self.inits:
            return self.value(name)
        add = self.producer[name]
        mul = self.producer[add.input[0]]
        codes = self.value(self.producer[mul.input[0]].input[0])
        return codes.astype(np.float32) * self.value(mul.input[1]) + self.value(add.input[1])

    def quantise_tensor(self, tensor: str, scale: np.float32, zero: np.uint8) -> None:
        """tensor -> QuantizeLinear -> DequantizeLinear, read by every consumer in its place."""
        consumers = [n for n in self.nodes if tensor in n.input]
        s = self.constant(f"{tensor}__act_scale", np.array(scale, np.float32))
        z = self.constant(f"{tensor}__act_zero", np.array(zero, np.uint8))
        self.added += [
            helper.make_node("QuantizeLinear", [tensor, s, z], [f"{tensor}__u8"]),
            helper.make_node("DequantizeLinear", [f"{tensor}__u8", s, z], [f"{tensor}__dq"]),
        ]
        for n in consumers:
            for k, name in enumerate(n.input):
                if name == tensor:
                    n.input[k] = f"{tensor}__dq"

    def quantise_conv(
        self, conv: onnx.NodeProto, input_scale: np.float32, bias_shift: np.ndarray
    ) -> None:
        w = self.float_weight(conv.input[1])
        b = self.float_weight(conv.input[2]) - bias_shift
        codes_f, scale_t = weight_codes(torch.from_numpy(w))
        codes, w_scale = codes_f.numpy().astype(np.int8), scale_t.numpy().astype(np.float32)
        b_scale = (input_scale * w_scale).astype(np.float32)
        b_codes = np.round(b / b_scale).astype(np.int32)
        base = conv.input[1]
        ws = self.constant(f"{base}__i8", codes)
        wq = [
            ws,
            self.constant(f"{base}__i8_scale", w_scale),
            self.constant(f"{base}__i8_zero", np.zeros(len(w), np.int8)),
        ]
        bq = [
            self.constant(f"{conv.input[2]}__i32", b_codes),
            self.constant(f"{conv.input[2]}__i32_scale", b_scale),
            self.constant(f"{conv.input[2]}__i32_zero", np.zeros(len(w), np.int32)),
        ]
        self.added += [
            helper.make_node("DequantizeLinear", wq, [f"{base}__deq"], axis=0),
            helper.make_node("DequantizeLinear", bq, [f"{conv.input[2]}__deq"], axis=0),
        ]
        conv.input[1], conv.input[2] = f"{base}__deq", f"{conv.input[2]}__deq"

    def finish(self) -> None:
        """Topological order, then drop what nothing reads any more (the float weights' chains)."""
        nodes = self.nodes + self.added
        outputs = {o.name for o in self.graph.output}
        while True:
            read = {i for n in nodes for i in n.input} | outputs
            kept = [n for n in nodes if any(o in read for o in n.output)]
            if len(kept) == len(nodes):
                break
            nodes = kept
        ready = {i.name for i in self.graph.input} | set(self.inits) | {""}
        ordered: list[onnx.NodeProto] = []
        while nodes:
            rest = [n for n in nodes if not all(i in ready for i in n.input)]
            for n in nodes:
                if n not in rest:
                    ordered.append(n)
                    ready.update(n.output)
            if len(rest) == len(nodes):
                raise ValueError("the rewritten graph has a cycle")
            nodes = rest
        read = {i for n in ordered for i in n.input}
        del self.graph.node[:]
        self.graph.node.extend(ordered)
        del self.graph.initializer[:]
        self.graph.initializer.extend(t for name, t in self.inits.items() if name in read)


def quantise_graph(
    model: onnx.ModelProto, ranges: dict[str, list[float]], bias_shifts: dict[str, np.ndarray]
) -> int:
    """Rewrites ``model`` in place; returns the number of quantised activations."""
    ed = GraphEditor(model)
    # The shortcut of a downsampling block is its pooled (and zero-padded) input.
    for n in ed.nodes:
        block = n.output[0].split("/")[2] if n.output[0].startswith("/model/blocks.") else None
        if block and f"/model/{block}/shortcut" in ranges:
            if n.op_type == "Pad" and n.output[0].endswith("Pad_1_output_0"):
                ranges[n.output[0]] = ranges[f"/model/{block}/shortcut"]
            elif n.op_type == "AveragePool" and not any(
                m.op_type == "Pad" and n.output[0] in m.input for m in ed.nodes
            ):
                ranges[n.output[0]] = ranges[f"/model/{block}/shortcut"]
    acts = {t: uint8_params(*r) for t, r in ranges.items() if not t.endswith("/shortcut")}
    missing = [t for t in acts if t not in ed.producer]
    if missing:
        raise ValueError(f"no such tensors in the graph: {missing}")
    convs = [n for n in ed.nodes if n.op_type == "Conv"]
    for conv in convs:
        if conv.input[0] not in acts:
            raise ValueError(f"{conv.name}: its input {conv.input[0]} was not calibrated")
        ed.quantise_conv(conv, acts[conv.input[0]][0], bias_shifts[conv.input[2]])
    for tensor, (scale, zero) in acts.items():
        ed.quantise_tensor(tensor, scale, zero)
    ed.finish()
    onnx.checker.check_model(model)
    return len(acts)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--id", required=True, help="rrf28 or rrf56 (public/models/manifest.json)")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache/patchface/train",
        help="prepared training faces (patchface prepare-training)",
    )
    ap.add_argument("--faces", type=int, default=512, help="calibration faces, the cache's first")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    entry = next((m for m in mf.rrf_entries(mf.read_manifest()) if m["id"] == args.id), None)
    if entry is None:
        raise SystemExit(f"{args.id}: not an RRFNet in {mf.MANIFEST_PATH}")
    if entry.get("int8"):
        raise SystemExit(f"{args.id}: already int8; export the float file again first")
    if entry.get("smallMapConvolutions"):
        raise SystemExit(
            f"{args.id}: its small-map convolutions are rewritten; quantise a plain export "
            "(training.export_rrf --plain)"
        )
    path = mf.MODELS_DIR / entry["file"]
    net = RRFNet.of_manifest_entry(entry)
    net.load_state_dict(shipped_weights(path)[0])
    net.eval()
    cache = load_cache(args.cache.expanduser(), args.faces)
    faces = centre_crop(cache.faces)
    ranges = calibration_ranges(net, faces, args.batch)
    shifts = bias_corrections(net, faces[: args.faces // 2], args.batch)
    graph = onnx.load(str(path))
    count = quantise_graph(graph, ranges, shifts)
    onnx.save(graph, str(path))
    entry = {
        **entry,
        **mf.file_entry_fields(path),
        "int8": {
            "fromSha256": entry["sha256"],
            "weights": "int8, symmetric, one scale per output channel",
            "activations": f"uint8, {count} tensors, fixed scale and zero point per tensor",
            "calibration": f"the first {args.faces} prepared training faces and their mirror "
            "images: each range clipped to the least squared quantisation error, each conv bias "
            "corrected for the mean shift of its weight rounding",
        },
        "threshold": None,
        "lfw": None,
        "hide": None,
    }
    mf.upsert(entry)
    print(json.dumps({"file": str(path), "activations": count, "bytes": entry["bytes"]}))


if __name__ == "__main__":
    main()
