#!/usr/bin/env python3
"""Export a trained RRFNet checkpoint to ONNX (public/models/) and write its manifest entry.

    /usr/bin/python3 -m training.export_rrf --run ~/.cache/patchface/runs/rrf28 --id rrf28 --mirror

Weights are quantised to uint8 per output channel (per patch and output for the heads) and
dequantised in the graph, as for the converted face-api models, which keeps each file under
8 MB; the LFW accuracy in the manifest is measured afterwards on this very file
(`npx patchface eval lfw ... --write-manifest`). The trunk's convolutions on its smallest maps
then run as large matrix products (``training.small_map_convs``). The graph input is "faces" [N, 3, 112, 112]
normalised (px - mean) * scale, the output "patches" [N, P, D]. With --mirror, patch feature i is
the mean of the features of patch i and of its mirror image (run as the patch at the mirrored
position), so the descriptor is the mean of the face's and its mirror image's, computed inside the
graph patch by patch. When the run's training faces are on this machine, the exported network is
first measured on the held-out identities (printed; --validate-only stops there).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

from training import manifest as mf
from training.small_map_convs import rewrite_file
from training.onnx_export import export_onnx
from training.rrf.model import MEAN, SCALE, RRFNet, count_macs, load_checkpoint, mirror_mismatch
from training.rrf.quantise import Exportable
from training.rrf.validation import Validation


def held_out_validation(state: dict, net: torch.nn.Module) -> dict | None:
    """The exported network's score on the run's held-out identities; None without its training faces."""
    try:
        _, _, held_out = Validation.of_checkpoint(state)
    except (FileNotFoundError, ValueError) as e:
        print(f"no training faces to validate on ({e})")
        return None
    return {"pairs": len(held_out.same), **held_out.score(net)}


def manifest_entry(model_id: str, path: Path, model: RRFNet, small_maps: dict | None) -> dict:
    """The manifest entry of an exported student: what the app and the CLI read."""
    return {
        "id": model_id,
        **mf.file_entry_fields(path),
        "role": "embedder",
        "kind": "mean-cosine",
        "input": {
            "name": "faces",
            "size": 112,
            "layout": "NCHW",
            "rgb": True,
            "mean": list(MEAN),
            "scale": SCALE,
        },
        "output": {"name": "patches", "dims": ["N", model.num_patches, model.out_dim]},
        "patches": model.boxes,
        "regionWeights": None,
        "threshold": None,
        "lfw": None,
        "patchSize": model.patch,
        "stride": model.stride,
        "mirror": model.mirror,
        "patchInputSize": model.input_size,
        "constant": None if model.constant is None else float(model.constant.item()),
        "smallMapConvolutions": small_maps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument(
        "--mirror",
        action="store_true",
        help="each patch feature averages the patch with its mirror image, read at the mirrored "
        "position (twice the compute; still a function of the patch alone)",
    )
    ap.add_argument(
        "--plain",
        action="store_true",
        help="leave the small-map convolutions as exported (the file quantise_activations takes)",
    )
    ap.add_argument(
        "--validate-only",
        action="store_true",
        help="measure the network as it would ship on the held-out identities, write nothing",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=mf.MODELS_DIR,
        help="folder of the ONNX file and of the manifest.json its entry goes into (default: public/models)",
    )
    args = ap.parse_args()
    run = args.run.expanduser()
    state = load_checkpoint(run / args.checkpoint)
    mismatch = mirror_mismatch(state, args.mirror)
    if mismatch:
        how, with_mirror = mismatch
        raise SystemExit(
            f"{args.checkpoint} was {how} for {'the' if with_mirror else 'no'} mirror: "
            f"export it {'with' if with_mirror else 'without'} --mirror"
        )
    model = RRFNet.from_checkpoint(state, mirror=args.mirror)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"{params} parameters, {count_macs(model) / 1e6:.1f} M multiply-adds per face")
    net = Exportable(model)
    validation = held_out_validation(state, net)
    if validation is not None:
        print(
            f"validation of the exported network{' (mirror)' if args.mirror else ''}: {validation}"
        )
    if args.validate_only:
        return
    p, d = model.num_patches, model.out_dim
    with tempfile.TemporaryDirectory() as tmp:
        # Written aside first (under its own name, which the graph carries), then moved into place.
        staged = Path(tmp) / f"{args.id}.onnx"
        doc = (
            f"PatchFace RRFNet: {p} patches of {model.patch} px, each feature sees only its own patch"
            + (" (averaged with its mirror image)" if model.mirror else "")
        )
        export_onnx(
            net,
            torch.zeros(1, 3, 112, 112),
            "faces",
            ["patches"],
            {"faces": {0: "N"}, "patches": {0: "N"}},
            staged,
            doc,
            {"patches": ["N", p, d]},
        )
        small_maps = (
            None if args.plain else rewrite_file(staged, model.input_size, model.num_patches)
        )
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{args.id}.onnx"
        shutil.move(staged, path)
    entry = mf.upsert(manifest_entry(args.id, path, model, small_maps), args.out / "manifest.json")
    print(json.dumps({k: entry[k] for k in ("id", "file", "bytes", "sha256")}, indent=2))


if __name__ == "__main__":
    main()
