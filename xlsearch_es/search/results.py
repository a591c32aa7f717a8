"""The result page: hits from cluster responses, facets, the page's own fields,
highlights, the optional rerank, and the response."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from elasticsearch import Elasticsearch

from ..categories import CategoryMap
from ..ingest.document import SOURCE_FOR_PASSAGE, passage_from_source
from ..mapping import ORIGINAL
from . import query_builder as qb
from .fusion import Fused
from .highlight import QueryTerms, best_title_highlight
from .request import Hit, RankedWindow, SearchPlan, SearchResponse, Trace
from .understand import QueryAnalysis

if TYPE_CHECKING:
    from .rerank import Reranker

FACETS = ("category", "brand")
FACET_SIZE = 20
# Category buckets are counted per path and joined per key afterwards (one key
# joins a path per catalog language), so the cluster returns more of them.
CATEGORY_PATH_BUCKETS = 100


def hits_from_response(resp: Mapping[str, Any], analysis: QueryAnalysis, component: str, explain: bool) -> list[Hit]:
    """The hits of one cluster response, as one ranked component (``explain``: with ranks and scores)."""
    hits = []
    for rank, h in enumerate(resp["hits"]["hits"], start=1):
        score = h.get("_score") or 0.0
        fused = Fused(h["_id"], score, {component: rank}, {component: score})
        hits.append(hit_from_source(h, analysis, score, fused if explain else None))
    return hits


def hit_from_source(es_hit: Mapping[str, Any], analysis: QueryAnalysis, score: float, fused: Fused | None) -> Hit:
    """One hit from a cluster hit (or an mget doc): its fields, best highlight and explanation."""
    src = es_hit.get("_source", {})
    titles = src.get("title", {})
    source_lang = src.get("source_language")
    highlight, matched = best_highlight(es_hit.get("highlight", {}), analysis.lang)
    components: dict[str, Any] = {}
    if fused is not None:
        components = {
            "ranks": fused.ranks,
            "scores": {k: round(v, 4) for k, v in fused.scores.items()},
            "translations": analysis.translations,
            "query_lang": analysis.lang,
        }
    return Hit(
        id=es_hit["_id"],
        score=round(float(score), 6),
        title=titles.get(ORIGINAL) or next(iter(titles.values()), ""),
        lang=source_lang if matched in (None, ORIGINAL) else matched,
        source_language=source_lang,
        brand=(src.get("brand") or {}).get(ORIGINAL),
        category=src.get("category_path"),
        price=src.get("price"),
        currency=src.get("currency"),
        highlight=highlight,
        components=components,
        localized_title=titles.get(analysis.lang),
        image_url=src.get("image_url"),
    )


def best_highlight(hl: Mapping[str, list[str]], query_lang: str) -> tuple[str | None, str | None]:
    """The title highlight (else description) the query matched, and its language.

    The original text or the query's own language wins when it matched at all;
    otherwise the field with the most matched terms (ties by language code).
    """
    for prefix in ("title.", "description."):
        found = [
            (key.split(".", 1)[1] in (ORIGINAL, query_lang), frag[0].count("<em>"), key.split(".", 1)[1], frag[0])
            for key, frag in hl.items()
            if key.startswith(prefix) and frag
        ]
        if found:
            _, _, lang, fragment = max(found, key=lambda f: (f[0], f[2] == ORIGINAL, f[1], [-ord(c) for c in f[2]]))
            return fragment, lang
    return None, None


def facet_aggs() -> dict[str, Any]:
    return {
        "category": {"terms": {"field": "category_path", "size": CATEGORY_PATH_BUCKETS}},
        "brand": {"terms": {"field": "brand_exact", "size": FACET_SIZE}},
    }


def facets_from_aggs(resp: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    aggs = resp.get("aggregations") or {}
    return {name: {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])} for name in FACETS}


def facets_from_hits(hits: list[Hit]) -> dict[str, dict[str, int]]:
    """Facets counted over the hits themselves (kNN-only results carry no aggregation)."""
    out: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for h in hits:
        if h.category:
            out["category"][h.category] = out["category"].get(h.category, 0) + 1
        if h.brand:
            key = h.brand.casefold()
            out["brand"][key] = out["brand"].get(key, 0) + 1
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in out.items()}


def shopper_facets(
    facets: Mapping[str, Mapping[str, int]], categories: CategoryMap, lang: str
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, str]]]:
    """Facets as a shopper filters on them: one category bucket per key (a category written
    in several catalog languages is one filter), and each key's label in the query's language.
    A bucket's value is what a filter takes; the labels say how to show it."""
    out = {
        name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE])
        for name, values in facets.items()
    }
    if "category" not in facets:
        return out, {}
    merged = dict(list(categories.merge_counts(facets["category"]).items())[:FACET_SIZE])
    out["category"] = merged
    return out, {"category": {key: categories.label(key, lang) for key in merged}}


def attribute_docvalues(attributes: Mapping[str, Any]) -> list[str]:
    """The attr fields the query names, for a window list to carry (doc values: cheap, no _source)."""
    return [f"attr.{kind}" for kind in attributes]


def with_sources(es: Elasticsearch, alias: str, hits: list[Hit], analysis: QueryAnalysis, trace: Trace) -> list[Hit]:
    """The page's product fields, in one ``mget``: the fused window's lists
    carried ids and scores only (with every language's text for a window of
    100 they were most of the search's time). A product deleted in between
    drops out of the page."""
    if not hits:
        return hits
    fields = qb.page_source_fields(analysis.lang)
    resp = trace.timed("fetch", lambda: es.mget(index=alias, ids=[h.id for h in hits], source_includes=fields))
    found = {d["_id"]: d for d in resp["docs"] if d.get("found")}
    out = []
    for hit in hits:
        if hit.id in found:
            full = hit_from_source(found[hit.id], analysis, hit.score, None)
            full.components = hit.components
            out.append(full)
    return out


def highlight_page(hits: list[Hit], analysis: QueryAnalysis, trace: Trace) -> list[Hit]:
    """Highlights (and the matched language) for one page, marked here from the
    titles the hits carry: no second request (see search/highlight.py)."""
    terms = QueryTerms([analysis.text, *analysis.translations.values()])

    def mark() -> list[Hit]:
        for hit in hits:
            titles = {ORIGINAL: hit.title, analysis.lang: hit.localized_title or ""}
            fragment, matched = best_title_highlight(titles, terms, (ORIGINAL, analysis.lang))
            if fragment:
                hit.highlight = fragment
                hit.lang = hit.source_language if matched == ORIGINAL else matched
        return hits

    return trace.timed("highlight", mark)


def rerank(
    es: Elasticsearch,
    alias: str,
    reranker: Reranker,
    hits: list[Hit],
    query: str,
    depth: int,
    blend: bool = False,
) -> list[Hit]:
    """The cross-encoder reorders the top ``depth`` of the fused list (the same
    top on every page, so pages stay without gaps or repeats). With ``blend`` the new
    score is the reciprocal-rank sum of the fused order and the cross-encoder's."""
    top = hits[:depth]
    if not top:
        return hits
    docs = es.mget(index=alias, ids=[h.id for h in top], source_includes=SOURCE_FOR_PASSAGE)["docs"]
    scores = reranker.score(query, [passage_from_source(d.get("_source", {})) for d in docs])
    new_scores = blended_rerank_scores(scores, depth) if blend else list(scores)
    for hit, score, new in zip(top, scores, new_scores):
        if hit.components:
            hit.components.setdefault("scores", {})["rerank"] = round(score, 4)
        hit.score = round(new, 6)
    reranked = sorted(top, key=lambda h: -h.score)  # stable: a tie keeps the fused order
    floor = reranked[-1].score
    for hit in hits[depth:]:  # below the reranked top, scores never rise (the fused ones are on another scale)
        hit.score = min(hit.score, floor)
        floor = hit.score
    return reranked + hits[depth:]


def blended_rerank_scores(cross_scores: list[float], k: int) -> list[float]:
    """Reciprocal-rank sum of the fused position (the list's order) and the cross-encoder's
    rank, each 1 / (k + rank): both orders count alike, and a tie keeps the fused order."""
    by_cross = sorted(range(len(cross_scores)), key=lambda i: (-cross_scores[i], i))
    cross_rank = {i: r for r, i in enumerate(by_cross, start=1)}
    return [1.0 / (k + i + 1) + 1.0 / (k + cross_rank[i]) for i in range(len(cross_scores))]


def respond(plan: SearchPlan, hits: list[Hit], ranked: RankedWindow, trace: Trace) -> SearchResponse:
    analysis, request = plan.analysis, plan.request
    facets, labels = shopper_facets(ranked.facets, plan.categories, analysis.lang)
    return SearchResponse(
        query=analysis.text,
        lang=analysis.lang,
        mode=request.mode,
        fusion=plan.strategy.name if plan.strategy else None,
        page=request.page,
        size=request.k,
        total=ranked.total,
        hits=hits,
        facets=facets,
        facet_labels=labels,
        translations=analysis.translations,
        took_ms=round((time.perf_counter() - trace.start) * 1e3, 2),
        timings_ms={k: round(v, 2) for k, v in trace.timings.items()},
        truncated=analysis.truncated,
        notes=trace.notes,
        tuning=plan.tuning,
    )
