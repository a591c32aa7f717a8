"""What the query is about, first: the product type it names, and a relevance floor.

After fusion the window holds everything either side found: for "vestido verde"
the green dresses, but also every green product (BM25 on "verde") and the
vectors' neighbours. Two rules put the products that match the query first and
count only those in the total; the rest stays reachable below them.

- **Type before attribute.** Where the index has category keys
  (xlsearch_es/categories.py), the query's product type is the category that
  dominates the top of the fused list (rank-weighted, at least ``TYPE_SHARE``
  of the top ``TYPE_DEPTH``). Its products come first: those carrying the
  attributes the query names (colour, material) before those that say nothing,
  before those that contradict them, each in fused order. A query that names no type
  ("green") spreads over categories and gets none.
- **A relevance floor.** Without a type, a product passes when its kNN score is
  within ``knn_gap`` of the best (the query's neighbourhood), or when its BM25
  score is at least ``bm25_share`` of the best (it covers most of what the
  best lexical match covers). The total counts the fused list down to the last
  product that passes; the order is not changed. Both were learned on the shared
  sets' train splits: the tightest pair that keeps 99.5% of the judged relevant
  products the fused window finds above the cut (benchmarks/bench_floor.py). It
  chose a gap of 0.05 and no BM25 rule: on those sets a BM25 share that keeps the
  relevant products keeps nearly everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..categories import CategoryMap
from .fusion import Fused

TYPE_DEPTH = 10
TYPE_SHARE = 0.5


@dataclass(frozen=True)
class Floor:
    """Where the products that match a query end (see the module docstring)."""

    knn_gap: float = 0.05  # in the cluster's kNN score, (1 + cosine) / 2
    bm25_share: float | None = None  # None: BM25 alone never passes (what the shared sets chose)

    def passes(self, scores: Mapping[str, float], best: Mapping[str, float]) -> bool:
        """``scores``: a product's score in each list it is in; ``best``: each list's top score."""
        for name, score in scores.items():
            top = best.get(name)
            if top is None or name == "fused":
                continue
            if name.startswith("knn") and score >= top - self.knn_gap:
                return True
            if name == "bm25" and self.bm25_share is not None and top > 0 and score >= self.bm25_share * top:
                return True
        return False


DEFAULT_FLOOR = Floor()


@dataclass(frozen=True)
class Focused:
    """A fused list with what matches the query first; ``matching`` of them count."""

    ids: list[str]
    matching: int
    product_type: str | None  # the category key the query names, if it names one


def product_type(keys: Sequence[str | None], depth: int = TYPE_DEPTH, share: float = TYPE_SHARE) -> str | None:
    """The category that holds at least ``share`` of the top ``depth`` (weights 1/rank)."""
    votes: dict[str, float] = {}
    total = 0.0
    for rank, key in enumerate(keys[:depth], start=1):
        total += 1.0 / rank
        if key:
            votes[key] = votes.get(key, 0.0) + 1.0 / rank
    if not votes or total <= 0:
        return None
    key, weight = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
    return key if weight / total >= share else None


def focus(
    ids: Sequence[str],
    scores: Mapping[str, Mapping[str, float]],
    paths: Mapping[str, str],
    categories: CategoryMap,
    floor: Floor = DEFAULT_FLOOR,
    agreement: Mapping[str, int] | None = None,
) -> Focused:
    """Split the fused ``ids`` into those that match the query and the rest, each in
    fused order. ``scores``: id -> list -> score; ``paths``: id -> its category path;
    ``agreement``: id -> +1/0/-1 for the attributes the query names (search/fusion.py),
    which order the products of the query's type: the black ones first for "black shoes"."""
    keys = [categories.key_of(paths[i]) if i in paths else None for i in ids]
    kind = product_type(keys) if paths else None
    if kind is not None:
        agree = agreement or {}
        of_type = [(pos, i) for pos, (i, key) in enumerate(zip(ids, keys)) if key == kind]
        matching = [i for _, i in sorted(of_type, key=lambda p: (-agree.get(p[1], 0), p[0]))]
        chosen = set(matching)
        return Focused([*matching, *(i for i in ids if i not in chosen)], len(matching), kind)
    return Focused(list(ids), floor_cut(ids, scores, floor), None)


def floor_cut(ids: Sequence[str], scores: Mapping[str, Mapping[str, float]], floor: Floor = DEFAULT_FLOOR) -> int:
    """How many of the fused ``ids`` the floor counts: everything down to the last one
    that passes it. A cut, not a filter: the fused order stays as it is (moving the
    passing products up cost recall@100 on the shared sets), only the count is focused."""
    best: dict[str, float] = {}
    for per_list in scores.values():
        for name, score in per_list.items():
            best[name] = max(best.get(name, score), score)
    passing = [pos for pos, i in enumerate(ids, start=1) if floor.passes(scores.get(i, {}), best)]
    return passing[-1] if passing else 0


def reorder(fused: list[Fused], order: Sequence[str]) -> list[Fused]:
    """``fused`` (items with ``id`` and ``score``) in ``order``, the scores reassigned in
    rank order so the score shown never rises down the list."""
    by_id = {item.id: item for item in fused}
    scores = sorted((item.score for item in fused), reverse=True)
    return [replace(by_id[i], score=s) for i, s in zip(order, scores)]


def focus_notes(focused: Focused, window: int, categories: CategoryMap, lang: str) -> list[str]:
    """What the shopper is told: the type the results are about, and what lies below the floor."""
    notes = []
    if focused.product_type is not None:
        notes.append(f"about: {categories.label(focused.product_type, lang)}")
    if window > focused.matching:
        notes.append(f"{window - focused.matching} more below the relevance floor (all=true lists them as matches)")
    return notes
