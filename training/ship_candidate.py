#!/usr/bin/env python3
"""Ship a candidate student: move it from training/candidates/ into public/models/ with its entry.

    /usr/bin/python3 training/ship_candidate.py --id rrf28
    npx patchface eval lfw ../shared/data/lfw --model rrf28 --json --write-manifest

`export_rrf.py --candidate` writes a student that beat the shipped one on the held-out identities
to training/candidates/, with the manifest entry shipping it would write, and it is committed
there. An LFW run takes most of a session, and the next session's machine has neither the run
folders nor the prepared faces, so the candidate is what it measures. This script moves the file
into public/models/ and writes its entry into the manifest (threshold and LFW empty until the
eval writes them). Shipping is still decided on LFW: if the candidate does worse than the file it
replaced, `git checkout public/models` restores that one.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manifest as mf  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--id", required=True, help="the candidate's id (rrf28, rrf56)")
    args = ap.parse_args()
    folder, manifest_path = mf.models_dir(candidate=True)
    candidates = mf.read_manifest(manifest_path)
    entry = next((m for m in candidates["models"] if m["id"] == args.id), None)
    if entry is None:
        raise SystemExit(f"{args.id}: no candidate in {manifest_path}")
    source = folder / entry["file"]
    if mf.sha256_file(source) != entry["sha256"]:
        raise SystemExit(f"{source}: its sha256 differs from the candidate entry's")
    target = mf.MODELS_DIR / entry["file"]
    shutil.move(source, target)
    # The entry names this very file (its sha256 was checked above), and upsert drops the replaced
    # file's threshold and LFW result since the sha256 differs.
    shipped = mf.upsert(entry)
    candidates["models"] = [m for m in candidates["models"] if m["id"] != args.id]
    if candidates["models"]:
        mf.write_manifest(candidates, manifest_path)
    else:
        manifest_path.unlink()
    print(f"{args.id}: {target} (sha256 {shipped['sha256'][:8]}..., {shipped['bytes']:,} bytes) is in the manifest; "
          "measure it: npx patchface eval lfw ../shared/data/lfw --model " + args.id + " --json --write-manifest")


if __name__ == "__main__":
    main()
