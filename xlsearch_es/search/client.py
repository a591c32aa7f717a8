"""The thin client: one object that loads models once and answers searches.

``XLSearchClient(settings).search("红色 连衣裙")`` runs one pipeline over a
frozen ``SearchRequest``, one module per stage: plan (search/plan.py: analyse,
check the page, tuning, fusion, BM25 query) -> execute (search/execute.py: BM25
sent while the query is embedded, kNN per vector field, or one request the
cluster fuses; the fusion strategy drives it) -> page and results
(search/results.py: rerank, slice, the page's fields, highlights). It refuses an
index whose recorded models differ from its encoders, and picks the cluster's
own retrievers only where the capability probe found them. Safe to share
across threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from elasticsearch import Elasticsearch, NotFoundError

from ..cluster.capabilities import probe
from ..cluster.connection import cluster_errors, connect
from ..cluster.indices import language_share, max_result_window
from ..config import Settings
from ..embed.base import Embedder
from ..errors import XLSearchError
from ..mapping import CATEGORY_FIELD, ORIGINAL
from ..runtime import IndexRuntime
from ..text.segment import Segmenter
from ..translate.base import Translator
from . import query_builder as qb
from . import results
from .execute import Retrieval
from .fusion import AUTO, FUSIONS, Catalog, attribute_agreement
from .plan import Planner, knn_candidates, query_detector
from .request import (
    DEFAULT_RANK_WINDOW,
    HYBRID,
    KNN,
    MAX_K,
    OURS,
    QUERY_VECTORS,
    Hit,
    Mode,
    RankedWindow,
    SearchPlan,
    SearchRequest,
    SearchResponse,
    Trace,
)
from .senses import CatalogTerms
from .synonyms import Synonyms
from .tuning import SearchParams, Tuning
from .understand import QueryAnalysis

if TYPE_CHECKING:
    from .rerank import Reranker

T = TypeVar("T")


def fusion_names() -> tuple[str, ...]:
    """What ``fusion=`` accepts: every registered strategy, ``auto`` first."""
    return FUSIONS.names()


class XLSearchClient:
    def __init__(
        self,
        settings: Settings,
        client: Elasticsearch | None = None,
        *,
        encoder: Embedder | Mapping[str, Embedder] | None = None,
        translator: Translator | None = None,
        reranker: Reranker | None = None,
    ):
        self.es = client or connect(settings)
        self.runtime = IndexRuntime.open(settings, self.es, embedders=encoder, translator=translator)
        self.settings = settings = self.runtime.settings
        self.alias = settings.index
        self.caps = probe(self.es)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="xlsearch")
        self.retrieval = Retrieval(
            self.es, self.runtime, self._pool, self._guarded(lambda: language_share(self.es, self.alias))
        )
        self.planner = Planner(
            runtime=self.runtime,
            catalog=Catalog(self.retrieval.language_share, self.caps),
            max_result_window=self._guarded(lambda: max_result_window(self.es, self.alias)),
            tuning=Tuning.from_meta(dict(self.runtime.meta.raw)),
            detector=query_detector(self.runtime),
            synonyms=Synonyms.from_file(settings.synonyms) if settings.synonyms else Synonyms(),
            segmenter=Segmenter(),
            catalog_terms=CatalogTerms(self.es, self.alias) if settings.sense_context else None,
        )
        if reranker is None and settings.reranker:
            from .rerank import Reranker

            reranker = Reranker(settings.reranker, device=settings.device, threads=settings.threads)
        self.reranker = reranker

    def _guarded(self, fn: Callable[[], T]) -> T:
        """Cluster errors become one ClusterError with a readable message."""
        with cluster_errors(self.settings):
            return fn()

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    # ------------------------------------------------------------------ search --
    def search(
        self,
        query: str,
        *,
        lang: str | None = None,
        filters: qb.SearchFilters | None = None,
        k: int = 10,
        page: int = 1,
        mode: Mode = HYBRID,
        fusion: str = AUTO,
        explain: bool = False,
        rank_window: int | None = None,
        knn_weight: float | None = None,
        query_vector: str = QUERY_VECTORS[0],
        translate_query: bool = True,
        query_languages: list[str] | tuple[str, ...] | None = None,
        translation_weight: float | None = None,
        boosts: qb.BM25Boosts | None = None,
        knn_shares: tuple[float, ...] | None = None,
        judged_weight: float | None = None,
        use_tuning: bool = True,
        rerank: bool = True,
        rerank_blend: bool | None = None,
        highlight: bool = True,
        lexical: str = OURS,
        deadline: float | None = None,
        focus: bool = True,
    ) -> SearchResponse:
        """Search the alias (see ``SearchRequest`` for what each argument means)."""
        return self.run(
            SearchRequest(
                query=query,
                lang=lang,
                filters=filters or qb.SearchFilters(),
                k=k,
                page=page,
                mode=mode,
                fusion=fusion,
                explain=explain,
                rank_window=rank_window,
                knn_weight=knn_weight,
                query_vector=query_vector,
                translate_query=translate_query,
                query_languages=None if query_languages is None else tuple(query_languages),
                translation_weight=translation_weight,
                boosts=boosts,
                knn_shares=knn_shares,
                judged_weight=judged_weight,
                use_tuning=use_tuning,
                rerank=rerank,
                rerank_blend=rerank_blend,
                highlight=highlight,
                lexical=lexical,
                deadline=deadline,
                focus=focus,
            )
        )

    def run(self, request: SearchRequest) -> SearchResponse:
        """plan -> execute (and fuse) -> page -> the page's fields -> highlight."""
        trace = Trace(deadline=request.deadline)
        plan = self.planner.plan(request, trace)
        trace.check_deadline("retrieval")
        ranked = self._guarded(lambda: self.retrieval.execute(plan, trace))
        hits = self._guarded(lambda: self._page(plan, ranked, trace))
        if not ranked.sourced:
            hits = self._guarded(lambda: results.with_sources(self.es, self.alias, hits, plan.analysis, trace))
        if request.highlight and not ranked.highlighted:
            hits = results.highlight_page(hits, plan.analysis, trace)
        self._guarded(ranked.facets_now)
        return results.respond(plan, hits, ranked, trace)

    def _page(self, plan: SearchPlan, ranked: RankedWindow, trace: Trace) -> list[Hit]:
        """One page of the fused window; a configured reranker first reorders the
        window's top (client-side fusion only: the cluster pages its own fusions)."""
        if ranked.paged:
            return ranked.hits
        hits, request, reranker = ranked.hits, plan.request, self.reranker
        if plan.strategy is not None and request.rerank and reranker is not None:
            from .rerank import RERANK_DEPTH

            query = plan.analysis.text
            blend = self.settings.rerank_blend if request.rerank_blend is None else request.rerank_blend
            hits = trace.timed(
                "rerank", lambda: results.rerank(self.es, self.alias, reranker, hits, query, RERANK_DEPTH, blend)
            )
        return hits[request.offset : request.offset + request.k]

    # ------------------------------------------------- ranked lists (for tuning) --
    def understand(self, query: str, lang: str | None = None) -> QueryAnalysis:
        """The query as search sees it: normalised, language, protected tokens, translations."""
        return self.planner.analyze(query, lang)

    def default_fusion(self) -> str:
        """What ``auto`` resolves to for this catalog."""
        return self.planner.strategy(AUTO, []).name

    def bm25_ranked(
        self, analysis: QueryAnalysis, depth: int, boosts: qb.BM25Boosts | None = None
    ) -> list[tuple[str, float]]:
        """The BM25 list hybrid search fuses, ``depth`` deep, as (id, score)."""
        bm25q = self.planner.bm25_query(analysis, boosts)
        body = qb.ids_only(qb.bm25_request(bm25q, qb.SearchFilters(), size=depth, highlight=False))
        hits = self._guarded(lambda: self.retrieval.search(body))["hits"]["hits"]
        return [(qb.hit_id(h), h["_score"]) for h in hits]

    def query_vectors(self, analysis: QueryAnalysis, translation_weight: float | None = None) -> dict[str, list[float]]:
        """The query vector hybrid search sends to each kNN field (judged fields too)."""
        return self.retrieval.embed(analysis, QUERY_VECTORS[0], translation_weight)

    def knn_lists(
        self,
        analysis: QueryAnalysis,
        depth: int,
        translation_weight: float | None = None,
        vectors: Mapping[str, list[float]] | None = None,
    ) -> dict[str, list[tuple[str, float]]]:
        """The kNN lists hybrid search fuses (one per kNN field, named as in fusion), ``depth``
        deep; ``vectors`` (from ``query_vectors``) to search only some fields or embed once."""
        vectors = self.query_vectors(analysis, translation_weight) if vectors is None else vectors
        resps = self._guarded(
            lambda: self.retrieval.knn_per_field(vectors, qb.SearchFilters(), depth, knn_candidates(depth))
        )
        return {name: [(qb.hit_id(h), h["_score"]) for h in r["hits"]["hits"]] for name, r in resps.items()}

    def attribute_agreement(self, analysis: QueryAnalysis, ids: list[str]) -> dict[str, int]:
        """For each product, whether it carries the colours/materials the query names (+1),
        only others (-1) or says nothing (0): what search's attribute shift reads."""
        wanted = self.planner.query_attributes(analysis)
        if not wanted or not ids:
            return dict.fromkeys(ids, 0)
        fields = [f"attr.{kind}" for kind in wanted]
        docs = self._guarded(lambda: self.es.mget(index=self.alias, ids=ids, source_includes=fields))["docs"]
        held = {d["_id"]: (d.get("_source") or {}).get("attr", {}) for d in docs if d.get("found")}
        return {i: attribute_agreement(wanted, {k: held.get(i, {}).get(k, []) for k in wanted}) for i in ids}

    def category_paths(self, ids: list[str]) -> dict[str, str]:
        """Each product's category path, where the index links categories (what the product-type
        rule of search/focus.py reads); empty for an index without category keys."""
        if not ids or not self.runtime.meta.categories:
            return {}
        docs = self._guarded(lambda: self.es.mget(index=self.alias, ids=ids, source_includes=[CATEGORY_FIELD]))
        found = [d for d in docs["docs"] if d.get("found") and (d.get("_source") or {}).get(CATEGORY_FIELD)]
        return {d["_id"]: str(d["_source"][CATEGORY_FIELD]) for d in found}

    # ----------------------------------------------------------------- similar --
    def similar(self, product_id: str, *, filters: qb.SearchFilters | None = None, k: int = 10) -> SearchResponse:
        """Products nearest to a product's own vectors ("more like this")."""
        if not isinstance(product_id, str) or not product_id.strip():
            raise XLSearchError("similar needs a product id; got an empty one")
        if k < 1 or k > MAX_K:
            raise XLSearchError(f"k must be between 1 and {MAX_K}")
        fields = self.runtime.vector_fields
        with cluster_errors(self.settings):  # outside: an unknown id is the user's error, not the cluster's
            try:
                doc = self.es.get(index=self.alias, id=product_id, source_includes=[*fields, "title"])
            except NotFoundError:
                raise XLSearchError(f"no product with id {product_id!r} in {self.alias!r}") from None
        vectors = {f: doc["_source"][f] for f in fields if doc["_source"].get(f)}
        if not vectors:
            raise XLSearchError(f"product {product_id!r} has no vector in _source (index created with hidden vectors)")
        base = filters or qb.SearchFilters()
        flt = replace(self.planner.filters(base), exclude_ids=(*base.exclude_ids, product_id))
        body = qb.knn_request(vectors, flt, k=k, num_candidates=max(100, 4 * k))
        resp = self._guarded(lambda: self.retrieval.search(body))
        title = (doc["_source"].get("title") or {}).get(ORIGINAL, product_id)
        analysis = QueryAnalysis(
            original=product_id, text=title, lang="", truncated=False, protected=[], translations={}
        )
        hits = results.hits_from_response(resp, analysis, KNN, False)
        plan = SearchPlan(
            request=SearchRequest(query=product_id, k=k, mode=KNN),
            analysis=analysis,
            params=SearchParams(),
            bm25={},
            strategy=None,
            knn_weight=1.0,
            window=k,
            num_candidates=k,
            tuning={},
            categories=self.runtime.meta.categories,
        )
        return results.respond(plan, hits, RankedWindow(hits, len(hits), results.facets_from_hits(hits)), Trace())


__all__ = [
    "DEFAULT_RANK_WINDOW",
    "Hit",
    "Mode",
    "SearchPlan",
    "SearchRequest",
    "SearchResponse",
    "XLSearchClient",
    "fusion_names",
]
