"""The thin client: one object that loads models once and answers searches.

``XLSearchClient(settings).search("红色 连衣裙")`` understands the query,
sends BM25 (started while the query is being embedded) and kNN with the same
filters, fuses them, and returns typed hits with facets and per-stage timings.
It refuses an index whose recorded model differs from its encoder, and picks
the cluster's own retrievers only where the capability probe found them.
Safe to share across threads.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from ..cluster.capabilities import probe
from ..cluster.connection import connect, describe_error
from ..cluster.indices import read_meta
from ..config import Settings
from ..embed.encoder import Encoder, spec_from_settings
from ..errors import ClusterError, XLSearchError
from ..mapping import ORIGINAL
from ..service import check_compatible, model_meta, settings_for_index
from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
from ..translate.base import Translator
from . import query_builder as qb
from .fusion import Fused, fuse
from .tuning import SearchParams, Tuning

if TYPE_CHECKING:
    from ..learn.rerank import Reranker
from .understand import QueryAnalysis, analyze

Mode = Literal["hybrid", "bm25", "knn"]
FUSIONS = ("auto", "rrf", "minmax", "zscore", "combined", "native-rrf", "native-linear")
DEFAULT_RANK_WINDOW = 100
# "auto" fusion, chosen on seeded samples of both evaluation sets and the demo
# catalog (see benchmarks/results): in a catalog dominated by one language, BM25
# scores are comparable across products and a z-score sum with kNN weighted 2:1
# beats both parts; in a mixed catalog, BM25 scores come from different language
# fields and only their ranks compare, so reciprocal rank fusion wins there.
DOMINANT_SHARE = 0.8
COMBINED_KNN_SCALE = 10.0
KNN_WEIGHTS = {"rrf": 1.0, "zscore": 2.0, "minmax": 2.0, "combined": 1.0, "native-rrf": 1.0, "native-linear": 2.0}
MAX_TRANSLATION_WEIGHT = 4.0
# Elasticsearch caps a kNN search's num_candidates (and so k) at 10,000.
KNN_MAX_CANDIDATES = 10_000


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


class XLSearchClient:
    def __init__(self, settings: Settings, client: Elasticsearch | None = None,
                 encoder: Encoder | None = None, translator: Translator | None = None,
                 reranker: "Reranker | None" = None):
        from ..translate.factory import make_translator

        self.settings = settings
        self.alias = settings.index
        self.es = client or connect(settings)
        self.caps = probe(self.es)
        try:
            meta = read_meta(self.es, self.alias)
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, settings)) from None
        if meta is None:
            raise XLSearchError(f"no index named {self.alias!r}; load a catalog with 'xlsearch ingest FILE --index {self.alias}'")
        if encoder is None:
            settings = self.settings = settings_for_index(settings, meta)
            model_meta(settings)
            encoder = Encoder(spec_from_settings(settings))
        check_compatible(meta, encoder.meta(), self.alias)
        self.encoder = encoder
        self.translator = translator or make_translator(settings, meta.get("translator"))
        self.languages: list[str] = list(meta.get("languages") or settings.languages)
        self.vector_field: str = meta.get("vector_field", "embedding")
        # A query can only be in a language we can match: an index language, or
        # one the translator brings into one. Fewer candidates, fewer wild guesses.
        sources = [c for c in DEFAULT_CANDIDATES + ("zh", "ja", "ko", "ar")
                   if any(c == t or self.translator.backend.supports(c, t) for t in self.languages)]
        self.detector = LanguageDetector(candidates=tuple(dict.fromkeys(sources + self.languages)),
                                         fallback=settings.fallback_language)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="xlsearch")
        self.language_share = self._language_share()
        self.max_result_window = self._max_result_window()
        self.tuning = Tuning.from_meta(meta)
        if reranker is None and settings.reranker:
            from ..learn.rerank import Reranker

            reranker = Reranker(settings.reranker, device=settings.device, threads=settings.threads)
        self.reranker = reranker
        self.translation_weight: float | None = None  # None: from the catalog's language mix

    def _language_share(self) -> dict[str, float]:
        """Share of the catalog's products written in each language (one aggregation)."""
        try:
            resp = self.es.search(index=self.alias, size=0,
                                  aggs={"langs": {"terms": {"field": "source_language", "size": 100}}})
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        buckets = resp["aggregations"]["langs"]["buckets"]
        total = sum(b["doc_count"] for b in buckets) or 1
        return {b["key"]: b["doc_count"] / total for b in buckets}

    def _max_result_window(self) -> int:
        """How deep the cluster lets a search page (``index.max_result_window``)."""
        try:
            got = self.es.indices.get_settings(index=self.alias, name="index.max_result_window",
                                               include_defaults=True)
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        values = [int(v.get(kind, {}).get("index", {}).get("max_result_window", 10_000))
                  for v in got.values() for kind in ("settings", "defaults")
                  if v.get(kind, {}).get("index", {}).get("max_result_window")]
        return min(values) if values else 10_000

    def _check_depth(self, mode: str, k: int, page: int, rank_window: int) -> None:
        """A page past what the cluster can return is a clear error naming the last page."""
        limit = self.max_result_window if mode == "bm25" else min(self.max_result_window, KNN_MAX_CANDIDATES)
        if (page - 1) * k + k <= limit and (mode == "bm25" or rank_window <= limit):
            return
        if rank_window > limit:
            raise XLSearchError(f"rank window {rank_window} is over the cluster's limit of {limit} results")
        why = "index.max_result_window" if limit == self.max_result_window else "the kNN candidate limit"
        raise XLSearchError(f"page {page} is past the last page: with k={k} the last page is {limit // k} "
                            f"({limit} results at most, {why})")

    def translation_weight_for(self, lang: str) -> float:
        """How much the query's translations pull its kNN vector.

        The encoder's pull toward the query's own language only hurts when the
        catalog mixes that language with others: a query in a language no
        product is written in (or the only one) has no same-language rival.
        So the weight follows the mix, 4 * share * (1 - share), scaled to
        MAX_TRANSLATION_WEIGHT at an even mix.
        """
        if self.translation_weight is not None:
            return self.translation_weight
        share = self.language_share.get(lang, 0.0)
        return MAX_TRANSLATION_WEIGHT * 4 * share * (1 - share)

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    # ------------------------------------------------------------------ search --
    def search(self, query: str, lang: str | None = None, filters: qb.SearchFilters | None = None,
               k: int = 10, page: int = 1, mode: Mode = "hybrid", fusion: str = "auto",
               explain: bool = False, rank_window: int | None = None,
               knn_weight: float | None = None, query_vector: str = "mean", translate_query: bool = True,
               query_languages: list[str] | None = None, translation_weight: float | None = None,
               boosts: qb.BM25Boosts | None = None, use_tuning: bool = True,
               rerank: bool = True) -> SearchResponse:
        """Search the alias.

        ``query_languages`` limits which index languages the query is expressed
        in (None: all; []: the original fields only); ``translate_query=False``
        keeps the query untranslated. Both exist to measure what each part adds.
        Ranking knobs left at None/"auto" take the index's tuned values (``xlsearch
        tune``) when it has them, else the built-in defaults. A configured reranker
        reorders the top of client-side hybrid results unless ``rerank=False``.
        """
        if k < 1 or k > 1000:
            raise XLSearchError("k must be between 1 and 1000")
        if page < 1:
            raise XLSearchError("page must be 1 or more")
        if mode not in ("hybrid", "bm25", "knn"):
            raise XLSearchError(f"unknown mode {mode!r}; use hybrid, bm25 or knn")
        if query_vector not in ("mean", "original"):
            raise XLSearchError("query_vector must be 'mean' or 'original'")
        if fusion not in FUSIONS:
            raise XLSearchError(f"unknown fusion {fusion!r}; use one of {', '.join(FUSIONS)}")
        self._check_depth(mode, k, page, rank_window or DEFAULT_RANK_WINDOW)
        filters = filters or qb.SearchFilters()
        start = time.perf_counter()
        analysis = self._analyze(query, lang, translate_query, query_languages)
        timings = dict(analysis.timings_ms)
        notes: list[str] = []
        if analysis.truncated:
            notes.append(f"query truncated to {len(analysis.text)} characters")
        explicit = SearchParams(fusion=None if fusion == "auto" else fusion, knn_weight=knn_weight,
                                rank_window=rank_window, translation_weight=translation_weight, boosts=boosts)
        params, tuning = self._params(explicit, analysis.lang, use_tuning)
        fusion, knn_weight = params.fusion or "auto", params.knn_weight
        rank_window = params.rank_window or DEFAULT_RANK_WINDOW
        self._check_depth(mode, k, page, rank_window)
        # The query's own language is one of the "translations" (the text itself):
        # it matches that language's fields, which hold translations of the rest.
        bm25q = qb.bm25_query(analysis.text, analysis.translations, analysis.protected, params.boosts or qb.BM25Boosts())
        try:
            resp = self._execute(analysis, bm25q, filters, k, page, mode, fusion, explain, rank_window, knn_weight,
                                 query_vector, params, timings, start, notes, rerank and self.reranker is not None)
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        resp.tuning = tuning
        return resp

    def _analyze(self, query: str, lang: str | None, translate: bool,
                 query_languages: list[str] | None) -> QueryAnalysis:
        targets = self.languages if query_languages is None else [lg for lg in self.languages if lg in query_languages]
        return analyze(query, targets, self.translator, self.detector, lang, translate=translate)

    def _params(self, explicit: SearchParams, lang: str, use_tuning: bool) -> tuple[SearchParams, dict[str, Any]]:
        """Explicit arguments over the index's tuned values (the query language's override first)."""
        if self.tuning is None or not use_tuning:
            return explicit, {}
        tuned, source = self.tuning.for_language(lang)
        applied = {k: v for k, v in tuned.as_dict().items() if getattr(explicit, k) is None}
        return explicit.over(tuned), ({"source": source, "applied": applied} if applied else {})

    def _execute(self, analysis: QueryAnalysis, bm25q: dict, filters: qb.SearchFilters, k: int, page: int,
                 mode: str, fusion: str, explain: bool, rank_window: int, knn_weight: float | None,
                 query_vector: str, params: SearchParams, timings: dict[str, float], start: float,
                 notes: list[str], rerank: bool = False) -> SearchResponse:
        offset = (page - 1) * k
        window = max(rank_window, offset + k)
        num_candidates = min(max(2 * window, 100), KNN_MAX_CANDIDATES)
        if mode == "bm25":
            resp = self._timed(timings, "bm25", lambda: self.es.search(
                index=self.alias, **qb.bm25_request(bm25q, filters, size=k, from_=offset),
                aggs=_facet_aggs()))
            result = self._from_es(resp, analysis, "bm25", explain)
            return self._finish(result, analysis, mode, None, page, k, timings, start, notes,
                                total=resp["hits"]["total"]["value"], facets=_facets_from_aggs(resp))
        used = self._resolve_fusion(fusion, notes) if mode == "hybrid" else "none"
        knn_weight = KNN_WEIGHTS.get(used, 1.0) if knn_weight is None else knn_weight
        bm25_future = None
        if used in ("rrf", "minmax", "zscore"):
            # BM25 does not need the vector: send it while the query is embedded.
            body = {**qb.bm25_request(bm25q, filters, size=window, from_=0, highlight=False),
                    "aggs": _facet_aggs()}
            bm25_future = self._pool.submit(self._timed_search, body)
        vector = self._embed(analysis, timings, query_vector, params.translation_weight)
        if mode == "knn":
            body = qb.knn_request(vector, self.vector_field, filters, k=window, num_candidates=num_candidates)
            resp = self._timed(timings, "knn", lambda: self.es.search(index=self.alias, **body))
            hits = self._from_es(resp, analysis, "knn", explain)
            page_hits = self._highlight_page(hits[offset: offset + k], bm25q, analysis, timings)
            return self._finish(page_hits, analysis, mode, None, page, k, timings, start,
                                notes, total=len(hits), facets=_facets_from_hits(hits))
        return self._hybrid(analysis, bm25q, vector, filters, k, page, offset, window, num_candidates,
                            used, explain, knn_weight, timings, start, notes, bm25_future, rerank)


    # ------------------------------------------------- ranked lists (for tuning) --
    def understand(self, query: str, lang: str | None = None) -> QueryAnalysis:
        """The query as search sees it: normalised, language, protected tokens, translations."""
        return self._analyze(query, lang, True, None)

    def bm25_ranked(self, analysis: QueryAnalysis, depth: int,
                    boosts: qb.BM25Boosts | None = None) -> list[tuple[str, float]]:
        """The BM25 list hybrid search fuses, ``depth`` deep, as (id, score)."""
        bm25q = qb.bm25_query(analysis.text, analysis.translations, analysis.protected, boosts or qb.BM25Boosts())
        body = {**qb.bm25_request(bm25q, qb.SearchFilters(), size=depth, highlight=False), "_source": False}
        try:
            hits = self.es.search(index=self.alias, **body)["hits"]["hits"]
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        return [(h["_id"], h["_score"]) for h in hits]

    def knn_ranked(self, analysis: QueryAnalysis, depth: int,
                   translation_weight: float | None = None) -> list[tuple[str, float]]:
        """The kNN list hybrid search fuses, ``depth`` deep, as (id, score)."""
        vector = self._embed(analysis, {}, "mean", translation_weight)
        body = {**qb.knn_request(vector, self.vector_field, qb.SearchFilters(), k=depth,
                                 num_candidates=min(max(2 * depth, 100), KNN_MAX_CANDIDATES)), "_source": False}
        try:
            hits = self.es.search(index=self.alias, **body)["hits"]["hits"]
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        return [(h["_id"], h["_score"]) for h in hits]

    def default_fusion(self) -> str:
        """What ``auto`` resolves to for this catalog."""
        return self._resolve_fusion("auto", [])

    def _resolve_fusion(self, fusion: str, notes: list[str]) -> str:
        """The fusion to use for this catalog on this cluster (native retrievers only where probed)."""
        if fusion == "auto":
            dominant = max(self.language_share.values(), default=1.0)
            return "zscore" if dominant >= DOMINANT_SHARE else "rrf"
        if fusion == "native-rrf" and not self.caps.rrf_retriever:
            notes.append("the cluster has no rrf retriever; fused client-side with rrf")
            return "rrf"
        if fusion == "native-linear" and not self.caps.linear_retriever:
            notes.append("the cluster has no linear retriever; fused client-side with minmax")
            return "minmax"
        return fusion

    def _timed_search(self, body: dict) -> tuple[dict, float]:
        t0 = time.perf_counter()
        resp = self.es.search(index=self.alias, **body)
        return resp, (time.perf_counter() - t0) * 1e3

    def _hybrid(self, analysis: QueryAnalysis, bm25q: dict, vector: list[float], filters: qb.SearchFilters,
                k: int, page: int, offset: int, window: int, num_candidates: int, used: str,
                explain: bool, knn_weight: float, timings: dict[str, float], start: float,
                notes: list[str], bm25_future: Any = None, rerank: bool = False) -> SearchResponse:
        if used in ("native-rrf", "native-linear"):
            body = qb.retriever_request(used.split("-")[1], bm25q, vector, self.vector_field, filters, k, offset,
                                        window, num_candidates, weights=(1.0, knn_weight))
            resp = self._timed(timings, "search", lambda: self.es.search(index=self.alias, **body))
            hits = self._from_es(resp, analysis, used, explain)
            return self._finish(hits, analysis, "hybrid", used, page, k, timings, start, notes,
                                total=resp["hits"]["total"]["value"], facets={})
        if used == "combined":
            # Elasticsearch adds the kNN similarity (0..1) to the BM25 score (often 10-100):
            # the boost brings them to comparable scales.
            body = qb.combined_request(bm25q, vector, self.vector_field, filters, k, offset, window,
                                       num_candidates, knn_boost=knn_weight * COMBINED_KNN_SCALE)
            resp = self._timed(timings, "search", lambda: self.es.search(
                index=self.alias, **body, aggs=_facet_aggs()))
            hits = self._from_es(resp, analysis, used, explain)
            return self._finish(hits, analysis, "hybrid", used, page, k, timings, start, notes,
                                total=resp["hits"]["total"]["value"], facets=_facets_from_aggs(resp))

        # Client-side fusion: both lists cover the same rank window on every page.
        bm25, timings["bm25"] = bm25_future.result()
        knn_body = qb.knn_request(vector, self.vector_field, filters, k=window, num_candidates=num_candidates)
        knn = self._timed(timings, "knn", lambda: self.es.search(index=self.alias, **knn_body))
        t0 = time.perf_counter()
        lists = {"bm25": [(h["_id"], h["_score"]) for h in bm25["hits"]["hits"]],
                 "knn": [(h["_id"], h["_score"]) for h in knn["hits"]["hits"]]}
        fused = fuse(lists, used, {"bm25": 1.0, "knn": knn_weight})
        docs = {h["_id"]: h for h in knn["hits"]["hits"]}
        docs.update({h["_id"]: h for h in bm25["hits"]["hits"]})
        all_hits = [self._hit(docs[f.id], analysis, f.score, f if explain else None) for f in fused]
        timings["fuse"] = (time.perf_counter() - t0) * 1e3
        if rerank:
            all_hits = self._timed(timings, "rerank", lambda: self._rerank(all_hits, analysis))
        page_hits = self._highlight_page(all_hits[offset: offset + k], bm25q, analysis, timings)
        # Facets count the products whose text matches the query (in any of the
        # index's languages) under the filters; kNN alone would count the whole window.
        return self._finish(page_hits, analysis, "hybrid", used, page, k, timings, start,
                            notes, total=len(all_hits), facets=_facets_from_aggs(bm25))

    def _rerank(self, hits: list[Hit], analysis: QueryAnalysis) -> list[Hit]:
        """The cross-encoder reorders the top RERANK_DEPTH of the fused list (the same
        top on every page, so pages stay without gaps or repeats)."""
        from ..ingest.document import SOURCE_FOR_PASSAGE, passage_from_source
        from ..learn.rerank import RERANK_DEPTH

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

    def _highlight_page(self, hits: list[Hit], bm25q: dict, analysis: QueryAnalysis,
                        timings: dict[str, float]) -> list[Hit]:
        """Highlights (and the matched language) for one page only: highlighting the
        whole rank window would cost more than the searches themselves."""
        if not hits:
            return hits
        # Only the title fields the query was expressed in: wildcards over every
        # language's title and description cost several times more.
        fields = [f"title.{ORIGINAL}"] + [f"title.{lang}" for lang in analysis.translations]
        body = {"query": {"ids": {"values": [h.id for h in hits]}}, "size": len(hits), "_source": False,
                "highlight": qb.highlight_body(bm25q, fields)}
        resp = self._timed(timings, "highlight", lambda: self.es.search(index=self.alias, **body))
        found = {h["_id"]: h.get("highlight", {}) for h in resp["hits"]["hits"]}
        for hit in hits:
            fragment, matched = _best_highlight(found.get(hit.id, {}), analysis.lang)
            if fragment:
                hit.highlight = fragment
                hit.lang = hit.source_language if matched == ORIGINAL else matched
        return hits

    def _embed(self, analysis: QueryAnalysis, timings: dict[str, float], query_vector: str,
               translation_weight: float | None = None) -> list[float]:
        """The kNN query vector.

        "mean" (default) adds to the query's embedding the mean embedding of its
        translations into the index's languages (weighted by
        ``translation_weight``). A multilingual encoder still prefers texts in
        the query's own language; the blend cancels much of that pull, so a
        product written in another language can rank first. "original" embeds
        the query alone.
        """
        t0 = time.perf_counter()
        weight = 0.0 if query_vector != "mean" else (
            self.translation_weight_for(analysis.lang) if translation_weight is None else translation_weight)
        texts = [analysis.text]
        if weight > 0:  # embed translations only when they count
            texts += [t for t in dict.fromkeys(analysis.translations.values()) if t and t != analysis.text]
        vectors = self.encoder.encode(texts, role="query")
        vec = vectors[0].copy()
        if len(vectors) > 1:
            vec += weight * vectors[1:].mean(axis=0)
        vec /= max(float(np.linalg.norm(vec)), 1e-12)
        timings["embed"] = (time.perf_counter() - t0) * 1e3
        return vec.tolist()

    @staticmethod
    def _timed(timings: dict[str, float], name: str, fn):  # noqa: ANN001, ANN205 - tiny local helper
        t0 = time.perf_counter()
        out = fn()
        timings[name] = timings.get(name, 0.0) + (time.perf_counter() - t0) * 1e3
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
            components = {"ranks": fused.ranks, "scores": {k: round(v, 4) for k, v in fused.scores.items()},
                          "translations": analysis.translations, "query_lang": analysis.lang}
        return Hit(id=es_hit["_id"], score=round(float(score), 6), title=title, lang=lang,
                   source_language=source_lang, brand=(src.get("brand") or {}).get(ORIGINAL),
                   category=src.get("category_path"), price=src.get("price"), currency=src.get("currency"),
                   highlight=highlight, components=components)

    def _finish(self, hits: list[Hit], analysis: QueryAnalysis, mode: str, fusion: str | None, page: int,
                size: int, timings: dict[str, float], start: float, notes: list[str], total: int,
                facets: dict[str, dict[str, int]]) -> SearchResponse:
        took = (time.perf_counter() - start) * 1e3
        return SearchResponse(query=analysis.text, lang=analysis.lang, mode=mode, fusion=fusion, page=page,
                              size=size, total=total, hits=hits, facets=facets,
                              translations=analysis.translations, took_ms=round(took, 2),
                              timings_ms={k: round(v, 2) for k, v in timings.items()},
                              truncated=analysis.truncated, notes=notes)

    # ----------------------------------------------------------------- similar --
    def similar(self, product_id: str, filters: qb.SearchFilters | None = None, k: int = 10) -> SearchResponse:
        """Products nearest to a product's own vector ("more like this")."""
        if not isinstance(product_id, str) or not product_id.strip():
            raise XLSearchError("similar needs a product id; got an empty one")
        if k < 1 or k > 1000:
            raise XLSearchError("k must be between 1 and 1000")
        start = time.perf_counter()
        try:
            doc = self.es.get(index=self.alias, id=product_id, source_includes=[self.vector_field, "title"])
        except NotFoundError:
            raise XLSearchError(f"no product with id {product_id!r} in {self.alias!r}") from None
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        vector = doc["_source"].get(self.vector_field)
        if not vector:
            raise XLSearchError(f"product {product_id!r} has no vector in _source (index created with hidden vectors)")
        base = filters or qb.SearchFilters()
        flt = qb.SearchFilters(**{**asdict(base), "exclude_ids": (*base.exclude_ids, product_id)})
        body = qb.knn_request(vector, self.vector_field, flt, k=k, num_candidates=max(100, 4 * k))
        try:
            resp = self.es.search(index=self.alias, **body)
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        title = (doc["_source"].get("title") or {}).get(ORIGINAL, product_id)
        analysis = QueryAnalysis(original=product_id, text=title, lang="", lang_confidence=0.0, truncated=False,
                                 protected=[], translations={})
        hits = self._from_es(resp, analysis, "knn", False)
        return self._finish(hits, analysis, "knn", None, 1, k, {}, start, [], total=len(hits),
                            facets=_facets_from_hits(hits))


def _best_highlight(hl: dict[str, list[str]], query_lang: str) -> tuple[str | None, str | None]:
    """The title highlight (else description) the query matched, and its language.

    The original text or the query's own language wins when it matched at all;
    otherwise the field with the most matched terms (ties by language code).
    """
    for prefix in ("title.", "description."):
        found = [(key.split(".", 1)[1] in (ORIGINAL, query_lang), frag[0].count("<em>"), key.split(".", 1)[1], frag[0])
                 for key, frag in hl.items() if key.startswith(prefix) and frag]
        if found:
            _, _, lang, fragment = max(found, key=lambda f: (f[0], f[2] == ORIGINAL, f[1], [-ord(c) for c in f[2]]))
            return fragment, lang
    return None, None


def _facet_aggs() -> dict[str, Any]:
    return {"category": {"terms": {"field": "category_path", "size": 20}},
            "brand": {"terms": {"field": "brand_exact", "size": 20}}}


def _facets_from_aggs(resp: dict) -> dict[str, dict[str, int]]:
    aggs = resp.get("aggregations") or {}
    return {name: {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])}
            for name in ("category", "brand")}


def _facets_from_hits(hits: list[Hit]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"category": {}, "brand": {}}
    for h in hits:
        if h.category:
            out["category"][h.category] = out["category"].get(h.category, 0) + 1
        if h.brand:
            key = h.brand.casefold()
            out["brand"][key] = out["brand"].get(key, 0) + 1
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:20]) for name, c in out.items()}
