"""Fitting on a student's frozen trunk: the head refit (``training.refit_heads``) and the constant
coordinate (``training.fit_constant``).

With the mirror, the descriptor is A = (1/P) sum_j g_j H_j, where g_j = (f_j(x) + f_j(flip x)) / 2
is the trunk's pooled 256-d feature at position j averaged over the face and its mirror image, and
H_j is head j: A is linear in all heads together. So the trunk runs once over the faces, its
features are kept beside the checkpoint, and only the heads move.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import centre_crop, mirrored_targets, teacher_mean, training_faces
from .model import RRFNet, saved_int
from .validation import Validation, embed_batches


def trunk_fingerprint(state: dict) -> str:
    """sha256 of every weight but the heads and the constant coordinate (neither is read by the trunk):
    kept trunk features are valid exactly while it holds."""
    h = hashlib.sha256()
    for name, value in sorted(state["model"].items()):
        if name not in ("heads", "constant"):
            h.update(name.encode() + value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def mirrored_trunk_features(model: RRFNet, faces_u8: torch.Tensor) -> torch.Tensor:
    """g: [N, P * 256], each position's pooled trunk feature averaged over the face and its mirror image."""
    return embed_batches(
        model,
        faces_u8,
        reduce=lambda g: g.reshape(len(g), -1),
        forward=model.mirrored_trunk_features,
        progress="trunk features",
        prepare=centre_crop,
    )


def kept_key(state: dict, train_idx: np.ndarray, held_out: Validation) -> dict:
    """What kept outputs of a checkpoint's frozen trunk depend on: its weights, the patch grid and the
    size each patch is resized to before the trunk (the same weights run at another size give other
    features), the training faces, and the held-out ones (the cache only grows, so their number says
    which they are)."""
    targs = state["args"]
    grid = f"patch {targs['patch']} stride {saved_int(targs, 'stride')} input {saved_int(targs, 'input_size')}"
    return {
        "trunk": trunk_fingerprint(state),
        "grid": grid,
        "trainIdx": train_idx,
        "heldOutFaces": len(held_out.faces),
    }


def kept_trunk_features(
    model: RRFNet, state: dict, kept_file: Path, cache, train_idx: np.ndarray, held_out: Validation
) -> dict:
    """{"train", "val"}: the mirrored trunk features of the training faces and the held-out ones,
    read from ``kept_file`` when its key matches (``kept_key``), else computed and kept there."""
    key = kept_key(state, train_idx, held_out)
    if kept_file.exists():
        saved = torch.load(kept_file)
        if all(np.array_equal(saved.get(k), v) for k, v in key.items()):
            print(f"kept outputs from {kept_file}", flush=True)
            return saved
    value = {
        "train": mirrored_trunk_features(model, cache.faces[train_idx]),
        "val": mirrored_trunk_features(model, held_out.faces),
    }
    torch.save({**key, **value}, kept_file)
    return value


def training_setup(state: dict, datasets: str = "", faces: int = 0):
    """What a fit on a checkpoint's frozen trunk starts from: the cache, the training faces (narrowed to
    ``datasets``, then ``faces`` of them), the held-out identities, the teacher's centre (the run's own
    when it kept one) and the unit targets of the mirrored student."""
    cache, train_idx, held_out = Validation.of_checkpoint(state, datasets)
    train_idx = training_faces(cache, train_idx, faces=faces)
    centre = teacher_mean(cache, train_idx, state.get("teacherMean"))
    return cache, train_idx, held_out, centre, mirrored_targets(cache, train_idx, centre)


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


def fit_heads(
    h0: torch.Tensor,
    x_train: torch.Tensor,
    y: torch.Tensor,
    x_val: torch.Tensor,
    held_out: Validation,
    steps: int,
    step_size: float,
    eval_every: int,
    constant: float | None = None,
) -> tuple[tuple[float, float, float], list]:
    """Full-batch Adam on the stacked heads h [F, dim] from h0, towards the unit targets y: the
    held-out score of h0, and (score, step, heads) every ``eval_every`` steps. Scores are held-out
    accuracy, AUC and cosine with the teacher, of the descriptor with the constant coordinate
    ``constant`` when there is one."""

    def held_out_score(h: torch.Tensor) -> tuple[float, float, float]:
        with torch.no_grad():
            r = held_out.score_descriptors(with_constant(linear_descriptors(h, x_val), constant))
        return r["accuracy"], r["auc"], r["teacherCos"]

    base = held_out_score(h0)
    print(
        f"start: held-out accuracy {base[0]:.4f} AUC {base[1]:.4f} cosine with the teacher {base[2]:.3f}",
        flush=True,
    )
    h = h0.clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=step_size)
    results = []
    for step in range(1, steps + 1):
        d = linear_descriptors(h, x_train)
        loss = 1 - F.cosine_similarity(d, y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0:
            chosen = h.detach().clone()
            score = held_out_score(chosen)
            results.append((score, step, chosen))
            print(
                f"step {step}: training cosine {1 - loss.item():.4f}; held-out accuracy {score[0]:.4f} "
                f"AUC {score[1]:.4f} cosine with the teacher {score[2]:.3f}",
                flush=True,
            )
    return base, results


def best_step(results: list) -> tuple[tuple[float, float, float], int, torch.Tensor]:
    """The (score, step, heads) of ``fit_heads`` with the best held-out accuracy, then AUC."""
    return max(results, key=lambda r: r[0][:2])
