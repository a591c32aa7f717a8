"""Ranking metrics with graded relevance (trec_eval's conventions).

* nDCG@k: gain = relevance grade, discount = log2(rank + 1); the ideal ranking
  sorts the query's judged grades. Unjudged documents count as not relevant.
* recall@k: relevant (grade > 0) documents found in the top k / all relevant.
* MRR@k: 1 / rank of the first relevant document in the top k, else 0.

A query with no relevant document has no defined value: it is left out of the
averages and counted separately, as BEIR does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float | None:
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return None
    gains = [max(qrels.get(doc, 0), 0) for doc in _dedupe(ranked)[:k]]
    return dcg(gains) / dcg(ideal)


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float | None:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return None
    return len(relevant & set(_dedupe(ranked)[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float | None:
    if not any(g > 0 for g in qrels.values()):
        return None
    for rank, doc in enumerate(_dedupe(ranked)[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def rank_by_score(scores: Mapping[str, float]) -> list[str]:
    """Order a {doc: score} run: higher first, ties by doc id (stable across runs)."""
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _dedupe(ranked: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ranked))
