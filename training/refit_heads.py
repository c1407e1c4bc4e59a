#!/usr/bin/env python3
"""Refit every patch head of a trained student at once, on its frozen trunk.

    /usr/bin/python3 -m training.refit_heads --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped.pt --datasets celeba --steps 600 --eval-every 25

Training moves the heads a few hundred steps at a time, through augmented faces and beside the
trunk, at a learning rate sized for the trunk. Here the trunk is run once over the plain training
faces (its features kept beside the checkpoint for the next run) and only the heads move,
full-batch (Adam), towards the teacher's unit descriptor (the mean of its plain and mirrored chips'
centred descriptors, the target of the mirrored student), starting from the trained heads
(``training.rrf.heads``). The step is chosen on the held-out identities, never on LFW. Each
feature still sees only its own patch, and the score still decomposes exactly: only head weights
change. The best step, if it beats the trained heads, is written beside the source as
<checkpoint>-refit.pt for `training.export_rrf --checkpoint ... --mirror`.

--input-size refits the heads with each patch resized to another size before the trunk (rrf56's
80 px); the written checkpoint records it, and the export builds its graph with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from training.rrf.heads import (
    as_sequence,
    best_step,
    fit_heads,
    kept_trunk_features,
    training_setup,
)
from training.rrf.model import RRFNet, load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument(
        "--datasets",
        default="",
        help="fit only on faces of these datasets, comma-separated (celeba, utkface); default: all "
        "prepared. The shipped refits are of celeba alone",
    )
    ap.add_argument("--steps", type=int, default=200, help="full-batch Adam steps")
    ap.add_argument(
        "--lr", type=float, default=0.01, help="Adam step, relative to the trained heads' spread"
    )
    ap.add_argument(
        "--input-size",
        type=int,
        default=0,
        help="resize each patch to this many pixels before the trunk instead of the checkpoint's size",
    )
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads; keep at least 2: with one, Debian's torch takes a convolution path "
        "about 20x slower for these products",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    if args.input_size:
        state = {**state, "args": {**state["args"], "input_size": str(args.input_size)}}
    model = RRFNet.from_checkpoint(state).eval()
    cache, train_idx, held_out, centre, y = training_setup(state, args.datasets)
    p, c_in, dim = model.heads.shape
    print(
        f"{len(train_idx)} training faces, {p} positions x {c_in} features -> {dim}; "
        f"validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces",
        flush=True,
    )

    # The trunk pass is most of a run's time and does not depend on any refit setting, so its
    # features are kept beside the checkpoint for the next run, keyed on the trunk's weights (a
    # checkpoint name such as best.pt is rewritten by training) and on the faces.
    stem = Path(args.checkpoint).stem + (f"-in{args.input_size}" if args.input_size else "")
    kept = kept_trunk_features(
        model, state, run / f"{stem}-trunk-features.pt", cache, train_idx, held_out
    )
    x_train, x_val = as_sequence(kept["train"], p), as_sequence(kept["val"], p)
    del kept  # only the transposed copies are used from here on
    h0 = model.heads.detach().reshape(p * c_in, dim)
    constant = None if model.constant is None else float(model.constant.item())
    step_size = args.lr * h0.std().item()
    base, results = fit_heads(
        h0, x_train, y, x_val, held_out, args.steps, step_size, args.eval_every, constant
    )
    (acc, auc, _), chosen, h = best_step(results)
    if (acc, auc) <= base[:2]:
        print("no refit beats the trained heads on the held-out identities; nothing written")
        return
    out = dict(state)
    out["model"] = {**state["model"], "heads": h.float().reshape(p, c_in, dim)}
    out["validation"] = None  # the training-time score no longer describes these weights
    out[
        "teacherMean"
    ] = centre  # the targets' centre: later scores of these weights measure from it too
    out["refit"] = {
        "step": chosen,
        "steps": args.steps,
        "lr": args.lr,
        "faces": int(len(train_idx)),
        "datasets": args.datasets or "all",
        "inputSize": model.input_size,
        "heldOut": {"accuracy": acc, "auc": auc},
        "heldOutBefore": {"accuracy": base[0], "auc": base[1]},
        "mirror": True,
    }
    name = f"{stem}-refit.pt"
    torch.save(out, run / name)
    print(f"step {chosen} chosen; wrote {run / name} (export it with --mirror)")


if __name__ == "__main__":
    main()
