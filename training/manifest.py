"""Read / update ``public/models/manifest.json`` (the model contract, DESIGN.md).

Only the scripts write the manifest (``training.convert_faceapi``, ``training.export_rrf``) and
``npx patchface eval lfw --write-manifest``.  ``upsert`` replaces one entry by ``id`` and keeps every
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
VERSION = 1
#: fields measured after export; kept only while the file's sha256 stays the same
EVAL_FIELDS = ("threshold", "lfw")


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
    text = (
        json.dumps({"version": data.get("version", VERSION), "models": data["models"]}, indent=2)
        + "\n"
    )
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def rrf_entries(data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The entries of the manifest that are RRFNets (a mean-cosine model with a patch grid)."""
    return [
        m
        for m in (data or read_manifest())["models"]
        if m.get("kind") == "mean-cosine" and "patchSize" in m
    ]


def file_entry_fields(model_file: Path) -> dict[str, Any]:
    return {
        "file": model_file.name,
        "sha256": sha256_file(model_file),
        "bytes": model_file.stat().st_size,
    }


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
