"""Judged lists for tuning, each learnt without the query it ranks for.

The judged fields in the index hold centroids of train-split queries. Scored on
one of those queries, the index's judged list finds the query's own products
through the query's own vector: tuning on such queries (or on validation
queries after ``learn-vectors --holdout 0.5 --validation 0.01`` took them)
would learn a judged weight for answers it has already seen. Cross-fitting
removes that: the learning queries fall into folds by a hash of their text,
each fold gets centroids from the other folds only, and a query's judged list
is computed here, exactly, from its fold's centroids. Every query the
judgments hold outside the test band can then measure the judged weight, so
it is chosen from thousands of queries instead of a validation split's few
hundred.

What is simulated is what ``learn_judged_vectors`` writes (``judged_centroids``
over the same query vectors) and what Elasticsearch's kNN over the field
returns (cosine, scored (1 + cos) / 2, only products the index holds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cluster.indices import read_meta, resolve_alias
from ..config import Settings
from ..embed.manifest import trained_on
from ..errors import XLSearchError
from ..mapping import JUDGED_META_KEY
from ..relevance.judgments import Judgments, Query, SplitPolicy
from ..runtime import IndexRuntime
from ..search.client import XLSearchClient
from ..search.fusion import knn_list_name
from ..text.normalize import normalize
from .judged import embed_queries, holding_ids, judged_centroids

FOLDS = 5
MAX_SCORING_QUERIES = 5000  # queries that measure the judged weight, at most


def text_fold(query: Query, folds: int = FOLDS) -> int:
    """A query's fold by its language and normalised text (as splits hash them), so the
    same query text under two ids never sits on both sides of a fold."""
    key = f"{query.lang}|{normalize(query.text).casefold()}"
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % folds


@dataclass
class _Centroids:
    ids: list[str]
    matrix: np.ndarray  # one unit row per product


@dataclass
class CrossFit:
    """Per fold and judged field, the centroids learnt without that fold's queries."""

    fields: dict[str, str]  # judged field -> encoder field whose query vector searches it
    list_names: dict[str, str]  # judged field -> the name fusion gives its list
    by_fold: dict[int, dict[str, _Centroids]]
    learnt_from: int  # queries the centroids came from (all folds)

    def lists(self, query: Query, vectors: Mapping[str, Sequence[float]], depth: int) -> dict[str, Any]:
        """The judged kNN lists of one query (its search vectors by encoder field), ``depth`` deep."""
        out: dict[str, list[tuple[str, float]]] = {}
        for judged, centroids in self.by_fold[text_fold(query)].items():
            vector = vectors.get(self.fields[judged])
            if vector is None or not centroids.ids:
                continue
            v = np.asarray(vector, dtype=np.float32)
            sims = centroids.matrix @ (v / max(float(np.linalg.norm(v)), 1e-12))
            top = np.argsort(-sims, kind="stable")[:depth]
            out[self.list_names[judged]] = [(centroids.ids[i], float((1.0 + sims[i]) / 2.0)) for i in top]
        return out


def learning_queries(judgments: Judgments, record: Mapping[str, Any]) -> list[Query]:
    """The queries ``learn-vectors`` took (its recorded split's train band), if these are
    the judgments it learnt from; none otherwise (nothing to cross-fit against)."""
    if record.get("data_hash") != judgments.data_hash:
        return []
    try:
        policy = SplitPolicy(**record["split"])
    except (KeyError, TypeError, XLSearchError):  # a record this version cannot read: nothing to fit
        return []
    return judgments.split(policy, "train")


def centroids_of(
    fields: Mapping[str, str],
    vectors: Mapping[str, Mapping[str, np.ndarray]],
    grades: Mapping[str, Mapping[str, int]],
    held: set[str],
) -> dict[str, _Centroids]:
    """Per judged field, the centroids ``learn-vectors`` would write from these queries'
    vectors and grades, for the products in ``held`` (those the index has vectors for)."""
    out = {}
    for judged, source in fields.items():
        centroids = judged_centroids(vectors[source], grades)
        ids = sorted(d for d in centroids if d in held)
        matrix = np.stack([centroids[d] for d in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
        out[judged] = _Centroids(ids, matrix)
    return out


def build_cross_fit(
    runtime: IndexRuntime, judgments: Judgments, queries: list[Query], held: set[str], folds: int = FOLDS
) -> CrossFit:
    """Embed ``queries`` as learning does and keep, for each fold, the centroids of the
    other folds' queries (only products in ``held``, the ones the index has vectors for)."""
    fields = {j: s for j, s in runtime.meta.judged.items() if s in runtime.embedders}
    order = runtime.knn_fields
    names = {j: knn_list_name(j, order.index(j)) for j in fields}
    vectors = embed_queries(runtime, queries, sorted(set(fields.values())))
    grades = {q.id: judgments.relevant(q.id) for q in queries}
    by_fold = {
        k: centroids_of(fields, vectors, {q.id: grades[q.id] for q in queries if text_fold(q, folds) != k}, held)
        for k in range(folds)
    }
    return CrossFit(fields, names, by_fold, len(queries))


def for_tuning(client: XLSearchClient, judgments: Judgments, split: SplitPolicy) -> tuple[CrossFit | None, list[Query]]:
    """The cross-fit for tuning an index with judged vectors learnt from these judgments,
    and the queries that can measure the judged weight with it: the learning queries and
    the validation split, never the test split. ``(None, [])`` where there is nothing to fit."""
    runtime = client.runtime
    if not runtime.meta.judged:
        return None, []
    record = (read_meta(client.es, client.alias) or {}).get(JUDGED_META_KEY) or {}
    learnt = learning_queries(judgments, record) if isinstance(record, dict) else []
    if not learnt:
        return None, []
    target = resolve_alias(client.es, client.alias) or client.alias
    held = holding_ids(client.es, target, next(iter(runtime.meta.judged)))
    fit = build_cross_fit(runtime, judgments, learnt, held)
    pool = {q.id: q for q in [*learnt, *judgments.split(split, "validation")]}
    seen = encoders_trained_on(client.settings, judgments)
    usable = [
        q
        for q in pool.values()
        if split.split_of(q.lang, q.text) != "test" and not any(p.split_of(q.lang, q.text) == "train" for p in seen)
    ]
    # a big click log: a fixed sample (by id hash) keeps the check to minutes; its noise is already small
    usable.sort(key=lambda q: hashlib.sha256(q.id.encode()).hexdigest())
    return fit, usable[:MAX_SCORING_QUERIES]


def encoders_trained_on(settings: Settings, judgments: Judgments) -> list[SplitPolicy]:
    """The splits whose train queries of these judgments the served model or query adapter
    learnt from: on those queries the encoder's own lists are better than on any a shopper
    will type, so they cannot measure how much the judged lists should add."""
    out = []
    for record in trained_on(settings.model_ref, settings.query_adapter, judgments.data_hash):
        try:
            out.append(SplitPolicy(**record["split"]))
        except (KeyError, TypeError, XLSearchError):
            out.append(SplitPolicy(holdout=0.0, validation=1e-9))  # split unknown: take every query as seen
    return out
