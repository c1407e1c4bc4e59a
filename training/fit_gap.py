#!/usr/bin/env python3
"""How well a checkpoint fits the teacher on training faces against held-out ones.

    /usr/bin/python3 training/fit_gap.py ~/.cache/patchface/runs/rrf28-o14-in36/last.pt

Prints the mean cosine between the student's and the (centred) teacher's descriptors of the
plain, un-augmented faces: on 596 random training faces (seed 0) and on the held-out identities.
Both far below 1 means the student cannot fit even the faces it trained on (more compute or
capacity helps); a large gap between them means it overfits (more data or regularisation helps).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rrf.data import load_cache, split_validation, teacher_mean, training_faces  # noqa: E402
from rrf.model import RRFNet, load_checkpoint  # noqa: E402
from rrf.validation import embed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    ap.add_argument("--mirror", action="store_true",
                    help="the descriptor averaged with the mirror image's, as shipped (what a refit fits)")
    ap.add_argument("--datasets", default="",
                    help="draw the training faces from these datasets only, comma-separated: those the "
                         "checkpoints trained on (celeba for the shipped refits); default: all prepared")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = load_cache(args.cache.expanduser())
    train_idx, val_idx = split_validation(cache)
    train_idx = training_faces(cache, train_idx, args.datasets)
    sample = np.sort(np.random.default_rng(0).choice(train_idx, len(val_idx), replace=False))
    for path in args.checkpoints:
        state = load_checkpoint(path.expanduser())
        model = RRFNet.from_checkpoint(state, mirror=args.mirror)
        centre = teacher_mean(cache, train_idx, state["teacherMean"])
        agree = {}
        for name, idx in (("training", sample), ("held-out", val_idx)):
            d = embed(model, cache.faces[idx])
            agree[name] = F.cosine_similarity(d, cache.teacher[idx, 0] - centre).mean().item()
        print(f"{path} (step {state['step']}): cosine with the teacher on {len(sample)} training faces "
              f"{agree['training']:.4f}, on {len(val_idx)} held-out faces {agree['held-out']:.4f}")


if __name__ == "__main__":
    main()
