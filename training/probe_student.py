#!/usr/bin/env python3
"""Probes of a trained student that need no training: they score the held-out identities and write nothing.

    /usr/bin/python3 training/probe_student.py views --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped.pt --sizes 64,80 --zooms 2,4
    /usr/bin/python3 training/probe_student.py positions --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped.pt --min-faces 10

Both measure the network as it ships (mirror on) and change only what the restriction allows:

- ``views``: each patch feature averaged over more views of the patch's own pixels, the way the
  mirror already is: the patch resized to other input sizes before the trunk, or its centre
  (``zoom`` pixels cropped from every side) enlarged to the native input size. Test-time
  augmentation, at the cost of one more trunk pass per view.
- ``positions``: a scalar weight per patch position (a_i -> w_i a_i, which folds into head i),
  fitted on training identities by a logistic loss on verification pairs. Distillation only asks
  the descriptor to point where the teacher's does; the weights ask which positions separate
  people, with CelebA's identity labels.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rrf.model import RRFNet, descriptor, load_checkpoint  # noqa: E402
from rrf.validation import Validation, best_accuracy, embed_patches, identity_faces, verification_pairs  # noqa: E402


def held_out_score(features: torch.Tensor, held_out: Validation) -> str:
    r = held_out.score_descriptors(descriptor(features))
    return f"accuracy {r['accuracy']:.4f} AUC {r['auc']:.4f} cosine with the teacher {r['teacherCos']:.3f}"


def view_features(model: RRFNet, faces: torch.Tensor, size: int, zoom: int) -> torch.Tensor:
    """Patch features with each patch resized to ``size`` (after cropping ``zoom`` px from every side)."""
    native, cut = model.input_size, model.cut_patches
    model.input_size = size
    if zoom:
        # A crop of the patch's own pixels: still a function of patch i alone.
        model.cut_patches = lambda x: cut(x)[:, :, zoom:-zoom, zoom:-zoom]
    try:
        return embed_patches(model, faces)
    finally:
        model.input_size, model.cut_patches = native, cut


def probe_views(model: RRFNet, held_out: Validation, sizes: list[int], zooms: list[int]) -> None:
    native = model.input_size
    views = {f"native ({native} px)": view_features(model, held_out.faces, native, 0)}
    views.update({f"{s} px": view_features(model, held_out.faces, s, 0) for s in sizes})
    views.update({f"centre zoom {z} px": view_features(model, held_out.faces, native, z) for z in zooms})
    base = next(iter(views.values()))
    for name, f in views.items():
        print(f"{name:24s} alone:         {held_out_score(f, held_out)}", flush=True)
        if f is not base:
            print(f"{name:24s} + native:      {held_out_score(0.5 * (base + f), held_out)}", flush=True)
    print(f"{'all views':24s} averaged:      {held_out_score(sum(views.values()) / len(views), held_out)}")


def probe_positions(model: RRFNet, state: dict, min_faces: int, steps: int) -> None:
    cache, train_idx, held_out = Validation.of_checkpoint(state)
    fit_idx = identity_faces(cache, train_idx, min_faces)
    a, b, same = verification_pairs(cache.identities[fit_idx], seed=2)
    print(f"fitting on {len(fit_idx)} training faces of {len(np.unique(cache.identities[fit_idx]))} CelebA identities "
          f"({len(same)} pairs); validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces", flush=True)
    train_f = embed_patches(model, cache.faces[fit_idx])
    val_f = embed_patches(model, held_out.faces)
    n = train_f.shape[1]
    side = int(round(n ** 0.5))
    # Share of position i in the descriptor: <a_i, A> / |A|^2 summed over i is 1 (A = mean_i a_i).
    a_mean = descriptor(val_f)
    share = (val_f * a_mean[:, None]).sum(2) / (n * a_mean.pow(2).sum(1, keepdim=True))
    print("share of each position in the held-out descriptors (mean over faces), row-major over the grid:\n"
          + np.array2string(share.mean(0).reshape(side, side).numpy(), precision=3), flush=True)
    log_w = torch.zeros(n, requires_grad=True)
    scale, bias = torch.tensor(10.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    opt = torch.optim.Adam([log_w, scale, bias], lr=0.05)
    y = torch.tensor(same, dtype=torch.float32)
    print(f"step 0 (the shipped network): held-out {held_out_score(val_f, held_out)}", flush=True)
    for step in range(1, steps + 1):
        w = log_w.exp()[None, :, None]
        d = F.normalize(descriptor(train_f * w), dim=1)
        cos = (d[a] * d[b]).sum(1)
        loss = F.binary_cross_entropy_with_logits(scale * (cos - bias), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps:
            with torch.no_grad():
                train_acc, train_auc = best_accuracy(cos.detach().numpy(), same)
                held = held_out_score(val_f * log_w.exp()[None, :, None], held_out)
            print(f"step {step}: loss {loss.item():.4f}, training pairs accuracy {train_acc:.4f} AUC {train_auc:.4f}; "
                  f"held-out {held}", flush=True)
    w = (log_w.exp() / log_w.exp().mean()).detach().numpy()
    print("fitted weights (mean 1), row-major over the grid:\n" + np.array2string(w.reshape(side, side), precision=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("probe", choices=["views", "positions"])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument("--sizes", default="", help="views: other input sizes, comma-separated")
    ap.add_argument("--zooms", default="", help="views: centre crops, pixels cut from every side, comma-separated")
    ap.add_argument("--min-faces", type=int, default=10, help="positions: identities with at least this many faces")
    ap.add_argument("--steps", type=int, default=300, help="positions: full-batch Adam steps")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    state = load_checkpoint(args.run.expanduser() / args.checkpoint)
    model = RRFNet.from_checkpoint(state, mirror=True).eval()
    if args.probe == "views":
        _, _, held_out = Validation.of_checkpoint(state)
        ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
        probe_views(model, held_out, ints(args.sizes), ints(args.zooms))
    else:
        probe_positions(model, state, args.min_faces, args.steps)


if __name__ == "__main__":
    main()
