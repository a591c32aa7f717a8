"""``xlsearch train --adapter KIND``: learn a query adapter (embed/adapter.py) from judgments.

Each query of the train split is pulled toward its relevant products and away
from every other product (a softmax over the whole catalog, or a seeded sample
of it with every judged product kept), through ``normalise(q + q @ W)`` with
``W`` starting at zero, so step 0 is the encoder as it is. The product vectors
are computed once and never change, so a run takes seconds to minutes on a
CPU, whatever the encoder. The validation split is scored with nDCG@10 by exact
cosine after each epoch; the best ``W`` is kept, training stops when it stops
improving, and an adapter that does not beat the plain encoder on validation is
not written (the output says so).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..embed.adapter import ADAPTER_MANIFEST
from ..embed.base import ENCODERS
from ..errors import XLSearchError
from ..relevance.judgments import Judgments, Query, SplitPolicy
from ..relevance.metrics import mean, ndcg_at_k
from .rerank import _empty_folder

MAX_DOCS = 50_000  # products in the softmax (all judged ones kept, the rest sampled)


@dataclass(frozen=True)
class AdapterOptions:
    out: Path
    encoders: tuple[str, ...] = ("use",)
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 3e-4  # 1e-3 peaked after one epoch, 1e-4 needed 12 (cikm, USE)
    temperature: float = 0.05
    patience: int = 4
    min_gain: float = 0.002  # validation nDCG@10 an adapter must add to be written
    seed: int = 13
    split: SplitPolicy = SplitPolicy()
    force: bool = False


def train_query_adapters(
    settings: Settings,
    judgments: Judgments,
    options: AdapterOptions,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """One adapter per encoder kind in ``options.encoders``, written to ``options.out``."""
    out = _empty_folder(Path(options.out), options.force)
    out.mkdir(parents=True)
    rng = random.Random(options.seed)
    train_q = [q for q in judgments.split(options.split, "train") if judgments.relevant(q.id)]
    val_q = [q for q in judgments.split(options.split, "validation") if judgments.relevant(q.id)]
    if not train_q or not val_q:
        raise XLSearchError(
            f"an adapter needs queries with a relevant product in both the train ({len(train_q)}) and the "
            f"validation ({len(val_q)}) split; judge more queries or change --validation"
        )
    doc_ids = _catalog_sample(judgments, train_q + val_q, rng)
    say(f"adapter: {len(train_q)} training and {len(val_q)} validation queries, {len(doc_ids)} products")
    adapters, reports = {}, {}
    for kind_name in options.encoders:
        embedder = ENCODERS.get(kind_name).load(settings)
        t0 = time.perf_counter()
        docs = embedder.encode([judgments.passages[d] for d in doc_ids], role="passage")
        train_v = embedder.encode([q.text for q in train_q], role="query")
        val_v = embedder.encode([q.text for q in val_q], role="query")
        position = {d: i for i, d in enumerate(doc_ids)}
        positives = [[position[d] for d in judgments.relevant(q.id)] for q in train_q]
        val_qrels = [judgments.qrels.get(q.id, {}) for q in val_q]
        weights, report = fit_adapter(docs, train_v, positives, val_v, val_qrels, doc_ids, options, say)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        reports[kind_name] = report
        if report["validation_ndcg@10"]["adapted"] < report["validation_ndcg@10"]["plain"] + options.min_gain:
            say(f"adapter: {kind_name} does not beat the plain encoder on validation; not written")
            continue
        file = f"{kind_name}.npy"
        np.save(out / file, weights)
        adapters[kind_name] = {"file": file, "dims": int(weights.shape[0]), "base_fingerprint": embedder.fingerprint}
        adapters[kind_name].update(report)
    manifest = {
        "kind": "query-adapter",
        "adapters": adapters,
        "training": {
            "data": judgments.name,
            "data_hash": judgments.data_hash,
            "split": options.split.as_dict(),
            "seed": options.seed,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "not_written": {k: r for k, r in reports.items() if k not in adapters},
    }
    (out / ADAPTER_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return {"path": str(out), **manifest}


def _catalog_sample(judgments: Judgments, queries: list[Query], rng: random.Random) -> list[str]:
    """Every product, or past MAX_DOCS the judged ones plus a seeded sample of the rest."""
    ids = list(judgments.passages)
    if len(ids) <= MAX_DOCS:
        return ids
    keep = {d for q in queries for d in judgments.relevant(q.id)}
    rest = [d for d in ids if d not in keep]
    return sorted(keep | set(rng.sample(rest, max(0, MAX_DOCS - len(keep)))))


def validation_ndcg(
    docs: np.ndarray, queries: np.ndarray, qrels: list[dict[str, int]], doc_ids: list[str], weights: np.ndarray | None
) -> float:
    """Mean nDCG@10 of exact-cosine rankings, with the adapter ``weights`` (None: without)."""
    if not len(queries):
        return 0.0
    q = queries if weights is None else queries + queries @ weights
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    values = []
    for start in range(0, len(q), 512):
        top = np.argsort(-(q[start : start + 512] @ docs.T), axis=1)[:, :10]
        for row, grades in zip(top, qrels[start : start + 512]):
            values.append(ndcg_at_k([doc_ids[j] for j in row], grades, 10))
    return float(mean([v for v in values if v is not None]) or 0.0)


def fit_adapter(
    docs: np.ndarray,
    train: np.ndarray,
    positives: list[list[int]],
    val: np.ndarray,
    val_qrels: list[dict[str, int]],
    doc_ids: list[str],
    options: AdapterOptions,
    say: Callable[[str], None],
) -> tuple[np.ndarray, dict[str, Any]]:
    """``W`` by Adam on the softmax over products (each query's relevant products share
    its target), early-stopped on validation nDCG@10: (best W, report)."""
    import torch

    torch.manual_seed(options.seed)
    dims = docs.shape[1]
    doc_t, train_t = torch.from_numpy(docs), torch.from_numpy(train)
    target = [torch.tensor(p, dtype=torch.long) for p in positives]
    w = torch.zeros(dims, dims, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=options.learning_rate)
    plain = validation_ndcg(docs, val, val_qrels, doc_ids, None)
    best, best_w, best_epoch, history = plain, np.zeros((dims, dims), np.float32), 0, []
    generator = torch.Generator().manual_seed(options.seed)
    for epoch in range(1, options.epochs + 1):
        for batch in torch.randperm(len(train_t), generator=generator).split(options.batch_size):
            q = torch.nn.functional.normalize(train_t[batch] + train_t[batch] @ w, dim=1)
            log_p = torch.log_softmax(q @ doc_t.T / options.temperature, dim=1)
            loss = -torch.stack([log_p[i, target[j]].mean() for i, j in enumerate(batch.tolist())]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = validation_ndcg(docs, val, val_qrels, doc_ids, w.detach().numpy())
        history.append(round(score, 4))
        say(f"adapter: epoch {epoch} loss {loss.item():.3f} validation nDCG@10 {score:.4f} (plain {plain:.4f})")
        if score > best:
            best, best_w, best_epoch = score, w.detach().numpy().copy(), epoch
        elif epoch - best_epoch >= options.patience:
            break
    report = {
        "epochs": len(history),
        "best_epoch": best_epoch,
        "validation_ndcg@10": {"plain": round(plain, 4), "adapted": round(best, 4), "per_epoch": history},
    }
    return best_w.astype(np.float32), report
