#!/usr/bin/env python3
"""Give a trained student a constant coordinate, its size chosen on the held-out identities.

    /usr/bin/python3 -m training.fit_constant --run ~/.cache/patchface/runs/rrf28-shipped --checkpoint shipped.pt

Every patch feature gains one more coordinate, the same number c for every patch and face
(``RRFNet.constant``). The descriptor becomes [A, c] and the score
(<A, B> + c^2) / sqrt((|A|^2 + c^2)(|B|^2 + c^2)). A is the mean of the patch features, so it is long
when the patches agree and short when they point different ways: with c, the cosine of two faces
whose patches agree stays what it was, and that of a face whose patches disagree is drawn towards a
middle value, where it decides less. Distillation cannot learn this: its loss is the cosine of A
with the teacher's direction, blind to |A|. A constant depends on no pixel, so each feature still
sees only its own patch, and the score is still the mean-cosine of the patch features and
decomposes exactly into patch contributions.

c is measured in units of the mean descriptor length |A| over ``--faces`` training faces (seed 0),
and chosen on the held-out CelebA identities (best accuracy, then AUC), never on LFW. The
checkpoint is written beside the source as <checkpoint>-constant.pt, for
``training.export_rrf --checkpoint ... --mirror``. ``--value`` sets c directly (what a recorded choice
needs on a machine without the training faces).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from training.rrf.heads import training_setup, with_constant
from training.rrf.model import RRFNet, load_checkpoint
from training.rrf.validation import embed

#: the sizes scanned, in units of the mean training descriptor length
SIZES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument(
        "--faces",
        type=int,
        default=2000,
        help="training faces whose mean descriptor length is the unit",
    )
    ap.add_argument(
        "--value", type=float, default=None, help="set c to this value instead of choosing it"
    )
    ap.add_argument(
        "--replace",
        action="store_true",
        help="choose c anew for a checkpoint that has one already (a head refit from a shipped file keeps "
        "the old c, which no longer need suit the new heads' lengths)",
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    if "constant" in state["model"]:
        if not args.replace:
            raise SystemExit(
                f"{args.checkpoint} has a constant coordinate already (--replace chooses it anew)"
            )
        state = {**state, "model": {k: v for k, v in state["model"].items() if k != "constant"}}
        state.pop("constant", None)
    # The shipped students are mirrored; their descriptor is the one the constant joins.
    model = RRFNet.from_checkpoint(state, mirror=True).eval()
    record: dict = {"mirror": True}
    if args.value is None:
        cache, train_idx, held_out, _, _ = training_setup(state, "celeba", args.faces)
        unit = embed(model, cache.faces[train_idx]).norm(dim=1).mean().item()
        held = embed(model, held_out.faces)
        scan = []
        for size in SIZES:
            d = with_constant(held, size * unit)
            accuracy, auc = held_out.pair_score(d)
            scan.append({"size": size, "accuracy": accuracy, "auc": auc})
            print(
                f"c = {size} x {unit:.4f}: held-out accuracy {accuracy:.4f} AUC {auc:.4f}",
                flush=True,
            )
        best = max(scan, key=lambda r: (r["accuracy"], r["auc"]))
        if best["size"] == 0:
            print("no constant beats none on the held-out identities; nothing written")
            return
        value = best["size"] * unit
        record.update(
            unit=unit,
            faces=len(train_idx),
            scan=scan,
            heldOut={"accuracy": best["accuracy"], "auc": best["auc"]},
            heldOutBefore={"accuracy": scan[0]["accuracy"], "auc": scan[0]["auc"]},
        )
        print(f"c = {best['size']} x the mean length = {value:.5f} chosen")
    else:
        value = args.value
    record["value"] = value
    out = dict(state)
    out["model"] = {**state["model"], "constant": torch.tensor([value], dtype=torch.float32)}
    out["constant"] = record
    name = f"{Path(args.checkpoint).stem}-constant.pt"
    torch.save(out, run / name)
    print(f"wrote {run / name} (export it with --mirror)")


if __name__ == "__main__":
    main()
