"""Training data for RRFNet: the cache written by `patchface prepare-training` and augmentation.

Faces are stored at 128x128 with an 8 px margin around the ArcFace 112x112 alignment, so that
augmentation can jitter the alignment (shift, scale, rotation) and still sample real pixels.
Beside them the cache holds the teacher's descriptors of each photo's plain and mirrored chip
(teacher.f32) and the index (index.tsv: path, dataset, identity).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .model import FACE_SIZE, MEAN, SCALE

STORED = 128
MARGIN = (STORED - FACE_SIZE) // 2


@dataclass
class Cache:
    faces: torch.Tensor  # [N, 128, 128, 3] uint8
    teacher: torch.Tensor  # [N, 2, 128] float32: plain, mirrored
    paths: list[str]
    datasets: list[str]
    identities: np.ndarray  # [N] int, -1 unknown


def load_cache(directory: Path, limit: int | None = None) -> Cache:
    """The prepared faces, or only the first ``limit`` of them."""
    rows = (directory / "index.tsv").read_text().strip().split("\n")[1:]
    if limit is not None:
        if limit > len(rows):
            raise ValueError(f"{directory}: {limit} faces asked for, {len(rows)} prepared")
        rows = rows[:limit]
    fields = [r.split("\t") for r in rows]
    n = len(fields)
    faces = np.fromfile(directory / "faces128.u8", dtype=np.uint8)
    teacher = np.fromfile(directory / "teacher.f32", dtype=np.float32)
    if faces.size < n * STORED * STORED * 3 or teacher.size < n * 256:
        raise ValueError(f"{directory}: index lists {n} rows but the data files are shorter")
    return Cache(
        faces=torch.from_numpy(faces[: n * STORED * STORED * 3].reshape(n, STORED, STORED, 3)),
        teacher=torch.from_numpy(teacher[: n * 256].reshape(n, 2, 128).copy()),
        paths=[f[1] for f in fields],
        datasets=[f[2] for f in fields],
        identities=np.array([int(f[3]) for f in fields]),
    )


def split_validation(
    cache: Cache, val_identities: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Holds out whole CelebA identities (from the 30-images-each folder) for checkpoint choice."""
    dense = sorted(
        {int(cache.identities[i]) for i, p in enumerate(cache.paths) if "aligned-178x218" in p}
    )
    rng = np.random.default_rng(seed)
    held = set(rng.choice(dense, size=min(val_identities, len(dense)), replace=False).tolist())
    is_val = np.array([int(i) in held for i in cache.identities])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def training_faces(
    cache: Cache, train_idx: np.ndarray, datasets: str = "", faces: int = 0
) -> np.ndarray:
    """The training split narrowed to ``datasets`` (comma-separated names as index.tsv gives them, such
    as "celeba"; empty: all), then to ``faces`` of those at random (seed 0; 0: all). The cache only
    grows by appending, so a run that trained on one part of it is repeated on a fuller cache by
    naming that part: the shipped head refits were fitted before UTKFace was prepared here."""
    if datasets:
        names = set(datasets.split(","))
        unknown = names - set(cache.datasets)
        if unknown:
            raise SystemExit(
                f"no prepared faces from {', '.join(sorted(unknown))}; "
                f"the cache has {', '.join(sorted(set(cache.datasets)))}"
            )
        train_idx = train_idx[np.isin(np.asarray(cache.datasets)[train_idx], sorted(names))]
    if faces:
        train_idx = np.sort(
            np.random.default_rng(0).choice(train_idx, min(faces, len(train_idx)), replace=False)
        )
    return train_idx


def teacher_mean(
    cache: Cache, train_idx: np.ndarray, saved: torch.Tensor | None = None
) -> torch.Tensor:
    """The mean of the teacher targets (plain and mirrored) over the training split: the centre the
    student's targets are measured from. ``saved``: a run's own centre, kept when it has one (the
    cache may have grown since the run began); a checkpoint rebuilt from a shipped file has none."""
    if saved is not None:
        return saved.cpu()
    return cache.teacher[train_idx].reshape(-1, cache.teacher.shape[-1]).mean(0)


def mirrored_targets(cache: Cache, idx: np.ndarray, centre: torch.Tensor) -> torch.Tensor:
    """[N, 128]: the target of the mirrored student, the teacher's unit descriptor averaged over the
    photo's plain and mirrored chips (each centred and made unit first), made unit again."""
    return F.normalize(F.normalize(cache.teacher[idx] - centre, dim=2).sum(1), dim=1)


def centre_crop(faces_u8: torch.Tensor) -> torch.Tensor:
    """[B, 128, 128, 3] uint8 -> [B, 3, 112, 112] normalised, no augmentation (on the faces' device)."""
    x = (
        faces_u8[:, MARGIN : MARGIN + FACE_SIZE, MARGIN : MARGIN + FACE_SIZE]
        .permute(0, 3, 1, 2)
        .float()
    )
    return normalise(x)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (x - mean) * SCALE


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    r = 2
    xs = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(xs**2) / (2 * sigma**2))
    k = k / k.sum()
    return (k[:, None] * k[None, :]).reshape(1, 1, 5, 5).repeat(3, 1, 1, 1)


def _warp(images_u8: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """[B, H, W, 3] uint8 -> [B, 3, size, size] float pixels, sampled through grid_sample's ``theta``."""
    x = images_u8.permute(0, 3, 1, 2).float()
    grid = F.affine_grid(theta.to(x.device), [x.shape[0], 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment(faces_u8: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns normalised [B, 3, 112, 112] faces and a [B] bool "mirrored" mask.

    Alignment jitter (scale 0.92-1.08, rotation +-6 deg, shift +-4 px), horizontal flips,
    colour (brightness, contrast, saturation, grey), blur and low-resolution copies.
    The pixels stay on the faces' device (a GPU); the random draws come from ``gen`` on the CPU
    in the same order either way, so a CPU run replays exactly.
    """
    b = faces_u8.shape[0]
    dev = faces_u8.device
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(b, generator=gen)  # noqa: E731
    on = lambda t: t.to(dev)  # noqa: E731
    scale = u(0.92, 1.08)
    angle = u(-6, 6) * math.pi / 180
    tx, ty = u(-4, 4), u(-4, 4)
    flip = torch.rand(b, generator=gen) < 0.5
    sx = torch.where(flip, -1.0, 1.0)
    ratio = FACE_SIZE / STORED
    cos, sin = torch.cos(angle) * ratio / scale, torch.sin(angle) * ratio / scale
    theta = torch.stack(
        [
            torch.stack([cos * sx, -sin, tx / (STORED / 2)], 1),
            torch.stack([sin * sx, cos, ty / (STORED / 2)], 1),
        ],
        1,
    )

    # Colour, then blur and low resolution, each on a random subset.
    bright = torch.where(torch.rand(b, generator=gen) < 0.8, u(0.7, 1.3), torch.ones(b))
    contrast = torch.where(torch.rand(b, generator=gen) < 0.8, u(0.7, 1.3), torch.ones(b))
    sat = torch.where(torch.rand(b, generator=gen) < 0.8, u(0.6, 1.4), torch.ones(b))
    sat = torch.where(torch.rand(b, generator=gen) < 0.05, torch.zeros(b), sat)
    blur = torch.rand(b, generator=gen) < 0.15
    sigma = float(u(0.6, 1.6)[0]) if blur.any() else 0.0
    low = torch.rand(b, generator=gen) < 0.2
    low_side = int(torch.randint(20, 57, (1,), generator=gen)) if low.any() else 0

    # On the pixels' device once.
    bright, contrast, sat = (on(v).reshape(b, 1, 1, 1) for v in (bright, contrast, sat))
    blurred, lowered = on(blur), on(low)
    kernel = on(_gaussian_kernel(sigma)) if blur.any() else None

    def look(x: torch.Tensor) -> torch.Tensor:
        """The drawn colour, blur and low resolution, on [B, 3, s, s] pixels."""
        x = x * bright
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean
        grey = x.mean(dim=1, keepdim=True)
        x = grey + (x - grey) * sat
        if kernel is not None:
            x[blurred] = F.conv2d(
                F.pad(x[blurred], (2, 2, 2, 2), mode="replicate"), kernel, groups=3
            )
        if low_side:
            side = x.shape[-1]
            small = F.interpolate(
                x[lowered],
                size=(round(low_side * side / FACE_SIZE),) * 2,
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
            x[lowered] = F.interpolate(
                small, size=(side, side), mode="bilinear", align_corners=False
            )
        return normalise(x.clamp(0, 255))

    return look(_warp(faces_u8, theta, FACE_SIZE)), on(flip)
