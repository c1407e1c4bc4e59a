#!/usr/bin/env python3
"""Move the training cache to a GPU machine and its checkpoints back, within the lease's limits.

The GPU lease (training/README.md, "On a GPU") carries at most 64 MiB per call, the project's own tracked
files included (about 28 MiB, most of it public/models/), and returns files of at most 16 MiB.
The cache is 1.2 GB of raw 128x128 faces, so:

    pack     (here)  faces as JPEG (quality 85, mean absolute error about 1.7 grey levels),
                     teacher targets as float16, in parts a, b, c, ... each small enough to travel
                     beside the working tree in one call (the size is measured, not assumed)
    unpack   (there) the parts back into the cache layout train_rrf.py reads; refuses a set of
                     parts with one missing, and names it
    shrink   (there) a run's checkpoint as float16 weights only (optimiser state dropped)
    restore  (here)  a shrunk checkpoint as a run folder export_rrf.py reads, pointed at the
                     local cache (so export validates on the original, un-recompressed faces)

    /usr/bin/python3 -m training.gpu.gpu_transfer pack --out .gpu
    /usr/bin/python3 -m training.gpu.gpu_transfer unpack .gpu/*/ --out /tmp/cache
    /usr/bin/python3 -m training.gpu.gpu_transfer shrink RUN/best.pt OUT/name.pt
    /usr/bin/python3 -m training.gpu.gpu_transfer restore name.pt --run ~/.cache/patchface/runs/NAME
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from training.rrf.data import STORED, load_cache
from training.rrf.model import load_checkpoint

TEACHER_FILES = ("face_recognition_model-weights_manifest.json", "face_recognition_model.bin")


LEASE_MIB = 64  # what one call to the leased machine carries, working tree included
ROOT = Path(__file__).resolve().parents[2]


def travelling_tree_bytes(root: Path = ROOT) -> int:
    """Bytes of the files every call carries anyway: tracked files, and untracked ones git does not
    ignore (so a forgotten ignore rule for the parts shows up here as a tree too large to carry)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    files = [root / name.decode() for name in listed if name]
    return sum(f.stat().st_size for f in files if f.is_file())


def part_names(count: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(count)]


def pack(
    cache: Path, out: Path, max_mib: float | None, quality: int, teacher_weights: Path
) -> None:
    from torchvision.io import encode_jpeg

    tree = travelling_tree_bytes()
    if max_mib is None:
        # Whatever the tree leaves of one call, less 2 MiB for files that change before the call.
        max_mib = LEASE_MIB - tree / 2**20 - 2
    budget = int(max_mib * 2**20)
    if budget <= 8 * 2**20:
        raise SystemExit(
            f"the working tree carries {tree / 2**20:.1f} MiB, which leaves {max_mib:.1f} MiB a call: too little"
        )
    if (out / "a").exists():
        raise SystemExit(f"{out} already holds parts: remove it first (rm -r {out})")
    # Under git's eyes a part must be ignored, or every call would carry all of them.
    probe = out / "a" / "faces.jpg.bin"
    if (
        subprocess.run(["git", "check-ignore", "-q", str(probe.resolve())], cwd=ROOT).returncode
        != 0
    ):
        raise SystemExit(
            f"{out} is not ignored by git: add it to .gitignore, or every call would carry it"
        )

    data = load_cache(cache)
    faces, n = data.faces, len(data.paths)
    teacher = data.teacher.numpy().astype(np.float16)
    # Targets, index and teacher weights (the trunk's start, for runs from the teacher) go with
    # the first part, so that part alone can run a short check of the training script.
    extras = {
        "teacher.f16": teacher.nbytes,
        "index.tsv": (cache / "index.tsv").stat().st_size,
        **{f: (teacher_weights / f).stat().st_size for f in TEACHER_FILES},
    }
    blobs = [
        encode_jpeg(faces[i].permute(2, 0, 1).contiguous(), quality=quality).numpy()
        for i in range(n)
    ]
    # Contiguous ranges of faces, each part as full as its budget allows.
    ranges, lo, used = [], 0, sum(extras.values())
    for i, b in enumerate(blobs):
        if used + len(b) > budget and i > lo:
            ranges.append((lo, i))
            lo, used = i, 0
        used += len(b)
    ranges.append((lo, n))
    names = part_names(len(ranges))
    for name, (lo, hi) in zip(names, ranges):
        part = out / name
        part.mkdir(parents=True)
        offsets = np.cumsum([0] + [len(b) for b in blobs[lo:hi]]).astype(np.int64)
        np.save(part / "offsets.npy", offsets)
        np.concatenate(blobs[lo:hi]).tofile(part / "faces.jpg.bin")
        (part / "range.txt").write_text(f"{lo} {hi}\n")
    first = out / "a"
    teacher.tofile(first / "teacher.f16")
    shutil.copy(cache / "index.tsv", first / "index.tsv")
    for f in TEACHER_FILES:
        shutil.copy(teacher_weights / f, first / f)
    # The whole set, so that unpack can tell a missing part from a finished one.
    (first / "parts.tsv").write_text(
        "".join(f"{name}\t{lo}\t{hi}\n" for name, (lo, hi) in zip(names, ranges))
    )
    for name, (lo, hi) in zip(names, ranges):
        size = sum(f.stat().st_size for f in (out / name).iterdir())
        print(
            f"part {name}: faces {lo}..{hi}, {size / 2**20:.1f} MiB; with the working tree "
            f"({tree / 2**20:.1f} MiB) {(tree + size) / 2**20:.1f} of {LEASE_MIB} MiB"
        )


def unpack(parts: list[Path], out: Path, threads: int, partial: bool = False) -> None:
    """The parts back into a cache. With ``partial``, the faces of the leading parts at hand (a, or
    a and b, ...) and their index rows only: enough for a short check of the training script."""
    from torchvision.io import decode_jpeg

    first = next((p for p in parts if (p / "parts.tsv").exists()), None)
    if first is None:
        raise SystemExit(
            "part a (which holds parts.tsv, the targets and the index) is not among "
            + " ".join(map(str, parts))
        )
    every = [line.split("\t") for line in (first / "parts.tsv").read_text().strip().split("\n")]
    found = {p.name: p for p in parts}
    missing = [name for name, _, _ in every if name not in found]
    expected = every
    if partial and missing:
        expected = every[: [name for name, _, _ in every].index(missing[0])]
    elif missing:
        raise SystemExit(
            f"parts missing: {', '.join(missing)} (have {', '.join(sorted(found))}); carry them first"
        )
    n = int(expected[-1][2])
    out.mkdir(parents=True, exist_ok=True)
    faces = np.lib.format.open_memmap(
        out / "faces.npy", mode="w+", dtype=np.uint8, shape=(n, STORED, STORED, 3)
    )
    for name, lo_s, hi_s in expected:
        p, lo, hi = found[name], int(lo_s), int(hi_s)
        if (p / "range.txt").read_text().split() != [lo_s, hi_s]:
            raise SystemExit(
                f"{p}: faces {(p / 'range.txt').read_text().strip()}, but parts.tsv says "
                f"{lo}..{hi}: parts of two packs?"
            )
        offsets = np.load(p / "offsets.npy")
        data = np.fromfile(p / "faces.jpg.bin", dtype=np.uint8)

        def one(k: int) -> None:
            blob = torch.from_numpy(data[offsets[k] : offsets[k + 1]].copy())
            faces[lo + k] = decode_jpeg(blob).permute(1, 2, 0).numpy()

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(hi - lo)))
    faces.flush()
    np.asarray(faces).tofile(out / "faces128.u8")
    (out / "faces.npy").unlink()
    teacher = np.fromfile(first / "teacher.f16", dtype=np.float16)
    per_face = teacher.size // int(every[-1][2])  # the targets of the whole pack, one row per face
    teacher[: n * per_face].astype(np.float32).tofile(out / "teacher.f32")
    rows = (first / "index.tsv").read_text().strip().split("\n")
    (out / "index.tsv").write_text("\n".join(rows[: n + 1]) + "\n")  # header and the faces unpacked
    print(f"unpacked {n} faces from parts {', '.join(name for name, _, _ in expected)} into {out}")


def shrink(checkpoint: Path, out: Path) -> None:
    state = load_checkpoint(checkpoint)
    state["model"] = {
        k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()
    }
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
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--max-mib",
        type=float,
        default=None,
        help="size of each part (default: what one call leaves beside the working tree, less 2 MiB)",
    )
    p.add_argument("--quality", type=int, default=85)
    p.add_argument(
        "--teacher-weights", type=Path, default=ROOT / "node_modules/@vladmandic/face-api/model"
    )
    u = sub.add_parser("unpack")
    u.add_argument("parts", type=Path, nargs="+")
    u.add_argument("--out", type=Path, required=True)
    u.add_argument("--threads", type=int, default=8)
    u.add_argument(
        "--partial", action="store_true", help="unpack the leading parts at hand, for a short check"
    )
    s = sub.add_parser("shrink")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("out", type=Path)
    r = sub.add_parser("restore")
    r.add_argument("shrunk", type=Path)
    r.add_argument("--run", type=Path, required=True)
    r.add_argument("--cache", type=Path, default=Path.home() / ".cache/patchface/train")
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args.cache.expanduser(), args.out, args.max_mib, args.quality, args.teacher_weights)
    elif args.cmd == "unpack":
        unpack(args.parts, args.out, args.threads, args.partial)
    elif args.cmd == "shrink":
        shrink(args.checkpoint, args.out)
    else:
        restore(args.shrunk, args.run.expanduser(), args.cache.expanduser())


if __name__ == "__main__":
    main()
