"""Records that arrive a request at a time (the gateway's ``_bulk`` and ``_doc``):
the same validation, enrichment and content hash as a file load, with an
outcome per record instead of a dead-letter file, so the caller can answer in
Elasticsearch's own per-item format."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from ..cluster.connection import cluster_errors, describe_error
from ..config import Settings
from .enrich import EXISTING_FIELDS, EnrichContext, enrich_safely
from .records import RawRecord
from .sink import BulkPolicy, send_bulk
from .source import validated


@dataclass
class Outcome:
    id: str | None
    status: int  # 201 created, 200 updated or unchanged, 400 rejected
    result: str  # created | updated | noop | rejected
    reason: str | None = None


def index_records(
    settings: Settings,
    client: Elasticsearch,
    alias: str,
    context: EnrichContext,
    records: Sequence[Mapping[str, Any]],
    policy: BulkPolicy | None = None,
) -> list[Outcome]:
    """Validate, enrich and index ``records`` into ``alias``; one outcome per record, in order."""
    outcomes: list[Outcome | None] = [None] * len(records)
    products, positions = [], {}
    for i, data in enumerate(records):
        raw = RawRecord(
            line=i + 1,
            data=dict(data) if isinstance(data, Mapping) else None,
            raw=json.dumps(data, ensure_ascii=False, default=str)[:2000],
            error=None if isinstance(data, Mapping) else "a record must be a JSON object",
        )
        product, reason = validated(raw)
        if product is not None and product.id in positions:
            reason = f"duplicate id {product.id!r} in this request"
            product = None
        if product is None:
            outcomes[i] = Outcome(raw.id, 400, "rejected", reason)
            continue
        positions[product.id] = i
        products.append(product)
    if products:
        with cluster_errors(settings):
            docs = client.mget(index=alias, ids=[p.id for p in products], source_includes=EXISTING_FIELDS)["docs"]
        existing = {d["_id"]: d.get("_source", {}) for d in docs if d.get("found")}
        enriched = enrich_safely(products, existing, context)
        for rej in enriched.rejections:
            outcomes[positions[str(rej.id)]] = Outcome(rej.id, 400, "rejected", rej.reason)
        sent = send_bulk(  # failure reasons go back to HTTP clients: worded without credentials
            client, alias, enriched.actions, policy or BulkPolicy(), describe=lambda e: describe_error(e, settings)
        )
        failed = dict(sent.failed)
        for action, _ in enriched.actions:
            pid = str(action["index"]["_id"])
            if pid in failed:
                outcomes[positions[pid]] = Outcome(pid, 400, "rejected", failed[pid])
            else:
                outcomes[positions[pid]] = Outcome(
                    pid, 200 if pid in existing else 201, "updated" if pid in existing else "created"
                )
        for product in products:
            if outcomes[positions[product.id]] is None:  # the content hash matched: nothing to write
                outcomes[positions[product.id]] = Outcome(product.id, 200, "noop")
    return [o if o is not None else Outcome(None, 500, "rejected", "not processed (a bug)") for o in outcomes]
