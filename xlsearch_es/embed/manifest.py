"""The manifest xlsearch writes beside a model it made (converted or fine-tuned):
name, fingerprint, dims, pooling, prefixes, and for fine-tuned models their training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ModelError

MANIFEST = "xlsearch_manifest.json"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"model manifest {path} is corrupt: {exc}") from exc


def trained_on(model_ref: str, query_adapter: str | None, data_hash: str) -> list[dict[str, Any]]:
    """The training records (data, data_hash, split) of the served model and query adapter
    that ``xlsearch train`` made from the judgments with this hash; [] for the others."""
    from .adapter import adapter_training  # the adapter module reads manifests of its own kind

    records = [(read_manifest(Path(model_ref)) or {}).get("training"), adapter_training(query_adapter)]
    return [r for r in records if isinstance(r, dict) and r.get("data_hash") == data_hash]
