"""Training data for RRFNet: the cache written by `patchface prepare-training` and augmentation.

Faces are stored at 128x128 with an 8 px margin around the ArcFace 112x112 alignment, so that
augmentation can jitter the alignment (shift, scale, rotation) and still sample real pixels.
Beside each face the cache keeps the teacher's own 150x150 chip with a 20 px margin and where the
stored face lies in it, so that the teacher can score the very view the student is given
(``augment(..., teacher_view=...)``, train_rrf.py --teacher-view).
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
CHIP_MARGIN = 20  # around the teacher's chip in chips.u8 (prepare-training's CHIP_MARGIN)


@dataclass
class Cache:
    faces: torch.Tensor  # [N, 128, 128, 3] uint8
    teacher: torch.Tensor  # [N, 2, 128] float32: plain, mirrored
    paths: list[str]
    datasets: list[str]
    identities: np.ndarray  # [N] int, -1 unknown
    chips: torch.Tensor | None = None  # [N, S, S, 3] uint8: the teacher's chip with CHIP_MARGIN around it
    chip_frames: torch.Tensor | None = None  # [N, 2, 3]: stored-face pixels -> chips pixels


def load_cache(directory: Path, limit: int | None = None, teacher_views: bool = False) -> Cache:
    """The prepared faces, or only the first ``limit`` of them; with ``teacher_views`` the teacher's
    chips and their frames too (1.7 GB more for 15,643 faces)."""
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
    chips = frames = None
    if teacher_views:
        if not (directory / "chipframe.f32").exists():
            raise SystemExit(f"{directory} has no teacher views (chips.u8, chipframe.f32): prepare the faces again, into "
                             "a new folder, with this version of `npx patchface prepare-training`")
        frames = np.fromfile(directory / "chipframe.f32", dtype=np.float32)
        chips = np.fromfile(directory / "chips.u8", dtype=np.uint8)
        rows_kept = frames.size // 6
        side = round(math.sqrt(chips.size / max(rows_kept, 1) / 3))
        if rows_kept < n or chips.size != rows_kept * side * side * 3:
            raise ValueError(f"{directory}: chips.u8 and chipframe.f32 do not hold the {n} rows index.tsv lists")
        chips = torch.from_numpy(chips[: n * side * side * 3].reshape(n, side, side, 3))
        frames = torch.from_numpy(frames[: n * 6].reshape(n, 2, 3).copy())
    return Cache(
        chips=chips,
        chip_frames=frames,
        faces=torch.from_numpy(faces[: n * STORED * STORED * 3].reshape(n, STORED, STORED, 3)),
        teacher=torch.from_numpy(teacher[: n * 256].reshape(n, 2, 128).copy()),
        paths=[f[1] for f in fields],
        datasets=[f[2] for f in fields],
        identities=np.array([int(f[3]) for f in fields]),
    )


def split_validation(cache: Cache, val_identities: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Holds out whole CelebA identities (from the 30-images-each folder) for checkpoint choice."""
    dense = sorted({int(cache.identities[i]) for i, p in enumerate(cache.paths) if "aligned-178x218" in p})
    rng = np.random.default_rng(seed)
    held = set(rng.choice(dense, size=min(val_identities, len(dense)), replace=False).tolist())
    is_val = np.array([int(i) in held for i in cache.identities])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def add_training_faces_arguments(ap) -> None:
    """--datasets and --faces, which ``training_faces`` reads (refit_heads.py, finetune_top.py)."""
    ap.add_argument("--datasets", default="",
                    help="train only on faces of these datasets, comma-separated (celeba, utkface); default: all "
                         "prepared. Sessions 13 to 15 had only celeba prepared: the shipped refits are of celeba alone")
    ap.add_argument("--faces", type=int, default=0,
                    help="train on this many training faces, at random (seed 0); 0: all. Kept outputs are keyed on "
                         "the faces: a run on other faces recomputes them and replaces the kept file, so give a "
                         "smoke run --no-keep and a --run folder of its own (it still writes its chosen step)")


def training_faces(cache: Cache, train_idx: np.ndarray, datasets: str = "", faces: int = 0) -> np.ndarray:
    """The training split narrowed to ``datasets`` (comma-separated names as index.tsv gives them, such
    as "celeba"; empty: all), then to ``faces`` of those at random (seed 0; 0: all). The cache only
    grows by appending, so a run that trained on one part of it is repeated on a fuller cache by
    naming that part: the shipped head refits were fitted before UTKFace was prepared here."""
    if datasets:
        names = set(datasets.split(","))
        unknown = names - set(cache.datasets)
        if unknown:
            raise SystemExit(f"no prepared faces from {', '.join(sorted(unknown))}; the cache has {', '.join(sorted(set(cache.datasets)))}")
        train_idx = train_idx[np.isin(np.asarray(cache.datasets)[train_idx], sorted(names))]
    if faces:
        train_idx = np.sort(np.random.default_rng(0).choice(train_idx, min(faces, len(train_idx)), replace=False))
    return train_idx


def teacher_mean(cache: Cache, train_idx: np.ndarray, saved: torch.Tensor | None = None) -> torch.Tensor:
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
    x = faces_u8[:, MARGIN:MARGIN + FACE_SIZE, MARGIN:MARGIN + FACE_SIZE].permute(0, 3, 1, 2).float()
    return normalise(x)


def network_input(augment_with: torch.Generator | None = None):
    """What turns stored uint8 faces into the network's input for a kept pass: the plain centre
    crop, or augmented copies when ``augment_with`` (the draws' generator) is given. The
    augmentation's own flip is dropped: a pass that also runs each face's mirror image sees the
    same pair of views either way."""
    if augment_with is None:
        return centre_crop
    return lambda faces_u8: augment(faces_u8, augment_with)[0]


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (x - mean) * SCALE


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    r = 2
    xs = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(xs ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    return (k[:, None] * k[None, :]).reshape(1, 1, 5, 5).repeat(3, 1, 1, 1)


def _homogeneous(m: torch.Tensor) -> torch.Tensor:
    """[B, 2, 3] affine maps -> [B, 3, 3], in float64 (products of several maps stay exact enough)."""
    out = torch.zeros(m.shape[0], 3, 3, dtype=torch.float64)
    out[:, :2] = m.to(torch.float64)
    out[:, 2, 2] = 1
    return out


def _pixels_to_grid(size: int) -> torch.Tensor:
    """Pixel centres 0..size-1 -> grid_sample's [-1, 1] (align_corners=False), as a 3x3 map."""
    return torch.tensor([[2 / size, 0, 1 / size - 1], [0, 2 / size, 1 / size - 1], [0, 0, 1]], dtype=torch.float64)


def _shift(d: float) -> torch.Tensor:
    return torch.tensor([[1, 0, d], [0, 1, d], [0, 0, 1]], dtype=torch.float64)


def teacher_theta(theta: torch.Tensor, frames: torch.Tensor, region: int, side: int) -> torch.Tensor:
    """The teacher's sampling of its chip region for the student's jitter ``theta`` (grid_sample's
    [B, 2, 3] for the 112 px view of the 128 px stored face): the chip of the jittered face.

    The jitter J moves the stored frame (J = M o C0^-1, with M the student's output -> stored pixel
    map and C0 the plain centre crop); carried into the region through its frame map T, teacher
    output pixel p samples the region at T J T^-1 (p + CHIP_MARGIN). With no jitter that is p +
    CHIP_MARGIN: the teacher's own input, pixel for pixel."""
    student = torch.linalg.inv(_pixels_to_grid(STORED)) @ _homogeneous(theta.cpu()) @ _pixels_to_grid(FACE_SIZE)
    jitter = student @ torch.linalg.inv(_shift(MARGIN))
    t = _homogeneous(frames.cpu())
    chip = t @ jitter @ torch.linalg.inv(t) @ _shift(CHIP_MARGIN)
    return (_pixels_to_grid(region) @ chip @ torch.linalg.inv(_pixels_to_grid(side)))[:, :2].to(torch.float32)


def _warp(images_u8: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """[B, H, W, 3] uint8 -> [B, 3, size, size] float pixels, sampled through grid_sample's ``theta``."""
    x = images_u8.permute(0, 3, 1, 2).float()
    grid = F.affine_grid(theta.to(x.device), [x.shape[0], 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment(faces_u8: torch.Tensor, gen: torch.Generator,
            teacher_view: tuple[torch.Tensor, torch.Tensor, int] | None = None):
    """Returns normalised [B, 3, 112, 112] faces and a [B] bool "mirrored" mask.

    Alignment jitter (scale 0.92-1.08, rotation +-6 deg, shift +-4 px), horizontal flips,
    colour (brightness, contrast, saturation, grey), blur and low-resolution copies.
    The pixels stay on the faces' device (a GPU); the random draws come from ``gen`` on the CPU
    in the same order either way, so a CPU run replays exactly.

    ``teacher_view`` = (chips [B, S, S, 3] uint8, their frames [B, 2, 3], the teacher's input side):
    also returns, third, the teacher's input for the same augmented face: its chip through the same
    jitter and flip (``teacher_theta``), with the same colour, blur and low resolution. It draws
    nothing more, so a run's sequence of draws is the same with it or without.
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
    theta = torch.stack([
        torch.stack([cos * sx, -sin, tx / (STORED / 2)], 1),
        torch.stack([sin * sx, cos, ty / (STORED / 2)], 1),
    ], 1)

    # Colour, then blur and low resolution, each on a random subset.
    bright = torch.where(torch.rand(b, generator=gen) < 0.8, u(0.7, 1.3), torch.ones(b))
    contrast = torch.where(torch.rand(b, generator=gen) < 0.8, u(0.7, 1.3), torch.ones(b))
    sat = torch.where(torch.rand(b, generator=gen) < 0.8, u(0.6, 1.4), torch.ones(b))
    sat = torch.where(torch.rand(b, generator=gen) < 0.05, torch.zeros(b), sat)
    blur = torch.rand(b, generator=gen) < 0.15
    sigma = float(u(0.6, 1.6)[0]) if blur.any() else 0.0
    low = torch.rand(b, generator=gen) < 0.2
    low_side = int(torch.randint(20, 57, (1,), generator=gen)) if low.any() else 0

    # On the pixels' device once: both views use them.
    bright, contrast, sat = (on(v).reshape(b, 1, 1, 1) for v in (bright, contrast, sat))
    blurred, lowered = on(blur), on(low)
    kernel = on(_gaussian_kernel(sigma)) if blur.any() else None

    def look(x: torch.Tensor) -> torch.Tensor:
        """The drawn colour, blur and low resolution, on [B, 3, s, s] pixels of any side s."""
        x = x * bright
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean
        grey = x.mean(dim=1, keepdim=True)
        x = grey + (x - grey) * sat
        if kernel is not None:
            x[blurred] = F.conv2d(F.pad(x[blurred], (2, 2, 2, 2), mode="replicate"), kernel, groups=3)
        if low_side:
            side = x.shape[-1]
            small = F.interpolate(x[lowered], size=(round(low_side * side / FACE_SIZE),) * 2, mode="bilinear",
                                  align_corners=False, antialias=True)
            x[lowered] = F.interpolate(small, size=(side, side), mode="bilinear", align_corners=False)
        return normalise(x.clamp(0, 255))

    student = look(_warp(faces_u8, theta, FACE_SIZE))
    if teacher_view is None:
        return student, on(flip)
    chips, frames, side = teacher_view
    return student, on(flip), look(_warp(chips, teacher_theta(theta, frames, chips.shape[1], side), side))
