#!/usr/bin/env python3
"""Write what each shipped RRFNet must output, computed by PyTorch from the file's own weights.

    /usr/bin/python3 -m training.reference_outputs

For every RRFNet in public/models/manifest.json this rebuilds the network from the weights stored
in its ONNX file (``training.recover_checkpoint.shipped_weights``), runs it in PyTorch on a
seeded noise face, and writes the features to ``tests/models/rrf-reference.json`` together with
the file's SHA-256. ``tests/models/rrf-models.test.ts`` runs the ONNX file on the same face and
requires the same features: the graph, with whatever was rewritten after the export (uint8
weights, convolutions written out as matrix products), still computes the trained network.

The noise is mulberry32 (``tests/support/random.ts``), uniform in [-1, 1), so the test can make
the same face without a file. Run this again whenever a model file changes.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from training import manifest as mf
from training.recover_checkpoint import shipped_weights
from training.rrf.model import RRFNet

OUT = mf.ROOT / "tests" / "models" / "rrf-reference.json"
SEED = 2024
FACES = 1
FACE = 112


def mulberry32(seed: int):
    """The test's generator, bit for bit (tests/support/random.ts)."""
    a = seed & 0xFFFFFFFF

    def imul(x: int, y: int) -> int:
        return (x * y) & 0xFFFFFFFF

    def next_value() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return next_value


def noise_faces() -> np.ndarray:
    random = mulberry32(SEED)
    values = [random() * 2 - 1 for _ in range(FACES * 3 * FACE * FACE)]
    return np.array(values, dtype=np.float32).reshape(FACES, 3, FACE, FACE)


def main() -> None:
    torch.set_num_threads(2)
    faces = torch.from_numpy(noise_faces())
    models = {}
    for entry in mf.rrf_entries(mf.read_manifest()):
        path = mf.MODELS_DIR / entry["file"]
        net = RRFNet.of_manifest_entry(entry, mirror=bool(entry.get("mirror")))
        net.load_state_dict(shipped_weights(path)[0])
        net.eval()
        with torch.no_grad():
            features = net(faces).numpy()
        models[entry["id"]] = {
            "sha256": mf.file_entry_fields(path)["sha256"],
            "dims": list(features.shape),
            "features": [float(f"{v:.7g}") for v in features.ravel()],
        }
        print(f"{entry['id']}: {list(features.shape)}")
    data = {"seed": SEED, "faces": FACES, "models": models}
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
