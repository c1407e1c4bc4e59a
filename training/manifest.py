"""Read / update ``public/models/manifest.json`` (the model contract, DESIGN.md).

Only scripts write the manifest.  ``upsert`` replaces one entry by ``id`` and keeps every
other entry untouched and in place (new ids are appended), so several export scripts can
share the file.  Evaluation results (``threshold``, ``lfw``) of an entry survive a rewrite
only when the model file itself is unchanged (same sha256); otherwise they are reset to null.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "public" / "models"
MANIFEST_PATH = MODELS_DIR / "manifest.json"
#: exported students not shipped yet, with the manifest entries shipping them would write
#: (export_rrf.py --candidate, ship_candidate.py). A machine's run folders do not outlive its
#: session, while an LFW run takes most of one: a candidate committed here is what lets the next
#: session measure it without training it again.
CANDIDATES_DIR = ROOT / "training" / "candidates"
VERSION = 1
#: fields measured after export; kept only while the file's sha256 stays the same
EVAL_FIELDS = ("threshold", "lfw")


def repo_path(path: Path) -> str:
    """A path as committed records store it: relative to the repository when inside it, so the record
    reads the same from any working directory and on any clone."""
    path = path.expanduser().resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    if not path.exists():
        return {"version": VERSION, "models": []}
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ValueError(f"{path}: expected {{'version', 'models': [...]}}")
    data.setdefault("version", VERSION)
    return data


def write_manifest(data: dict[str, Any], path: Path = MANIFEST_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": data.get("version", VERSION), "models": data["models"]}, indent=2) + "\n"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def models_dir(candidate: bool = False) -> tuple[Path, Path]:
    """The folder of the model files and its manifest: the shipped ones, or the candidates'."""
    folder = CANDIDATES_DIR if candidate else MODELS_DIR
    return folder, folder / "manifest.json"


def rrf_entries(data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The entries of the manifest that are RRFNets (a mean-cosine model with a patch grid)."""
    return [m for m in (data or read_manifest())["models"] if m.get("kind") == "mean-cosine" and "patchSize" in m]


def file_entry_fields(model_file: Path) -> dict[str, Any]:
    return {"file": model_file.name, "sha256": sha256_file(model_file), "bytes": model_file.stat().st_size}


def upsert(entry: dict[str, Any], path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """Insert or replace the entry with ``entry['id']``; returns the entry as written."""
    data = read_manifest(path)
    models: list[dict[str, Any]] = data["models"]
    entry = dict(entry)
    for field in EVAL_FIELDS:
        entry.setdefault(field, None)
    for i, old in enumerate(models):
        if old.get("id") == entry["id"]:
            if old.get("sha256") == entry.get("sha256"):
                for field in EVAL_FIELDS:
                    if entry.get(field) is None and old.get(field) is not None:
                        entry[field] = old[field]
            models[i] = entry
            break
    else:
        models.append(entry)
    write_manifest(data, path)
    return entry
