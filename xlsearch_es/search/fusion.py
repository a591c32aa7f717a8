"""Client-side fusion of ranked lists: reciprocal rank and normalised score sums.

Inputs are lists of (id, score), best first. Output is one list of ``Fused``,
best first, ties broken by id so the order is the same on every call: the
property pagination relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

Ranked = Sequence[tuple[str, float]]


@dataclass
class Fused:
    id: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)     # component -> 1-based rank
    scores: dict[str, float] = field(default_factory=dict)  # component -> raw score


def _components(lists: dict[str, Ranked]) -> dict[str, Fused]:
    out: dict[str, Fused] = {}
    for name, ranked in lists.items():
        for rank, (doc_id, score) in enumerate(ranked, start=1):
            item = out.setdefault(doc_id, Fused(doc_id, 0.0))
            if name not in item.ranks:  # a list may repeat an id; keep its best rank
                item.ranks[name] = rank
                item.scores[name] = float(score)
    return out


def _sorted(items: dict[str, Fused]) -> list[Fused]:
    return sorted(items.values(), key=lambda f: (-f.score, f.id))


def reciprocal_rank(lists: dict[str, Ranked], k: int = 60, weights: dict[str, float] | None = None) -> list[Fused]:
    """score(d) = sum_l w_l / (k + rank_l(d))."""
    items = _components(lists)
    for item in items.values():
        item.score = sum((weights or {}).get(n, 1.0) / (k + r) for n, r in item.ranks.items())
    return _sorted(items)


def _normalise(ranked: Ranked, method: str) -> dict[str, float]:
    scores = [s for _, s in ranked]
    if not scores:
        return {}
    if method == "minmax":
        lo, hi = min(scores), max(scores)
        span = hi - lo
        return {d: (s - lo) / span if span > 0 else 1.0 for d, s in ranked}
    if method == "zscore":
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        return {d: (s - mean) / std if std > 0 else 0.0 for d, s in ranked}
    raise ValueError(f"unknown normalisation {method!r}")


def weighted_sum(lists: dict[str, Ranked], method: str = "minmax",
                 weights: dict[str, float] | None = None) -> list[Fused]:
    """score(d) = sum_l w_l * norm_l(score_l(d)); absent from a list = that list's floor."""
    items = _components(lists)
    normalised = {name: _normalise(ranked, method) for name, ranked in lists.items()}
    floors = {name: (min(n.values()) if n else 0.0) for name, n in normalised.items()}
    if method == "minmax":
        floors = {name: 0.0 for name in normalised}
    for item in items.values():
        item.score = sum((weights or {}).get(name, 1.0) * normalised[name].get(item.id, floors[name])
                         for name in lists)
    return _sorted(items)


CLIENT_FUSIONS = ("rrf", "zscore", "minmax")


def fuse(lists: Mapping[str, Ranked], method: str, weights: dict[str, float]) -> list[Fused]:
    """One client-side fusion by name: reciprocal rank, or a normalised weighted sum."""
    if method == "rrf":
        return reciprocal_rank(dict(lists), weights=weights)
    return weighted_sum(dict(lists), method, weights)
