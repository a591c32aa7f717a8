"""Judgments from use: the searches the service answers and the clicks on its page,
kept in the cluster, and read back as graded judgments for ``train`` and ``tune``.

Storage: one index a day per served index, ``xlsearch-events-<alias>-YYYY.MM.DD``
(strict mapping), so retention is deleting whole days: names are resolved first and
deleted one by one (Elasticsearch refuses wildcard deletes). A search event holds
the query, its detected language, the ids shown and the page; a click holds the
search it came from, the product and its position. Nothing else: no address, no
agent, no cookie; only what the shop's shoppers typed and chose.

Reading: per (language, query as typed, folded), a clicked product is relevant
(grade 1); a product shown above a clicked one and not clicked is judged not
relevant (grade 0: the shopper saw it and passed it over). Queries without a
click say nothing and are left out. The usual split by query hash applies.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from ..errors import ClusterError, XLSearchError
from ..text.normalize import normalize
from .judgments import Judgments, Query

PREFIX = "xlsearch-events-"
DAY_FORMAT = "%Y.%m.%d"
# A search id names its day, so a click finds its search with one realtime GET.
_SEARCH_ID = re.compile(r"^(\d{8})-([0-9a-f]{32})$")
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "type": {"type": "keyword"},  # search | click
        "ts": {"type": "date"},
        "index": {"type": "keyword"},
        "search_id": {"type": "keyword"},
        "query": {"type": "keyword", "ignore_above": 2048},
        "lang": {"type": "keyword"},
        "shown": {"type": "keyword"},
        "page": {"type": "integer"},
        "size": {"type": "integer"},
        "product_id": {"type": "keyword"},
        "position": {"type": "integer"},
    },
}


def day_index(alias: str, day: datetime) -> str:
    return f"{PREFIX}{alias}-{day.strftime(DAY_FORMAT)}"


@dataclass
class EventStore:
    """Writes and prunes one served index's events (the service holds one per index)."""

    es: Elasticsearch
    alias: str
    retention_days: int

    def record_search(self, query: str, lang: str, shown: Sequence[str], page: int, size: int) -> str:
        """Store a search; its id (for the page's clicks). A failed write raises ClusterError."""
        now = datetime.now(UTC)
        search_id = f"{now.strftime('%Y%m%d')}-{uuid.uuid4().hex}"
        doc = {
            "type": "search",
            "ts": now.isoformat(timespec="milliseconds"),
            "index": self.alias,
            "search_id": search_id,
            "query": query,
            "lang": lang,
            "shown": list(shown),
            "page": page,
            "size": size,
        }
        self._write(now, search_id, doc)
        return search_id

    def record_click(self, search_id: str, product_id: str) -> dict[str, Any]:
        """Store a click on a product that search showed; refused (XLSearchError) when the
        search is unknown, past retention, of another index, or did not show the product."""
        found = _SEARCH_ID.match(search_id) if isinstance(search_id, str) else None
        if not found:
            raise XLSearchError("search_id is not one this service gave out")
        day = datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if now - day > timedelta(days=self.retention_days + 1) or day - now > timedelta(days=1):
            raise XLSearchError("that search is past the retention period")
        try:
            search = self.es.get(index=day_index(self.alias, day), id=search_id)["_source"]
        except NotFoundError:
            raise XLSearchError("no such search was recorded here") from None
        except (ApiError, TransportError) as exc:
            raise ClusterError(f"the events store cannot be read: {exc}") from exc
        if search.get("index") != self.alias:
            raise XLSearchError("no such search was recorded here")
        shown = list(search.get("shown") or [])
        if product_id not in shown:
            raise XLSearchError(f"product {product_id!r} was not shown in that search")
        position = (int(search.get("page") or 1) - 1) * int(search.get("size") or len(shown)) + shown.index(product_id)
        doc = {
            "type": "click",
            "ts": now.isoformat(timespec="milliseconds"),
            "index": self.alias,
            "search_id": search_id,
            "product_id": product_id,
            "position": position + 1,
        }
        self._write(now, uuid.uuid4().hex, doc)
        return {"search_id": search_id, "product_id": product_id, "position": position + 1}

    def _write(self, now: datetime, doc_id: str, doc: dict[str, Any]) -> None:
        name = day_index(self.alias, now)
        try:
            if not self.es.indices.exists(index=name):
                self._create(name)
            self.es.index(index=name, id=doc_id, document=doc, op_type="create")
        except (ApiError, TransportError) as exc:
            raise ClusterError(f"the event was not stored: {exc}") from exc

    def _create(self, name: str) -> None:
        try:
            self.es.indices.create(
                index=name,
                mappings=MAPPING,
                settings={"number_of_shards": 1, "auto_expand_replicas": "0-1", "hidden": True},
            )
        except ApiError as exc:
            if "resource_already_exists" not in str(exc):  # another worker made it first
                raise
        self.prune()

    def days(self) -> list[str]:
        """The event indices of this alias, oldest first (names resolved, never a pattern delete)."""
        pattern = f"{PREFIX}{self.alias}-*"
        found = self.es.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True)
        return sorted(n for n in found if _day_of(n, self.alias) is not None)

    def prune(self) -> list[str]:
        """Delete the days past retention; their names."""
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        old = [n for n in self.days() if (_day_of(n, self.alias) or cutoff) < cutoff]
        for name in old:
            self.es.indices.delete(index=name)
        return old


def _day_of(name: str, alias: str) -> datetime | None:
    stem = f"{PREFIX}{alias}-"
    if not name.startswith(stem):
        return None
    try:
        return datetime.strptime(name[len(stem) :], DAY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def read_events(es: Elasticsearch, alias: str) -> Iterable[dict[str, Any]]:
    """Every recorded event of ``alias`` (searches and clicks), in no particular order."""
    store = EventStore(es, alias, retention_days=10**6)
    names = store.days()
    if not names:
        return []
    es.indices.refresh(index=",".join(names))
    return (
        hit["_source"] for hit in helpers.scan(es, index=",".join(names), query={"query": {"term": {"index": alias}}})
    )


def judgments_from_events(events: Iterable[dict[str, Any]], products: dict[str, str], name: str) -> Judgments:
    """Graded pairs from searches and their clicks: clicked = 1; shown above a click, not clicked = 0."""
    searches: dict[str, dict[str, Any]] = {}
    clicks: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.get("type") == "search" and event.get("search_id"):
            searches[str(event["search_id"])] = event
        elif event.get("type") == "click" and event.get("search_id") and event.get("product_id"):
            clicks[str(event["search_id"])].add(str(event["product_id"]))
    grades: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    texts: dict[tuple[str, str], str] = {}
    for search_id, clicked in sorted(clicks.items()):
        search = searches.get(search_id)
        if search is None or not normalize(str(search.get("query") or "")):
            continue  # its search is past retention
        query = normalize(str(search["query"]))
        key = (str(search.get("lang") or "und"), query.casefold())
        texts.setdefault(key, query)
        shown = [str(p) for p in search.get("shown") or []]
        last = max((shown.index(p) for p in clicked if p in shown), default=-1)
        for pid in shown[: last + 1]:
            if pid in products:
                grade = 1 if pid in clicked else 0
                grades[key][pid] = max(grades[key].get(pid, 0), grade)
    if not any(g > 0 for pairs in grades.values() for g in pairs.values()):
        raise XLSearchError(f"no click on a product of the index is recorded for {name!r} yet")
    queries, qrels = {}, {}
    for (lang, folded), pairs in sorted(grades.items()):
        qid = "q" + hashlib.sha1(f"{lang}|{folded}".encode()).hexdigest()[:12]
        queries[qid] = Query(qid, texts[(lang, folded)], lang)
        qrels[qid] = pairs
    digest = hashlib.sha256(repr(sorted((q, sorted(p.items())) for q, p in qrels.items())).encode()).hexdigest()
    return Judgments(name=name, queries=queries, passages=products, qrels=qrels, data_hash=digest[:16])
