"""``xlsearch learn-vectors``: give each judged product a vector of the queries that found it.

A product's own vector says what its text is about; shoppers often ask for it in
words its text never uses ("13 pro max" for a phone case category). The mean
embedding of the train-split queries judged relevant to it (weighted by grade)
is a second vector in the same space, stored beside the first in a field of its
own (``<field>_judged``, one per encoder field). Search runs one more kNN list
per such field with the same query vector and fuses it with a share of the kNN
weight (``judged_weight``, of the encoder field's share). A query close to the
queries that found a product finds it too, in any language the encoder reads.

Only the train split is used (``SplitPolicy``), so tuning on validation and
evaluating on test stay honest; ``--holdout 0`` uses nearly everything once
measured. The index ``_meta`` records what was learnt (``judged``); a
rebuild starts without it (the new index has no such fields), as it drops a
tuning. Writes are partial updates; a product re-ingested with changes keeps
its judged vector (ingest carries it over), and a product no longer judged has
it cleared, so the field holds this run's judgments and nothing older.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch, helpers

from ..cluster.indices import index_meta, is_xlsearch_meta, read_meta, resolve_alias
from ..embed.adapter import adapter_fingerprint
from ..embed.manifest import trained_on
from ..errors import XLSearchError
from ..ingest.sink import Action, send_bulk
from ..mapping import JUDGED_META_KEY, index_models, judged_field_name
from ..relevance.judgments import Judgments, Query, SplitPolicy
from ..runtime import IndexRuntime
from ..search.request import DEFAULT_JUDGED_WEIGHT, default_judged_weight

MISSING = "(404)"  # how send_bulk reports an update of a product the index does not hold


def judged_centroids(
    query_vectors: Mapping[str, np.ndarray], grades: Mapping[str, Mapping[str, int]]
) -> dict[str, np.ndarray]:
    """Product id -> unit-length, grade-weighted mean of the (unit) vectors of the
    queries judged relevant to it. Queries without a vector and grades of 0 count for nothing."""
    sums: dict[str, np.ndarray] = {}
    for qid, judged in grades.items():
        vec = query_vectors.get(qid)
        if vec is None:
            continue
        unit = vec / max(float(np.linalg.norm(vec)), 1e-12)
        for doc_id, grade in judged.items():
            if grade > 0:
                sums[doc_id] = sums.get(doc_id, 0.0) + grade * unit
    out = {}
    for doc_id, total in sums.items():
        norm = float(np.linalg.norm(total))
        if norm > 1e-9:  # opposite queries cancelling out leave no direction to store
            out[doc_id] = (total / norm).astype(np.float32)
    return out


def embed_queries(runtime: IndexRuntime, queries: list[Query], fields: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Encoder field -> query id -> the query's vector as that field's encoder (and query
    adapter) embeds it: what a judged centroid is the mean of."""
    texts = [q.text for q in queries]
    out: dict[str, dict[str, np.ndarray]] = {}
    for source in fields:
        if not texts:
            out[source] = {}
            continue
        vectors = runtime.embedders[source].encode(texts, role="query")
        out[source] = {q.id: np.asarray(v) for q, v in zip(queries, vectors)}
    return out


def learn_judged_vectors(
    es: Elasticsearch,
    runtime: IndexRuntime,
    judgments: Judgments,
    split: SplitPolicy,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Embed the train split's queries with each vector field's encoder, write each
    judged product's centroid into ``<field>_judged`` and record it in ``_meta``."""
    queries = judgments.split(split, "train")
    if not queries:
        raise XLSearchError(
            f"no train-split query with a relevant product in {judgments.name!r} "
            "(is --holdout/--validation taking them all?)"
        )
    target = resolve_alias(es, runtime.alias) or runtime.alias
    grades = {q.id: judgments.relevant(q.id) for q in queries}
    fields = {judged_field_name(f): f for f in runtime.vector_fields}
    say(f"embedding {len(queries)} train queries for {', '.join(fields.values())}")
    vectors = embed_queries(runtime, queries, list(fields.values()))
    centroids = {judged: judged_centroids(vectors[source], grades) for judged, source in fields.items()}
    products, missing, stale = _write(es, target, fields, centroids)
    record = {
        "fields": fields,
        "data": judgments.name,
        "data_hash": judgments.data_hash,
        "split": split.as_dict(),
        "queries": len(queries),
        "products": len(products) - len(missing),
        "cleared": len(stale),
        "not_in_index": len(missing),
        "model_fingerprints": {f: str(runtime.meta.models.get(f, {}).get("fingerprint", "")) for f in fields.values()},
        "query_adapter": adapter_fingerprint(runtime.settings.query_adapter),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    meta = index_meta(es, target)
    meta[JUDGED_META_KEY] = record
    es.indices.put_mapping(index=target, meta=meta)
    weight = default_weight(runtime, judgments)
    say(
        f"{record['products']} products got judged vectors from {len(queries)} train queries"
        + (f"; {len(missing)} judged products are not in the index" if missing else "")
        + (f"; cleared {len(stale)} no longer judged" if stale else "")
        + f"; search weighs them {weight} by default"
        + (" (the served encoders learnt from these judgments too)" if weight != DEFAULT_JUDGED_WEIGHT else "")
    )
    return {
        "index": runtime.alias,
        "physical_index": target,
        **record,
        "default_judged_weight": weight,
        "missing_ids": missing[:20],
    }


def _write(
    es: Elasticsearch, target: str, fields: Mapping[str, str], centroids: Mapping[str, Mapping[str, np.ndarray]]
) -> tuple[list[str], list[str], list[str]]:
    """Each product's centroids by partial update, cleared where a product is no longer judged:
    (products written to, judged products the index lacks, products cleared). Any other
    refused write raises before ``_meta`` is touched."""
    products = sorted({d for c in centroids.values() for d in c})
    _add_fields(es, target, fields)
    stale = sorted(holding_ids(es, target, next(iter(fields))) - set(products))
    actions: list[Action] = [
        ({"update": {"_id": d}}, {"doc": {j: c[d].tolist() for j, c in centroids.items() if d in c}}) for d in products
    ]
    actions += [({"update": {"_id": d}}, {"doc": dict.fromkeys(fields)}) for d in stale]
    result = send_bulk(es, target, actions)
    missing = sorted(i for i, why in result.failed if MISSING in why)
    failed = [(i, why) for i, why in result.failed if MISSING not in why]
    if failed:
        shown = "; ".join(f"{i}: {why}" for i, why in failed[:3])
        raise XLSearchError(f"{len(failed)} of {len(actions)} product updates failed ({shown}); _meta left as it was")
    es.indices.refresh(index=target)
    return products, missing, stale


def default_weight(runtime: IndexRuntime, judgments: Judgments) -> float:
    """The judged weight search will use untuned: less where the served model or query
    adapter learnt from these same judgments (``IndexRuntime.judged_redundant``)."""
    settings = runtime.settings
    return default_judged_weight(bool(trained_on(settings.model_ref, settings.query_adapter, judgments.data_hash)))


def forget_judged_vectors(
    es: Elasticsearch, alias: str, say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)
) -> dict[str, Any]:
    """Clear every judged vector and the ``_meta`` record: search is as before learning.
    Reads only the index (no model loads: the encoder that made them need not be at hand)."""
    if not is_xlsearch_meta(read_meta(es, alias)):
        raise XLSearchError(f"{alias!r} is not an index xlsearch manages; nothing was changed")
    target = resolve_alias(es, alias) or alias
    meta = index_meta(es, target)
    fields = {judged_field_name(f): f for f in index_models(meta)}
    # _meta first: search stops asking for the fields before they empty
    meta.pop(JUDGED_META_KEY, None)
    es.indices.put_mapping(index=target, meta=meta)
    mapped = es.indices.get_mapping(index=target)[target]["mappings"].get("properties", {})
    present = [j for j in fields if j in mapped]
    holding = sorted(set().union(*(holding_ids(es, target, j) for j in present))) if present else []
    clears: list[Action] = [({"update": {"_id": d}}, {"doc": dict.fromkeys(present)}) for d in holding]
    result = send_bulk(es, target, clears)
    failed = [(i, why) for i, why in result.failed if MISSING not in why]
    if failed:
        raise XLSearchError(f"{len(failed)} of {len(holding)} products kept their judged vectors: {failed[0][1]}")
    es.indices.refresh(index=target)
    say(f"cleared the judged vectors of {len(holding)} products in {alias}")
    return {"index": alias, "cleared": len(holding)}


def check_judged(
    meta: Mapping[str, Any], data_hash: str, data_name: str, split: str, policy: SplitPolicy
) -> dict[str, Any] | None:
    """What ``xlsearch learn-vectors`` recorded in the index; refuses to report on queries
    its judged vectors may have been learnt from. A split is a band of one hash: the
    vectors came from the band at or above the recorded holdout + validation, so an eval
    split whose band ends at or below it (same salt) shares no query with them."""
    record = meta.get(JUDGED_META_KEY)
    if not isinstance(record, dict):
        return None
    if record.get("data_hash") == data_hash and not _disjoint(record.get("split") or {}, split, policy):
        raise XLSearchError(
            f"the index's judged vectors were learnt from the train queries of {data_name} "
            f"(split {record.get('split')}), which {split!r} under {policy.as_dict()} may share; report on a split "
            "they did not see, or clear them with 'xlsearch learn-vectors --forget'"
        )
    return {k: record.get(k) for k in ("data", "queries", "products", "split", "created_at")}


def _disjoint(learnt: Mapping[str, Any], split: str, policy: SplitPolicy) -> bool:
    """Whether ``split`` under ``policy`` lies wholly below the band the vectors were learnt from."""
    try:
        start = float(learnt["holdout"]) + float(learnt["validation"])
    except (KeyError, TypeError, ValueError):
        return False
    end = {"test": policy.holdout, "validation": policy.holdout + policy.validation}.get(split)
    return learnt.get("salt") == policy.salt and end is not None and end <= start


def _add_fields(es: Elasticsearch, target: str, fields: Mapping[str, str]) -> None:
    """Each judged field mapped as its encoder field is (dims, similarity, index type)."""
    properties = es.indices.get_mapping(index=target)[target]["mappings"].get("properties", {})
    missing = [f for f in fields.values() if f not in properties]
    if missing:
        raise XLSearchError(f"{target!r} has no vector field {missing[0]!r} to learn beside")
    es.indices.put_mapping(index=target, properties={j: dict(properties[src]) for j, src in fields.items()})


def holding_ids(es: Elasticsearch, target: str, field: str) -> set[str]:
    """Ids of the products that hold a value in ``field``."""
    query = {"query": {"exists": {"field": field}}}
    return {h["_id"] for h in helpers.scan(es, index=target, query=query, _source=False, size=1000)}
