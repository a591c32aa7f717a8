"""The thin client: one object that loads models once and answers searches.

``XLSearchClient(settings).search("红色 连衣裙")`` runs one pipeline over a
frozen ``SearchRequest``: analyze (normalise, detect, protect, translate) ->
plan (parameters, fusion strategy, window) -> execute (BM25 started while the
query is embedded, kNN per vector field, or one request the cluster fuses) ->
fuse -> page (rerank, slice) -> highlight. It refuses an index whose recorded
models differ from its encoders, and picks the cluster's own retrievers only
where the capability probe found them. Safe to share across threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from elasticsearch import Elasticsearch, NotFoundError

from ..cluster.capabilities import probe
from ..cluster.connection import cluster_errors, connect
from ..cluster.indices import read_meta
from ..config import Settings
from ..embed.base import Embedder, as_embedders, load_embedders
from ..errors import DeadlineExceeded, XLSearchError
from ..mapping import ORIGINAL, index_models
from ..service import check_compatible, settings_for_index
from ..text.attributes import extract as extract_attributes
from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
from ..text.segment import Segmenter
from ..translate.base import Translator
from . import query_builder as qb
from .fusion import (
    FUSIONS,
    ClientFusion,
    Fused,
    FusionStrategy,
    HybridPlan,
    ServerFusion,
    attribute_agreement,
    knn_list_name,
    knn_list_weights,
    shift_by_agreement,
)
from .highlight import QueryTerms, best_title_highlight
from .synonyms import Synonyms
from .tuning import SearchParams, Tuning
from .understand import QueryAnalysis, analyze

if TYPE_CHECKING:
    from .rerank import Reranker

Mode = Literal["hybrid", "bm25", "knn"]
MODES = ("hybrid", "bm25", "knn")
DEFAULT_RANK_WINDOW = 100
# "auto" fusion, chosen on seeded samples of both evaluation sets and the demo
# catalog (see benchmarks/results): in a catalog dominated by one language, BM25
# scores are comparable across products and a z-score sum with kNN weighted 2:1
# beats both parts; in a mixed catalog, BM25 scores come from different language
# fields and only their ranks compare, so reciprocal rank fusion wins there.
DOMINANT_SHARE = 0.8
MAX_TRANSLATION_WEIGHT = 4.0
# Elasticsearch caps a kNN search's num_candidates (and so k) at 10,000.
KNN_MAX_CANDIDATES = 10_000
T = TypeVar("T")


def fusion_names() -> tuple[str, ...]:
    """What ``fusion=`` accepts: "auto" and every registered strategy."""
    return ("auto", *FUSIONS.names())


@dataclass
class Hit:
    id: str
    score: float
    title: str
    lang: str | None
    source_language: str | None
    brand: str | None = None
    category: str | None = None
    price: float | None = None
    currency: str | None = None
    highlight: str | None = None
    components: dict[str, Any] = field(default_factory=dict)
    localized_title: str | None = None  # the title in the query's language, where the index has one
    image_url: str | None = None


@dataclass
class SearchResponse:
    query: str
    lang: str
    mode: str
    fusion: str | None
    page: int
    size: int
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    translations: dict[str, str]
    took_ms: float
    timings_ms: dict[str, float]
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    tuning: dict[str, Any] = field(default_factory=dict)  # tuned parameters that applied, and their source

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchRequest:
    """Everything one search asks for. Ranking knobs left at None/"auto" take the
    index's tuned values (``xlsearch tune``) when it has them, else the defaults.
    ``query_languages`` limits which index languages the query is expressed in
    (None: all; (): the original fields only); ``translate_query=False`` keeps the
    query untranslated: both exist to measure what each part adds."""

    query: str
    lang: str | None = None
    filters: qb.SearchFilters = field(default_factory=qb.SearchFilters)
    k: int = 10
    page: int = 1
    mode: Mode = "hybrid"
    fusion: str = "auto"
    explain: bool = False
    rank_window: int | None = None
    knn_weight: float | None = None
    query_vector: str = "mean"
    translate_query: bool = True
    query_languages: tuple[str, ...] | None = None
    translation_weight: float | None = None
    boosts: qb.BM25Boosts | None = None
    use_tuning: bool = True
    rerank: bool = True
    highlight: bool = True  # False: ids and scores only (evaluation, bulk scoring)
    lexical: str = "xlsearch"  # "plain": BM25 as a default Elasticsearch setup runs it (the baseline)
    # time.monotonic() by which the search must be done (the service's request budget):
    # checked before each stage, and cluster requests time out by then. None: no budget.
    deadline: float | None = None

    def check(self) -> None:
        if self.k < 1 or self.k > 1000:
            raise XLSearchError("k must be between 1 and 1000")
        if self.page < 1:
            raise XLSearchError("page must be 1 or more")
        if self.mode not in MODES:
            raise XLSearchError(f"unknown mode {self.mode!r}; use hybrid, bm25 or knn")
        if self.lexical not in ("xlsearch", "plain"):
            raise XLSearchError("lexical must be 'xlsearch' or 'plain'")
        if self.query_vector not in ("mean", "original"):
            raise XLSearchError("query_vector must be 'mean' or 'original'")
        if self.fusion not in fusion_names():
            raise XLSearchError(f"unknown fusion {self.fusion!r}; use one of {', '.join(fusion_names())}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.k


@dataclass(frozen=True)
class SearchPlan:
    """How a request will run: its parameters after tuning, and the fusion on this cluster."""

    request: SearchRequest
    analysis: QueryAnalysis
    params: SearchParams
    bm25: dict[str, Any]
    strategy: FusionStrategy | None  # None outside hybrid mode
    knn_weight: float
    window: int
    num_candidates: int
    tuning: dict[str, Any]
    attributes: dict[str, list[str]] = field(default_factory=dict)  # colours/materials the query names


@dataclass
class _Trace:
    """Timings and notes one search collects on its way."""

    start: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    deadline: float | None = None

    def check_deadline(self, stage: str) -> None:
        """Stop between stages once the request's budget is spent (the caller has answered already)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded(f"the search ran out of time before its {stage} stage")

    def remaining(self) -> float | None:
        """Seconds left for a cluster request, or None without a budget."""
        return None if self.deadline is None else max(0.05, self.deadline - time.monotonic())

    def timed(self, name: str, fn: Callable[[], T]) -> T:
        self.check_deadline(name)
        t0 = time.perf_counter()
        out = fn()
        self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - t0) * 1e3
        return out


@dataclass
class _Ranked:
    """What execution found: hits (the whole window, or one page for server-side requests)."""

    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]
    paged: bool = False  # the cluster already applied from/size
    highlighted: bool = False  # the hits carry highlights already
    sourced: bool = True  # False: ids and scores only; the page's fields are fetched after paging


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
        from ..translate.factory import make_translator

        self.settings = settings
        self.alias = settings.index
        self.es = client or connect(settings)
        self.caps = probe(self.es)
        meta = self._guarded(lambda: read_meta(self.es, self.alias))
        if meta is None:
            raise XLSearchError(
                f"no index named {self.alias!r}; load a catalog with 'xlsearch ingest FILE --index {self.alias}'"
            )
        if encoder is None:
            self.settings = settings = settings_for_index(settings, meta)
        self.embedders = load_embedders(settings) if encoder is None else as_embedders(encoder)
        check_compatible(meta, {f: e.meta() for f, e in self.embedders.items()}, self.alias)
        self.vector_fields = [f for f in index_models(meta) if f in self.embedders] or list(self.embedders)
        self.encoder = self.embedders[self.vector_fields[0]]
        self.translator = translator or make_translator(settings, meta.get("translator"))
        self.languages: list[str] = list(meta.get("languages") or settings.languages)
        self.detector = self._detector(settings)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="xlsearch")
        self.language_share = self._language_share()
        self.max_result_window = self._max_result_window()
        self.tuning = Tuning.from_meta(meta)
        if reranker is None and settings.reranker:
            from .rerank import Reranker

            reranker = Reranker(settings.reranker, device=settings.device, threads=settings.threads)
        self.reranker = reranker
        self.synonyms = Synonyms.from_file(settings.synonyms) if settings.synonyms else Synonyms()
        self.segmented: tuple[str, ...] = tuple(meta.get("segmented") or ())
        self.segmenter = Segmenter()
        self.attribute_fields: tuple[str, ...] = tuple(meta.get("attribute_fields") or ())

    def _detector(self, settings: Settings) -> LanguageDetector:
        """A query can only be in a language we can match: an index language, or
        one the translator brings into one. Fewer candidates, fewer wild guesses."""
        sources = [
            c
            for c in DEFAULT_CANDIDATES + ("zh", "ja", "ko", "ar")
            if any(c == t or self.translator.backend.supports(c, t) for t in self.languages)
        ]
        return LanguageDetector(
            candidates=tuple(dict.fromkeys(sources + self.languages)), fallback=settings.fallback_language
        )

    def _guarded(self, fn: Callable[[], T]) -> T:
        """Cluster errors become one ClusterError with a readable message."""
        with cluster_errors(self.settings):
            return fn()

    def _search(self, body: dict[str, Any], trace: _Trace | None = None) -> dict[str, Any]:
        remaining = trace.remaining() if trace else None
        es = self.es if remaining is None else self.es.options(request_timeout=remaining, max_retries=0)
        return dict(es.search(index=self.alias, **body))

    def _language_share(self) -> dict[str, float]:
        """Share of the catalog's products written in each language (one aggregation)."""
        resp = self._guarded(
            lambda: self._search({"size": 0, "aggs": {"langs": {"terms": {"field": "source_language", "size": 100}}}})
        )
        buckets = resp["aggregations"]["langs"]["buckets"]
        total = sum(b["doc_count"] for b in buckets) or 1
        return {b["key"]: b["doc_count"] / total for b in buckets}

    def _max_result_window(self) -> int:
        """How deep the cluster lets a search page (``index.max_result_window``)."""
        got = self._guarded(
            lambda: self.es.indices.get_settings(
                index=self.alias, name="index.max_result_window", include_defaults=True
            )
        )
        values = [
            int(v.get(kind, {}).get("index", {}).get("max_result_window", 10_000))
            for v in got.values()
            for kind in ("settings", "defaults")
            if v.get(kind, {}).get("index", {}).get("max_result_window")
        ]
        return min(values) if values else 10_000

    def _check_depth(self, mode: str, k: int, page: int, rank_window: int) -> None:
        """A page past what the cluster can return is a clear error naming the last page."""
        limit = self.max_result_window if mode == "bm25" else min(self.max_result_window, KNN_MAX_CANDIDATES)
        if (page - 1) * k + k <= limit and (mode == "bm25" or rank_window <= limit):
            return
        if rank_window > limit:
            raise XLSearchError(f"rank window {rank_window} is over the cluster's limit of {limit} results")
        why = "index.max_result_window" if limit == self.max_result_window else "the kNN candidate limit"
        raise XLSearchError(
            f"page {page} is past the last page: with k={k} the last page is {limit // k} "
            f"({limit} results at most, {why})"
        )

    def translation_weight_for(self, lang: str) -> float:
        """How much the query's translations pull its kNN vector.

        The encoder's pull toward the query's own language only hurts when the
        catalog mixes that language with others: a query in a language no
        product is written in (or the only one) has no same-language rival.
        So the weight follows the mix, 4 * share * (1 - share), scaled to
        MAX_TRANSLATION_WEIGHT at an even mix.
        """
        share = self.language_share.get(lang, 0.0)
        return MAX_TRANSLATION_WEIGHT * 4 * share * (1 - share)

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
        mode: Mode = "hybrid",
        fusion: str = "auto",
        explain: bool = False,
        rank_window: int | None = None,
        knn_weight: float | None = None,
        query_vector: str = "mean",
        translate_query: bool = True,
        query_languages: list[str] | tuple[str, ...] | None = None,
        translation_weight: float | None = None,
        boosts: qb.BM25Boosts | None = None,
        use_tuning: bool = True,
        rerank: bool = True,
        highlight: bool = True,
        lexical: str = "xlsearch",
        deadline: float | None = None,
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
                use_tuning=use_tuning,
                rerank=rerank,
                highlight=highlight,
                lexical=lexical,
                deadline=deadline,
            )
        )

    def run(self, request: SearchRequest) -> SearchResponse:
        """analyze -> plan -> execute (and fuse) -> page -> highlight."""
        request.check()
        self._check_depth(request.mode, request.k, request.page, request.rank_window or DEFAULT_RANK_WINDOW)
        trace = _Trace(deadline=request.deadline)
        trace.check_deadline("analysis")
        analysis = self._analyze(request.query, request.lang, request.translate_query, request.query_languages)
        trace.timings.update(analysis.timings_ms)
        if analysis.truncated:
            trace.notes.append(f"query truncated to {len(analysis.text)} characters")
        plan = self._plan(request, analysis, trace)
        trace.check_deadline("retrieval")
        ranked = self._guarded(lambda: self._execute(plan, trace))
        hits = self._guarded(lambda: self._page(plan, ranked, trace))
        if not ranked.sourced:
            hits = self._guarded(lambda: self._with_sources(hits, analysis, trace))
        if request.highlight and not ranked.highlighted:
            hits = self._highlight_page(hits, analysis, trace)
        return self._respond(plan, hits, ranked, trace)

    def _analyze(
        self, query: str, lang: str | None, translate: bool, query_languages: tuple[str, ...] | list[str] | None
    ) -> QueryAnalysis:
        targets = self.languages if query_languages is None else [lg for lg in self.languages if lg in query_languages]
        return analyze(query, targets, self.translator, self.detector, lang, translate=translate)

    def _plan(self, request: SearchRequest, analysis: QueryAnalysis, trace: _Trace) -> SearchPlan:
        """Explicit arguments over the index's tuned values, the fusion resolved for this
        catalog and cluster, and the rank window every page shares."""
        explicit = SearchParams(
            fusion=None if request.fusion == "auto" else request.fusion,
            knn_weight=request.knn_weight,
            rank_window=request.rank_window,
            translation_weight=request.translation_weight,
            boosts=request.boosts,
        )
        params, tuning = self._params(explicit, analysis.lang, request.use_tuning)
        rank_window = params.rank_window or DEFAULT_RANK_WINDOW
        self._check_depth(request.mode, request.k, request.page, rank_window)
        strategy = self._strategy(params.fusion or "auto", trace.notes) if request.mode == "hybrid" else None
        knn_weight = params.knn_weight if params.knn_weight is not None else (strategy.knn_weight if strategy else 1.0)
        window = max(rank_window, request.offset + request.k)
        # The query's own language is one of the "translations" (the text itself):
        # it matches that language's fields, which hold translations of the rest.
        bm25 = (
            qb.plain_query(analysis.text) if request.lexical == "plain" else self._bm25_query(analysis, params.boosts)
        )
        return SearchPlan(
            request=request,
            analysis=analysis,
            params=params,
            bm25=bm25,
            strategy=strategy,
            knn_weight=knn_weight,
            window=window,
            num_candidates=min(max(2 * window, 100), KNN_MAX_CANDIDATES),
            tuning=tuning,
            attributes=self.query_attributes(analysis) if request.lexical != "plain" else {},
        )

    def _params(self, explicit: SearchParams, lang: str, use_tuning: bool) -> tuple[SearchParams, dict[str, Any]]:
        """Explicit arguments over the index's tuned values (the query language's override first)."""
        if self.tuning is None or not use_tuning:
            return explicit, {}
        tuned, source = self.tuning.for_language(lang)
        applied = {k: v for k, v in tuned.as_dict().items() if getattr(explicit, k) is None}
        return explicit.over(tuned), ({"source": source, "applied": applied} if applied else {})

    def default_fusion(self) -> str:
        """What ``auto`` resolves to for this catalog."""
        return self._strategy("auto", []).name

    def _strategy(self, name: str, notes: list[str]) -> FusionStrategy:
        """The fusion to use for this catalog on this cluster (native retrievers only where probed)."""
        if name == "auto":
            dominant = max(self.language_share.values(), default=1.0)
            name = "zscore" if dominant >= DOMINANT_SHARE else "rrf"
        strategy = FUSIONS.get(name)
        fallback = strategy.fallback(self.caps)
        if fallback is not None:
            name, missing = fallback
            strategy = FUSIONS.get(name)
            where = "client-side" if isinstance(strategy, ClientFusion) else "by the cluster"
            notes.append(f"{missing}; fused {where} with {name}")
        return strategy

    def _execute(self, plan: SearchPlan, trace: _Trace) -> _Ranked:
        request = plan.request
        if request.mode == "bm25":
            return self._run_bm25(plan, trace)
        bm25_future = None
        if isinstance(plan.strategy, ClientFusion):
            # BM25 does not need the vectors: send it while the query is embedded.
            # ids and scores: the page's sources are fetched after fusion
            body = qb.ids_only(
                {
                    **qb.bm25_request(plan.bm25, request.filters, size=plan.window, from_=0, highlight=False),
                    "aggs": _facet_aggs(),
                },
                _attribute_docvalues(plan.attributes),
            )
            bm25_future = self._pool.submit(lambda: trace.timed("bm25", lambda: self._search(body, trace)))
        vectors = trace.timed(
            "embed", lambda: self._embed(plan.analysis, request.query_vector, plan.params.translation_weight)
        )
        if request.mode == "knn":
            return self._run_knn(plan, vectors, trace)
        if isinstance(plan.strategy, ServerFusion):
            return self._run_server_fusion(plan, plan.strategy, vectors, trace)
        assert isinstance(plan.strategy, ClientFusion) and bm25_future is not None
        return self._run_client_fusion(plan, plan.strategy, vectors, bm25_future, trace)

    def _run_bm25(self, plan: SearchPlan, trace: _Trace) -> _Ranked:
        request = plan.request
        body = {
            **qb.bm25_request(
                plan.bm25, request.filters, size=request.k, from_=request.offset, highlight=request.highlight
            ),
            "aggs": _facet_aggs(),
        }
        resp = trace.timed("bm25", lambda: self._search(body, trace))
        return _Ranked(
            self._from_es(resp, plan.analysis, "bm25", request.explain),
            resp["hits"]["total"]["value"],
            _facets_from_aggs(resp),
            paged=True,
            highlighted=True,
        )

    def _run_knn(self, plan: SearchPlan, vectors: dict[str, list[float]], trace: _Trace) -> _Ranked:
        body = qb.knn_request(vectors, plan.request.filters, k=plan.window, num_candidates=plan.num_candidates)
        resp = trace.timed("knn", lambda: self._search(body, trace))
        hits = self._from_es(resp, plan.analysis, "knn", plan.request.explain)
        return _Ranked(hits, len(hits), _facets_from_hits(hits))

    def _run_server_fusion(
        self, plan: SearchPlan, strategy: ServerFusion, vectors: dict[str, list[float]], trace: _Trace
    ) -> _Ranked:
        request = plan.request
        body = strategy.request(
            HybridPlan(
                bm25=plan.bm25,
                vectors=vectors,
                filters=request.filters,
                size=request.k,
                offset=request.offset,
                window=plan.window,
                num_candidates=plan.num_candidates,
                knn_weight=plan.knn_weight,
            )
        )
        if strategy.facets:
            body["aggs"] = _facet_aggs()
        resp = trace.timed("search", lambda: self._search(body, trace))
        hits = self._from_es(resp, plan.analysis, strategy.name, request.explain)
        return _Ranked(
            hits,
            resp["hits"]["total"]["value"],
            _facets_from_aggs(resp) if strategy.facets else {},
            paged=True,
            highlighted=True,
        )

    def _run_client_fusion(
        self,
        plan: SearchPlan,
        strategy: ClientFusion,
        vectors: dict[str, list[float]],
        bm25_future: Future[dict[str, Any]],
        trace: _Trace,
    ) -> _Ranked:
        """Both sides cover the same rank window on every page, so pages never overlap."""
        request = plan.request
        t0 = time.perf_counter()
        knn_resps = self._knn_per_field(
            vectors, request.filters, plan.window, plan.num_candidates, _attribute_docvalues(plan.attributes)
        )
        trace.timings["knn"] = (time.perf_counter() - t0) * 1e3
        bm25 = bm25_future.result()
        t0 = time.perf_counter()
        responses = {"bm25": bm25, **knn_resps}
        lists = {name: [(qb.hit_id(h), h["_score"]) for h in r["hits"]["hits"]] for name, r in responses.items()}
        weights = knn_list_weights(list(vectors), plan.knn_weight, plan.params.knn_shares)
        fused = strategy.fuse(lists, {"bm25": 1.0, **weights})
        if plan.attributes:  # products carrying the named colour/material move up, contradicting ones down
            held = {qb.hit_id(h): h.get("fields", {}) for r in responses.values() for h in r["hits"]["hits"]}
            agreement = {
                doc_id: attribute_agreement(plan.attributes, {k: f.get(f"attr.{k}", []) for k in plan.attributes})
                for doc_id, f in held.items()
            }
            fused = shift_by_agreement(fused, agreement)
        hits = [self._hit({"_id": f.id}, plan.analysis, f.score, f if request.explain else None) for f in fused]
        trace.timings["fuse"] = (time.perf_counter() - t0) * 1e3
        # Facets count the products whose text matches the query (in any of the
        # index's languages) under the filters; kNN alone would count the whole window.
        return _Ranked(hits, len(hits), _facets_from_aggs(bm25), sourced=False)

    def _page(self, plan: SearchPlan, ranked: _Ranked, trace: _Trace) -> list[Hit]:
        """One page of the fused window; a configured reranker first reorders the
        window's top (client-side fusion only: the cluster pages its own fusions)."""
        if ranked.paged:
            return ranked.hits
        hits = ranked.hits
        if isinstance(plan.strategy, ClientFusion) and plan.request.rerank and self.reranker is not None:
            hits = trace.timed("rerank", lambda: self._rerank(ranked.hits, plan.analysis))
        return hits[plan.request.offset : plan.request.offset + plan.request.k]

    def _respond(self, plan: SearchPlan, hits: list[Hit], ranked: _Ranked, trace: _Trace) -> SearchResponse:
        took = (time.perf_counter() - trace.start) * 1e3
        analysis, request = plan.analysis, plan.request
        return SearchResponse(
            query=analysis.text,
            lang=analysis.lang,
            mode=request.mode,
            fusion=plan.strategy.name if plan.strategy else None,
            page=request.page,
            size=request.k,
            total=ranked.total,
            hits=hits,
            facets=ranked.facets,
            translations=analysis.translations,
            took_ms=round(took, 2),
            timings_ms={k: round(v, 2) for k, v in trace.timings.items()},
            truncated=analysis.truncated,
            notes=trace.notes,
            tuning=plan.tuning,
        )

    # ------------------------------------------------- ranked lists (for tuning) --
    def understand(self, query: str, lang: str | None = None) -> QueryAnalysis:
        """The query as search sees it: normalised, language, protected tokens, translations."""
        return self._analyze(query, lang, True, None)

    def bm25_ranked(
        self, analysis: QueryAnalysis, depth: int, boosts: qb.BM25Boosts | None = None
    ) -> list[tuple[str, float]]:
        """The BM25 list hybrid search fuses, ``depth`` deep, as (id, score)."""
        bm25q = self._bm25_query(analysis, boosts)
        body = qb.ids_only(qb.bm25_request(bm25q, qb.SearchFilters(), size=depth, highlight=False))
        hits = self._guarded(lambda: self._search(body))["hits"]["hits"]
        return [(qb.hit_id(h), h["_score"]) for h in hits]

    def _bm25_query(self, analysis: QueryAnalysis, boosts: qb.BM25Boosts | None) -> dict[str, Any]:
        """Our BM25 clauses, with the synonyms the query (or a translation of it) brings
        in, and its words when it is Chinese or Japanese and the index has client-cut words."""
        expansions: list[str] = []
        if self.synonyms:
            for text in dict.fromkeys([analysis.text, *analysis.translations.values()]):
                expansions += [p for p in self.synonyms.expand(text) if p not in expansions]
        # Only the query as typed is cut: a dictionary's word-by-word output in
        # Chinese or Japanese is no better matched as words than as characters.
        words = (
            {analysis.lang: self.segmenter.segment(analysis.text, analysis.lang)}
            if analysis.lang in self.segmented
            else {}
        )
        return qb.bm25_query(
            analysis.text,
            analysis.translations,
            analysis.protected,
            boosts or qb.BM25Boosts(),
            expansions,
            words,
            lenient_languages=[lang for lang in analysis.translations if lang != analysis.lang],
            attributes=self.query_attributes(analysis),
        )

    def query_attributes(self, analysis: QueryAnalysis) -> dict[str, list[str]]:
        """Colours and materials the query names, read from its English form."""
        if not self.attribute_fields:
            return {}
        english = analysis.text if analysis.lang == "en" else analysis.translations.get("en", "")
        return {k: v for k, v in extract_attributes([english]).items() if k in self.attribute_fields}

    def knn_lists(
        self, analysis: QueryAnalysis, depth: int, translation_weight: float | None = None
    ) -> dict[str, list[tuple[str, float]]]:
        """The kNN lists hybrid search fuses (one per vector field, named as in fusion), ``depth`` deep."""
        vectors = self._embed(analysis, "mean", translation_weight)
        candidates = min(max(2 * depth, 100), KNN_MAX_CANDIDATES)
        resps = self._guarded(lambda: self._knn_per_field(vectors, qb.SearchFilters(), depth, candidates))
        return {name: [(qb.hit_id(h), h["_score"]) for h in r["hits"]["hits"]] for name, r in resps.items()}

    def _knn_per_field(
        self,
        vectors: dict[str, list[float]],
        filters: qb.SearchFilters,
        k: int,
        num_candidates: int,
        docvalue_fields: Sequence[str] = (),
    ) -> dict[str, dict[str, Any]]:
        """One kNN request per vector field, all in flight at once; responses named as fusion
        names the lists. Hits carry ids (and the named doc values), no sources."""
        futures = {}
        for i, (field_name, vector) in enumerate(vectors.items()):
            body = qb.ids_only(
                qb.knn_request({field_name: vector}, filters, k=k, num_candidates=num_candidates), docvalue_fields
            )
            futures[knn_list_name(field_name, i)] = self._pool.submit(self._search, body)
        return {name: future.result() for name, future in futures.items()}

    def _rerank(self, hits: list[Hit], analysis: QueryAnalysis) -> list[Hit]:
        """The cross-encoder reorders the top RERANK_DEPTH of the fused list (the same
        top on every page, so pages stay without gaps or repeats)."""
        from ..ingest.document import SOURCE_FOR_PASSAGE, passage_from_source
        from .rerank import RERANK_DEPTH

        top = hits[:RERANK_DEPTH]
        if not top or self.reranker is None:
            return hits
        docs = self.es.mget(index=self.alias, ids=[h.id for h in top], source_includes=SOURCE_FOR_PASSAGE)["docs"]
        scores = self.reranker.score(analysis.text, [passage_from_source(d.get("_source", {})) for d in docs])
        for hit, score in zip(top, scores):
            if hit.components:
                hit.components.setdefault("scores", {})["rerank"] = round(score, 4)
            hit.score = round(score, 6)
        return sorted(top, key=lambda h: (-h.score, h.id)) + hits[RERANK_DEPTH:]

    def _with_sources(self, hits: list[Hit], analysis: QueryAnalysis, trace: _Trace) -> list[Hit]:
        """The page's product fields, in one ``mget``: the fused window's lists
        carried ids and scores only (with every language's text for a window of
        100 they were most of the search's time). A product deleted in between
        drops out of the page."""
        if not hits:
            return hits
        fields = qb.page_source_fields(analysis.lang)
        resp = trace.timed(
            "fetch", lambda: self.es.mget(index=self.alias, ids=[h.id for h in hits], source_includes=fields)
        )
        found = {d["_id"]: d for d in resp["docs"] if d.get("found")}
        out = []
        for hit in hits:
            if hit.id in found:
                full = self._hit(found[hit.id], analysis, hit.score, None)
                full.components = hit.components
                out.append(full)
        return out

    def _highlight_page(self, hits: list[Hit], analysis: QueryAnalysis, trace: _Trace) -> list[Hit]:
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

    def _embed(
        self, analysis: QueryAnalysis, query_vector: str, translation_weight: float | None = None
    ) -> dict[str, list[float]]:
        """The kNN query vector of each vector field.

        "mean" (default) adds to the query's embedding the mean embedding of its
        translations into the index's languages (weighted by
        ``translation_weight``). A multilingual encoder still prefers texts in
        the query's own language; the blend cancels much of that pull, so a
        product written in another language can rank first. "original" embeds
        the query alone.
        """
        weight = (
            0.0
            if query_vector != "mean"
            else (self.translation_weight_for(analysis.lang) if translation_weight is None else translation_weight)
        )
        texts = [analysis.text]
        if weight > 0:  # embed translations only when they count
            texts += [t for t in dict.fromkeys(analysis.translations.values()) if t and t != analysis.text]
        # The encoders run side by side (ONNX Runtime and numpy release the GIL).
        futures = {f: self._pool.submit(self.embedders[f].encode, texts, role="query") for f in self.vector_fields}
        out = {}
        for field_name, future in futures.items():
            vectors = future.result()
            vec = vectors[0].copy()
            if len(vectors) > 1:
                vec += weight * vectors[1:].mean(axis=0)
            vec /= max(float(np.linalg.norm(vec)), 1e-12)
            out[field_name] = vec.tolist()
        return out

    # ----------------------------------------------------------------- results --
    def _from_es(self, resp: dict, analysis: QueryAnalysis, component: str, explain: bool) -> list[Hit]:
        hits = []
        for rank, h in enumerate(resp["hits"]["hits"], start=1):
            fused = Fused(h["_id"], h.get("_score") or 0.0, {component: rank}, {component: h.get("_score") or 0.0})
            hits.append(self._hit(h, analysis, h.get("_score") or 0.0, fused if explain else None))
        return hits

    def _hit(self, es_hit: dict, analysis: QueryAnalysis, score: float, fused: Fused | None) -> Hit:
        src = es_hit.get("_source", {})
        titles = src.get("title", {})
        source_lang = src.get("source_language")
        highlight, matched = _best_highlight(es_hit.get("highlight", {}), analysis.lang)
        lang = source_lang if matched in (None, ORIGINAL) else matched
        title = titles.get(ORIGINAL) or next(iter(titles.values()), "")
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
            title=title,
            lang=lang,
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

    # ----------------------------------------------------------------- similar --
    def similar(self, product_id: str, *, filters: qb.SearchFilters | None = None, k: int = 10) -> SearchResponse:
        """Products nearest to a product's own vectors ("more like this")."""
        if not isinstance(product_id, str) or not product_id.strip():
            raise XLSearchError("similar needs a product id; got an empty one")
        if k < 1 or k > 1000:
            raise XLSearchError("k must be between 1 and 1000")
        trace = _Trace()
        with cluster_errors(self.settings):  # outside: an unknown id is the user's error, not the cluster's
            try:
                doc = self.es.get(index=self.alias, id=product_id, source_includes=[*self.vector_fields, "title"])
            except NotFoundError:
                raise XLSearchError(f"no product with id {product_id!r} in {self.alias!r}") from None
        vectors = {f: doc["_source"][f] for f in self.vector_fields if doc["_source"].get(f)}
        if not vectors:
            raise XLSearchError(f"product {product_id!r} has no vector in _source (index created with hidden vectors)")
        base = filters or qb.SearchFilters()
        flt = replace(base, exclude_ids=(*base.exclude_ids, product_id))
        resp = self._guarded(lambda: self._search(qb.knn_request(vectors, flt, k=k, num_candidates=max(100, 4 * k))))
        title = (doc["_source"].get("title") or {}).get(ORIGINAL, product_id)
        analysis = QueryAnalysis(
            original=product_id,
            text=title,
            lang="",
            lang_confidence=0.0,
            truncated=False,
            protected=[],
            translations={},
        )
        hits = self._from_es(resp, analysis, "knn", False)
        plan = SearchPlan(
            request=SearchRequest(query=product_id, k=k, mode="knn"),
            analysis=analysis,
            params=SearchParams(),
            bm25={},
            strategy=None,
            knn_weight=1.0,
            window=k,
            num_candidates=k,
            tuning={},
        )
        return self._respond(plan, hits, _Ranked(hits, len(hits), _facets_from_hits(hits)), trace)


def _attribute_docvalues(attributes: Mapping[str, Any]) -> list[str]:
    """The attr fields the query names, for a window list to carry (doc values: cheap, no _source)."""
    return [f"attr.{kind}" for kind in attributes]


def _best_highlight(hl: dict[str, list[str]], query_lang: str) -> tuple[str | None, str | None]:
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


def _facet_aggs() -> dict[str, Any]:
    return {
        "category": {"terms": {"field": "category_path", "size": 20}},
        "brand": {"terms": {"field": "brand_exact", "size": 20}},
    }


def _facets_from_aggs(resp: dict) -> dict[str, dict[str, int]]:
    aggs = resp.get("aggregations") or {}
    return {
        name: {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])}
        for name in ("category", "brand")
    }


def _facets_from_hits(hits: list[Hit]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"category": {}, "brand": {}}
    for h in hits:
        if h.category:
            out["category"][h.category] = out["category"].get(h.category, 0) + 1
        if h.brand:
            key = h.brand.casefold()
            out["brand"][key] = out["brand"].get(key, 0) + 1
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:20]) for name, c in out.items()}
