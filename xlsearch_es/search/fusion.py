"""Fusion of BM25 and kNN: the pure list arithmetic and the registered strategies.

A strategy is either client-side (it fuses ranked lists the client fetched)
or server-side (it builds one request the cluster fuses); each runs itself on a
``HybridRun`` the client hands it. ``auto`` is a strategy too: it resolves to one
of the others per catalog. A new fusion is one object registered in ``FUSIONS``.

Inputs are lists of (id, score), best first. Output is one list of ``Fused``,
best first, ties broken by id so the order is the same on every call: the
property pagination relies on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..registry import Registry
from .query_builder import SearchFilters

if TYPE_CHECKING:
    from ..cluster.capabilities import Capabilities

Ranked = Sequence[tuple[str, float]]
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
AUTO = "auto"  # the strategy that picks one of the others per catalog


@dataclass
class Fused:
    id: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # component -> 1-based rank
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


def weighted_sum(
    lists: dict[str, Ranked], method: str = "minmax", weights: dict[str, float] | None = None
) -> list[Fused]:
    """score(d) = sum_l w_l * norm_l(score_l(d)); absent from a list = that list's floor."""
    items = _components(lists)
    normalised = {name: _normalise(ranked, method) for name, ranked in lists.items()}
    floors = {name: (min(n.values()) if n else 0.0) for name, n in normalised.items()}
    if method == "minmax":
        floors = {name: 0.0 for name in normalised}
    for item in items.values():
        item.score = sum((weights or {}).get(name, 1.0) * normalised[name].get(item.id, floors[name]) for name in lists)
    return _sorted(items)


# ------------------------------------------------------------ strategies --


@dataclass(frozen=True)
class HybridPlan:
    """What a fusion strategy needs to build its request."""

    bm25: dict[str, Any]  # the BM25 scoring query (no filters)
    vectors: Mapping[str, Sequence[float]]  # vector field -> query vector
    filters: SearchFilters
    size: int
    offset: int
    window: int  # rank window each side covers
    num_candidates: int
    knn_weight: float  # the kNN side's weight, shared by its vector fields
    field_shares: Mapping[str, float] = field(default_factory=dict)  # each vector field's part (search/plan.py)
    field_order: Sequence[str] = ()  # the index's vector fields, which name the kNN lists


@dataclass(frozen=True)
class Catalog:
    """What choosing a fusion may look at: the catalog's language mix and the cluster."""

    language_share: Mapping[str, float]
    caps: Capabilities


class HybridRun(Protocol[R_co]):
    """One hybrid search in progress, as a strategy drives it (search/execute.py runs it)."""

    @property
    def plan(self) -> HybridPlan:
        """The request's fusion inputs (the query vectors once embedded)."""

    def lists(self) -> dict[str, Ranked]:
        """BM25 and each vector field's kNN list over the rank window, named as fusion names them."""

    def agreement(self) -> Mapping[str, int]:
        """For each listed product, whether it carries the attributes the query names (+1/0/-1)."""

    def fused_window(self, fused: list[Fused]) -> R_co:
        """The fused window, as the search's result."""

    def one_request(self, body: dict[str, Any], facets: bool, name: str) -> R_co:
        """Send one request the cluster fuses (and pages); ``facets``: add the facet aggregations."""


class FusionStrategy(ABC):
    """One way to fuse BM25 with kNN. Register an instance in ``FUSIONS``."""

    name: str = ""
    description: str = ""
    knn_weight: float = 1.0  # the kNN side's default weight (BM25 weighs 1)
    sends_bm25_first: bool = False  # BM25 can start while the query is embedded
    where: str = ""  # "client-side" or "by the cluster", for notes

    def fallback(self, caps: Capabilities) -> tuple[str, str] | None:
        """On a cluster without what this fusion needs: (the fusion to use instead, what
        is missing); None where it can run."""
        return None

    def resolve(self, catalog: Catalog, notes: list[str]) -> FusionStrategy:
        """The strategy that runs for this request: this one, or its fallback on a
        cluster that lacks what it needs (noted)."""
        fallback = self.fallback(catalog.caps)
        if fallback is None:
            return self
        name, missing = fallback
        chosen = FUSIONS.get(name)
        notes.append(f"{missing}; fused {chosen.where} with {name}")
        return chosen

    @abstractmethod
    def run(self, search: HybridRun[R]) -> R:
        """Run the hybrid search this strategy's way."""


class ClientFusion(FusionStrategy):
    """The client sends BM25 and kNN over the same rank window and fuses their lists.
    Products carrying a queried colour or material then move up a little, contradicting
    ones down (``shift_by_agreement``), the same way wherever a list is fused."""

    sends_bm25_first = True
    where = "client-side"

    @abstractmethod
    def fuse(self, lists: Mapping[str, Ranked], weights: Mapping[str, float]) -> list[Fused]:
        """One list, best first, ties broken by id."""

    def run(self, search: HybridRun[R]) -> R:
        plan = search.plan
        fused = fuse_lists(
            self, search.lists(), plan.knn_weight, plan.field_shares, plan.field_order, search.agreement()
        )
        return search.fused_window(fused)


class ServerFusion(FusionStrategy):
    """One request; the cluster fuses and pages."""

    facets: bool = False  # whether the request can carry the facet aggregations
    where = "by the cluster"

    @abstractmethod
    def request(self, plan: HybridPlan) -> dict[str, Any]:
        """The search body (without index)."""

    def run(self, search: HybridRun[R]) -> R:
        return search.one_request(self.request(search.plan), self.facets, self.name)


class AutoFusion(FusionStrategy):
    """The default: chosen per catalog on seeded samples of both evaluation sets and
    the demo catalog (see benchmarks/results). In a catalog dominated by one language,
    BM25 scores are comparable across products and a z-score sum with kNN weighted 4:1
    beats both parts; in a mixed catalog, BM25 scores come from different language
    fields and only their ranks compare, so reciprocal rank fusion wins there.
    The z-score weight was chosen by leave-one-language-out over both shared sets
    (benchmarks/choose_defaults.py): 4 won with every language held out in turn."""

    name = AUTO
    description = "z-score where one language holds 80% of the catalog, else rrf"
    dominant_share = 0.8

    def resolve(self, catalog: Catalog, notes: list[str]) -> FusionStrategy:
        dominant = max(catalog.language_share.values(), default=1.0)
        chosen = FUSIONS.get("zscore" if dominant >= self.dominant_share else "rrf")
        return chosen.resolve(catalog, notes)

    def run(self, search: HybridRun[R]) -> R:
        raise TypeError("resolve the auto fusion for a catalog before running it")


class ReciprocalRank(ClientFusion):
    name = "rrf"
    description = "reciprocal rank fusion: only ranks count (robust when scores are not comparable)"

    def fuse(self, lists: Mapping[str, Ranked], weights: Mapping[str, float]) -> list[Fused]:
        return reciprocal_rank(dict(lists), weights=dict(weights))


class NormalisedSum(ClientFusion):
    def __init__(self, method: str, description: str, knn_weight: float):
        self.name, self.method, self.description = method, method, description
        self.knn_weight = knn_weight

    def fuse(self, lists: Mapping[str, Ranked], weights: Mapping[str, float]) -> list[Fused]:
        return weighted_sum(dict(lists), self.method, dict(weights))


AUTO_FUSION = AutoFusion()
RRF = ReciprocalRank()
MINMAX = NormalisedSum("minmax", "min-max normalised scores, weighted sum", knn_weight=2.0)
ZSCORE = NormalisedSum("zscore", "z-score normalised scores, weighted sum", knn_weight=4.0)

FUSIONS: Registry[FusionStrategy] = Registry(
    "fusion",
    {
        AUTO: "xlsearch_es.search.fusion:AUTO_FUSION",
        "rrf": "xlsearch_es.search.fusion:RRF",
        "minmax": "xlsearch_es.search.fusion:MINMAX",
        "zscore": "xlsearch_es.search.fusion:ZSCORE",
        "combined": "xlsearch_es.search.fusion_server:COMBINED",
        "native-rrf": "xlsearch_es.search.fusion_server:NATIVE_RRF",
        "native-linear": "xlsearch_es.search.fusion_server:NATIVE_LINEAR",
    },
)


def list_weights(knn_weight: float, field_shares: Mapping[str, float], order: Sequence[str]) -> dict[str, float]:
    """Each list's weight: BM25 1, each vector field's kNN list its share of ``knn_weight``
    (shares normalised, so adding a field does not shift the BM25/kNN balance tuning found).
    A field with no share (an encoder that does not know the query's language) has no list."""
    total = float(sum(v for v in field_shares.values() if v > 0))
    weights = {"bm25": 1.0}
    for f, share in field_shares.items():
        if share > 0:
            weights[knn_list_name(f, list(order).index(f) if f in order else 0)] = knn_weight * share / total
    return weights


def fuse_lists(
    strategy: ClientFusion,
    lists: Mapping[str, Ranked],
    knn_weight: float,
    field_shares: Mapping[str, float],
    order: Sequence[str],
    agreement: Mapping[str, int],
) -> list[Fused]:
    """The one client-side fuse, for search and for tuning alike: the weighted lists fused
    by the strategy, then the attribute shift. Lists without a weight are left out."""
    weights = list_weights(knn_weight, field_shares, order)
    fused = strategy.fuse({name: ranked for name, ranked in lists.items() if name in weights}, weights)
    return shift_by_agreement(fused, agreement)


def knn_list_name(field: str, position: int) -> str:
    """ "knn" for the first vector field, "knn:FIELD" for the others."""
    return "knn" if position == 0 else f"knn:{field}"


ATTRIBUTE_SHIFT = 2  # places a product moves for carrying (up) or contradicting (down) a queried attribute


def attribute_agreement(wanted: Mapping[str, Sequence[str]], held: Mapping[str, Sequence[str]]) -> int:
    """+1 when the product carries a value the query names for some attribute kind,
    -1 when it carries only other values for a kind the query names, 0 when it says
    nothing about those kinds (unknown is neither rewarded nor punished)."""
    score = 0
    for kind, values in wanted.items():
        have = held.get(kind) or []
        if not have or not values:
            continue
        if set(values) & set(have):
            return 1
        score = -1
    return score


def shift_by_agreement(fused: list[Fused], agreement: Mapping[str, int], places: int = ATTRIBUTE_SHIFT) -> list[Fused]:
    """Reorder a fused list: each product moves ``places`` up (agreement +1) or down
    (-1) from its fused position; ties keep the fused order. A soft preference: a
    black shoe just below a red one for "black shoes" overtakes it, a black
    backpack far down the list does not."""
    keyed = [(pos - places * agreement.get(item.id, 0), pos, item) for pos, item in enumerate(fused)]
    moved = [item for _, _, item in sorted(keyed, key=lambda k: (k[0], k[1]))]
    # The score shown is the one the list is in: the fused scores, in order, along the new
    # order (each product's own fused score stays in its components for --explain).
    ordered = sorted((item.score for item in fused), reverse=True)
    return [
        replace(item, score=score, scores={**item.scores, "fused": item.score}) for item, score in zip(moved, ordered)
    ]
