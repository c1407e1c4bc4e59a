#!/usr/bin/env python3
"""Within-identity whitening of a student's descriptor, folded into its patch heads.

    /usr/bin/python3 training/fit_projection.py --run ~/.cache/patchface/runs/rrf28-o14-in36 \
        --checkpoint last.pt --mirror

Distillation teaches the student the teacher's descriptor, but not which of its own directions
vary within one person (pose, light, the student's own errors) rather than between people. This
fits W = (Sw + a * mean_eig(Sw) * I)^(-1/2), with Sw the within-identity covariance of the
student's unit descriptors on the training split's CelebA identities, and scores the held-out
identities with cos(A W, B W) for a few shrinkages a (a = inf is the plain student).

Since A = mean_i a_i and every a_i ends in a linear head of its own position, A W = mean_i (a_i W):
W folds into each head (heads_i <- heads_i W). Each patch feature is still a function of its own
patch alone and the score still decomposes exactly; the graph does not change, only its head
weights. The chosen W (best held-out accuracy; LFW is never used) is written as a checkpoint
beside the source, for `export_rrf.py --checkpoint <name>`.

W is small (128 x 128) and the caches are not: `--save training/projections/NAME.npy` keeps it in
the repository with its provenance (NAME.json), and `--apply` folds a saved W into a checkpoint
without fitting again, e.g. into one `recover_checkpoint.py` rebuilt from the shipped file:

    /usr/bin/python3 training/fit_projection.py --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped.pt --mirror --apply training/projections/rrf28-whitening.npy
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manifest as mf  # noqa: E402
from rrf.model import RRFNet, load_checkpoint  # noqa: E402
from rrf.validation import Validation, embed, identity_faces  # noqa: E402

SHRINKAGES = (math.inf, 4.0, 1.0, 0.3, 0.1, 0.03)


def within_identity_covariance(d: torch.Tensor, identities: np.ndarray) -> torch.Tensor:
    """Covariance of unit descriptors about their identity's mean (identities with 2+ faces)."""
    u = F.normalize(d.double(), dim=1)
    residuals = []
    for ident in np.unique(identities):
        rows = np.flatnonzero(identities == ident)
        if len(rows) >= 2:
            r = u[rows] - u[rows].mean(0, keepdim=True)
            residuals.append(r * math.sqrt(len(rows) / (len(rows) - 1)))  # unbiased per identity
    r = torch.cat(residuals)
    return r.T @ r / len(r)


def whitening(cov: torch.Tensor, shrink: float) -> torch.Tensor:
    """(cov + shrink * mean eigenvalue * I)^(-1/2), scaled to unit mean gain (only directions matter)."""
    if math.isinf(shrink):
        return torch.eye(cov.shape[0], dtype=torch.float64)
    lam, vec = torch.linalg.eigh(cov)
    gain = (lam.clamp(min=0) + shrink * lam.mean()).rsqrt()
    return (vec * (gain / gain.mean())) @ vec.T


def fold(state: dict, w: torch.Tensor) -> dict:
    """The checkpoint with W folded into every patch head: heads_i <- heads_i W."""
    out = dict(state)
    weights = dict(state["model"])
    weights["heads"] = (weights["heads"].double() @ w.double()).float()  # [P, 256, D] @ [D, D]
    out["model"] = weights
    out["validation"] = None  # the training-time score no longer describes these weights
    return out


def source_of(state: dict, run: Path, checkpoint: str) -> dict:
    """What W is fitted on: the shipped file a recovered checkpoint came from, else the run's checkpoint."""
    recovered = state.get("recoveredFrom")
    if recovered:
        return {"file": recovered["file"], "sha256": recovered["sha256"]}
    return {"run": str(run), "checkpoint": checkpoint, "step": state.get("step")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument("--mirror", action="store_true", help="fit the network as it ships with export_rrf.py --mirror")
    ap.add_argument("--identities", type=int, default=0,
                    help="fit on this many CelebA training identities, at random (seed 0); 0: all with 2+ faces")
    ap.add_argument("--min-faces", type=int, default=2,
                    help="only identities with at least this many training faces (10: CelebA's 30-image folder)")
    ap.add_argument("--save", type=Path, default=None,
                    help="also write the chosen W to this .npy file and its provenance beside it (.json)")
    ap.add_argument("--apply", type=Path, default=None,
                    help="fold the W saved in this .npy file (by --save) instead of fitting one; needs no "
                         "training faces, though with them the folded network is scored on the held-out ones")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    name = f"{Path(args.checkpoint).stem}-whitened{'-mirror' if args.mirror else ''}.pt"
    if args.apply:
        apply_saved(state, args, run / name)
        return
    model = RRFNet.from_checkpoint(state, mirror=args.mirror).eval()
    cache, train_idx, held_out = Validation.of_checkpoint(state)

    fit_idx = identity_faces(cache, train_idx, args.min_faces, args.identities)
    ids = np.unique(cache.identities[fit_idx])
    print(f"fitting on {len(fit_idx)} training faces of {len(ids)} CelebA identities; "
          f"validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces", flush=True)

    fit_d = embed(model, cache.faces[fit_idx])
    val_d = embed(model, held_out.faces).double()
    cov = within_identity_covariance(fit_d, cache.identities[fit_idx])
    lam = torch.linalg.eigvalsh(cov)
    print(f"within-identity covariance: trace {lam.sum():.4f}, eigenvalues {lam[-1]:.4f} (largest) to "
          f"{lam[0]:.2e}; condition {lam[-1] / lam[0].clamp(min=1e-30):.1f}", flush=True)

    results = []
    for shrink in SHRINKAGES:
        w = whitening(cov, shrink)
        p = val_d @ w
        acc, auc = held_out.pair_score(p)
        results.append((acc, auc, shrink, w))
        print(f"shrinkage {shrink}: held-out accuracy {acc:.4f} AUC {auc:.4f}", flush=True)
    acc, auc, shrink, w = max(results, key=lambda r: (r[0], r[1]))
    if math.isinf(shrink):
        print("no whitening beats the plain student on the held-out identities; nothing written")
        return

    out = fold(state, w)
    check = held_out.score(RRFNet.from_checkpoint(out, mirror=args.mirror))  # the folded heads, re-run end to end
    out["projection"] = {
        "kind": "within-identity whitening folded into the patch heads",
        "source": args.checkpoint, "fittedOn": source_of(state, run, args.checkpoint),
        "shrinkage": shrink, "mirror": args.mirror,
        "faces": int(len(fit_idx)), "identities": int(len(ids)), "minFaces": max(2, args.min_faces),
        "heldOut": {"accuracy": check["accuracy"], "auc": check["auc"]},
        "heldOutBefore": {"accuracy": results[0][0], "auc": results[0][1]},
        "heldOutPairs": int(len(held_out.same)),
    }
    if args.save:
        np.save(args.save, w.numpy())
        out["projection"]["file"] = mf.repo_path(args.save)
        args.save.with_suffix(".json").write_text(json.dumps(out["projection"], indent=2) + "\n")
    torch.save(out, run / name)
    print(f"shrinkage {shrink} chosen; folded into the heads and re-scored end to end: {check}; wrote {run / name}"
          + (f" and {args.save}" if args.save else ""))


def apply_saved(state: dict, args: argparse.Namespace, path: Path) -> None:
    """Folds a W saved by --save into this checkpoint, after checking it was fitted for this network."""
    record = json.loads(args.apply.with_suffix(".json").read_text())
    here = source_of(state, args.run.expanduser(), args.checkpoint)
    if record["fittedOn"].get("sha256") and record["fittedOn"]["sha256"] != here.get("sha256"):
        raise SystemExit(f"{args.apply} was fitted on the network in {record['fittedOn']}, not on {here}")
    if record["mirror"] != args.mirror:
        raise SystemExit(f"{args.apply} was fitted {'with' if record['mirror'] else 'without'} the mirror")
    out = fold(state, torch.from_numpy(np.load(args.apply)))
    out["projection"] = {**record, "file": mf.repo_path(args.apply), "source": args.checkpoint}
    try:
        _, _, held_out = Validation.of_checkpoint(out)
    except (FileNotFoundError, ValueError) as e:
        print(f"no training faces to score it on ({e}); the fit's own held-out score stands: {record['heldOut']}")
    else:
        check = held_out.score(RRFNet.from_checkpoint(out, mirror=args.mirror))
        print(f"folded and re-scored on {len(held_out.same)} held-out pairs: {check} (the fit measured {record['heldOut']})")
        out["projection"]["heldOut"] = {"accuracy": check["accuracy"], "auc": check["auc"]}
    torch.save(out, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
