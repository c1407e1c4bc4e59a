#!/usr/bin/env python3
"""Move the training cache to a GPU machine and its checkpoints back, within the lease's limits.

The GPU lease (see training/README.md) carries at most 64 MiB per call and returns files of at most
16 MiB. The cache is 1.2 GB of raw 128x128 faces, so:

    pack     (here)  faces as JPEG (quality 85, mean absolute error about 1.7 grey levels),
                     teacher targets as float16, split into parts that each fit one call
    unpack   (there) the parts back into the cache layout train_rrf.py reads
    shrink   (there) a run's checkpoint as float16 weights only (optimiser state dropped)
    restore  (here)  a shrunk checkpoint as a run folder export_rrf.py reads, pointed at the
                     local cache (so export validates on the original, un-recompressed faces)

    /usr/bin/python3 training/gpu_transfer.py pack --out .gpu --parts 0.4
    /usr/bin/python3 training/gpu_transfer.py unpack .gpu/a .gpu/b --out /tmp/cache
    /usr/bin/python3 training/gpu_transfer.py shrink RUN/best.pt OUT/name.pt
    /usr/bin/python3 training/gpu_transfer.py restore name.pt --run ~/.cache/patchface/runs/NAME
"""
from __future__ import annotations

import argparse
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rrf.data import STORED, load_cache  # noqa: E402
from rrf.model import load_checkpoint  # noqa: E402

TEACHER_FILES = ("face_recognition_model-weights_manifest.json", "face_recognition_model.bin")


def pack(cache: Path, out: Path, first_share: float, quality: int, teacher_weights: Path) -> None:
    from torchvision.io import encode_jpeg

    data = load_cache(cache)
    faces, n = data.faces, len(data.paths)
    split = int(round(n * first_share))
    for name, lo, hi in (("a", 0, split), ("b", split, n)):
        part = out / name
        part.mkdir(parents=True, exist_ok=True)
        blobs = [encode_jpeg(faces[i].permute(2, 0, 1).contiguous(), quality=quality).numpy()
                 for i in range(lo, hi)]
        offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        np.save(part / "offsets.npy", offsets)
        np.concatenate(blobs).tofile(part / "faces.jpg.bin")
        (part / "range.txt").write_text(f"{lo} {hi}\n")
        print(f"part {name}: faces {lo}..{hi}, {offsets[-1] / 2**20:.1f} MiB of JPEG")
    # Teacher targets, index and teacher weights (the trunk's start) go with the first part, so
    # that part alone can run a short check of the training script.
    data.teacher.numpy().astype(np.float16).tofile(out / "a" / "teacher.f16")
    shutil.copy(cache / "index.tsv", out / "a" / "index.tsv")
    for f in TEACHER_FILES:
        shutil.copy(teacher_weights / f, out / "a" / f)


def unpack(parts: list[Path], out: Path, threads: int) -> None:
    from torchvision.io import decode_jpeg

    out.mkdir(parents=True, exist_ok=True)
    ranges = [tuple(int(v) for v in (p / "range.txt").read_text().split()) for p in parts]
    n = max(hi for _, hi in ranges)
    faces = np.lib.format.open_memmap(out / "faces.npy", mode="w+", dtype=np.uint8, shape=(n, STORED, STORED, 3))
    for p, (lo, hi) in zip(parts, ranges):
        offsets = np.load(p / "offsets.npy")
        data = np.fromfile(p / "faces.jpg.bin", dtype=np.uint8)

        def one(k: int) -> None:
            blob = torch.from_numpy(data[offsets[k]:offsets[k + 1]].copy())
            faces[lo + k] = decode_jpeg(blob).permute(1, 2, 0).numpy()

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(hi - lo)))
    faces.flush()
    np.asarray(faces).tofile(out / "faces128.u8")
    (out / "faces.npy").unlink()
    teacher = np.fromfile(next(p for p in parts if (p / "teacher.f16").exists()) / "teacher.f16", dtype=np.float16)
    teacher[: n * 256].astype(np.float32).tofile(out / "teacher.f32")
    index = next(p for p in parts if (p / "index.tsv").exists()) / "index.tsv"
    rows = index.read_text().strip().split("\n")
    (out / "index.tsv").write_text("\n".join(rows[: n + 1]) + "\n")  # a partial unpack keeps its rows only
    print(f"unpacked {n} faces from {', '.join(str(p) for p in parts)} into {out}")


def shrink(checkpoint: Path, out: Path) -> None:
    state = load_checkpoint(checkpoint)
    state["model"] = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    del state["opt"]
    torch.save(state, out)


def restore(shrunk: Path, run: Path, cache: Path) -> None:
    state = load_checkpoint(shrunk)
    state["model"] = {k: v.float() for k, v in state["model"].items()}
    state["args"]["cache"] = str(cache)
    state["args"]["gpuCache"] = "JPEG-packed copy (gpu_transfer.py pack)"
    run.mkdir(parents=True, exist_ok=True)
    # best.pt only: export reads it, and a last.pt without optimiser state would break a resume.
    torch.save(state, run / "best.pt")
    print(f"restored step {state['step']} into {run}: validation there {state['validation']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--parts", type=float, default=0.4, help="share of the faces in part a (which also holds the targets)")
    p.add_argument("--quality", type=int, default=85)
    p.add_argument("--teacher-weights", type=Path,
                   default=Path(__file__).resolve().parents[1] / "node_modules/@vladmandic/face-api/model")
    u = sub.add_parser("unpack")
    u.add_argument("parts", type=Path, nargs="+")
    u.add_argument("--out", type=Path, required=True)
    u.add_argument("--threads", type=int, default=8)
    s = sub.add_parser("shrink")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("out", type=Path)
    r = sub.add_parser("restore")
    r.add_argument("shrunk", type=Path)
    r.add_argument("--run", type=Path, required=True)
    r.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args.cache.expanduser(), args.out, args.parts, args.quality, args.teacher_weights)
    elif args.cmd == "unpack":
        unpack(args.parts, args.out, args.threads)
    elif args.cmd == "shrink":
        shrink(args.checkpoint, args.out)
    else:
        restore(args.shrunk, args.run.expanduser(), args.cache.expanduser())


if __name__ == "__main__":
    main()
