"""Applying a trained cross-encoder to the top of a fused list (``--reranker FOLDER``).

Search only needs to score (query, product) pairs; training the cross-encoder is
``learn/rerank.py``'s job, which builds on this class. Keeping the scorer here
means search never imports the learning package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..embed.manifest import read_manifest
from ..errors import ModelError

RERANK_DEPTH = 20  # the top of the fused list a reranker reorders
MAX_PAIR_LENGTH = 96


class Reranker:
    """Scores (query, passage) pairs with a sequence-classification model folder."""

    def __init__(self, path: str, device: str = "cpu", threads: int | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if not (Path(path) / "config.json").is_file():
            raise ModelError(f"reranker folder {path} has no config.json; train one with 'xlsearch train --reranker'")
        if threads:
            torch.set_num_threads(threads)
        self.manifest = read_manifest(Path(path)) or {}
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).to(device).eval()
        self.device, self._torch = device, torch
        self.query_prefix = self.manifest.get("query_prefix", "")
        self.passage_prefix = self.manifest.get("passage_prefix", "")
        self.fingerprint = str(self.manifest.get("fingerprint", ""))

    def _logits(self, query: str, passages: Sequence[str]) -> Any:
        return self.pair_logits([query] * len(passages), passages)

    def pair_logits(self, queries: Sequence[str], passages: Sequence[str]) -> Any:
        """One forward pass over (query, passage) pairs: a logit each (gradients kept)."""
        batch = self.tokenizer(
            [self.query_prefix + q for q in queries],
            [self.passage_prefix + p for p in passages],
            padding=True,
            truncation=True,
            max_length=MAX_PAIR_LENGTH,
            return_tensors="pt",
        )
        batch = {k: v.to(self.device) for k, v in batch.items()}
        return self.model(**batch).logits.squeeze(-1)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        with self._torch.inference_mode():
            return [float(x) for x in self._logits(query, passages).cpu()]
