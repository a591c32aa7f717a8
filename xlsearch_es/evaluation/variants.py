"""The rows ``xlsearch eval`` reports: each isolates what one part of search adds.

A ``Variant`` is a name, a description and the search arguments it runs with;
``all_variants`` lists them with one row per registered fusion; ``per_field``
expands ``knn-fields`` into one row per vector field of the index searched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..search.fusion import AUTO, FUSIONS


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    search: dict[str, Any]
    translator: str = "configured"  # or "none"
    tuned: bool = False  # apply the parameters ``xlsearch tune`` learnt on the validation split
    rerank: bool = False  # rerank the top with the configured cross-encoder
    per_field: bool = False  # one row per vector field, that field alone (indices with several)


_BASE_VARIANTS: tuple[Variant, ...] = (
    Variant(
        "bm25-plain",
        "a default Elasticsearch setup: OR match, fuzziness AUTO, over the original text",
        {"mode": "bm25", "translate_query": False, "query_languages": [], "lexical": "plain"},
    ),
    Variant(
        "bm25-original",
        "our BM25 clauses on the original text only (no translation)",
        {"mode": "bm25", "translate_query": False, "query_languages": []},
    ),
    Variant("bm25+qt", "BM25, query translated into the catalog language", {"mode": "bm25", "query_languages": ["en"]}),
    Variant(
        "bm25+dt",
        "BM25 over documents translated into the query's language",
        {"mode": "bm25", "translate_query": False},
    ),
    Variant("bm25+qt+dt", "BM25 with query and document translation", {"mode": "bm25"}),
    Variant("knn", "kNN only, query embedded alone", {"mode": "knn", "query_vector": "original"}),
    Variant("knn-mean", "kNN only, query vector blended with its translations", {"mode": "knn"}),
    Variant("knn-fields", "kNN only, each vector field (encoder) alone: one row each", {"mode": "knn"}, per_field=True),
    Variant(
        "hybrid-auto",
        "the default: z-score here (one-language catalog), kNN weight 4",
        {"mode": "hybrid", "fusion": AUTO},
    ),
    Variant(
        "hybrid-unjudged",
        "hybrid-auto without the judged-query vectors (xlsearch learn-vectors), where the index has them",
        {"mode": "hybrid", "fusion": AUTO, "judged_weight": 0.0},
    ),
    Variant(
        "hybrid-rrf-notranslate",
        "hybrid rrf with translation off (BM25 original + kNN alone)",
        {
            "mode": "hybrid",
            "fusion": "rrf",
            "query_vector": "original",
            "translate_query": False,
            "query_languages": [],
        },
    ),
    Variant(
        "hybrid-tuned",
        "hybrid with the parameters xlsearch tune learnt on the validation split",
        {"mode": "hybrid"},
        tuned=True,
    ),
    Variant(
        "hybrid-tuned-rerank",
        "hybrid-tuned, top 20 ordered by the cross-encoder alone (--reranker)",
        {"mode": "hybrid", "rerank_blend": False},
        tuned=True,
        rerank=True,
    ),
    Variant(
        "hybrid-tuned-rerank-blend",
        "hybrid-tuned, top 20 ordered by the fused and the cross-encoder's ranks together",
        {"mode": "hybrid", "rerank_blend": True},
        tuned=True,
        rerank=True,
    ),
)


def fusion_variants() -> list[Variant]:
    """One hybrid row per registered fusion (``hybrid-NAME``)."""

    return [
        Variant(f"hybrid-{name}", f"BM25 (qt+dt) + kNN-mean, {fusion.description}", {"mode": "hybrid", "fusion": name})
        for name, fusion in FUSIONS.items()
        if name != AUTO  # the default has its own row, hybrid-auto
    ]


def all_variants() -> list[Variant]:
    """The fixed rows, with the fusion rows (read from the registry) after hybrid-auto."""
    at = next(i for i, v in enumerate(_BASE_VARIANTS) if v.name == "hybrid-auto") + 1
    return [*_BASE_VARIANTS[:at], *fusion_variants(), *_BASE_VARIANTS[at:]]


def per_field(variants: list[Variant], searcher: Any) -> list[Variant]:
    """``knn-fields`` as one row per vector field (``knn-FIELD``, the others and judged
    fields given no weight); nothing with a single field, where ``knn-mean`` is that row already."""
    fields = list(searcher.runtime.vector_fields)
    out = []
    for v in variants:
        if not v.per_field:
            out.append(v)
            continue
        for f in fields if len(fields) > 1 else []:
            shares = tuple(1.0 if g == f else 0.0 for g in fields)
            out.append(
                Variant(f"knn-{f}", f"kNN only, {f} alone", {**v.search, "knn_shares": shares, "judged_weight": 0.0})
            )
    return out


def runs_here(variant: Variant, searcher: Any, progress: Callable[[str], None]) -> bool:
    """A fusion row the cluster cannot run would only repeat its fallback's row: left out."""

    name = variant.search.get("fusion")
    if not name or FUSIONS.get(name).fallback(searcher.caps) is None:
        return True
    progress(f"{variant.name}: left out (this cluster cannot run {name})")
    return False
