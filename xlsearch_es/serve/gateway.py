"""The Elasticsearch-compatible part of the service, as pure functions.

``expand_xlsearch`` replaces each ``{"xlsearch": {...}}`` query clause by the
hybrid plan's result: one ``constant_score`` per product of the fused window,
boosted by its fused rank. The cluster then does what it always does with the
rest of the body (filters, sorting, aggregations, paging, ``_source``,
highlighting), so the response is Elasticsearch's own. ``parse_bulk`` splits an
NDJSON ``_bulk`` body into actions; ``bulk_item`` shapes one per-item answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import XLSearchError
from ..search.request import AUTO_FUSION, HYBRID, MODES
from .bodies import check_depth_of_text, check_query_text, whole_number

CLAUSE = "xlsearch"
# Where a query may hold other queries (bool lists or single clauses).
_NESTED_LISTS = {"bool": ("must", "should", "filter", "must_not"), "dis_max": ("queries",)}
_NESTED_ONE = {
    "constant_score": ("filter",),
    "function_score": ("query",),
    "nested": ("query",),
    "boosting": ("positive", "negative"),
}
MAX_WINDOW = 1000
MAX_SEARCH_WINDOW = 10_000  # Elasticsearch's index.max_result_window default
ELASTIC_HEADERS = {"X-Elastic-Product": "Elasticsearch"}


@dataclass(frozen=True)
class ClauseRequest:
    """What one ``xlsearch`` clause asks for."""

    query: str
    lang: str | None = None
    mode: str = HYBRID
    fusion: str = AUTO_FUSION
    filters: dict[str, Any] = field(default_factory=dict)
    all: bool = False  # the whole fused window, not only what passes the relevance floor

    @classmethod
    def parse(cls, spec: Any) -> ClauseRequest:
        """The clause's fields, type-checked (every mistake is the caller's, so an XLSearchError)."""
        if isinstance(spec, str):
            spec = {"query": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("query"), str):
            raise XLSearchError(
                'an xlsearch clause needs {"query": "text"} (optional: lang, mode, fusion, filters, all)'
            )
        unknown = set(spec) - {"query", "lang", "mode", "fusion", "filters", "all"}
        if unknown:
            raise XLSearchError(f"unknown xlsearch clause keys: {', '.join(sorted(unknown))}")
        for key in ("lang", "mode", "fusion"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise XLSearchError(f"xlsearch clause {key!r} must be a string")
        if spec.get("mode", HYBRID) not in MODES:
            raise XLSearchError(f"xlsearch clause 'mode' must be one of {', '.join(MODES)}")
        if not isinstance(spec.get("all", False), bool):
            raise XLSearchError("xlsearch clause 'all' must be true or false")
        filters = spec.get("filters") or {}
        if not isinstance(filters, dict):
            raise XLSearchError('xlsearch clause \'filters\' must be an object such as {"brand": "Sony"}')
        return cls(
            query=check_query_text(spec["query"], "xlsearch clause 'query'"),
            lang=spec.get("lang"),
            mode=spec.get("mode") or HYBRID,
            fusion=spec.get("fusion") or AUTO_FUSION,
            filters=dict(filters),
            all=bool(spec.get("all", False)),
        )


def _window(body: dict[str, Any]) -> int:
    size = whole_number(body.get("size"), "size", 0, MAX_SEARCH_WINDOW, 10)
    offset = whole_number(body.get("from"), "from", 0, MAX_SEARCH_WINDOW, 0)
    return max(1, min(MAX_WINDOW, max(100, size + offset)))


def count_clauses(node: Any) -> int:
    """How many xlsearch clauses ``expand_xlsearch`` would run for this query."""
    if not isinstance(node, dict) or len(node) != 1:
        return 0
    ((kind, spec),) = node.items()
    if kind == CLAUSE:
        return 1
    if not isinstance(spec, dict):
        return 0
    total = 0
    for key in (*_NESTED_LISTS.get(kind, ()), *_NESTED_ONE.get(kind, ())):
        child = spec.get(key)
        for item in child if isinstance(child, list) else [child]:
            total += count_clauses(item)
    return total


def expand_xlsearch(
    body: dict[str, Any],
    run: Callable[[ClauseRequest, int], list[tuple[str, float]]],
    max_clauses: int = 10,
) -> int:
    """Replace every xlsearch clause in ``body["query"]`` in place; returns how many.

    ``run(clause, window)`` returns the fused ranking, best first. A body with more
    than ``max_clauses`` clauses is refused before any runs: each is a hybrid search.
    """
    if "query" not in body:
        return 0
    window = _window(body)
    found = count_clauses(body["query"])
    if found > max_clauses:
        raise XLSearchError(f"{found} xlsearch clauses in one request; at most {max_clauses} run per request")
    count = 0

    def visit(node: Any) -> Any:
        nonlocal count
        if not isinstance(node, dict) or len(node) != 1:
            return node
        ((kind, spec),) = node.items()
        if kind == CLAUSE:
            count += 1
            return ranked_clause(run(ClauseRequest.parse(spec), window))
        if not isinstance(spec, dict):
            return node
        for key in _NESTED_LISTS.get(kind, ()):
            if isinstance(spec.get(key), list):
                spec[key] = [visit(q) for q in spec[key]]
            elif isinstance(spec.get(key), dict):
                spec[key] = visit(spec[key])
        for key in _NESTED_ONE.get(kind, ()):
            if isinstance(spec.get(key), dict):
                spec[key] = visit(spec[key])
        return node

    body["query"] = visit(body["query"])
    return count


def ranked_clause(ranking: list[tuple[str, float]]) -> dict[str, Any]:
    """Products of a fused ranking as scoring clauses: rank r of n scores (n - r + 1) / n."""
    if not ranking:
        return {"match_none": {}}
    n = len(ranking)
    return {
        "bool": {
            "should": [
                {"constant_score": {"filter": {"ids": {"values": [doc_id]}}, "boost": round((n - r) / n, 6) or 1e-6}}
                for r, (doc_id, _) in enumerate(ranking)
            ],
            "minimum_should_match": 1,
        }
    }


@dataclass
class BulkAction:
    position: int
    op: str  # index | create | update | delete
    index: str | None
    id: str | None
    source: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


def parse_bulk(text: str, default_index: str | None) -> list[BulkAction]:
    """NDJSON ``_bulk`` body -> actions (a source line follows index, create and update)."""
    check_depth_of_text(text, "the _bulk body")
    lines = [line for line in text.splitlines() if line.strip()]
    actions: list[BulkAction] = []
    i = 0
    while i < len(lines):
        try:
            header = json.loads(lines[i])
        except json.JSONDecodeError as exc:
            raise XLSearchError(f"_bulk line {i + 1} is not JSON: {exc.msg}") from None
        if not isinstance(header, dict) or len(header) != 1:
            raise XLSearchError(f'_bulk line {i + 1}: expected one action such as {{"index": {{...}}}}')
        ((op, meta),) = header.items()
        if op not in ("index", "create", "update", "delete") or not isinstance(meta, dict):
            raise XLSearchError(f"_bulk line {i + 1}: unknown action {op!r}")
        source = None
        if op != "delete":
            if i + 1 >= len(lines):
                raise XLSearchError(f"_bulk line {i + 1}: the {op} action has no source line")
            try:
                source = json.loads(lines[i + 1])
            except json.JSONDecodeError as exc:
                raise XLSearchError(f"_bulk line {i + 2} is not JSON: {exc.msg}") from None
            i += 1
        doc_id, index = meta.get("_id"), meta.get("_index")
        if not isinstance(doc_id, str | int | None) or isinstance(doc_id, bool):
            raise XLSearchError(f"_bulk line {i + 1}: _id must be a string")
        if not isinstance(index, str | None):
            raise XLSearchError(f"_bulk line {i + 1}: _index must be a string")
        actions.append(
            BulkAction(
                position=len(actions),
                op=op,
                index=index or default_index,
                id=None if doc_id is None else str(doc_id),
                source=source,
                meta=meta,
            )
        )
        i += 1
    return actions


def bulk_lines(actions: list[BulkAction]) -> str:
    """Actions back into an NDJSON body (for what is forwarded unchanged)."""
    out = []
    for a in actions:
        out.append(json.dumps({a.op: {**a.meta, **({"_index": a.index} if a.index else {})}}))
        if a.op != "delete":
            out.append(json.dumps(a.source, ensure_ascii=False))
    return "\n".join(out) + "\n"


def bulk_item(
    op: str, index: str | None, doc_id: str | None, status: int, result: str, reason: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"_index": index, "_id": doc_id, "status": status}
    if reason is None:
        item.update({"result": result, "_shards": {"total": 1, "successful": 1, "failed": 0}})
    else:
        item["error"] = {"type": "xlsearch_rejected_record", "reason": reason}
    return {op: item}
