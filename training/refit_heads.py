#!/usr/bin/env python3
"""Refit every patch head of a trained student at once, on its frozen trunk.

    /usr/bin/python3 training/refit_heads.py --run ~/.cache/patchface/runs/rrf28-shipped --checkpoint shipped.pt

With the mirror, the descriptor is A = (1/P) sum_j g_j H_j, where g_j = (f_j(x) + f_j(flip x)) / 2 is the
trunk's pooled 256-d feature at position j averaged over the face and its mirror image, and H_j is
head j: A is linear in all heads together. Training moves the heads a few hundred steps at a time,
through augmented faces and beside the trunk, at a learning rate sized for the trunk. Here the trunk
is run once over the plain training faces and only the heads move, full-batch (Adam), towards the
teacher's unit descriptor (the mean of its plain and mirrored chips' centred descriptors, the target
of the mirrored student), starting from the trained heads. The step is chosen on the held-out
identities, never on LFW. Each feature still sees only its own patch, and the score still
decomposes exactly: only head weights change. The best step, if it beats the trained heads, is
written beside the source as <checkpoint>-refit.pt for `export_rrf.py --checkpoint ... --mirror`.

The heads overfit the plain faces after a few hundred steps; ``--augmented K`` adds K augmented
copies of each training face (the training augmentation: alignment jitter, colour, blur, low
resolution), each with its photo's target. Their trunk features cost one trunk pass per copy and
are kept beside the checkpoint like the plain ones. On rrf28 one copy slowed the fit and did not
raise its best held-out score, nor did ``--identity-pull`` (JOURNAL.md, session 14).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rrf.data import (add_training_faces_arguments, mirrored_targets, network_input, teacher_mean,  # noqa: E402
                      training_faces)
from rrf.model import RRFNet, load_checkpoint, saved_int  # noqa: E402
from rrf.validation import Validation, embed_batches, matched_pairs  # noqa: E402


def trunk_fingerprint(state: dict) -> str:
    """sha256 of every weight but the heads and the constant coordinate (neither is read by the trunk):
    kept trunk features are valid exactly while it holds."""
    h = hashlib.sha256()
    for name, value in sorted(state["model"].items()):
        if name not in ("heads", "constant"):
            h.update(name.encode() + value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def mirrored_trunk_features(model: RRFNet, faces_u8: torch.Tensor, augment_with: torch.Generator | None = None,
                            progress: str = "trunk features") -> torch.Tensor:
    """g: [N, P * 256], each position's pooled trunk feature averaged over the face and its mirror image;
    of augmented copies of the faces when ``augment_with`` (the draws' generator) is given. The
    augmentation's own flip changes nothing here: the mirrored features are the same for both."""
    return embed_batches(model, faces_u8, reduce=lambda g: g.reshape(len(g), -1),
                         forward=model.mirrored_trunk_features, progress=progress, prepare=network_input(augment_with))


def kept_or_computed(file: Path, key: dict, compute, keep: bool) -> dict:
    """``compute()`` (a dict of tensors), or the copy kept in ``file`` when every field of ``key``
    matches; a computed one is written there with its key when ``keep``."""
    if keep and file.exists():
        saved = torch.load(file)
        if all(np.array_equal(saved.get(k), v) for k, v in key.items()):
            print(f"kept outputs from {file}", flush=True)
            return saved
    value = compute()
    if keep:
        torch.save({**key, **value}, file)
    return value


def kept_key(state: dict, train_idx: np.ndarray, held_out: Validation) -> dict:
    """What kept outputs of a checkpoint's frozen trunk depend on: its weights, the patch grid and the
    size each patch is resized to before the trunk (the same weights run at another size give other
    features), the training faces, and the held-out ones (the cache only grows, so their number says
    which they are)."""
    targs = state["args"]
    grid = f"patch {targs['patch']} stride {saved_int(targs, 'stride')} input {saved_int(targs, 'input_size')}"
    return {"trunk": trunk_fingerprint(state), "grid": grid, "trainIdx": train_idx, "heldOutFaces": len(held_out.faces)}


def kept_trunk_features(model: RRFNet, state: dict, kept_file: Path, cache, train_idx: np.ndarray,
                        held_out: Validation, keep: bool = True) -> dict:
    """{"train", "val"}: the mirrored trunk features of the training faces and the held-out ones,
    read from ``kept_file`` when its key matches (``kept_key``), else computed and kept there."""
    return kept_or_computed(kept_file, kept_key(state, train_idx, held_out), lambda: {
        "train": mirrored_trunk_features(model, cache.faces[train_idx]),
        "val": mirrored_trunk_features(model, held_out.faces)}, keep=keep)


def training_setup(state: dict, datasets: str = "", faces: int = 0):
    """What a fit on a checkpoint's frozen trunk starts from: the cache, the training faces (narrowed to
    ``datasets``, then ``faces`` of them), the held-out identities, the teacher's centre (the run's own
    when it kept one) and the unit targets of the mirrored student."""
    cache, train_idx, held_out = Validation.of_checkpoint(state, datasets)
    train_idx = training_faces(cache, train_idx, faces=faces)
    centre = teacher_mean(cache, train_idx, state.get("teacherMean"))
    return cache, train_idx, held_out, centre, mirrored_targets(cache, train_idx, centre)


def best_step(results: list) -> tuple[tuple[float, float, float], int, torch.Tensor, float | None]:
    """The (score, step, heads, c) of ``fit_heads`` with the best held-out accuracy, then AUC."""
    return max(results, key=lambda r: r[0][:2])


def as_sequence(g: torch.Tensor, positions: int) -> torch.Tensor:
    """[N, F] features -> [1, F, N], divided by the number of positions (the descriptor is their mean).

    Products with X run as 1x1 convolutions: Debian's torch has no MKL and its reference BLAS does
    matrix products at about 4 GFLOP/s, while oneDNN's convolutions run at about 95. Hence X is
    kept as one [1, F, N] sequence."""
    return (g / positions).T.unsqueeze(0).contiguous()


def linear_descriptors(h: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """[N, dim]: the descriptors of ``as_sequence`` features under the stacked heads h [F, dim]."""
    return F.conv1d(features, h.T.unsqueeze(2))[0].T


def with_constant(d: torch.Tensor, c: torch.Tensor | float | None) -> torch.Tensor:
    """[N, D] descriptors -> [N, D + 1], the constant coordinate c appended (RRFNet.constant); as they
    are when c is None."""
    if c is None:
        return d
    return torch.cat([d, torch.as_tensor(c, dtype=d.dtype).reshape(1, 1).expand(len(d), 1)], 1)


@dataclass
class PairTerm:
    """The pairwise part of a refit's loss, on the student's scores as it ships (its descriptor with
    the constant coordinate). The per-face loss is the cosine of A with the teacher's direction,
    blind to |A|, while with the constant |A| sets how far a score is drawn to the middle: this term
    is what trains |A|, and the constant itself moves beside the heads.

    ``target`` "teacher": 1 - the correlation between the student's scores and the teacher's
    cosines, over every pair of ``faces`` training faces drawn afresh each step and ``matched`` of
    the pairs of one identity (the CelebA labels), also drawn each step. A correlation, not a
    squared difference, since the student's range (narrowed by c) need not be the teacher's.
    ``target`` "identity": verification itself, a logistic loss on a fitted threshold and scale of
    the score (``calibration``): the ``matched`` pairs of one identity are positives, every pair of
    the ``faces`` of different identities a negative, each side averaged on its own."""
    weight: float
    faces: int
    matched: int
    identities: torch.Tensor  # [N] the CelebA identity of each training row, -1 unknown
    same_a: torch.Tensor  # the pairs of one identity among the training rows
    same_b: torch.Tensor
    constant: float  # the starting value of c
    target: str = "teacher"
    seed: int = 0

    @staticmethod
    def of_identities(identities: np.ndarray, weight: float, faces: int, matched: int, constant: float,
                      target: str = "teacher") -> "PairTerm":
        pairs = matched_pairs(identities)
        a, b = (torch.tensor(v, dtype=torch.long) for v in zip(*pairs)) if pairs else (torch.zeros(0, dtype=torch.long),) * 2
        return PairTerm(weight, faces, matched, torch.as_tensor(identities, dtype=torch.long), a, b, constant, target)

    def draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step's pairs of rows: every pair of ``faces`` random rows (a, b) and ``matched``
        random pairs of one identity (pa, pb)."""
        rows = torch.randperm(n, generator=gen)[:self.faces]
        a, b = torch.triu_indices(len(rows), len(rows), 1)
        pick = torch.randint(len(self.same_a), (self.matched if len(self.same_a) else 0,), generator=gen)
        return rows[a], rows[b], self.same_a[pick], self.same_b[pick]


def scores_of(d: torch.Tensor, c: torch.Tensor | float, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The shipped score of pairs (a, b) of descriptors d: the cosine of [d, c]."""
    dc = F.normalize(with_constant(d, c), dim=1)
    return (dc[a] * dc[b]).sum(1)


def correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x, y = x - x.mean(), y - y.mean()
    return (x * y).sum() / (x.norm() * y.norm() + 1e-12)


def pair_loss(term: PairTerm, d: torch.Tensor, c: torch.Tensor, y: torch.Tensor, gen: torch.Generator,
              calibration: torch.Tensor | None) -> torch.Tensor:
    """The term's loss this step; ``calibration`` is the logistic loss's (scale, threshold offset),
    for target "identity" only."""
    a, b, pa, pb = term.draw(len(d), gen)
    if term.target == "identity":
        different = (term.identities[a] != term.identities[b]) | (term.identities[a] < 0)
        a, b = a[different], b[different]
        z_same = calibration[0] * scores_of(d, c, pa, pb) + calibration[1]
        z_different = calibration[0] * scores_of(d, c, a, b) + calibration[1]
        return F.softplus(-z_same).mean() + F.softplus(z_different).mean()
    a, b = torch.cat([a, pa]), torch.cat([b, pb])
    return 1 - correlation(scores_of(d, c, a, b), (y[a] * y[b]).sum(1))


def fit_heads(h0: torch.Tensor, x_train: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, held_out: Validation,
              steps: int, step_size: float, eval_every: int, frozen: int = 0,
              pairs: PairTerm | None = None, constant: float | None = None) -> tuple[tuple[float, float, float], list]:
    """Full-batch Adam on the stacked heads h [F, dim] from h0, towards the unit targets y: the
    held-out score of h0, and (score, step, heads, c) every ``eval_every`` steps. Scores are held-out
    accuracy, AUC and cosine with the teacher, of the descriptor with the constant coordinate
    ``constant`` when there is one. The first ``frozen`` rows of h stay as they are. With ``pairs``
    the loss gains that pairwise term and c moves with the heads (from ``pairs.constant``)."""
    def held_out_score(h: torch.Tensor, c) -> tuple[float, float, float]:
        with torch.no_grad():
            r = held_out.score_descriptors(with_constant(linear_descriptors(h, x_val), c))
        return r["accuracy"], r["auc"], r["teacherCos"]

    base = held_out_score(h0, constant)
    print(f"start: held-out accuracy {base[0]:.4f} AUC {base[1]:.4f} cosine with the teacher {base[2]:.3f}", flush=True)
    fixed, free = h0[:frozen], h0[frozen:].clone().requires_grad_(True)
    groups = [{"params": [free]}]
    c = constant
    if pairs is not None:
        c = torch.tensor(float(pairs.constant), requires_grad=True)
        # c moves in steps of the same relative size as the heads'
        groups.append({"params": [c], "lr": step_size / h0.std().item() * pairs.constant})
        gen = torch.Generator().manual_seed(pairs.seed)
    calibration = None
    if pairs is not None and pairs.target == "identity":
        # The logistic loss's scale and threshold: a score 0.1 above the threshold is about 3:1 for
        # the same person at the start; the threshold starts between the mean scores of matched and
        # of other pairs.
        with torch.no_grad():
            d0 = linear_descriptors(h0, x_train)
            a, b, pa, pb = pairs.draw(len(d0), torch.Generator().manual_seed(pairs.seed + 1))
            middle = (scores_of(d0, pairs.constant, a, b).mean() + scores_of(d0, pairs.constant, pa, pb).mean()) / 2
        calibration = torch.tensor([10.0, -10.0 * middle.item()], requires_grad=True)
        groups.append({"params": [calibration], "lr": 0.01})
    opt = torch.optim.Adam(groups, lr=step_size)
    results = []
    for step in range(1, steps + 1):
        h = torch.cat([fixed, free])
        d = linear_descriptors(h, x_train)
        face_loss = 1 - F.cosine_similarity(d, y).mean()
        loss = face_loss
        if pairs is not None:
            pl = pair_loss(pairs, d, c, y, gen, calibration)
            loss = face_loss + pairs.weight * pl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0:
            h = torch.cat([fixed, free.detach()])
            c_now = None if c is None else float(c)
            score = held_out_score(h, c_now)
            results.append((score, step, h, c_now))
            extra = "" if pairs is None else f", pair loss {pl.item():.4f}, c {c_now:.5f}"
            print(f"step {step}: training cosine {1 - face_loss.item():.4f}{extra}; held-out accuracy {score[0]:.4f} "
                  f"AUC {score[1]:.4f} cosine with the teacher {score[2]:.3f}", flush=True)
    return base, results


def identity_pulled(y: torch.Tensor, identities: np.ndarray, pull: float) -> torch.Tensor:
    """Each unit target moved by ``pull`` towards its identity's mean unit target, then renormalised.
    Faces whose identity has no other training face keep their own target."""
    ids = torch.as_tensor(identities, dtype=torch.long)
    _, inverse, counts = torch.unique(ids, return_inverse=True, return_counts=True)
    means = torch.zeros(len(counts), y.shape[1]).index_add_(0, inverse, y)
    centre = F.normalize(means[inverse], dim=1)
    pulled = F.normalize((1 - pull) * y + pull * centre, dim=1)
    return torch.where((counts[inverse] > 1).unsqueeze(1), pulled, y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    add_training_faces_arguments(ap)
    ap.add_argument("--steps", type=int, default=200, help="full-batch Adam steps")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam step, relative to the trained heads' spread")
    ap.add_argument("--identity-pull", type=float, default=0.0,
                    help="move each face's target this far towards its CelebA identity's mean target (0: none)")
    ap.add_argument("--augmented", type=int, default=0,
                    help="also fit on this many augmented copies of each training face (alignment jitter, colour, "
                         "blur, low resolution; seed 0), their trunk features kept like the plain ones")
    ap.add_argument("--input-size", type=int, default=0,
                    help="resize each patch to this many pixels before the trunk instead of the checkpoint's size "
                         "(the written checkpoint records it, and export_rrf.py builds its graph with it)")
    ap.add_argument("--pair-weight", type=float, default=0.0,
                    help="add this times the pairwise term (PairTerm: the correlation of the student's scores, "
                         "constant coordinate included, with the teacher's), and let the constant move with the heads "
                         "(0: none; needs a checkpoint with a constant, fit_constant.py)")
    ap.add_argument("--pair-target", choices=("teacher", "identity"), default="teacher",
                    help="what the pairwise term fits: the teacher's scores (correlation) or the CelebA identities "
                         "(a logistic loss on matched and other pairs)")
    ap.add_argument("--pair-faces", type=int, default=1024, help="faces whose every pair the pairwise term scores each step")
    ap.add_argument("--pair-matched", type=int, default=8192,
                    help="pairs of one CelebA identity the pairwise term also scores each step")
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2,
                    help="torch threads; keep at least 2: with one, Debian's torch takes a convolution path "
                         "about 20x slower for these products (6.1 s against 0.33 s for 2,000 rrf28 faces)")
    ap.add_argument("--no-keep", action="store_true",
                    help="neither read nor write the kept trunk features (<checkpoint>-trunk-features*.pt)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    if args.input_size:
        state = {**state, "args": {**state["args"], "input_size": str(args.input_size)}}
    model = RRFNet.from_checkpoint(state).eval()
    cache, train_idx, held_out, centre, y = training_setup(state, args.datasets, args.faces)
    if args.identity_pull:
        y = identity_pulled(y, cache.identities[train_idx], args.identity_pull)
    p, c_in, dim = model.heads.shape
    print(f"{len(train_idx)} training faces, {p} positions x {c_in} features -> {dim}; "
          f"validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces", flush=True)

    # The trunk pass is most of a run's time (14 of 23 minutes for rrf28 on two cores) and does not
    # depend on any refit setting, so its features are kept beside the checkpoint for the next run,
    # keyed on the trunk's weights (a checkpoint name such as best.pt is rewritten by training) and
    # on the faces (kept_key). A run on other faces recomputes them and replaces the kept file.
    stem = Path(args.checkpoint).stem + (f"-in{args.input_size}" if args.input_size else "")
    plain = kept_trunk_features(model, state, run / f"{stem}-trunk-features.pt", cache, train_idx, held_out,
                                keep=not args.no_keep)
    g_train = [plain["train"]]
    if args.augmented:
        gen = torch.Generator().manual_seed(0)
        augmented = kept_or_computed(run / f"{stem}-trunk-features-augmented.pt",
                                     {**kept_key(state, train_idx, held_out), "copies": args.augmented},
                                     lambda: {"train": torch.cat([
                                         mirrored_trunk_features(model, cache.faces[train_idx], gen, f"augmented copy {k + 1}")
                                         for k in range(args.augmented)])}, keep=not args.no_keep)
        g_train.append(augmented["train"])
        y = y.repeat(args.augmented + 1, 1)  # a copy's target is its photo's: the teacher saw the plain chip
        del augmented
    x_conv, x_val = as_sequence(torch.cat(g_train), p), as_sequence(plain["val"], p)
    del plain, g_train  # only the transposed copies are used from here on
    h0 = model.heads.detach().reshape(p * c_in, dim)
    constant = None if model.constant is None else float(model.constant.item())
    pairs = None
    if args.pair_weight:
        if constant is None:
            raise SystemExit(f"{args.checkpoint} has no constant coordinate: give it one first (fit_constant.py)")
        pairs = PairTerm.of_identities(np.tile(cache.identities[train_idx], args.augmented + 1), args.pair_weight,
                                       args.pair_faces, args.pair_matched, constant, args.pair_target)
        print(f"pairwise term ({args.pair_target}): weight {args.pair_weight}, all pairs of {args.pair_faces} faces and {args.pair_matched} "
              f"of the {len(pairs.same_a)} pairs of one identity per step; c starts at {constant:.5f}", flush=True)
    base, results = fit_heads(h0, x_conv, y, x_val, held_out, args.steps, args.lr * h0.std().item(), args.eval_every,
                              pairs=pairs, constant=constant)
    (acc, auc, agree), chosen, h, c = best_step(results)
    if (acc, auc) <= base[:2]:
        print("no refit beats the trained heads on the held-out identities; nothing written")
        return
    out = dict(state)
    out["model"] = {**state["model"], "heads": h.float().reshape(p, c_in, dim)}
    if pairs is not None:
        out["model"]["constant"] = torch.tensor([c], dtype=torch.float32)
        # export_rrf.py reads the newest change's held-out score first, and the constant's record comes first
        out["constant"] = {**(state.get("constant") or {}), "value": c, "movedByRefit": True, "heldOut": {"accuracy": acc, "auc": auc}}
    out["validation"] = None  # the training-time score no longer describes these weights
    out["teacherMean"] = centre  # the targets' centre: later scores of these weights measure from it too
    out["refit"] = {"step": chosen, "steps": args.steps, "lr": args.lr, "faces": int(len(train_idx)), "datasets": args.datasets or "all",
                    "identityPull": args.identity_pull, "augmented": args.augmented,
                    **({"pairWeight": args.pair_weight, "pairTarget": args.pair_target, "pairFaces": args.pair_faces, "pairMatched": args.pair_matched}
                       if pairs else {}), "inputSize": model.input_size,
                    "heldOut": {"accuracy": acc, "auc": auc}, "heldOutBefore": {"accuracy": base[0], "auc": base[1]},
                    "mirror": True}
    name = f"{stem}-refit.pt"
    torch.save(out, run / name)
    print(f"step {chosen} chosen; wrote {run / name} (export it with --mirror)")


if __name__ == "__main__":
    main()
