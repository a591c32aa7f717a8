"""Query adapters: a learnt linear correction of an encoder's query vectors.

Why: some encoders cannot be fine-tuned here (USE is a numpy port with no
gradients), and fine-tuning any encoder means re-embedding the catalog. An
adapter learns from the same judgments without either: a query vector ``q``
becomes ``normalise(q + q @ W)``, with ``W`` trained (``xlsearch train
--adapter``) so that queries land near the products judged relevant to them.
Product vectors are untouched, so an index keeps its vectors and its model
fingerprints; only search changes, and taking the adapter away undoes it.

A folder holds one adapter per encoder kind (``adapter.json`` names them, with
the fingerprint of the model each was trained on: an adapter over other vectors
would be noise, so loading it refuses).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..mapping import ModelMeta
from .fingerprints import base_fingerprint, file_hash

ADAPTER_MANIFEST = "adapter.json"


@dataclass(frozen=True)
class QueryAdapter:
    encoder: str  # the encoder kind it was trained for
    base_fingerprint: str  # that encoder's model, whose query vectors it corrects
    weights: np.ndarray  # (dims, dims) float32, the residual map W
    fingerprint: str  # of the adapter folder's manifest (what a tuning was learnt with)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """``normalise(q + q @ W)`` row by row."""
        out = vectors + vectors @ self.weights
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)


class AdaptedEmbedder:
    """An embedder whose query vectors pass through an adapter; passages as before."""

    def __init__(self, inner: Any, adapter: QueryAdapter):
        self.inner, self.adapter = inner, adapter
        self.name, self.fingerprint, self.dims = inner.name, inner.fingerprint, inner.dims

    def meta(self) -> ModelMeta:
        return self.inner.meta()

    def encode(self, texts: Sequence[str], role: str = "passage", **kwargs: Any) -> np.ndarray:
        vectors = self.inner.encode(texts, role=role, **kwargs)
        return self.adapter.apply(vectors) if role == "query" and len(texts) else vectors

    def __getattr__(self, name: str) -> Any:  # tokenizer, spec, batch size: the inner encoder's
        return getattr(self.inner, name)


def load_query_adapters(folder: str | Path) -> dict[str, QueryAdapter]:
    """encoder kind -> adapter, from a folder ``xlsearch train --adapter`` wrote."""
    path = Path(folder)
    manifest_path = path / ADAPTER_MANIFEST
    if not manifest_path.is_file():
        raise ConfigError(
            f"query adapter folder {path} has no {ADAPTER_MANIFEST}; train one with 'xlsearch train --adapter'"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = manifest["adapters"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{manifest_path} is not a query adapter manifest") from exc
    files = [path / str(entry.get("file", "")) for entry in entries.values()]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(f"query adapter folder {path} lacks {', '.join(missing)}")
    fingerprint = file_hash([manifest_path, *files])
    out = {}
    for kind, entry in entries.items():
        weights = np.load(path / entry["file"]).astype(np.float32)
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1] or weights.shape[0] != entry["dims"]:
            raise ConfigError(f"{path / entry['file']} is not a {entry['dims']}x{entry['dims']} matrix")
        out[kind] = QueryAdapter(kind, entry["base_fingerprint"], weights, fingerprint)
    return out


def adapter_training(folder: str | Path | None) -> dict[str, Any] | None:
    """What an adapter folder's manifest records of its training (data, hash, split)."""
    if not folder:
        return None
    try:
        training = json.loads((Path(folder) / ADAPTER_MANIFEST).read_text(encoding="utf-8")).get("training")
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{folder} has no readable {ADAPTER_MANIFEST}") from exc
    return training if isinstance(training, dict) else None


def adapter_fingerprint(folder: str | Path | None) -> str | None:
    """The configured adapter folder's fingerprint (None without one): a tuning learnt
    through one adapter is not reused for another."""
    if not folder:
        return None
    adapters = load_query_adapters(folder)
    return next(iter(adapters.values())).fingerprint if adapters else None


def adapt(embedder: Any, kind: str, adapters: dict[str, QueryAdapter]) -> Any:
    """``embedder`` with its kind's adapter, if the folder has one; refuses an adapter
    trained on another model's vectors."""
    adapter = adapters.get(kind)
    if adapter is None:
        return embedder
    if base_fingerprint(adapter.base_fingerprint) != base_fingerprint(embedder.fingerprint):
        raise ConfigError(
            f"the query adapter for {kind} was trained on model {adapter.base_fingerprint}, "
            f"but the configured one is {embedder.fingerprint} ({embedder.name}); train it again for this model"
        )
    return AdaptedEmbedder(embedder, adapter)
