#!/usr/bin/env python3
"""Rebuild a training checkpoint from a shipped RRFNet ONNX file.

    /usr/bin/python3 -m training.recover_checkpoint --id rrf28 --run ~/.cache/patchface/runs/rrf28-shipped

Run folders and caches live outside the repository, and a new machine starts without them: the
committed files in public/models/ are then the only copy of the trained weights. Each weight
tensor there is stored as uint8 codes with a scale and a minimum per output channel, and the
biases as float32, under the names of the network's own parameters, so the network can be
rebuilt exactly as it ships. The checkpoint written here (RUN/shipped.pt) holds those weights and
the run arguments the manifest entry implies (patch grid, size inside the graph, the cache to
validate on). It serves wherever a checkpoint does: `training.train_rrf --init` (training on from
the shipped model), `training.refit_heads`, `training.fit_constant` and `training.export_rrf
--checkpoint shipped.pt`. It has no optimiser state, so `training.train_rrf` starts a new run from
it rather than resuming one.

The script checks its own work: quantising the rebuilt weights the way `training.export_rrf` does
must give back the shipped uint8 codes, every one of them, so a re-export ships the same network.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from training import manifest as mf
from training.rrf.model import RRFNet
from training.rrf.quantise import PREFIX, quantise_parameter


def shipped_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """The network's float weights as the graph computes them (codes * scale + min, in float32),
    and the uint8 codes of the quantised ones."""
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    weights: dict[str, torch.Tensor] = {}
    codes: dict[str, np.ndarray] = {}
    for name, value in inits.items():
        if not name.startswith(PREFIX):
            continue
        if name.endswith("__q"):
            base = name[: -len("__q")]
            scale, lo = inits[f"{base}__scale"], inits[f"{base}__min"]
            # the graph's Cast, Mul and Add, in float32 as ONNX Runtime computes them
            w = value.astype(np.float32) * scale.astype(np.float32) + lo.astype(np.float32)
            weights[base[len(PREFIX) :]] = torch.from_numpy(w)
            codes[base[len(PREFIX) :]] = value
        elif not name.endswith(("__scale", "__min")):
            weights[name[len(PREFIX) :]] = torch.from_numpy(value.copy())
    return weights, codes


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--id", required=True, help="the model's id in public/models/manifest.json (rrf28, rrf56)"
    )
    ap.add_argument(
        "--run",
        type=Path,
        required=True,
        help="run folder to write shipped.pt into, outside the repo",
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache/patchface/train",
        help="the prepared training faces that validation and training will read",
    )
    args = ap.parse_args()
    entry = next((m for m in mf.rrf_entries(mf.read_manifest()) if m["id"] == args.id), None)
    if entry is None:
        raise SystemExit(f"{args.id}: not an RRFNet in {mf.MANIFEST_PATH}")
    path = mf.MODELS_DIR / entry["file"]
    sha = mf.sha256_file(path)
    if sha != entry["sha256"]:
        raise SystemExit(f"{path}: sha256 {sha} differs from the manifest's {entry['sha256']}")

    weights, codes = shipped_weights(path)
    model = RRFNet.of_manifest_entry(entry)
    model.load_state_dict(weights)  # strict: every parameter is there and nothing else
    if [list(b) for b in model.boxes] != entry["patches"]:
        raise SystemExit(f"{args.id}: the rebuilt grid differs from the manifest's patch boxes")
    for name, p in model.named_parameters():
        if p.ndim >= 2:
            q, _, _ = quantise_parameter(name, p.detach().numpy())
            if not np.array_equal(q, codes[name]):
                raise SystemExit(
                    f"{name}: re-quantising the rebuilt weights does not give the shipped codes"
                )

    params = sum(p.numel() for p in model.parameters())
    targs = {
        "patch": str(entry["patchSize"]),
        "stride": str(entry["stride"]),
        "input_size": str(entry.get("patchInputSize")),
        "batch": "32",
        "cache": str(args.cache),
        "faces": "None",
    }
    run = args.run.expanduser()
    run.mkdir(parents=True, exist_ok=True)
    recovered = {
        "file": str(path.relative_to(mf.ROOT)),
        "sha256": sha,
        "mirror": entry.get("mirror", False),
    }
    state = {
        "model": model.state_dict(),
        "step": 0,
        "args": targs,
        # The shipped lineage's own centring of the teacher targets is not in the file;
        # Validation.of_checkpoint and train_rrf --init take it from the cache instead.
        "teacherMean": None,
        "best": {},
        "validation": None,
        "recoveredFrom": recovered,
    }
    if entry.get("constant") is not None:
        # a constant coordinate (fit_constant) is a weight change later steps must know of: it was
        # chosen for the mirrored descriptor when the file is mirrored
        state["constant"] = {"value": entry["constant"], "mirror": recovered["mirror"]}
    torch.save(state, run / "shipped.pt")
    with (run / "train.log").open("a") as log:
        log.write(
            f"recovered from {recovered['file']} (sha256 {sha}): {params} parameters, "
            f"{model.num_patches} patches\n"
        )
    print(
        json.dumps(
            {
                "checkpoint": str(run / "shipped.pt"),
                **recovered,
                "parameters": params,
                "codesMatch": len(codes),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
