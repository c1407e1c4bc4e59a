#!/usr/bin/env python3
"""Probes of a trained student that need no training: they score the held-out identities and write nothing.

    /usr/bin/python3 training/probe_student.py views --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped.pt --sizes 64,80 --zooms 2,4
    /usr/bin/python3 training/probe_student.py positions --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped.pt --min-faces 10

Both measure the network as it ships (mirror on) and change only what the restriction allows:

- ``views``: each patch feature averaged over more views of the patch's own pixels, the way the
  mirror already is: the patch resized to other input sizes before the trunk, or its centre
  (``zoom`` pixels cropped from every side) enlarged to the native input size. Test-time
  augmentation, at the cost of one more trunk pass per view.
- ``positions``: a scalar weight per patch position (a_i -> w_i a_i, which folds into head i),
  fitted on training identities by a logistic loss on verification pairs. Distillation only asks
  the descriptor to point where the teacher's does; the weights ask which positions separate
  people, with CelebA's identity labels.
- ``cells``: heads that read the last stage's positions apart instead of their mean, fitted as
  ``refit_heads.py`` fits the plain heads (full batch, from the trained heads, on kept trunk maps) and
  scored step by step. rrf56's 72 px input leaves that stage on 2x2 positions, each seeing one
  28 px quarter of the patch's receptive field more than the others; rrf28's ends on one. Layouts,
  each starting exactly at the trained network: ``own``, a head per position and cell (four times
  the heads' weights); ``absolute``, the trained heads plus one head per cell location on the face
  (cells of overlapping patches that fall on the same 28 px square share it); ``shared``, the
  trained heads plus one head per cell shared by every position. Still a function of patch i alone.

    /usr/bin/python3 training/probe_student.py cells --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped-refit.pt --datasets celeba --layout absolute --steps 400

- ``centre``: whether the descriptors share a direction the teacher's centred targets lack (held-out
  scores of the unit descriptors less a multiple of their mean over the training faces, and a bias
  added to every patch feature, a constant and so still a function of patch i alone, fitted on the
  trained heads), and how the held-out score answers a common offset: random ones, and the first
  Adam step of a refit on ``--faces`` training faces (default 32), which is nearly one
  (``probe_centre``). Its trunk features are ``refit_heads.py``'s, kept in the same file.

    /usr/bin/python3 training/probe_student.py centre --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped.pt --datasets celeba --steps 150 --eval-every 25

- ``grid``: a finer grid (``--stride``) whose heads are interpolated from the trained grid's, so it
  adds no weights, refitted beside the trained grid on the same faces (``probe_grid``).

    /usr/bin/python3 training/probe_student.py grid --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped-refit.pt --datasets celeba --faces 6000 --stride 7 --steps 300

- ``lengths``: how much each patch's own length should count. Every patch feature a_i is divided by
  |a_i|^p before the mean (p = 1: unit patch features, so |A| only measures how far the patches
  agree; p < 0: long patch features count more), still a function of patch i alone, and the
  constant coordinate is scanned again for each p in units of the mean descriptor length over
  ``--faces`` training faces (default 2,000), as ``fit_constant.py`` scans it (``probe_lengths``).

    /usr/bin/python3 training/probe_student.py lengths --run ~/.cache/patchface/runs/rrf28-shipped \
        --checkpoint shipped.pt --powers=-0.5,-0.25,0,0.25,0.5,1

- ``hidden``: heads with a hidden layer. Each head i keeps its trained linear map and gains a
  small network of its own patch feature, H_i g_i + V_i relu(U_i g_i + b_i), so feature i is still a
  function of patch i alone and the score still the cosine of the mean; V starts at zero, so step 0
  is the trained network. Fitted like ``refit_heads.py`` fits the plain heads (full-batch Adam
  towards the teacher's unit targets, on its kept trunk features: ``--kept`` names the file when the
  checkpoint is a refit of another's trunk), with weight decay ``--decay`` on U and V, and scored on
  the held-out identities with the checkpoint's constant coordinate. Whether the per-patch map, not
  the trunk, is what limits the students' direction.

    /usr/bin/python3 training/probe_student.py hidden --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped-in80-refit-constant.pt --kept shipped-in80-trunk-features.pt --datasets celeba --hidden 64

- ``scales``: heads that read the trunk at several input sizes at once. Each patch is resized to
  every size in ``--sizes`` before the trunk, and head i reads all of those features (a head per
  size and position, starting from the checkpoint's heads over the number of sizes, so step 0 is the
  average of the views), refitted as ``refit_heads.py`` refits, on the kept trunk features of each
  size (``<--kept-stem>-in<size>-trunk-features.pt``, refit_heads.py's names). Still a function of
  patch i alone, at one trunk pass per size.

    /usr/bin/python3 training/probe_student.py scales --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped-in80-refit-constant.pt --kept-stem shipped --sizes 80,84 --datasets celeba

- ``length``: how much the student's descriptor length could gain from the teacher's. The app scores
  ``fullface`` by the raw cosine of its descriptors, while the students are distilled towards the
  teacher's centred unit direction, so their length |A| is only what falls out (how far the patches
  agree). On the held-out identities it scores, each with the constant coordinate scanned as
  ``fit_constant.py`` scans it (in units of the mean held-out length): the teacher raw, centred,
  and centred with the constant; the student as it ships; the student's direction with the
  teacher's centred length (an oracle: the most a length learnt from the teacher could give); and
  the teacher's direction with the student's length. It also prints how |A| and |T - centre|
  correlate (``probe_length``).

    /usr/bin/python3 training/probe_student.py length --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped.pt

- ``ensemble``: whether a second student knows what this one lacks. Both are distilled into the
  teacher's space, so their descriptors can be summed; a gain would make a second set of heads (or
  rrf28-sized views inside each 56 px patch, still functions of that patch alone) worth building.
  The held-out score of each alone and of weighted sums, the constant scanned as above
  (``probe_ensemble``).

    /usr/bin/python3 training/probe_student.py ensemble --run ~/.cache/patchface/runs/rrf56-shipped \
        --checkpoint shipped.pt --other ~/.cache/patchface/runs/rrf28-shipped/shipped.pt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refit_heads import (as_sequence, best_step, fit_heads, kept_key, kept_or_computed, kept_trunk_features,  # noqa: E402
                         linear_descriptors, training_setup, with_constant)  # noqa: E402
from fit_constant import SIZES  # noqa: E402
from rrf.data import add_training_faces_arguments, split_validation, teacher_mean  # noqa: E402
from rrf.model import RRFNet, descriptor, load_checkpoint  # noqa: E402
from rrf.validation import (Validation, best_accuracy, embed_batches, embed_patches, identity_faces,  # noqa: E402
                            verification_pairs)


def held_out_score(features: torch.Tensor, held_out: Validation) -> str:
    r = held_out.score_descriptors(descriptor(features))
    return f"accuracy {r['accuracy']:.4f} AUC {r['auc']:.4f} cosine with the teacher {r['teacherCos']:.3f}"


def view_features(model: RRFNet, faces: torch.Tensor, size: int, zoom: int) -> torch.Tensor:
    """Patch features with each patch resized to ``size`` (after cropping ``zoom`` px from every side)."""
    native, cut = model.input_size, model.cut_patches
    model.input_size = size
    if zoom:
        # A crop of the patch's own pixels: still a function of patch i alone.
        model.cut_patches = lambda x: cut(x)[:, :, zoom:-zoom, zoom:-zoom]
    try:
        return embed_patches(model, faces)
    finally:
        model.input_size, model.cut_patches = native, cut


def probe_views(model: RRFNet, held_out: Validation, sizes: list[int], zooms: list[int]) -> None:
    native = model.input_size
    views = {f"native ({native} px)": view_features(model, held_out.faces, native, 0)}
    views.update({f"{s} px": view_features(model, held_out.faces, s, 0) for s in sizes})
    views.update({f"centre zoom {z} px": view_features(model, held_out.faces, native, z) for z in zooms})
    base = next(iter(views.values()))
    for name, f in views.items():
        print(f"{name:24s} alone:         {held_out_score(f, held_out)}", flush=True)
        if f is not base:
            print(f"{name:24s} + native:      {held_out_score(0.5 * (base + f), held_out)}", flush=True)
    print(f"{'all views':24s} averaged:      {held_out_score(sum(views.values()) / len(views), held_out)}")


def probe_positions(model: RRFNet, state: dict, min_faces: int, steps: int) -> None:
    cache, train_idx, held_out = Validation.of_checkpoint(state)
    fit_idx = identity_faces(cache, train_idx, min_faces)
    a, b, same = verification_pairs(cache.identities[fit_idx], seed=2)
    print(f"fitting on {len(fit_idx)} training faces of {len(np.unique(cache.identities[fit_idx]))} CelebA identities "
          f"({len(same)} pairs); validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces", flush=True)
    train_f = embed_patches(model, cache.faces[fit_idx])
    val_f = embed_patches(model, held_out.faces)
    n = train_f.shape[1]
    side = int(round(n ** 0.5))
    # Share of position i in the descriptor: <a_i, A> / |A|^2 summed over i is 1 (A = mean_i a_i).
    a_mean = descriptor(val_f)
    share = (val_f * a_mean[:, None]).sum(2) / (n * a_mean.pow(2).sum(1, keepdim=True))
    print("share of each position in the held-out descriptors (mean over faces), row-major over the grid:\n"
          + np.array2string(share.mean(0).reshape(side, side).numpy(), precision=3), flush=True)
    log_w = torch.zeros(n, requires_grad=True)
    scale, bias = torch.tensor(10.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    opt = torch.optim.Adam([log_w, scale, bias], lr=0.05)
    y = torch.tensor(same, dtype=torch.float32)
    print(f"step 0 (the shipped network): held-out {held_out_score(val_f, held_out)}", flush=True)
    for step in range(1, steps + 1):
        w = log_w.exp()[None, :, None]
        d = F.normalize(descriptor(train_f * w), dim=1)
        cos = (d[a] * d[b]).sum(1)
        loss = F.binary_cross_entropy_with_logits(scale * (cos - bias), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps:
            with torch.no_grad():
                train_acc, train_auc = best_accuracy(cos.detach().numpy(), same)
                held = held_out_score(val_f * log_w.exp()[None, :, None], held_out)
            print(f"step {step}: loss {loss.item():.4f}, training pairs accuracy {train_acc:.4f} AUC {train_auc:.4f}; "
                  f"held-out {held}", flush=True)
    w = (log_w.exp() / log_w.exp().mean()).detach().numpy()
    print("fitted weights (mean 1), row-major over the grid:\n" + np.array2string(w.reshape(side, side), precision=2))


def cell_layout_inputs(maps: torch.Tensor, model: RRFNet, layout: str) -> torch.Tensor:
    """Kept trunk maps [N, P, C * cells] (float16) -> the layout's linear features [N, F]: for ``own``
    the per-cell features alone, ordered position, cell, channel; otherwise the pooled features (whose
    heads are the trained heads) followed by the layout's added ones."""
    n, p, c = len(maps), model.num_patches, model.heads.shape[1]
    x = maps.float().reshape(n, p, c, -1)
    cells = x.shape[3]
    if layout == "own":
        return x.permute(0, 1, 3, 2).reshape(n, -1)
    pooled = x.mean(3).reshape(n, p * c)
    if layout == "shared":
        return torch.cat([pooled, x.sum(1).permute(0, 2, 1).reshape(n, -1)], 1)
    # absolute: cell (cy, cx) of the patch box (bx, y, w, h) covers the square at
    # (y + cy * w / side, bx + cx * w / side); overlapping patches put several cells on one square.
    side = int(round(cells ** 0.5))
    step = model.patch // side
    squares = sorted({(y + cy * step, bx + cx * step) for bx, y, _, _ in model.boxes for cy in range(side) for cx in range(side)})
    where = {sq: k for k, sq in enumerate(squares)}
    summed = torch.zeros(n, len(squares), c)
    for i, (bx, y, _, _) in enumerate(model.boxes):
        for cy in range(side):
            for cx in range(side):
                summed[:, where[(y + cy * step, bx + cx * step)]] += x[:, i, :, cy * side + cx]
    return torch.cat([pooled, summed.reshape(n, -1)], 1)


def report_best(label: str, base: tuple[float, float, float], results: list) -> None:
    (acc, auc, agree), chosen, _, _ = best_step(results)
    print(f"{label}best step {chosen}: held-out accuracy {acc:.4f} AUC {auc:.4f} cosine with the teacher {agree:.3f}, "
          f"against {base[0]:.4f} {base[1]:.4f} {base[2]:.3f} at the start", flush=True)


def probe_cells(model: RRFNet, state: dict, kept_file: Path, keep: bool, datasets: str, faces: int, layout: str,
                steps: int, lr: float, eval_every: int) -> None:
    cache, train_idx, held_out, _, y = training_setup(state, datasets, faces)
    maps_of = lambda faces, what: embed_batches(  # noqa: E731
        model, faces, forward=lambda f: model.mirrored_trunk_features(f, pooled=False), progress=what, dtype=torch.float16)
    probe = model.trunk_maps(torch.zeros(1, 3, 112, 112))
    cells = probe.shape[2] // model.heads.shape[1]
    if cells == 1:
        raise SystemExit("the trunk's last stage ends on a single position here: there are no cells to keep apart")
    # float16 halves the kept maps (1.6 GB for rrf56's 15,047 CelebA training faces).
    kept = kept_or_computed(kept_file, kept_key(state, train_idx, held_out), lambda: {
        "train": maps_of(cache.faces[train_idx], "trunk maps"), "val": maps_of(held_out.faces, "held-out trunk maps")},
        keep=keep)
    p, c, dim = model.heads.shape
    x_train = cell_layout_inputs(kept["train"], model, layout)
    x_val = cell_layout_inputs(kept["val"], model, layout)
    del kept
    trained = model.heads.detach().float()
    if layout == "own":  # H_i / cells on each of its cells: exactly the trained network's descriptor
        h0 = (trained / cells).unsqueeze(1).expand(p, cells, c, dim).reshape(-1, dim).clone()
    else:  # the added heads start at zero
        h0 = torch.cat([trained.reshape(p * c, dim), torch.zeros(x_train.shape[1] - p * c, dim)])
    print(f"{len(train_idx)} training faces, {p} positions of {cells} cells, layout {layout}: {len(h0):,} x {dim} head "
          f"weights ({(len(h0) - p * c) * dim:,} more than the trained heads); validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces",
          flush=True)
    base, results = fit_heads(h0, as_sequence(x_train, p), y, as_sequence(x_val, p), held_out, steps,
                              lr * trained.std().item(), eval_every)
    report_best("", base, results)


def interpolation(fine: list[list[int]], coarse: list[list[int]]) -> torch.Tensor:
    """[len(fine), len(coarse)]: each fine box's bilinear weights on the coarse grid's boxes, by their
    top-left corners (a fine box on a coarse one has weight 1 there)."""
    starts = sorted({y for _, y, _, _ in coarse})
    step, side = starts[1] - starts[0], len(starts)

    def along(offset: int) -> list[tuple[int, float]]:
        i, t = divmod(offset, step)
        return [(i, 1.0)] if t == 0 else [(i, 1 - t / step), (i + 1, t / step)]

    w = torch.zeros(len(fine), len(coarse))
    for k, (x, y, _, _) in enumerate(fine):
        for iy, wy in along(y):
            for ix, wx in along(x):
                w[k, iy * side + ix] += wy * wx
    return w


def probe_grid(model: RRFNet, state: dict, stride: int, datasets: str, faces: int, steps: int, lr: float,
               eval_every: int) -> None:
    """The trained grid against a finer one (``stride``) whose heads are interpolated from the trained
    grid's and so add no weights: head k of the fine grid is sum_j w_kj H_j (``interpolation``), and the
    descriptor (1/K) sum_k sum_j w_kj H_j g_k = (1/K) sum_j H_j (sum_k w_kj g_k) is linear in the trained
    grid's heads, so both grids' heads are refitted alike, from the trained heads, on the same faces."""
    cache, train_idx, held_out, _, y = training_setup(state, datasets, faces)
    fine = RRFNet(model.patch, stride, mirror=True, input_size=model.input_size).eval()
    fine.load_weights(state["model"], model.boxes)
    w = interpolation(fine.boxes, model.boxes)
    p, c, dim = model.heads.shape
    h0 = model.heads.detach().reshape(p * c, dim)
    print(f"{len(train_idx)} training faces; trained grid {p} positions, stride {stride}: {fine.num_patches}; "
          f"validation {len(held_out.same)} pairs of {len(held_out.faces)} held-out faces", flush=True)
    for net, name in ((model, f"trained grid (stride {model.stride})"), (fine, f"stride {stride}, heads interpolated")):
        mix = (lambda g: g) if net is model else (lambda g: torch.einsum("nkc,kj->njc", g, w))
        feats = [embed_batches(net, f, forward=net.mirrored_trunk_features, reduce=mix, progress=f"{name}: trunk features")
                 for f in (cache.faces[train_idx], held_out.faces)]
        x_train, x_val = (as_sequence(f.reshape(len(f), -1), net.num_patches) for f in feats)
        print(name, flush=True)
        base, results = fit_heads(h0, x_train, y, x_val, held_out, steps, lr * h0.std().item(), eval_every)
        report_best(f"{name}: ", base, results)


def probe_centre(model: RRFNet, state: dict, kept_file: Path, keep: bool, datasets: str, steps: int, lr: float,
                 eval_every: int, subset: int) -> None:
    """Whether the descriptors share a direction that the teacher's centred targets lack, and how the
    held-out score answers a common offset.

    Measures the mean unit descriptor m over the training faces, scores the held-out identities with
    unit descriptors less alpha * m, and fits a bias b added to every patch feature on the trained
    heads. A bias is a function of no pixel, so feature i = H_i g_i + b still depends on patch i alone,
    and the descriptor, their mean, gains b. Then it adds common offsets in random directions, and
    takes one full-batch Adam step of the refit from the trained heads on random ``subset``-face
    samples: Adam's first step moves every weight by the step size times the sign of its gradient,
    and with the trunk's features all non-negative (pooled ReLU outputs) that step adds nearly the
    same vector to every descriptor. The trunk features are ``refit_heads.py``'s, kept in the same file."""
    cache, train_idx, held_out, _, y = training_setup(state, datasets)
    kept = kept_trunk_features(model, state, kept_file, cache, train_idx, held_out, keep)
    p, c, dim = model.heads.shape
    x_train, x_val = as_sequence(kept["train"], p), as_sequence(kept["val"], p)
    h0 = model.heads.detach().reshape(p * c, dim)
    d_train, d_val = (linear_descriptors(h0, x) for x in (x_train, x_val))
    m = F.normalize(d_train, dim=1).mean(0)
    print(f"{len(train_idx)} training faces; the mean unit descriptor has length {m.norm():.3f} (the targets': "
          f"{y.mean(0).norm():.3f}); its cosine with the targets' mean {F.cosine_similarity(m, y.mean(0), dim=0):.3f}",
          flush=True)
    score = lambda d: "accuracy {accuracy:.4f} AUC {auc:.4f} cosine with the teacher {teacherCos:.3f}".format(  # noqa: E731
        **held_out.score_descriptors(d))
    for alpha in (0.0, 0.5, 1.0, 1.5):
        print(f"held-out, unit descriptors less {alpha} x m: {score(F.normalize(d_val, dim=1) - alpha * m)}", flush=True)
    print("a bias alone, on the trained heads", flush=True)
    ones = lambda x: torch.cat([x, torch.ones(1, 1, x.shape[2])], 1)  # noqa: E731  the bias's constant input
    base, results = fit_heads(torch.cat([h0, torch.zeros(1, dim)]), ones(x_train), y, ones(x_val), held_out, steps,
                              lr * h0.std().item(), eval_every, frozen=p * c)
    report_best("a bias alone: ", base, results)
    size = d_train.norm(dim=1).mean().item()
    for seed in range(4):
        u = F.normalize(torch.randn(dim, generator=torch.Generator().manual_seed(seed)), dim=0)
        print(f"common offset, half the mean descriptor length, random direction {seed}: {score(d_val + 0.5 * size * u)}",
              flush=True)
    for seed in range(4):
        sample = np.sort(np.random.default_rng(seed).choice(len(train_idx), subset, replace=False))
        _, (first,) = fit_heads(h0, as_sequence(kept["train"][sample], p), y[sample], x_val, held_out, 1,
                                lr * h0.std().item(), 1)
        change = linear_descriptors(first[2], x_val) - d_val
        print(f"  sample {seed}: the step changes each held-out descriptor by {(change.norm(dim=1) / d_val.norm(dim=1)).mean():.3f} "
              f"of its length, at cosine {F.cosine_similarity(change, change.mean(0, keepdim=True)).mean():.3f} with the "
              f"mean change; that mean change alone: {score(d_val + change.mean(0))}", flush=True)


def probe_lengths(model: RRFNet, state: dict, powers: list[float], faces: int) -> None:
    cache, train_idx, held_out, _, _ = training_setup(state, "celeba", faces)
    # The patch features proper: a constant coordinate the checkpoint has is scanned anew below.
    dim = model.dim
    held, train = (embed_patches(model, f)[:, :, :dim] for f in (held_out.faces, cache.faces[train_idx]))

    def descriptors(patches: torch.Tensor, power: float) -> torch.Tensor:
        return (patches / patches.norm(dim=2, keepdim=True).clamp_min(1e-12) ** power).mean(1)

    for power in powers:
        unit = descriptors(train, power).norm(dim=1).mean().item()
        row = []
        for size in SIZES:
            accuracy, auc = held_out.pair_score(with_constant(descriptors(held, power), size * unit))
            row.append(f"{size}: {accuracy:.4f} / {auc:.4f}")
        print(f"p = {power}: " + ", ".join(row), flush=True)


def print_constant_scan(label: str, d: torch.Tensor, held_out: Validation, sizes=SIZES + (3.0, 4.0, 6.0, 8.0)) -> None:
    """The held-out score of descriptors d without a constant coordinate and with the best of ``sizes``
    (in units of their own mean held-out length: a probe's upper bound, not a fit)."""
    mean = d.norm(dim=1).mean().item()
    row = [(size, *held_out.pair_score(with_constant(d, size * mean))) for size in sizes]
    best = max(row, key=lambda r: r[1:])
    print(f"{label:44s} c = 0: {row[0][1]:.4f} / {row[0][2]:.4f}; best c = {best[0]} x mean length: "
          f"{best[1]:.4f} / {best[2]:.4f}; cosine with the teacher {F.cosine_similarity(d, held_out.teacher).mean():.3f}",
          flush=True)


def probe_length(model: RRFNet, state: dict) -> None:
    cache, train_idx, held_out, centre, _ = training_setup(state, "celeba")
    _, val_idx = split_validation(cache)
    raw = cache.teacher[val_idx].mean(1)  # the app's fullface descriptor: plain and mirrored chips averaged
    teacher = raw - centre
    student = embed_patches(model, held_out.faces)[:, :, :model.dim].mean(1)
    unit = lambda d: d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)  # noqa: E731
    lengths = {"teacher": teacher.norm(dim=1), "student": student.norm(dim=1)}
    raw_score = held_out.pair_score(raw)
    print(f"{'teacher raw (the app: plain and mirrored averaged)':44s} {raw_score[0]:.4f} / {raw_score[1]:.4f}; "
          f"|centre| = {centre.norm():.3f} = {centre.norm() / lengths['teacher'].mean():.2f} x mean centred length")
    print_constant_scan("teacher centred", teacher, held_out)
    print_constant_scan("student as trained", student, held_out)
    print_constant_scan("student direction, teacher's length", unit(student) * lengths["teacher"].unsqueeze(1), held_out)
    print_constant_scan("teacher direction, student's length", unit(teacher) * lengths["student"].unsqueeze(1), held_out)
    rank = lambda v: torch.argsort(torch.argsort(v)).double()  # noqa: E731
    corr = lambda x, y: torch.corrcoef(torch.stack([x.double(), y.double()]))[0, 1].item()  # noqa: E731
    print(f"|A| against |T - centre| on the held-out faces: Pearson {corr(*lengths.values()):.3f}, "
          f"Spearman {corr(*(rank(v) for v in lengths.values())):.3f}")


def probe_ensemble(model: RRFNet, state: dict, other_file: Path, weights: list[float]) -> None:
    other_state = load_checkpoint(other_file)
    other = RRFNet.from_checkpoint(other_state, mirror=True).eval()
    cache, train_idx, held_out = Validation.of_checkpoint(state)
    # The other student's held-out faces and targets are these when it names the same cache and face
    # count and measures from the same centre: checked on the loaded cache rather than by loading it again.
    same_faces = all(str(other_state["args"].get(k)) == str(state["args"].get(k)) for k in ("cache", "faces"))
    centres = [teacher_mean(cache, train_idx, s.get("teacherMean")) for s in (state, other_state)]
    if not same_faces or not torch.allclose(*centres):
        raise SystemExit(f"{other_file} was trained on another cache or centre: its held-out faces differ")
    this, that = (embed_patches(m, held_out.faces)[:, :, :m.dim].mean(1) for m in (model, other))
    print_constant_scan("this student", this, held_out)
    print_constant_scan(f"other ({other_file.parent.name})", that, held_out)
    for w in weights:
        print_constant_scan(f"{w} x this + {1 - w:g} x other", w * this + (1 - w) * that, held_out)


def probe_hidden(model: RRFNet, state: dict, kept_file: Path, datasets: str, hidden: int, steps: int, lr: float,
                 mlp_lr: float, decay: float, eval_every: int) -> None:
    cache, train_idx, held_out, _, y = training_setup(state, datasets)
    kept = kept_trunk_features(model, state, kept_file, cache, train_idx, held_out)
    p, c, dim = model.heads.shape
    x_train, x_val = as_sequence(kept["train"], p), as_sequence(kept["val"], p)
    del kept
    # the hidden layer reads each trunk feature in units of its spread over the training faces
    spread = x_train[0].std(1).clamp_min(1e-8).reshape(1, p * c, 1)
    h0 = model.heads.detach().reshape(p * c, dim)
    constant = None if model.constant is None else float(model.constant.item())
    gen = torch.Generator().manual_seed(0)
    heads = h0.clone().requires_grad_(True)
    u = (torch.randn(p * hidden, c, 1, generator=gen) / c ** 0.5).requires_grad_(True)
    b = torch.zeros(p * hidden, requires_grad=True)
    v = torch.zeros(dim, p * hidden, 1, requires_grad=True)

    def descriptors(x: torch.Tensor, h: torch.Tensor, u: torch.Tensor, b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        inner = F.relu(F.conv1d(x / spread, u, b, groups=p))  # [1, P * hidden, N], position i from g_i alone
        return linear_descriptors(h, x) + F.conv1d(inner, v)[0].T / p

    def score(params) -> tuple[float, float, float]:
        with torch.no_grad():
            r = held_out.score_descriptors(with_constant(descriptors(x_val, *params), constant))
        return r["accuracy"], r["auc"], r["teacherCos"]

    print(f"{len(train_idx)} training faces, {p} positions x {c} features -> {hidden} hidden -> {dim} "
          f"({p * hidden * (c + 1 + dim):,} more weights than the trained heads); validation {len(held_out.same)} pairs",
          flush=True)
    base = score((h0, u, b, v))
    opt = torch.optim.Adam([{"params": [heads], "lr": lr * h0.std().item()},
                            {"params": [u, b, v], "lr": mlp_lr, "weight_decay": decay}])
    results = []
    for step in range(1, steps + 1):
        loss = 1 - F.cosine_similarity(descriptors(x_train, heads, u, b, v), y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0:
            params = tuple(t.detach().clone() for t in (heads, u, b, v))
            s = score(params)
            results.append((s, step, params, constant))
            print(f"step {step}: training cosine {1 - loss.item():.4f}; held-out accuracy {s[0]:.4f} AUC {s[1]:.4f} "
                  f"cosine with the teacher {s[2]:.3f}; |V| {v.norm():.3f}", flush=True)
    report_best("", base, results)
    _, _, params, _ = best_step(results)
    with torch.no_grad():
        print_constant_scan("best step, constant scanned", descriptors(x_val, *params), held_out)


def probe_scales(state: dict, run: Path, kept_stem: str, sizes: list[int], datasets: str, steps: int, lr: float,
                 eval_every: int) -> None:
    cache, train_idx, held_out, _, y = training_setup(state, datasets)
    features = []
    for size in sizes:
        sized = {**state, "args": {**state["args"], "input_size": str(size)}}
        model = RRFNet.from_checkpoint(sized, mirror=True).eval()
        features.append(kept_trunk_features(model, sized, run / f"{kept_stem}-in{size}-trunk-features.pt", cache,
                                            train_idx, held_out))
    p, c, dim = model.heads.shape
    x_train = as_sequence(torch.cat([f["train"] for f in features], 1), p)
    x_val = as_sequence(torch.cat([f["val"] for f in features], 1), p)
    del features
    trained = model.heads.detach().reshape(p * c, dim)
    h0 = torch.cat([trained / len(sizes)] * len(sizes))
    constant = None if model.constant is None else float(model.constant.item())
    print(f"{len(train_idx)} training faces, {p} positions x {len(sizes)} sizes ({', '.join(map(str, sizes))} px) "
          f"x {c} features -> {dim}; validation {len(held_out.same)} pairs", flush=True)
    base, results = fit_heads(h0, x_train, y, x_val, held_out, steps, lr * trained.std().item(), eval_every,
                              constant=constant)
    report_best("", base, results)
    print_constant_scan("best step, constant scanned", linear_descriptors(best_step(results)[2], x_val), held_out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("probe", choices=["views", "positions", "cells", "grid", "centre", "lengths", "length", "ensemble", "hidden", "scales"])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument("--sizes", default="", help="views: other input sizes; scales: the input sizes read together; comma-separated")
    ap.add_argument("--kept-stem", default="", help="scales: the kept trunk features' stem in --run (default the checkpoint's)")
    ap.add_argument("--zooms", default="", help="views: centre crops, pixels cut from every side, comma-separated")
    ap.add_argument("--min-faces", type=int, default=10, help="positions: identities with at least this many faces")
    ap.add_argument("--steps", type=int, default=300, help="positions, cells, grid, centre, hidden, scales: full-batch Adam steps")
    add_training_faces_arguments(ap)  # cells, grid; centre: --faces is its sample size
    ap.add_argument("--stride", type=int, default=7, help="grid: the finer grid's stride, in aligned-face pixels")
    ap.add_argument("--layout", choices=["own", "absolute", "shared"], default="absolute", help="cells: how heads read the cells")
    ap.add_argument("--lr", type=float, default=0.01, help="cells, grid, centre, hidden, scales: Adam step of the heads, relative to the trained heads' spread")
    ap.add_argument("--eval-every", type=int, default=25, help="cells, grid, centre, hidden, scales: held-out score every this many steps")
    ap.add_argument("--no-keep", action="store_true",
                    help="cells, centre: neither read nor write the kept trunk maps (<checkpoint>-trunk-maps.pt) "
                         "or features (<checkpoint>-trunk-features.pt)")
    ap.add_argument("--powers", default="-0.5,-0.25,0,0.25,0.5,1",
                    help="lengths: the powers p of each patch feature's length it is divided by, comma-separated")
    ap.add_argument("--other", type=Path, default=None, help="ensemble: the other student's checkpoint file")
    ap.add_argument("--weights", default="0.25,0.5,0.75", help="ensemble: this student's weights in the sum, comma-separated")
    ap.add_argument("--hidden", type=int, default=64, help="hidden: units of each head's hidden layer")
    ap.add_argument("--mlp-lr", type=float, default=1e-3, help="hidden: Adam step of the hidden layers")
    ap.add_argument("--decay", type=float, default=0.0, help="hidden: weight decay of the hidden layers")
    ap.add_argument("--kept", default="", help="hidden: the kept trunk features file in --run "
                    "(default <checkpoint>-trunk-features.pt)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    state = load_checkpoint(args.run.expanduser() / args.checkpoint)
    model = RRFNet.from_checkpoint(state, mirror=True).eval()
    if args.probe == "views":
        _, _, held_out = Validation.of_checkpoint(state)
        ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
        probe_views(model, held_out, ints(args.sizes), ints(args.zooms))
    elif args.probe == "positions":
        probe_positions(model, state, args.min_faces, args.steps)
    elif args.probe == "cells":
        kept = args.run.expanduser() / f"{Path(args.checkpoint).stem}-trunk-maps.pt"
        probe_cells(model, state, kept, not args.no_keep, args.datasets, args.faces, args.layout, args.steps, args.lr,
                    args.eval_every)
    elif args.probe == "centre":
        kept = args.run.expanduser() / f"{Path(args.checkpoint).stem}-trunk-features.pt"
        probe_centre(model, state, kept, not args.no_keep, args.datasets, args.steps, args.lr, args.eval_every,
                     args.faces or 32)
    elif args.probe == "length":
        probe_length(model, state)
    elif args.probe == "ensemble":
        if args.other is None:
            raise SystemExit("ensemble needs --other RUN/CHECKPOINT, the second student")
        probe_ensemble(model, state, args.other.expanduser(), [float(v) for v in args.weights.split(",")])
    elif args.probe == "hidden":
        kept = args.run.expanduser() / (args.kept or f"{Path(args.checkpoint).stem}-trunk-features.pt")
        probe_hidden(model, state, kept, args.datasets, args.hidden, args.steps, args.lr, args.mlp_lr, args.decay,
                     args.eval_every)
    elif args.probe == "scales":
        probe_scales(state, args.run.expanduser(), args.kept_stem or Path(args.checkpoint).stem,
                     [int(v) for v in args.sizes.split(",") if v], args.datasets, args.steps, args.lr, args.eval_every)
    elif args.probe == "lengths":
        probe_lengths(model, state, [float(v) for v in args.powers.split(",")], args.faces or 2000)
    else:
        probe_grid(model, state, args.stride, args.datasets, args.faces, args.steps, args.lr, args.eval_every)


if __name__ == "__main__":
    main()
