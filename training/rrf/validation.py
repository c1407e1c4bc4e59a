"""Checkpoint choice on held-out CelebA identities: verification pairs, accuracy and AUC.

Used by training (to pick the best checkpoint) and by export (to measure the exported network,
quantised weights and mirror option included, on the same pairs). LFW is never used here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import Cache, centre_crop, load_cache, split_validation, teacher_mean, training_faces
from .model import RRFNet, descriptor, saved_int


def matched_pairs(identities: np.ndarray) -> list[tuple[int, int]]:
    """Every pair of rows (a, b), a < b, of the same known identity (-1 is unknown), identity by
    identity in order of first appearance."""
    by_id: dict[int, list[int]] = {}
    for i, ident in enumerate(identities):
        if ident >= 0:
            by_id.setdefault(int(ident), []).append(i)
    return [(a, b) for idx in by_id.values() for k, a in enumerate(idx) for b in idx[k + 1 :]]


def verification_pairs(
    identities: np.ndarray, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All matched pairs within the held-out identities and as many random mismatched pairs."""
    pos = matched_pairs(identities)
    rng = np.random.default_rng(seed)
    neg = []
    while len(neg) < len(pos):
        a, b = rng.integers(0, len(identities), 2)
        if identities[a] != identities[b]:
            neg.append((a, b))
    pairs = np.array(pos + neg)
    same = np.array([1] * len(pos) + [0] * len(neg))
    return pairs[:, 0], pairs[:, 1], same


def best_accuracy(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Accuracy at the best threshold, and the AUC."""
    order = np.argsort(scores)
    y = same[order]
    # threshold between sorted scores: predict same for scores above
    correct = np.concatenate([[y.sum()], y.sum() - np.cumsum(y) + np.cumsum(1 - y)])
    k = int(np.argmax(correct))
    auc_ranks = np.argsort(np.argsort(scores)) + 1
    n1, n0 = y.sum(), len(y) - y.sum()
    auc = (auc_ranks[same == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return float(correct[k] / len(y)), float(auc)


@torch.no_grad()
def embed_batches(
    model: torch.nn.Module,
    faces_u8: torch.Tensor,
    batch: int = 64,
    reduce=lambda f: f,
    forward=None,
    progress: str | None = None,
    prepare=centre_crop,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``reduce(forward(prepare(faces)))``, batch by batch on the model's device: ``prepare`` turns
    stored uint8 faces into the network's input (plain, un-augmented ones unless given), ``forward``
    is the model itself unless given; ``progress`` names a pass long enough to report. The results
    come back to the CPU as ``dtype`` (float16 halves what a large kept pass holds)."""
    was_training = model.training
    model.eval()
    dev = next(
        model.parameters()
    ).device  # the faces go to the model (CPU or GPU); results come back
    forward, out, start = forward or model, [], time.time()
    for i in range(0, len(faces_u8), batch):
        out.append(reduce(forward(prepare(faces_u8[i : i + batch].to(dev)))).to(dtype).cpu())
        if progress and i % (batch * 40) == 0:
            print(f"  {progress} {i}/{len(faces_u8)} ({time.time() - start:.0f}s)", flush=True)
    model.train(was_training)
    return torch.cat(out)


def embed(model: torch.nn.Module, faces_u8: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """The face descriptors [N, D], reduced batch by batch on the model's device."""
    return embed_batches(model, faces_u8, batch, descriptor)


@dataclass
class Validation:
    """The held-out faces and pairs of one cache, and the teacher's score on them."""

    faces: torch.Tensor
    teacher: torch.Tensor  # centred teacher descriptors of the plain faces
    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    teacher_accuracy: float
    teacher_auc: float

    @staticmethod
    def build(cache: Cache, val_idx: np.ndarray, teacher_mean: torch.Tensor) -> "Validation":
        a, b, same = verification_pairs(cache.identities[val_idx])
        t = cache.teacher[val_idx, 0] - teacher_mean
        acc, auc = best_accuracy(F.cosine_similarity(t[a], t[b]).numpy(), same)
        return Validation(cache.faces[val_idx], t, a, b, same, acc, auc)

    @staticmethod
    def of_checkpoint(state: dict, datasets: str = "") -> tuple[Cache, np.ndarray, "Validation"]:
        """The cache a checkpoint's run last trained on, that run's training indices and its
        held-out identities: the faces every score of this checkpoint must be measured on.
        ``datasets`` narrows the training indices (``training_faces``) before the teacher's centre
        is taken over them, so that the held-out targets share the training targets' centre."""
        targs = state["args"]
        cache = load_cache(Path(targs["cache"]).expanduser(), saved_int(targs, "faces"))
        train_idx, val_idx = split_validation(cache)
        train_idx = training_faces(cache, train_idx, datasets)
        return (
            cache,
            train_idx,
            Validation.build(cache, val_idx, teacher_mean(cache, train_idx, state["teacherMean"])),
        )

    def score(self, model: RRFNet | torch.nn.Module) -> dict:
        return self.score_descriptors(embed(model, self.faces))

    def pair_score(self, d: torch.Tensor) -> tuple[float, float]:
        """Accuracy at the best threshold and AUC of the held-out pairs under descriptors d [N, D]."""
        return best_accuracy(F.cosine_similarity(d[self.a], d[self.b]).numpy(), self.same)

    def score_descriptors(self, d: torch.Tensor) -> dict:
        """Accuracy, AUC and mean cosine with the teacher of these held-out descriptors [N, D]."""
        acc, auc = self.pair_score(d)
        # A network with a constant coordinate (RRFNet.constant) has one more: the cosine with the
        # teacher is that of the descriptor proper.
        agree = F.cosine_similarity(d[:, : self.teacher.shape[1]], self.teacher).mean().item()
        return {"accuracy": acc, "auc": auc, "teacherCos": agree}
