"""A cross-encoder reranker: ``xlsearch train --reranker``, applied to the top N.

The cross-encoder starts from the encoder's own weights (the same transformer,
plus a one-number head on the first token) and reads query and product
together, so it can weigh every word against every other, which two
independent vectors cannot. It is trained on the same judgments and split as
the encoder: for each query a group of one relevant product and mined hard
negatives, with a softmax over the group. It costs one forward pass per
(query, product) pair, so it reranks only the top of the fused list and stays
opt-in unless ``eval`` shows it pays for its latency.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Settings
from ..embed.encoder import weights_fingerprint
from ..embed.manifest import MANIFEST
from ..embed.transformers_kind import load_transformers
from ..errors import XLSearchError
from ..relevance.judgments import Judgments, Query, SplitPolicy
from ..relevance.metrics import mean, ndcg_at_k
from ..search.rerank import RERANK_DEPTH, Reranker
from ..search.results import blended_rerank_scores
from .train import _mine_in_process, hard_negatives


@dataclass(frozen=True)
class RerankOptions:
    out: Path
    epochs: int = 1
    queries_per_step: int = 8
    group: int = 4  # 1 relevant + (group - 1) negatives per query
    learning_rate: float = 3e-5
    head_learning_rate: float = 1e-3  # the new head starts at random: it must move faster than the body
    # One pass over the train split (340 steps, 12 min on cikm): it beat a 150-step cap on validation.
    max_steps: int | None = None
    seed: int = 13
    split: SplitPolicy = SplitPolicy()
    force: bool = False


def _init_folder(settings: Settings, out: Path) -> None:
    """The encoder's folder with a sequence-classification config: the head starts at random."""
    base = Path(settings.model_ref)
    out.mkdir(parents=True, exist_ok=True)
    for item in base.iterdir():
        if item.is_file() and item.name != MANIFEST:
            shutil.copy(item, out / item.name)
    config = json.loads((out / "config.json").read_text())
    config["architectures"] = ["BertForSequenceClassification"] if config.get("model_type") == "bert" else None
    config["num_labels"] = 1
    (out / "config.json").write_text(json.dumps({k: v for k, v in config.items() if v is not None}, indent=2))


def validation_ndcg(
    reranker: Reranker,
    judgments: Judgments,
    queries: list[Query],
    candidates: dict[str, list[str]],
    base_order: dict[str, list[str]],
) -> dict[str, float]:
    """nDCG@10 of each query's candidates ordered by the cross-encoder alone, and of the
    encoder's own order blended with it as search serves it (``blended_rerank_scores``)."""
    alone, blended = {}, {}
    for q in queries:
        ids = candidates[q.id][:RERANK_DEPTH]
        cross = dict(zip(ids, reranker.score(q.text, [judgments.passages[d] for d in ids])))
        alone[q.id] = sorted(ids, key=lambda d: -cross[d])  # stable: ties keep the candidates' order
        order = base_order[q.id][:RERANK_DEPTH]
        blend = dict(zip(order, blended_rerank_scores([cross[d] for d in order], RERANK_DEPTH)))
        blended[q.id] = sorted(order, key=lambda d: -blend[d])
    return {
        "reranked": validation_ndcg_order(judgments, queries, alone),
        "blended": validation_ndcg_order(judgments, queries, blended),
    }


def train_reranker(
    settings: Settings,
    judgments: Judgments,
    options: RerankOptions,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Train a cross-encoder on ``judgments``' train split and report, on the validation
    split, whether it reorders the encoder's own top better than the encoder does."""
    import torch

    out = _empty_folder(Path(options.out), options.force)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    train_q, val_q = judgments.split(options.split, "train"), judgments.split(options.split, "validation")
    encoder = load_transformers(settings.replace(quantize_int8=False, backend="torch"))  # trained weights embed
    # Candidates as search would hand them over: the encoder's top hits.
    candidates = _mine_in_process(encoder, judgments, train_q + val_q, 30, rng)
    negatives = hard_negatives(judgments, candidates)
    spec = encoder.spec
    del encoder
    _init_folder(settings, out)
    (out / MANIFEST).write_text(json.dumps({"query_prefix": spec.query_prefix, "passage_prefix": spec.passage_prefix}))
    reranker = Reranker(str(out), device=settings.device, threads=settings.threads)
    val_candidates, base_order = _validation_lists(val_q, candidates, rng)
    before = validation_ndcg_order(judgments, val_q, base_order)
    t0 = time.perf_counter()
    steps, losses = _train(reranker, judgments, train_q, negatives, options, rng, say, _has_pooler(out))
    after = validation_ndcg(reranker, judgments, val_q, val_candidates, base_order)
    reranker.model.save_pretrained(str(out), safe_serialization=True)
    manifest = {
        "name": f"reranker-{judgments.name}",
        "kind": "reranker",
        "query_prefix": spec.query_prefix,
        "passage_prefix": spec.passage_prefix,
        "fingerprint": weights_fingerprint_of(out),
        "training": {
            "data": judgments.name,
            "data_hash": judgments.data_hash,
            "split": options.split.as_dict(),
            "steps": steps,
            "seed": options.seed,
            "final_loss": round(losses[-1], 4) if losses else None,
            "validation_ndcg@10_top20": {
                "encoder_order": round(before, 4),
                **{k: round(v, 4) for k, v in after.items()},
            },
            "helps": after["reranked"] > before,
            "blend_helps": after["blended"] > before,
            "seconds": round(time.perf_counter() - t0, 1),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    say(
        f"rerank: validation nDCG@10 over the encoder's top {RERANK_DEPTH}: {before:.4f} -> "
        f"{after['reranked']:.4f} (cross-encoder alone), {after['blended']:.4f} (blended with the encoder's order)"
    )
    if max(after.values()) <= before:
        say("rerank: neither beats the encoder's own order on validation; do not configure it")
    return {"path": str(out), **manifest}


def _empty_folder(out: Path, force: bool) -> Path:
    """The output folder, emptied; a non-empty one only with ``force``."""
    if out.exists() and any(out.iterdir()) and not force:
        raise XLSearchError(f"{out} is not empty; pass --force to overwrite it")
    if out.exists():
        shutil.rmtree(out)
    return out


def _validation_lists(
    val_q: list[Any], candidates: dict[str, list[str]], rng: random.Random
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each validation query's top ``RERANK_DEPTH`` as the encoder ranks it (what search
    hands the reranker: no relevant product added), shuffled so the reranker cannot lean
    on the order, and the encoder's own order of the same products (the baseline). A
    query whose relevant products all fall below the top counts 0 in both."""
    base_order = {q.id: list(candidates[q.id][:RERANK_DEPTH]) for q in val_q}
    val_candidates = {qid: list(ids) for qid, ids in base_order.items()}
    for ids in val_candidates.values():
        rng.shuffle(ids)
    return val_candidates, base_order


def _train(
    reranker: Reranker,
    judgments: Judgments,
    train_q: list[Any],
    negatives: dict[str, list[str]],
    options: RerankOptions,
    rng: random.Random,
    say: Callable[[str], None],
    pooler_trained: bool,
) -> tuple[int, list[float]]:
    """The optimisation loop: (steps run, loss per step)."""
    import torch

    # The word embeddings stay frozen, as in encoder training: most of the weights, and
    # every language the judgments lack; the optimizer then updates a fifth of the model.
    for p in reranker.model.get_input_embeddings().parameters():
        p.requires_grad_(False)
    head = _init_head(reranker.model, pooler_trained)
    head_ids = {id(p) for p in head}
    body = [p for p in reranker.model.parameters() if p.requires_grad and id(p) not in head_ids]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": options.learning_rate}, {"params": head, "lr": options.head_learning_rate}],
        weight_decay=0.01,
    )
    steps, losses = 0, []
    total = options.epochs * ((len(train_q) + options.queries_per_step - 1) // options.queries_per_step)
    total = min(total, options.max_steps or total)
    for epoch in range(options.epochs):
        order = list(train_q)
        random.Random(options.seed + epoch).shuffle(order)
        for start in range(0, len(order), options.queries_per_step):
            if steps >= total:
                break
            t_step = time.perf_counter()
            batch = order[start : start + options.queries_per_step]
            losses.append(_rerank_step(reranker, judgments, batch, negatives, options, rng, optimizer))
            steps += 1
            if steps == 1:
                say(f"rerank: {total} steps, about {(time.perf_counter() - t_step) * total / 60:.1f} min")
    return steps, losses


def _init_head(model: Any, pooler_trained: bool) -> list[Any]:
    """The head's parameters (pooler and classifier). A BERT pooler the encoder did not
    have (e5's checkpoint has none) starts as the identity (the first token's vector,
    squashed), so only the one-number classifier starts at random."""
    import torch

    pooler = getattr(getattr(model, "bert", None), "pooler", None)
    if pooler is not None and not pooler_trained:
        with torch.no_grad():
            pooler.dense.weight.copy_(torch.eye(pooler.dense.weight.shape[0]))
            pooler.dense.bias.zero_()
    modules = [m for m in (pooler, getattr(model, "classifier", None)) if m is not None]
    return [p for m in modules for p in m.parameters()]


def _has_pooler(folder: Path) -> bool:
    """Whether the encoder's checkpoint carries trained pooler weights."""
    from safetensors import safe_open

    for f in folder.glob("*.safetensors"):
        with safe_open(str(f), "pt") as weights:
            if any("pooler" in k for k in weights.keys()):
                return True
    return not any(folder.glob("*.safetensors"))  # other formats: leave their pooler alone


def weights_fingerprint_of(folder: Path) -> str:
    manifest = folder / MANIFEST
    saved = manifest.read_text() if manifest.is_file() else None
    manifest.unlink(missing_ok=True)
    try:
        return weights_fingerprint(folder)
    finally:
        if saved is not None:
            manifest.write_text(saved)


def validation_ndcg_order(judgments: Judgments, queries: list[Query], orders: dict[str, list[str]]) -> float:
    values = [ndcg_at_k(orders[q.id], judgments.qrels.get(q.id, {}), 10) for q in queries]
    return float(mean([v for v in values if v is not None]) or 0.0)


def _rerank_step(
    reranker: Reranker,
    judgments: Judgments,
    queries: list[Query],
    negatives: dict[str, list[str]],
    options: RerankOptions,
    rng: random.Random,
    optimizer: Any,
) -> float:
    torch = reranker._torch
    reranker.model.train()
    pair_queries, pair_passages, sizes = [], [], []
    for q in queries:
        rel = judgments.relevant(q.id)
        positive = rng.choice(sorted(rel))
        pool = negatives.get(q.id) or [d for d in judgments.passages if d not in rel][:50]
        group = [positive] + rng.sample(pool, min(len(pool), options.group - 1))
        pair_queries += [q.text] * len(group)
        pair_passages += [judgments.passages[d] for d in group]
        sizes.append(len(group))
    # One padded forward pass for the whole step rather than one per query.
    logits = reranker.pair_logits(pair_queries, pair_passages)
    target = torch.zeros(1, dtype=torch.long)  # the relevant product is first in its group
    loss = torch.stack(
        [torch.nn.functional.cross_entropy(g.unsqueeze(0), target) for g in torch.split(logits, sizes)]
    ).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(reranker.model.parameters(), 1.0)
    optimizer.step()
    reranker.model.eval()
    return float(loss.detach())
