#!/usr/bin/env python3
"""Train an RRFNet student by distillation from the full-face teacher.

    /usr/bin/python3 training/train_rrf.py --patch 28 --cache ~/.cache/patchface/train \
        --run ~/.cache/patchface/runs/rrf28 --minutes 60 --threads 1

Signal: the teacher's embedding of the same photo (its own dlib chip; the mirrored chip for
flipped inputs), centred on the training-set mean. Loss: 1 - cos(A, t) for the student
descriptor A = mean of patch features, plus the squared difference between the student's and
the teacher's in-batch cosine matrices (what verification uses). Whole CelebA identities are
held out for validation; checkpoints are chosen on them, never on LFW. Resumable: rerunning
with the same --run continues from last.pt. Deterministic given the seed and thread count.

With --ema D, an exponential moving average of the weights (decay D per step) is kept beside the
trained ones, and it is what validation scores and best.pt holds: the held-out score of a
fine-tuning run swings by most of a point between evaluations, and the average of the weights
along the trajectory is a smoother, usually better, point than any one step. The trained weights
go on unchanged (a run with --ema follows the same batches and steps as one without). Every
checkpoint's "model" is the averaged network it was scored as, which refit and export read;
last.pt also keeps the trained weights ("trained") so that a resumed run continues both.

With --teacher-view the targets are computed in the training step, by the teacher itself on the
same augmented face the student sees ("function matching": Beyer et al., *Knowledge
distillation: A good teacher is patient and consistent*, 2022): its own chip, cut through the
student's alignment jitter and flip, with the same colour, blur and low resolution. The cached
targets are of the plain photo only, so every augmented copy of a face used to share one target;
now each brings its own. --mixup P then blends a fraction P of each batch with another face of the
batch (a weight drawn uniformly per face), for the student and the teacher alike: faces between
identities, whose targets the cache could never hold. Validation is unchanged (cached targets).
It needs a cache prepared with the teacher's views (chips.u8: `npx patchface prepare-training`).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rrf.data import CHIP_MARGIN, augment, load_cache, normalise, split_validation, teacher_mean  # noqa: E402
from rrf.model import (TEACHER_WEIGHTS, RRFNet, count_macs, descriptor, grid_boxes, load_checkpoint,  # noqa: E402
                       saved_int, source_lineage)
from rrf.validation import Validation  # noqa: E402


def log(run: Path, msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, flush=True)
    with open(run / "train.log", "a") as f:
        f.write(line + "\n")


def cos_matrix(x: torch.Tensor) -> torch.Tensor:
    x = F.normalize(x, dim=1)
    return x @ x.t()


def distillation_loss(a: torch.Tensor, target: torch.Tensor, relational: float) -> torch.Tensor:
    """1 - cos(A, t), plus ``relational`` times the squared difference of the in-batch cosine matrices."""
    return (1 - F.cosine_similarity(a, target)).mean() + relational * (cos_matrix(a) - cos_matrix(target)).pow(2).mean()


def live_teacher(dev: torch.device) -> torch.nn.Module:
    """The full-face teacher in PyTorch, the network `convert_faceapi.py` exports as fullface."""
    from faceapi import recognition
    from faceapi.tfjs_weights import load_tfjs_weights_quantized
    return recognition.build(load_tfjs_weights_quantized(TEACHER_WEIGHTS, "face_recognition_model")).to(dev)


def check_live_teacher(teacher: torch.nn.Module, cache, rows: np.ndarray, side: int, dev: torch.device) -> float:
    """The least cosine, over ``rows``, between the live teacher on each chip (the region's centre,
    unjittered) and the cached target that the app's pipeline computed with the ONNX file."""
    chips = cache.chips[rows, CHIP_MARGIN:CHIP_MARGIN + side, CHIP_MARGIN:CHIP_MARGIN + side]
    with torch.no_grad():
        live = teacher(normalise(chips.permute(0, 3, 1, 2).float().to(dev)))
    return float(F.cosine_similarity(live.cpu(), cache.teacher[rows, 0]).min())


def mix(student: torch.Tensor, teacher_view: torch.Tensor, gen: torch.Generator, share: float):
    """Blends a fraction ``share`` of the batch, each with the next face of the batch, by a weight
    drawn uniformly in [0, 1): the same blend for the student's input and the teacher's."""
    n = student.shape[0]
    weight = torch.where(torch.rand(n, generator=gen) < share, torch.rand(n, generator=gen), torch.ones(n))
    w = weight.reshape(n, 1, 1, 1).to(student.device)
    partner = torch.roll(torch.arange(n), 1).to(student.device)
    return w * student + (1 - w) * student[partner], w * teacher_view + (1 - w) * teacher_view[partner]


def set_learning_rates(opt: torch.optim.Optimizer, base_lrs: list[float], step: int, warmup: int,
                       progress: float) -> None:
    """Linear warm-up over ``warmup`` steps, then a cosine decay over ``progress`` (0 to 1)."""
    warm, decay = min(1.0, (step + 1) / warmup), 0.5 * (1 + math.cos(math.pi * progress))
    for group, lr in zip(opt.param_groups, base_lrs):
        group["lr"] = lr * warm * decay  # in this order: a resumed run replays the same rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patch", type=int, choices=[28, 56], required=True)
    ap.add_argument("--stride", type=int, default=None, help="patch stride (default: patch size, no overlap)")
    ap.add_argument("--input-size", type=int, default=None,
                    help="resize each patch to this many pixels before the trunk (default: the patch size)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start a new run from this checkpoint's weights (new optimiser and schedule) "
                         "instead of the teacher's")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    ap.add_argument("--run", type=Path, required=True, help="run folder (checkpoints, log), outside the repo")
    ap.add_argument("--minutes", type=float, default=60, help="wall-clock budget of this invocation")
    ap.add_argument("--steps", type=int, default=4000, help="total optimiser steps of the schedule")
    ap.add_argument("--until", type=int, default=None,
                    help="stop at this step (default: --steps); with --steps changed between resumed runs, "
                         "replays a run whose wall-clock budget ended mid-schedule")
    ap.add_argument("--faces", type=int, default=None,
                    help="use only the first N prepared faces: replays segments trained while the preparation "
                         "was still running (the cache only ever grows by appending)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--relational", type=float, default=1.0, help="weight of the cosine-matrix loss")
    ap.add_argument("--positives", type=int, default=0,
                    help="same-identity pairs per batch (CelebA identities with two or more training faces); "
                         "their cosine is matched to the teacher's with weight --positive-weight. 0: random batches")
    ap.add_argument("--positive-weight", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (faces, augmentation and steps on the GPU)")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the training steps (GPU)")
    ap.add_argument("--schedule", choices=["steps", "time"], default="steps",
                    help="steps: the cosine decay runs over --steps (deterministic, resumable). time: over "
                         "--minutes of wall clock, ending there (for a GPU lease of fixed length)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ema", type=float, default=0.0,
                    help="decay per step of a moving average of the weights that validation scores and "
                         "best.pt keeps (e.g. 0.995: about the last 200 steps); 0: none, the trained weights")
    ap.add_argument("--teacher-view", action="store_true",
                    help="targets from the teacher on the student's own augmented view (function matching), "
                         "computed in the step; needs a cache with the teacher's views (chips.u8)")
    ap.add_argument("--mixup", type=float, default=0.0,
                    help="with --teacher-view: the share of each batch blended with another face of the batch")
    args = ap.parse_args()
    if args.mixup and not args.teacher_view:
        ap.error("--mixup needs --teacher-view: the cache has no targets for blended faces")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    args.run.mkdir(parents=True, exist_ok=True)
    cache = load_cache(args.cache.expanduser(), args.faces, teacher_views=args.teacher_view)
    train_idx, val_idx = split_validation(cache)
    centre = teacher_mean(cache, train_idx)
    model = RRFNet(args.patch, args.stride, input_size=args.input_size).to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    state_path, best_path = args.run / "last.pt", args.run / "best.pt"
    heads = [p for n, p in model.named_parameters() if n == "heads"]
    trunk = [p for n, p in model.named_parameters() if n != "heads"]
    opt = torch.optim.AdamW([{"params": trunk, "lr": args.lr}, {"params": heads, "lr": args.lr * 3}], weight_decay=1e-4)
    step, best = 0, {"accuracy": -1.0}
    gen = torch.Generator().manual_seed(args.seed)
    # The averaged copy: the network validation scores and best.pt keeps (the model itself without --ema).
    averaged = copy.deepcopy(model) if args.ema else model
    if state_path.exists():
        state = load_checkpoint(state_path, dev)
        # Keep the targets of the run (the cache may have grown since it started).
        centre = teacher_mean(cache, train_idx, state["teacherMean"])
        model.load_state_dict(state.get("trained") or state["model"])
        opt.load_state_dict(state["opt"])
        if args.ema:
            averaged.load_state_dict(state["model"])  # a run without an average yet starts it here
        step, best = state["step"], state["best"]
        gen.set_state(state["gen"])
        lineage = state.get("init")
        log(args.run, f"resumed at step {step} (best {best})")
    else:
        if args.init:
            init = load_checkpoint(args.init.expanduser(), dev)
            source = init["args"]  # the source run's arguments, as strings
            model.load_weights(init["model"], grid_boxes(int(source["patch"]), saved_int(source, "stride")))
            centre = teacher_mean(cache, train_idx, init["teacherMean"])  # the targets the weights were trained on
            lineage = source_lineage(str(args.init.expanduser()), init)
        else:
            model.init_from_teacher()
            lineage = None
        if args.ema:
            averaged.load_state_dict(model.state_dict())
        log(args.run, f"new run: {vars(args)}")
    log(args.run, f"data: {len(cache.paths)} faces, train {len(train_idx)}, validation {len(val_idx)} "
                  f"({len(set(cache.identities[val_idx]))} held-out identities)")
    log(args.run, f"model: {sum(p.numel() for p in model.parameters())} parameters, "
                  f"{count_macs(model) / 1e6:.1f} M multiply-adds per face, {model.num_patches} patches")

    held_out = Validation.build(cache, val_idx, centre)
    # On a GPU, batches are cut there: 1.2 GB of uint8 faces, 25 MB of targets, moved once.
    faces, teacher = cache.faces.to(dev), cache.teacher.to(dev)
    target_mean = centre.to(dev)
    t_acc, t_auc = held_out.teacher_accuracy, held_out.teacher_auc
    log(args.run, f"validation: {len(held_out.same)} pairs; teacher (centred cosine) accuracy {t_acc:.4f} AUC {t_auc:.4f}")
    if args.teacher_view:
        teacher_net = live_teacher(dev)
        teacher_side = cache.chips.shape[1] - 2 * CHIP_MARGIN
        chips, chip_frames = cache.chips.to(dev), cache.chip_frames
        # The live teacher on the stored chips must be the teacher the cached targets came from.
        agreement = check_live_teacher(teacher_net, cache, train_idx[:64], teacher_side, dev)
        log(args.run, f"teacher views: {tuple(cache.chips.shape[1:3])} px regions; the live teacher on 64 unjittered "
                      f"chips agrees with the cached targets to cosine >= {agreement:.6f}")
        if agreement < 0.999:
            raise SystemExit("the live teacher does not reproduce the cached targets on its own chips: "
                             "the cache's chips or frames are not the teacher's input")

    def validate(net: torch.nn.Module = averaged, at_step: int | None = None) -> dict:
        # `pairs` says which held-out set the score is on; scores on different sets do not compare.
        return {"step": step if at_step is None else at_step, "pairs": len(held_out.same), **held_out.score(net)}

    def save(path: Path, validation: dict | None = None) -> None:
        # `validation` is this checkpoint's own score (None if not scored at this step); `best` is the run's best.
        # "model" is the network that was scored (the average, with --ema), which refit and export read;
        # last.pt, the one a run resumes from, also keeps the trained weights that the optimiser moves.
        state = {"model": averaged.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                 "validation": validation,
                 "gen": gen.get_state(), "args": {k: str(v) for k, v in vars(args).items()},
                 "teacherMean": centre, "init": lineage}
        if args.ema and path == state_path:
            state["trained"] = model.state_dict()
        torch.save(state, path)

    if step > 0 and best.get("pairs") != len(held_out.same) and best_path.exists():
        # The held-out set changed since the best was scored (the cache grew, or --faces differs), so
        # its score is not comparable with the scores to come: score the best checkpoint again here.
        kept = RRFNet(args.patch, args.stride, input_size=args.input_size)
        kept.load_state_dict(load_checkpoint(best_path)["model"])
        kept.to(dev)
        best = validate(kept, best["step"])
        log(args.run, f"best checkpoint re-scored on this held-out set: {best}")

    if step == 0:
        best = validate()
        log(args.run, f"step 0 ({'--init' if args.init else 'teacher'} weights) validation {best}")
        save(best_path, best)
    started = time.time()
    # From the arguments, not from the optimiser: a resumed optimiser holds the last decayed rate.
    base_lrs = [args.lr, args.lr * 3]
    seen, loss_sum = 0, 0.0
    last_validation: dict = {}
    stop = min(args.steps, args.until) if args.until is not None else args.steps
    # Random batches hold almost no same-person pairs, yet verification is decided on them.
    multi: list[list[int]] = []  # training faces of each identity with two or more
    if args.positives:
        by_identity: dict[int, list[int]] = {}
        for i in train_idx:
            if cache.identities[i] >= 0:
                by_identity.setdefault(int(cache.identities[i]), []).append(int(i))
        multi = [v for v in by_identity.values() if len(v) >= 2]
        log(args.run, f"batches: {args.positives} same-identity pairs from {len(multi)} identities, "
                      f"{args.batch - 2 * args.positives} random faces")

    def sample_batch() -> np.ndarray:
        rand = train_idx[torch.randint(0, len(train_idx), (args.batch - 2 * args.positives,), generator=gen).numpy()]
        if not args.positives:
            return rand  # the sequence of earlier runs, unchanged
        pairs = []
        for k in torch.randint(0, len(multi), (args.positives,), generator=gen).tolist():
            a, b = torch.randperm(len(multi[k]), generator=gen)[:2].tolist()
            pairs += [multi[k][a], multi[k][b]]
        return np.concatenate([np.array(pairs, dtype=np.int64), rand])

    budget = args.minutes * 60
    # The average's tensors paired with the trained ones, once: state_dict() shares their storage, and
    # loading a checkpoint copies into it, so the pairs stay valid for the whole run.
    averaged_pairs = [(avg, cur) for avg, cur in zip(averaged.state_dict().values(), model.state_dict().values())
                      if avg.is_floating_point()] if args.ema else []
    def checkpoint() -> dict:
        """Scores this step on the held-out pairs, keeps it as best if it is, saves last.pt."""
        nonlocal best
        v = validate()
        improved = v["accuracy"] > best["accuracy"] or (v["accuracy"] == best["accuracy"] and v["auc"] > best.get("auc", 0))
        if improved:
            best = v
            save(best_path, v)
        save(state_path, v)
        log(args.run, f"validation {v}{' (best)' if improved else ''}")
        if args.ema:  # the trained weights' own score, for comparison only: choices use the average
            log(args.run, f"validation of the trained weights (not the average) {validate(model)}")
        return v

    while step < stop and time.time() - started < budget:
        idx = sample_batch()
        if args.teacher_view:
            x, _, seen_by_teacher = augment(faces[idx], gen, (chips[idx], chip_frames[idx], teacher_side))
            if args.mixup:
                x, seen_by_teacher = mix(x, seen_by_teacher, gen, args.mixup)
            with torch.no_grad():
                target = teacher_net(seen_by_teacher) - target_mean
        else:
            x, flipped = augment(faces[idx], gen)
            both = teacher[idx]
            target = torch.where(flipped[:, None], both[:, 1], both[:, 0]) - target_mean
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            a = descriptor(model(x)).float()
        loss = distillation_loss(a, target, args.relational)
        if args.positives:
            first, second = slice(0, 2 * args.positives, 2), slice(1, 2 * args.positives, 2)
            gap = F.cosine_similarity(a[first], a[second]) - F.cosine_similarity(target[first], target[second])
            loss = loss + args.positive_weight * gap.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        progress = min(step, args.steps) / args.steps if args.schedule == "steps" else \
            min(1.0, (time.time() - started) / budget)
        set_learning_rates(opt, base_lrs, step, 100, progress)
        opt.step()
        with torch.no_grad():
            for avg, cur in averaged_pairs:
                avg.lerp_(cur, 1 - args.ema)
        step += 1
        seen += args.batch
        loss_sum += loss.item()
        if step % 50 == 0:
            rate = seen / (time.time() - started)
            log(args.run, f"step {step} loss {loss_sum / 50:.4f} ({rate:.1f} faces/s)")
            loss_sum = 0.0
        if step % args.eval_every == 0 or step == args.steps:
            last_validation = checkpoint()
    if args.schedule == "time" and last_validation.get("step") != step:
        last_validation = checkpoint()  # the end of a time schedule (learning rate near 0) is always scored
    save(state_path, last_validation if last_validation.get("step") == step else None)
    (args.run / "summary.json").write_text(json.dumps({"best": best, "step": step, "teacher": {"accuracy": t_acc, "auc": t_auc}}, indent=2))
    log(args.run, f"stopped at step {step}; best {best}")


if __name__ == "__main__":
    main()
