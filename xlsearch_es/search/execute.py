"""Executing a plan: the cluster requests and the query's embedding.

BM25-only and kNN-only plans are one request each. A hybrid plan is run by its
fusion strategy (search/fusion.py) on a ``_HybridSearch``: client-side
strategies ask it for the window's lists (BM25 was sent while the query was
embedded, kNN goes out per vector field, all at once), server-side ones for one
request the cluster fuses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from ..mapping import CATEGORY_FIELD
from ..runtime import IndexRuntime
from . import query_builder as qb
from .focus import focus, focus_notes, reorder
from .fusion import Fused, HybridPlan, Ranked, attribute_agreement, knn_list_name
from .request import BM25, KNN, QUERY_VECTORS, RankedWindow, SearchPlan, Trace
from .results import (
    attribute_docvalues,
    facet_aggs,
    facets_from_aggs,
    facets_from_hits,
    hit_from_source,
    hits_from_response,
)
from .understand import QueryAnalysis

MAX_TRANSLATION_WEIGHT = 4.0


@dataclass
class Retrieval:
    """Sends one index's requests and embeds its queries; safe to share across threads."""

    es: Elasticsearch
    runtime: IndexRuntime
    pool: ThreadPoolExecutor
    language_share: Mapping[str, float]

    def search(self, body: dict[str, Any], trace: Trace | None = None) -> dict[str, Any]:
        """One search on the alias; within the request's budget when it has one. With
        ``search_dfs``, scored queries use the whole index's term statistics."""
        remaining = trace.remaining() if trace else None
        es = self.es if remaining is None else self.es.options(request_timeout=remaining, max_retries=0)
        if self.runtime.dfs and "query" in body:
            body = {**body, "search_type": "dfs_query_then_fetch"}
        return dict(es.search(index=self.runtime.alias, **body))

    def execute(self, plan: SearchPlan, trace: Trace) -> RankedWindow:
        request = plan.request
        if request.mode == BM25:
            return self._bm25(plan, trace)
        search = _HybridSearch(self, plan, trace)
        if plan.strategy is not None and plan.strategy.sends_bm25_first:
            search.send_bm25()
        search.embed()
        if request.mode == KNN:
            return self._knn(plan, search.vectors, trace)
        assert plan.strategy is not None
        return plan.strategy.run(search)

    def _bm25(self, plan: SearchPlan, trace: Trace) -> RankedWindow:
        request = plan.request
        body = {
            **qb.bm25_request(
                plan.bm25, plan.filters, size=request.k, from_=request.offset, highlight=request.highlight
            ),
            "aggs": facet_aggs(),
        }
        resp = trace.timed("bm25", lambda: self.search(body, trace))
        hits = hits_from_response(resp, plan.analysis, "bm25", request.explain)
        return RankedWindow(hits, resp["hits"]["total"]["value"], facets_from_aggs(resp), paged=True, highlighted=True)

    def _knn(self, plan: SearchPlan, vectors: dict[str, list[float]], trace: Trace) -> RankedWindow:
        body = qb.knn_request(vectors, plan.filters, k=plan.window, num_candidates=plan.num_candidates)
        resp = trace.timed("knn", lambda: self.search(body, trace))
        hits = hits_from_response(resp, plan.analysis, "knn", plan.request.explain)
        return RankedWindow(hits, len(hits), facets_from_hits(hits))

    def knn_per_field(
        self,
        vectors: Mapping[str, list[float]],
        filters: qb.SearchFilters,
        k: int,
        num_candidates: int,
        docvalue_fields: Sequence[str] = (),
    ) -> dict[str, dict[str, Any]]:
        """One kNN request per vector field, all in flight at once; responses named as fusion
        names the lists. Hits carry ids (and the named doc values), no sources."""
        futures = {}
        order = self.runtime.knn_fields
        for field_name, vector in vectors.items():
            body = qb.ids_only(
                qb.knn_request({field_name: vector}, filters, k=k, num_candidates=num_candidates), docvalue_fields
            )
            futures[knn_list_name(field_name, order.index(field_name))] = self.pool.submit(self.search, body)
        return {name: future.result() for name, future in futures.items()}

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

    def embed(
        self,
        analysis: QueryAnalysis,
        query_vector: str,
        translation_weight: float | None = None,
        fields: list[str] | None = None,
    ) -> dict[str, list[float]]:
        """The kNN query vector of each vector field.

        "mean" (default) adds to the query's embedding the mean embedding of its
        translations into the index's languages (weighted by
        ``translation_weight``). A multilingual encoder still prefers texts in
        the query's own language; the blend cancels much of that pull, so a
        product written in another language can rank first. "original" embeds
        the query alone. ``fields`` are kNN fields: a judged field gets its encoder
        field's vector (each encoder runs once).
        """
        weight = 0.0
        if query_vector == QUERY_VECTORS[0]:
            weight = self.translation_weight_for(analysis.lang) if translation_weight is None else translation_weight
        texts = [analysis.text]
        if weight > 0:  # embed translations only when they count
            texts += [t for t in dict.fromkeys(analysis.translations.values()) if t and t != analysis.text]
        # The encoders run side by side (ONNX Runtime and numpy release the GIL).
        runtime = self.runtime
        wanted = runtime.knn_fields if fields is None else fields
        sources = {runtime.query_field_of(f) for f in wanted}
        embedders = {f: e for f, e in runtime.embedders.items() if f in sources}
        futures = {f: self.pool.submit(e.encode, texts, role="query") for f, e in embedders.items()}
        out = {}
        for field_name, future in futures.items():
            vectors = future.result()
            vec = vectors[0].copy()
            if len(vectors) > 1:
                vec += weight * vectors[1:].mean(axis=0)
            vec /= max(float(np.linalg.norm(vec)), 1e-12)
            out[field_name] = vec.tolist()
        return {f: out[runtime.query_field_of(f)] for f in wanted if runtime.query_field_of(f) in out}


class _HybridSearch:
    """One hybrid search's requests, driven by its fusion strategy (``HybridRun``)."""

    def __init__(self, retrieval: Retrieval, plan: SearchPlan, trace: Trace):
        self.retrieval, self.search_plan, self.trace = retrieval, plan, trace
        self.vectors: dict[str, list[float]] = {}
        self._bm25: Future[dict[str, Any]] | None = None
        self._responses: dict[str, dict[str, Any]] = {}
        self._agreement: dict[str, int] | None = None
        self._fuse_start = 0.0

    @property
    def plan(self) -> HybridPlan:
        p, request = self.search_plan, self.search_plan.request
        return HybridPlan(
            bm25=p.bm25,
            vectors=self.vectors,
            filters=p.filters,
            size=request.k,
            offset=request.offset,
            window=p.window,
            num_candidates=p.num_candidates,
            knn_weight=p.knn_weight,
            field_shares=p.field_shares,
            field_order=tuple(self.retrieval.runtime.knn_fields),
        )

    def send_bm25(self) -> None:
        """BM25 does not need the vectors: it goes out while the query is embedded
        (ids, scores and the queried attributes; the page's fields come after fusion)."""
        p, trace = self.search_plan, self.trace
        body = qb.bm25_request(p.bm25, p.filters, size=p.window, from_=0, highlight=False)
        body = qb.ids_only(body, self._docvalues())
        self._bm25 = self.retrieval.pool.submit(lambda: trace.timed("bm25", lambda: self.retrieval.search(body, trace)))

    def embed(self) -> None:
        p = self.search_plan
        self.vectors = self.trace.timed(
            "embed",
            lambda: self.retrieval.embed(
                p.analysis, p.request.query_vector, p.params.translation_weight, fields=list(p.field_shares)
            ),
        )

    def lists(self) -> dict[str, Ranked]:
        """Both sides cover the same rank window on every page, so pages never overlap."""
        p = self.search_plan
        assert self._bm25 is not None, "send_bm25 first"
        t0 = time.perf_counter()
        knn = self.retrieval.knn_per_field(self.vectors, p.filters, p.window, p.num_candidates, self._docvalues())
        self.trace.add("knn", t0)
        self._responses = {"bm25": self._bm25.result(), **knn}
        self._fuse_start = time.perf_counter()
        return {name: [(qb.hit_id(h), h["_score"]) for h in r["hits"]["hits"]] for name, r in self._responses.items()}

    def _docvalues(self) -> list[str]:
        """What the window's lists carry besides ids: the queried attributes, and the
        category path where the index has category keys (search/focus.py reads it)."""
        p = self.search_plan
        return attribute_docvalues(p.attributes) + ([CATEGORY_FIELD] if p.categories else [])

    def _held(self) -> dict[str, dict[str, Any]]:
        """Each listed product's doc values (the fields ``_docvalues`` asked for)."""
        return {qb.hit_id(h): h.get("fields", {}) for r in self._responses.values() for h in r["hits"]["hits"]}

    def _paths(self) -> dict[str, str]:
        return {i: str(f[CATEGORY_FIELD][0]) for i, f in self._held().items() if f.get(CATEGORY_FIELD)}

    def agreement(self) -> dict[str, int]:
        """Worked out once per search: the fusion's attribute shift and the type rule both read it."""
        wanted = self.search_plan.attributes
        if not wanted:
            return {}
        if self._agreement is None:
            self._agreement = {
                doc_id: attribute_agreement(wanted, {k: f.get(f"attr.{k}", []) for k in wanted})
                for doc_id, f in self._held().items()
            }
        return self._agreement

    def fused_window(self, fused: list[Fused]) -> RankedWindow:
        """The fused window as hits, and its facets: they count the products a shopper can
        page through (the window), so they add up to the total the list reports."""
        p = self.search_plan
        explain = p.request.explain
        matching = len(fused)
        if p.request.focus:
            scores = {f.id: f.scores for f in fused}
            focused = focus([f.id for f in fused], scores, self._paths(), p.categories, agreement=self.agreement())
            fused, matching = reorder(fused, focused.ids), focused.matching
            self.trace.notes.extend(focus_notes(focused, len(fused), p.categories, p.analysis.lang))
        hits = [hit_from_source({"_id": f.id}, p.analysis, f.score, f if explain else None) for f in fused]
        self.trace.add("fuse", self._fuse_start)
        # counted by the cluster while the page's fields are fetched: the products the total counts
        ids, trace, search = [f.id for f in fused[:matching]], self.trace, self.retrieval.search
        body = {"size": 0, "query": {"ids": {"values": ids}}, "aggs": facet_aggs()}
        pending = self.retrieval.pool.submit(
            lambda: facets_from_aggs(trace.timed("facets", lambda: search(body, trace)))
        )
        return RankedWindow(hits, matching, {}, sourced=False, pending_facets=pending)

    def one_request(self, body: dict[str, Any], facets: bool, name: str) -> RankedWindow:
        p = self.search_plan
        if facets:
            body["aggs"] = facet_aggs()
        resp = self.trace.timed("search", lambda: self.retrieval.search(body, self.trace))
        hits = hits_from_response(resp, p.analysis, name, p.request.explain)
        total = resp["hits"]["total"]["value"]
        return RankedWindow(hits, total, facets_from_aggs(resp) if facets else {}, paged=True, highlighted=True)
