#!/usr/bin/env python3
"""Rebuild a training checkpoint from a shipped RRFNet ONNX file.

    /usr/bin/python3 training/recover_checkpoint.py --id rrf28 --run ~/.cache/patchface/runs/rrf28-shipped

Run folders and caches live outside the repository, and a new machine starts without them: the
committed files in public/models/ are then the only copy of the trained weights. Each weight
tensor there is stored as uint8 codes with a scale and a minimum per output channel, and the
biases as float32, under the names of the network's own parameters, so the network can be
rebuilt exactly as it ships. The checkpoint written here (RUN/shipped.pt) holds those weights and
the run arguments the manifest entry records. It serves wherever a checkpoint does:
`train_rrf.py --init` (fine-tuning from the shipped model), `fit_projection.py`, `fit_gap.py`
and `export_rrf.py --checkpoint shipped.pt`. It has no optimiser state, so `train_rrf.py` starts a
new run from it rather than resuming one.

The script checks its own work: quantising the rebuilt weights the way `export_rrf.py` does must
give back the shipped uint8 codes, every one of them, so a re-export ships the same network.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manifest as mf  # noqa: E402
from export_rrf import PREFIX, quantise_parameter  # noqa: E402
from rrf.model import RRFNet  # noqa: E402


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
            weights[base[len(PREFIX):]] = torch.from_numpy(w)
            codes[base[len(PREFIX):]] = value
        elif not name.endswith(("__scale", "__min")):
            weights[name[len(PREFIX):]] = torch.from_numpy(value.copy())
    return weights, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--id", required=True, help="the model's id in public/models/manifest.json (rrf28, rrf56)")
    ap.add_argument("--run", type=Path, required=True, help="run folder to write shipped.pt into, outside the repo")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train",
                    help="the prepared training faces that validation and training will read")
    ap.add_argument("--candidate", action="store_true",
                    help="rebuild the candidate in training/candidates/ (export_rrf.py --candidate), not the shipped file")
    args = ap.parse_args()
    folder, manifest_path = mf.models_dir(args.candidate)
    entry = next((m for m in mf.rrf_entries(mf.read_manifest(manifest_path)) if m["id"] == args.id), None)
    if entry is None:
        raise SystemExit(f"{args.id}: not an RRFNet in {manifest_path}")
    path = folder / entry["file"]
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
                raise SystemExit(f"{name}: re-quantising the rebuilt weights does not give the shipped codes")

    params = sum(p.numel() for p in model.parameters())
    training = entry.get("training") or {}
    targs = {"patch": str(entry["patchSize"]), "stride": str(entry["stride"]),
             "input_size": str(entry.get("patchInputSize")), "batch": str(training.get("batch", 32)),
             "cache": str(args.cache), "faces": "None"}
    run = args.run.expanduser()
    run.mkdir(parents=True, exist_ok=True)
    recovered = {"file": mf.repo_path(path), "sha256": sha, "mirror": entry.get("mirror", False),
                 "training": training}
    torch.save({"model": model.state_dict(), "step": training.get("steps", 0), "args": targs,
                # The shipped lineage's own centring of the teacher targets is not in the file;
                # Validation.of_checkpoint and train_rrf.py --init take it from the cache instead.
                "teacherMean": None, "best": {}, "validation": training.get("checkpointValidation"),
                "recoveredFrom": recovered,
                # a constant coordinate (fit_constant.py) is a weight change later steps must know of
                **({"constant": training["constant"]} if training.get("constant") else {})}, run / "shipped.pt")
    (run / "train.log").open("a").write(
        f"recovered from {recovered['file']} (sha256 {sha}): {params} "
        f"parameters, {model.num_patches} patches, step {training.get('steps')} of the shipped lineage\n")
    print(json.dumps({"checkpoint": str(run / "shipped.pt"), **{k: recovered[k] for k in ("file", "sha256", "mirror")},
                      "parameters": params,
                      "codesMatch": len(codes)}, indent=2))


if __name__ == "__main__":
    main()
