#!/usr/bin/env python3
"""Train an RRFNet student by distillation from the full-face teacher.

    /usr/bin/python3 -m training.train_rrf --patch 28 --stride 14 --input-size 36 \
        --run ~/.cache/patchface/runs/rrf28 --minutes 60 --threads 1

Signal: the teacher's embedding of the same photo (its own dlib chip; the mirrored chip for
flipped inputs), centred on the training-set mean. Loss: 1 - cos(A, t) for the student
descriptor A = mean of patch features, plus the squared difference between the student's and
the teacher's in-batch cosine matrices (what verification uses). Whole CelebA identities are
held out for validation; checkpoints are chosen on them, never on LFW. Resumable: rerunning
with the same --run continues from last.pt. Deterministic given the thread count.

--init starts a new run from another checkpoint's weights (a shorter or tiling grid's, or a
shipped file rebuilt by `training.recover_checkpoint`): the trunk carries over, the heads of the
positions both grids share carry over, and new positions' heads start at zero.

With --ema D, an exponential moving average of the weights (decay D per step) is kept beside the
trained ones, and it is what validation scores and best.pt holds. The trained weights go on
unchanged (a run with --ema follows the same batches and steps as one without). Every checkpoint's
"model" is the averaged network it was scored as, which refit and export read; last.pt also keeps
the trained weights ("trained") so that a resumed run continues both.

On a GPU (training/gpu/): --device cuda keeps the faces and the augmentation there, --bf16
autocasts the steps, and --schedule time decays the learning rate over --minutes of wall clock.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from training.rrf.data import augment, load_cache, split_validation, teacher_mean
from training.rrf.model import (
    RRFNet,
    count_macs,
    descriptor,
    grid_boxes,
    load_checkpoint,
    saved_int,
)
from training.rrf.validation import Validation

SEED = 0
#: weight of the in-batch cosine-matrix term of the loss
RELATIONAL = 1.0
#: linear warm-up of the learning rate, in steps
WARMUP = 100
#: the heads learn this many times faster than the trunk
HEAD_LR_FACTOR = 3


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--patch", type=int, choices=[28, 56], required=True)
    ap.add_argument(
        "--stride", type=int, default=None, help="patch stride (default: patch size, no overlap)"
    )
    ap.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="resize each patch to this many pixels before the trunk (default: the patch size)",
    )
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start a new run from this checkpoint's weights (new optimiser and schedule) instead of the teacher's",
    )
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    ap.add_argument(
        "--run", type=Path, required=True, help="run folder (checkpoints, log), outside the repo"
    )
    ap.add_argument(
        "--minutes", type=float, default=60, help="wall-clock budget of this invocation"
    )
    ap.add_argument("--steps", type=int, default=4000, help="total optimiser steps of the schedule")
    ap.add_argument(
        "--until",
        type=int,
        default=None,
        help="stop at this step (default: --steps); with --steps changed between resumed runs, "
        "replays a run whose wall-clock budget ended mid-schedule",
    )
    ap.add_argument(
        "--faces",
        type=int,
        default=None,
        help="use only the first N prepared faces: replays segments trained while the preparation "
        "was still running (the cache only ever grows by appending)",
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument(
        "--lr", type=float, default=3e-4, help="the trunk's learning rate (the heads': 3 times it)"
    )
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--device", default="cpu", help="cpu, or cuda (faces, augmentation and steps on the GPU)"
    )
    ap.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast for the training steps (GPU)"
    )
    ap.add_argument(
        "--schedule",
        choices=["steps", "time"],
        default="steps",
        help="steps: the cosine decay runs over --steps (deterministic, resumable). time: over "
        "--minutes of wall clock, ending there (for a GPU lease of fixed length)",
    )
    ap.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="decay per step of a moving average of the weights that validation scores and "
        "best.pt keeps (e.g. 0.998); 0: none, the trained weights",
    )
    return ap.parse_args()


def log(run: Path, msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, flush=True)
    with open(run / "train.log", "a") as f:
        f.write(line + "\n")


def cos_matrix(x: torch.Tensor) -> torch.Tensor:
    x = F.normalize(x, dim=1)
    return x @ x.t()


def distillation_loss(a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - cos(A, t), plus RELATIONAL times the squared difference of the in-batch cosine matrices."""
    cosine = (1 - F.cosine_similarity(a, target)).mean()
    return cosine + RELATIONAL * (cos_matrix(a) - cos_matrix(target)).pow(2).mean()


def set_learning_rates(
    opt: torch.optim.Optimizer, base_lrs: list[float], step: int, warmup: int, progress: float
) -> None:
    """Linear warm-up over ``warmup`` steps, then a cosine decay over ``progress`` (0 to 1)."""
    warm, decay = min(1.0, (step + 1) / warmup), 0.5 * (1 + math.cos(math.pi * progress))
    for group, lr in zip(opt.param_groups, base_lrs):
        group["lr"] = lr * warm * decay  # in this order: a resumed run replays the same rates


class Distillation:
    """One run: the student, its weight average, the optimiser, the draws, the held-out pairs and the
    run folder's checkpoints (last.pt to resume from, best.pt the best on the held-out identities).
    """

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.run = args.run
        self.dev = torch.device(args.device)
        if self.dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.run.mkdir(parents=True, exist_ok=True)
        self.cache = load_cache(args.cache.expanduser(), args.faces)
        self.train_idx, self.val_idx = split_validation(self.cache)
        self.centre = teacher_mean(self.cache, self.train_idx)
        self.model = RRFNet(args.patch, args.stride, input_size=args.input_size).to(self.dev)
        if self.dev.type == "cuda":
            self.model.to(memory_format=torch.channels_last)
        self.state_path, self.best_path = self.run / "last.pt", self.run / "best.pt"
        heads = [p for n, p in self.model.named_parameters() if n == "heads"]
        trunk = [p for n, p in self.model.named_parameters() if n != "heads"]
        # From the arguments, not from the optimiser: a resumed optimiser holds the last decayed rate.
        self.base_lrs = [args.lr, args.lr * HEAD_LR_FACTOR]
        groups = [
            {"params": trunk, "lr": self.base_lrs[0]},
            {"params": heads, "lr": self.base_lrs[1]},
        ]
        self.opt = torch.optim.AdamW(groups, weight_decay=1e-4)
        self.step, self.best = 0, {"accuracy": -1.0}
        self.gen = torch.Generator().manual_seed(SEED)
        # The averaged copy: the network validation scores and best.pt keeps (the model itself without --ema).
        self.averaged = copy.deepcopy(self.model) if args.ema else self.model

    def start(self) -> None:
        """Resumes from last.pt, or starts from --init's weights or the teacher's."""
        args = self.args
        if self.state_path.exists():
            state = load_checkpoint(self.state_path, self.dev)
            # Keep the targets of the run (the cache may have grown since it started).
            self.centre = teacher_mean(self.cache, self.train_idx, state["teacherMean"])
            self.model.load_state_dict(state.get("trained") or state["model"])
            self.opt.load_state_dict(state["opt"])
            if args.ema:
                self.averaged.load_state_dict(
                    state["model"]
                )  # a run without an average yet starts it here
            self.step, self.best = state["step"], state["best"]
            self.gen.set_state(state["gen"])
            log(self.run, f"resumed at step {self.step} (best {self.best})")
            return
        if args.init:
            init = load_checkpoint(args.init.expanduser(), self.dev)
            source = init["args"]  # the source run's arguments, as strings
            self.model.load_weights(
                init["model"], grid_boxes(int(source["patch"]), saved_int(source, "stride"))
            )
            # the targets the weights were trained on
            self.centre = teacher_mean(self.cache, self.train_idx, init["teacherMean"])
        else:
            self.model.init_from_teacher()
        if args.ema:
            self.averaged.load_state_dict(self.model.state_dict())
        log(self.run, f"new run: {vars(args)}")

    def validate(self, net: torch.nn.Module | None = None, at_step: int | None = None) -> dict:
        # `pairs` says which held-out set the score is on; scores on different sets do not compare.
        step = self.step if at_step is None else at_step
        score = self.held_out.score(self.averaged if net is None else net)
        return {"step": step, "pairs": len(self.held_out.same), **score}

    def save(self, path: Path, validation: dict | None = None) -> None:
        """`validation` is this checkpoint's own score (None if not scored at this step); `best` is the
        run's best. "model" is the network that was scored (the average, with --ema), which refit and
        export read; last.pt, the one a run resumes from, also keeps the trained weights."""
        state = {
            "model": self.averaged.state_dict(),
            "opt": self.opt.state_dict(),
            "step": self.step,
            "best": self.best,
            "validation": validation,
            "gen": self.gen.get_state(),
            "args": {k: str(v) for k, v in vars(self.args).items()},
            "teacherMean": self.centre,
        }
        if self.args.ema and path == self.state_path:
            state["trained"] = self.model.state_dict()
        torch.save(state, path)

    def prepare_validation(self) -> None:
        """The held-out pairs (and the data on the training device); re-scores a resumed run's best
        if the held-out set changed since, and scores step 0 of a new run."""
        self.held_out = Validation.build(self.cache, self.val_idx, self.centre)
        # On a GPU, batches are cut there: 1.2 GB of uint8 faces, 25 MB of targets, moved once.
        self.faces, self.teacher = self.cache.faces.to(self.dev), self.cache.teacher.to(self.dev)
        self.target_mean = self.centre.to(self.dev)
        self.teacher_score = {
            "accuracy": self.held_out.teacher_accuracy,
            "auc": self.held_out.teacher_auc,
        }
        log(
            self.run,
            f"validation: {len(self.held_out.same)} pairs; teacher (centred cosine) accuracy "
            f"{self.held_out.teacher_accuracy:.4f} AUC {self.held_out.teacher_auc:.4f}",
        )
        if (
            self.step > 0
            and self.best.get("pairs") != len(self.held_out.same)
            and self.best_path.exists()
        ):
            # The held-out set changed since the best was scored (the cache grew, or --faces differs), so
            # its score is not comparable with the scores to come: score the best checkpoint again here.
            args = self.args
            kept = RRFNet(args.patch, args.stride, input_size=args.input_size)
            kept.load_state_dict(load_checkpoint(self.best_path)["model"])
            kept.to(self.dev)
            self.best = self.validate(kept, self.best["step"])
            log(self.run, f"best checkpoint re-scored on this held-out set: {self.best}")
        if self.step == 0:
            self.best = self.validate()
            log(
                self.run,
                f"step 0 ({'--init' if self.args.init else 'teacher'} weights) validation {self.best}",
            )
            self.save(self.best_path, self.best)

    def checkpoint(self) -> dict:
        """Scores this step on the held-out pairs, keeps it as best if it is, saves last.pt."""
        v = self.validate()
        best = self.best
        improved = v["accuracy"] > best["accuracy"] or (
            v["accuracy"] == best["accuracy"] and v["auc"] > best.get("auc", 0)
        )
        if improved:
            self.best = v
            self.save(self.best_path, v)
        self.save(self.state_path, v)
        log(self.run, f"validation {v}{' (best)' if improved else ''}")
        if (
            self.args.ema
        ):  # the trained weights' own score, for comparison only: choices use the average
            log(
                self.run,
                f"validation of the trained weights (not the average) {self.validate(self.model)}",
            )
        return v

    def train_step(self, progress: Callable[[], float]) -> float:
        """One optimiser step on a random batch, at the learning rate of ``progress()`` through the
        schedule (0 to 1, read after the backward pass); returns the step's loss."""
        args = self.args
        idx = self.train_idx[
            torch.randint(0, len(self.train_idx), (args.batch,), generator=self.gen).numpy()
        ]
        x, flipped = augment(self.faces[idx], self.gen)
        both = self.teacher[idx]
        target = torch.where(flipped[:, None], both[:, 1], both[:, 0]) - self.target_mean
        with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            a = descriptor(self.model(x)).float()
        loss = distillation_loss(a, target)
        self.opt.zero_grad()
        loss.backward()
        set_learning_rates(self.opt, self.base_lrs, self.step, WARMUP, progress())
        self.opt.step()
        with torch.no_grad():
            for avg, cur in self.averaged_pairs:
                avg.lerp_(cur, 1 - args.ema)
        self.step += 1
        return loss.item()

    def train(self) -> None:
        """Steps until --until (or --steps) or the wall-clock budget, scoring every --eval-every."""
        args = self.args
        started = time.time()
        budget = args.minutes * 60
        seen, loss_sum = 0, 0.0
        last_validation: dict = {}
        stop = min(args.steps, args.until) if args.until is not None else args.steps
        # The average's tensors paired with the trained ones, once: state_dict() shares their storage,
        # and loading a checkpoint copies into it, so the pairs stay valid for the whole run.
        pairs = zip(self.averaged.state_dict().values(), self.model.state_dict().values())
        self.averaged_pairs = (
            [(avg, cur) for avg, cur in pairs if avg.is_floating_point()] if args.ema else []
        )

        def progress() -> float:
            if args.schedule == "steps":
                return min(self.step, args.steps) / args.steps
            return min(1.0, (time.time() - started) / budget)

        while self.step < stop and time.time() - started < budget:
            loss_sum += self.train_step(progress)
            seen += args.batch
            if self.step % 50 == 0:
                rate = seen / (time.time() - started)
                log(self.run, f"step {self.step} loss {loss_sum / 50:.4f} ({rate:.1f} faces/s)")
                loss_sum = 0.0
            if self.step % args.eval_every == 0 or self.step == args.steps:
                last_validation = self.checkpoint()
        if args.schedule == "time" and last_validation.get("step") != self.step:
            last_validation = (
                self.checkpoint()
            )  # the end of a time schedule (learning rate near 0) is always scored
        self.save(
            self.state_path, last_validation if last_validation.get("step") == self.step else None
        )
        summary = {"best": self.best, "step": self.step, "teacher": self.teacher_score}
        (self.run / "summary.json").write_text(json.dumps(summary, indent=2))
        log(self.run, f"stopped at step {self.step}; best {self.best}")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    run = Distillation(args)
    run.start()
    cache, model = run.cache, run.model
    log(
        args.run,
        f"data: {len(cache.paths)} faces, train {len(run.train_idx)}, validation {len(run.val_idx)} "
        f"({len(set(cache.identities[run.val_idx]))} held-out identities)",
    )
    log(
        args.run,
        f"model: {sum(p.numel() for p in model.parameters())} parameters, "
        f"{count_macs(model) / 1e6:.1f} M multiply-adds per face, {model.num_patches} patches",
    )
    run.prepare_validation()
    run.train()


if __name__ == "__main__":
    main()
