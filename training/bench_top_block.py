#!/usr/bin/env python3
"""How fast the top of a student's trunk trains on cached inputs (timed before finetune_top.py trained it).

    /usr/bin/python3 training/bench_top_block.py --blocks 1

The head refit (refit_heads.py) moves only the heads and has stopped paying, so the next thing a
2-core CPU can train is the top of the trunk, run on the kept outputs of the frozen blocks below
it (each patch's and its mirror image's). This times a forward and backward pass of the last
``--blocks`` residual blocks (``RRFNet.upper_trunk``) on random inputs of exactly those outputs'
shape (``RRFNet.lower_trunk``'s), for a batch of faces, and scales it to one pass over the training faces (``--train-faces``). Nothing
is trained or written.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manifest as mf  # noqa: E402
from rrf.model import FACE_SIZE, RRFNet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=1, help="train the last this many residual blocks")
    ap.add_argument("--faces", type=int, default=64, help="faces per timed batch")
    ap.add_argument("--train-faces", type=int, default=15047,
                    help="faces in one pass (the CelebA training split of the prepared cache)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for entry in mf.rrf_entries():  # the shipped grids, as the manifest records them
        model = RRFNet.of_manifest_entry(entry, mirror=True)
        with torch.no_grad():
            shape = model.lower_trunk(torch.zeros(1, 3, FACE_SIZE, FACE_SIZE), args.blocks).shape[1:]
        x = torch.randn(args.faces * model.num_patches * 2, *shape)  # each patch and its mirror image
        params = sum(p.numel() for p in model.top_blocks(args.blocks).parameters())
        for _ in range(3):  # the first passes warm up the allocator; the last is reported
            start = time.time()
            model.upper_trunk(x, args.blocks).mean().backward()
            took = time.time() - start
        print(f"{entry['id']}: last {args.blocks} block(s), {params:,} parameters, input {tuple(shape)} per patch; "
              f"{args.faces} faces x {model.num_patches} patches x 2 views forward+backward {took:.2f} s, "
              f"{args.train_faces / args.faces * took / 60:.1f} min per pass over {args.train_faces:,} faces", flush=True)


if __name__ == "__main__":
    main()
