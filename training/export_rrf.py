#!/usr/bin/env python3
"""Export a trained RRFNet checkpoint to ONNX (public/models/) and write its manifest entry.

    /usr/bin/python3 training/export_rrf.py --run ~/.cache/patchface/runs/rrf28 --id rrf28

Weights are quantised to uint8 per output channel (per patch and output for the heads) and
dequantised in the graph, as for the converted face-api models, which keeps each file under
8 MB; the LFW accuracy in the manifest is measured afterwards on this very file
(`patchface eval lfw ... --write-manifest`). The graph input is "faces" [N, 3, 112, 112]
normalised (px - mean) * scale, the output "patches" [N, P, D]. With --mirror, patch feature i is the mean of the features of
patch i and of its mirror image (run as the patch at the mirrored position), so the descriptor is
the mean of the face's and its mirror image's, computed inside the graph patch by patch.
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

import manifest as mf  # noqa: E402
from convert_faceapi import export_onnx  # noqa: E402
from rrf.data import Cache  # noqa: E402
from rrf.model import (MEAN, SCALE, WEIGHT_CHANGES, RRFNet, count_macs, init_lineage, load_checkpoint,  # noqa: E402
                       mirror_mismatch)
from rrf.validation import Validation  # noqa: E402


def quantise(w: np.ndarray, axes_kept: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 codes with a (scale, min) pair per slice along ``axes_kept``."""
    reduce = tuple(a for a in range(w.ndim) if a not in axes_kept)
    lo = w.min(axis=reduce, keepdims=True).astype(np.float32)
    hi = w.max(axis=reduce, keepdims=True).astype(np.float32)
    scale = np.maximum((hi - lo) / 255, np.float32(1e-12)).astype(np.float32)
    q = np.clip(np.round((w - lo) / scale), 0, 255).astype(np.uint8)
    return q, scale, lo


#: ONNX initialiser names are the network's parameter names under Exportable's ``model``
PREFIX = "model."


def quantise_parameter(name: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RRFNet parameter's codes: per output channel, and per patch and output for the heads."""
    return quantise(w, (0, 2) if name == "heads" else (0,))


class Exportable(torch.nn.Module):
    """The student with quantised weights, plus the map the ONNX rewriter needs."""

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


def describe_data(cache: Cache) -> str:
    """What the run's last segment trained on, counted from the cache it loaded."""
    counts: dict[str, int] = {}
    for dataset in cache.datasets:
        counts[dataset] = counts.get(dataset, 0) + 1
    parts = ", ".join(f"{n:,} {d}" for d, n in sorted(counts.items()))
    return (f"{sum(counts.values()):,} faces ({parts}) from ../shared/data/train, aligned by the app's pipeline "
            "(patchface prepare-training); held-out CelebA identities for validation; research-only sources; "
            "MODEL_CARD.md lists the data of every training segment")


def checkpoint_validation(run: Path, state: dict) -> dict | None:
    """The training-time validation of this checkpoint's own step (not the run's best, which
    last.pt also carries). Checkpoints saved before train_rrf.py stored it: the run's log. A
    checkpoint whose heads fit_projection.py whitened, refit_heads.py refitted, or whose top
    finetune_top.py trained: the score it measured on the new weights (the last change first)."""
    for changed, _ in WEIGHT_CHANGES:
        if state.get(changed) and "heldOut" in state[changed]:  # a constant set by --value measured none
            return state[changed]["heldOut"]
    if state.get("validation"):
        return state["validation"]
    if state["best"].get("step") == state["step"]:
        return state["best"]
    found = None
    log_path = run / "train.log"
    for line in (log_path.read_text().splitlines() if log_path.exists() else []):
        _, sep, rest = line.partition(" validation {")
        if sep:
            v = ast.literal_eval("{" + rest.removesuffix(" (best)"))
            if v.get("step") == state["step"]:
                found = v  # the latest, should a step have been scored twice
    return found


def recorded_validation(projection: dict | None, sha: str, measured: dict | None, data: str | None,
                        mirror: bool) -> tuple[dict, str]:
    """The validation of this exact file: measured now, or, with no training faces on this machine,
    the one recorded when the same file (same sha256) was measured before. A fitted projection's
    record (fit_projection.py --save) keeps that measurement, so a projection can be shipped from
    the committed files alone: recover_checkpoint.py, fit_projection.py --apply, this script."""
    # fit_projection.py stores the path relative to the repository (mf.repo_path); an absolute one stays as is
    record_path = (ROOT / projection["file"]).with_suffix(".json") if projection and projection.get("file") else None
    record = json.loads(record_path.read_text()) if record_path else None
    if measured is not None:
        if record is not None:
            record["exported"] = {"sha256": sha, "mirror": mirror, "validation": measured, "data": data}
            record_path.write_text(json.dumps(record, indent=2) + "\n")
        return measured, data
    exported = (record or {}).get("exported")
    if not exported or exported["sha256"] != sha:
        raise SystemExit("nothing to validate this file on: prepare the training faces (training/README.md), "
                         + ("or" if exported else "since no") + " earlier measurement of this very file ("
                         + f"sha256 {sha}) is recorded" + (f" (the record is of {exported['sha256']})" if exported else ""))
    print(f"validation recorded for this very file (sha256 {sha}) in {record_path}: "
          f"{exported['validation']}")
    return exported["validation"], exported["data"]


def git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    except Exception:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument("--mirror", action="store_true",
                    help="each patch feature averages the patch with its mirror image, read at the mirrored "
                         "position (twice the compute; still a function of the patch alone)")
    ap.add_argument("--candidate", action="store_true",
                    help="write the file and its entry to training/candidates/ instead of shipping them; "
                         "ship_candidate.py ships it once its LFW run is due")
    ap.add_argument("--validate-only", action="store_true",
                    help="measure the network as it would ship on the held-out identities, write nothing")
    args = ap.parse_args()
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    targs = state["args"]
    projection, refit, top, constant = (state.get(k) for k in ("projection", "refit", "topFinetune", "constant"))
    mismatch = mirror_mismatch(state, args.mirror)
    if mismatch:
        how, with_mirror = mismatch
        raise SystemExit(f"{args.checkpoint} was {how} for {'the' if with_mirror else 'no'} mirror: "
                         f"export it {'with' if with_mirror else 'without'} --mirror")
    model = RRFNet.from_checkpoint(state, mirror=args.mirror)
    model.eval()
    macs = count_macs(model)
    params = sum(p.numel() for p in model.parameters())
    net = Exportable(model)
    # Validation of what ships (quantised weights, mirror option), on the held-out identities.
    try:
        cache, _, held_out = Validation.of_checkpoint(state)
    except (FileNotFoundError, ValueError) as e:
        cache, shipped_validation = None, None
        print(f"no training faces to validate on ({e})")
    else:
        shipped_validation = {"pairs": len(held_out.same), **held_out.score(net)}
        print(f"validation of the exported network{' (mirror)' if args.mirror else ''}: {shipped_validation}")
    p, d = model.num_patches, model.out_dim
    with tempfile.TemporaryDirectory() as tmp:
        # Written aside first (under its own name, which the graph carries) and moved into
        # public/models only once it has a validation.
        staged = Path(tmp) / f"{args.id}.onnx"
        export_onnx(net, torch.zeros(1, 3, 112, 112), "faces", ["patches"], {"faces": {0: "N"}, "patches": {0: "N"}},
                    staged, f"PatchFace RRFNet: {p} patches of {model.patch} px, each feature sees only its own patch"
                    + (" (averaged with its mirror image)" if model.mirror else ""),
                    {"patches": ["N", p, d]})
        sha = mf.sha256_file(staged)
        # A checkpoint rebuilt from a shipped file was trained on that file's data, whatever is prepared now.
        recovered = state.get("recoveredFrom")
        data = recovered["training"].get("data") if recovered else describe_data(cache) if cache else None
        shipped_validation, data = recorded_validation(projection, sha, shipped_validation, data, args.mirror)
        if args.validate_only:
            return
        folder, manifest_path = mf.models_dir(args.candidate)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{args.id}.onnx"
        shutil.move(staged, path)
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    if recovered and "teacher" not in summary:
        summary["teacher"] = recovered["training"].get("teacherValidation")
    log_tail = (run / "train.log").read_text().strip().split("\n")
    lineage = init_lineage(state)
    entry = mf.upsert({
        "id": args.id, **mf.file_entry_fields(path), "role": "embedder", "kind": "mean-cosine",
        "input": {"name": "faces", "size": 112, "layout": "NCHW", "rgb": True, "mean": list(MEAN), "scale": SCALE},
        "output": {"name": "patches", "dims": ["N", p, d]},
        "patches": model.boxes, "regionWeights": None, "threshold": None, "lfw": None,
        "patchSize": model.patch, "stride": model.stride, "mirror": model.mirror,
        "patchInputSize": model.input_size,
        "constant": None if model.constant is None else float(model.constant.item()),
        "training": {
            "data": data,
            "teacher": "fullface (dlib ResNet via face-api), centred embeddings of the same photo",
            "steps": state["step"], "batch": int(targs["batch"]),
            # train_rrf.py --ema: the weights are a moving average of the trained ones (decay per step)
            **({"weightAverage": {"decay": float(targs["ema"])}} if float(targs.get("ema", 0)) else {}),
            # train_rrf.py --teacher-view: targets from the teacher on the student's own augmented view
            **({"functionMatching": {"mixup": float(targs.get("mixup", 0))}} if targs.get("teacher_view") == "True" else {}),
            "validation": shipped_validation, "checkpointValidation": checkpoint_validation(run, state),
            "teacherValidation": summary.get("teacher"),
            "checkpoint": args.checkpoint, "projection": projection, "refit": refit,
            **({"topFinetune": top} if top else {}),
            **({"constant": constant} if constant else {}),
            "commit": git_commit(),
            **({"recoveredFrom": {k: recovered[k] for k in ("file", "sha256")}} if recovered else {}),
            **({"init": lineage} if lineage else {}),
            "params": params, "multiplyAddsPerFace": macs,
            "weights": "uint8 per output channel, dequantised in the graph",
            "lastLogLine": log_tail[-1] if log_tail else None,
        },
    }, manifest_path)
    print(json.dumps({k: entry[k] for k in ("id", "file", "bytes", "sha256")}, indent=2))


if __name__ == "__main__":
    main()
