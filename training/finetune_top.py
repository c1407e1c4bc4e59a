#!/usr/bin/env python3
"""Fine-tune the top of a student's trunk, with its heads, on kept outputs of the frozen blocks below.

    /usr/bin/python3 training/finetune_top.py --run ~/.cache/patchface/runs/rrf56-shipped --checkpoint shipped-refit.pt

The head refit (refit_heads.py) stopped paying: on rrf28 neither augmented copies nor targets
pulled towards each identity moved its best held-out score, which points at the trunk. A full
trunk pass is what a 2-core CPU cannot afford many of, but the lower blocks need not move: their
outputs for each patch of each training face, and of its mirror image, are computed once (one
trunk pass, kept beside the checkpoint as float16) and only the last ``--blocks`` residual blocks
and the heads train on them, in minibatches (AdamW, warm-up then cosine decay, the training
loss: 1 - cos(A, t) plus the in-batch cosine-matrix term). The target t is the refit's: the
teacher's unit descriptor averaged over its plain and mirrored chips, since the mirrored
student's descriptor is A = (1/P) sum_j H_j g_j with g_j = (f_j(x) + f_j(flip x)) / 2.

Every weight is still shared by all patches or belongs to one position, and nothing mixes
patches: each feature still sees only its own patch and the score still decomposes exactly. The
step is chosen on the held-out identities, never on LFW; the best, if it beats the start, is
written beside the source as <checkpoint>-top.pt for `export_rrf.py --checkpoint ... --mirror`.

On both shipped students (session 15) no run of the last block beat the refit it started from
beyond the held-out score's own noise, with or without an augmented copy of every face: they
now fit their training faces far better than new people (`fit_gap.py --mirror`). With UTKFace's
8,890 faces added (session 16; the students' trunks had trained on them already) rrf28's
held-out score fell instead: the faces it lacks are CelebA-like ones with identities (JOURNAL.md).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refit_heads import kept_key, kept_or_computed, training_setup  # noqa: E402
from rrf.data import add_training_faces_arguments, network_input  # noqa: E402
from rrf.model import RRFNet, flip_faces, load_checkpoint, mirror_mismatch  # noqa: E402
from rrf.validation import embed_batches  # noqa: E402
from train_rrf import distillation_loss, set_learning_rates  # noqa: E402


def lower_outputs(model: RRFNet, faces_u8: torch.Tensor, top_blocks: int, progress: str,
                  augment_with: torch.Generator | None = None) -> torch.Tensor:
    """[N, 2, P, C, h, w] float16: each patch's output of the frozen lower trunk, for the face
    (view 0) and its mirror image (view 1), patch j of the mirror image at position j; of
    augmented copies of the faces when ``augment_with`` (the draws' generator) is given."""
    p = model.num_patches

    def forward(faces: torch.Tensor) -> torch.Tensor:
        x = model.lower_trunk(torch.cat([faces, flip_faces(faces)]), top_blocks)
        return x.reshape(2, len(faces), p, *x.shape[1:]).transpose(0, 1)

    return embed_batches(model, faces_u8, forward=forward, progress=progress, dtype=torch.float16,
                         prepare=network_input(augment_with))


def descriptors(model: RRFNet, lower: torch.Tensor, top_blocks: int) -> torch.Tensor:
    """[B, 2, P, C, h, w] kept lower outputs -> [B, dim]: the mirrored student's descriptor
    (1/P) sum_j H_j g_j, g_j the top's pooled feature at position j averaged over both views."""
    b, p = lower.shape[0], model.num_patches
    g = model.upper_trunk(lower.float().reshape(-1, *lower.shape[3:]), top_blocks)  # [2B, P, 256]
    g = g.reshape(b, 2, p, -1).mean(1)
    return torch.einsum("bpc,pcd->bd", g, model.heads) / p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="shipped-refit.pt")
    ap.add_argument("--blocks", type=int, default=1, help="train the last this many residual blocks (and the heads)")
    add_training_faces_arguments(ap)
    ap.add_argument("--augmented", type=int, default=0,
                    help="also train on this many augmented copies of each training face (alignment jitter, "
                         "colour, blur, low resolution; seed 0), their lower outputs kept like the plain ones")
    ap.add_argument("--epochs", type=float, default=4, help="passes over the training faces (and their copies)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4, help="AdamW step of the top blocks (the training run's was 3e-4)")
    ap.add_argument("--head-lr", type=float, default=3e-4, help="AdamW step of the heads")
    ap.add_argument("--relational", type=float, default=1.0, help="weight of the cosine-matrix loss, as in training")
    ap.add_argument("--eval-every", type=int, default=25, help="score the held-out identities every this many steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads; keep at least 2 (see refit_heads.py)")
    ap.add_argument("--no-keep", action="store_true", help="neither read nor write the kept lower outputs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    mismatch = mirror_mismatch(state, True)
    if mismatch:
        raise SystemExit(f"{args.checkpoint} was {mismatch[0]} without the mirror; this fine-tune is of the mirrored model")
    model = RRFNet.from_checkpoint(state, mirror=True).eval()
    if not 1 <= args.blocks <= len(model.blocks):
        raise SystemExit(f"--blocks must be 1 to {len(model.blocks)}")
    cache, train_idx, held_out, centre, y = training_setup(state, args.datasets, args.faces)

    stem = Path(args.checkpoint).stem
    key = {**kept_key(state, train_idx, held_out), "blocks": args.blocks}
    kept = kept_or_computed(run / f"{stem}-lower-{args.blocks}.pt", key, lambda: {
        "train": lower_outputs(model, cache.faces[train_idx], args.blocks, "lower trunk, training faces"),
        "val": lower_outputs(model, held_out.faces, args.blocks, "lower trunk, held-out faces")}, keep=not args.no_keep)
    lower, lower_val = kept["train"], kept["val"]
    del kept
    copies = None  # [K * N, 2, P, C, h, w]: copy k of face i at k * N + i, with face i's target
    if args.augmented:
        gen_aug = torch.Generator().manual_seed(0)
        copies = kept_or_computed(run / f"{stem}-lower-{args.blocks}-augmented.pt", {**key, "copies": args.augmented},
                                  lambda: {"train": torch.cat([
                                      lower_outputs(model, cache.faces[train_idx], args.blocks,
                                                    f"lower trunk, augmented copy {k + 1}", gen_aug)
                                      for k in range(args.augmented)])}, keep=not args.no_keep)["train"]

    def batch_of(rows: torch.Tensor) -> torch.Tensor:
        """Kept lower outputs of rows of the plain faces followed by their copies."""
        if copies is None:
            return lower[rows]
        plain = rows < len(lower)
        out = torch.empty(len(rows), *lower.shape[1:], dtype=lower.dtype)
        out[plain] = lower[rows[plain]]
        out[~plain] = copies[rows[~plain] - len(lower)]
        return out

    examples = len(train_idx) * (args.augmented + 1)
    for prm in model.parameters():
        prm.requires_grad_(False)
    trained = list(model.top_blocks(args.blocks).parameters())
    for prm in trained + [model.heads]:
        prm.requires_grad_(True)
    print(f"{len(train_idx)} training faces and {args.augmented} augmented copies of each, kept lower outputs {tuple(lower.shape[1:])} each "
          f"({lower.numel() * 2 / 1e9:.1f} GB); training {sum(p.numel() for p in trained):,} trunk and "
          f"{model.heads.numel():,} head parameters; validation {len(held_out.same)} pairs", flush=True)

    @torch.no_grad()
    def held_out_score() -> dict:
        model.eval()
        d = torch.cat([descriptors(model, lower_val[i:i + 64], args.blocks) for i in range(0, len(lower_val), 64)])
        return held_out.score_descriptors(d)

    start_score = held_out_score()
    print(f"start: held-out accuracy {start_score['accuracy']:.4f} AUC {start_score['auc']:.4f} "
          f"cosine with the teacher {start_score['teacherCos']:.3f}", flush=True)
    opt = torch.optim.AdamW([{"params": trained, "lr": args.lr}, {"params": [model.heads], "lr": args.head_lr}],
                            weight_decay=1e-4)
    base_lrs = [args.lr, args.head_lr]
    steps_per_epoch = examples // args.batch
    total = max(1, int(args.epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(args.seed)
    best = (start_score["accuracy"], start_score["auc"], 0, None)
    order, step, started = torch.randperm(examples, generator=gen), 0, time.time()
    losses: list[float] = []  # since the last score
    while step < total:
        at = (step % steps_per_epoch) * args.batch
        if at == 0 and step:
            order = torch.randperm(examples, generator=gen)
        idx = order[at:at + args.batch]
        model.train()
        a = descriptors(model, batch_of(idx), args.blocks)
        target = y[idx % len(train_idx)]  # a copy's target is its photo's: the teacher saw the plain chip
        loss = distillation_loss(a, target, args.relational)
        opt.zero_grad()
        loss.backward()
        set_learning_rates(opt, base_lrs, step, 50, step / total)
        opt.step()
        step += 1
        losses.append(loss.item())
        if step % args.eval_every == 0 or step == total:
            s = held_out_score()
            better = (s["accuracy"], s["auc"]) > best[:2]
            if better:
                best = (s["accuracy"], s["auc"], step, {k: v.detach().clone() for k, v in model.state_dict().items()})
            print(f"step {step}/{total} (epoch {step / steps_per_epoch:.2f}, {(time.time() - started) / 60:.1f} min): "
                  f"loss {np.mean(losses):.4f}; held-out accuracy {s['accuracy']:.4f} AUC {s['auc']:.4f} "
                  f"cosine with the teacher {s['teacherCos']:.3f}{' (best)' if better else ''}", flush=True)
            losses = []
    acc, auc, chosen, weights = best
    if weights is None:
        print("no step beats the start on the held-out identities; nothing written")
        return
    out = dict(state)
    out["model"] = weights
    out["validation"] = None  # the training-time score no longer describes these weights
    out["teacherMean"] = centre  # the targets' centre: later scores of these weights measure from it too
    out["topFinetune"] = {"step": chosen, "steps": total, "blocks": args.blocks, "epochs": args.epochs,
                          "batch": args.batch, "lr": args.lr, "headLr": args.head_lr, "relational": args.relational,
                          "faces": int(len(train_idx)), "datasets": args.datasets or "all", "augmented": args.augmented, "seed": args.seed,
                          "heldOut": {"accuracy": acc, "auc": auc},
                          "heldOutBefore": {"accuracy": start_score["accuracy"], "auc": start_score["auc"]},
                          "mirror": True}
    name = f"{stem}-top.pt"
    torch.save(out, run / name)
    print(f"step {chosen} chosen (held-out accuracy {acc:.4f} AUC {auc:.4f}); wrote {run / name} "
          f"(export it with --mirror)")


if __name__ == "__main__":
    main()
