"""Versioned physical indices behind an alias.

``products`` is an alias; the data lives in ``products-v1``, ``products-v2``...
A rebuild fills the next version and swaps the alias in one atomic request, so
searches never see a half-built index.

Deletes are guarded: names are checked (no patterns, see ``config``), and only
indices that carry xlsearch's ``_meta`` and belong to the named alias are ever
deleted, so a command can never remove an index somebody else made.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from ..errors import ClusterError, XLSearchError

_VERSION_RE = r"-v(\d+)$"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexInfo:
    alias: str
    index: str
    docs: int
    meta: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "index": self.index, "docs": self.docs, "meta": self.meta}


CREATED_BY = "xlsearch-es"


def is_xlsearch_meta(meta: dict[str, Any] | None) -> bool:
    """Whether an index's ``_meta`` says xlsearch created it."""
    if not meta:
        return False
    return meta.get("created_by", CREATED_BY) == CREATED_BY and "schema_version" in meta and "model" in meta


def index_meta(client: Elasticsearch, index: str) -> dict[str, Any]:
    return client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})


def owned_by(client: Elasticsearch, index: str, alias: str) -> bool:
    """An xlsearch index that is, or was, a version of ``alias``."""
    meta = index_meta(client, index)
    return is_xlsearch_meta(meta) and meta.get("alias", alias) == alias


def versions(client: Elasticsearch, alias: str) -> list[str]:
    """Physical indices ``alias-vN`` that exist, oldest first."""
    try:
        found = client.indices.get(index=f"{alias}-v*", allow_no_indices=True, expand_wildcards="open")
    except NotFoundError:
        return []
    pattern = re.compile(re.escape(alias) + _VERSION_RE)
    named = [(int(m.group(1)), name) for name in found if (m := pattern.match(name))]
    return [name for _, name in sorted(named)]


def resolve_alias(client: Elasticsearch, alias: str) -> str | None:
    """The physical index the alias points at, or None when there is no alias."""
    try:
        got = client.indices.get_alias(name=alias)
    except NotFoundError:
        return None
    names = sorted(got.keys())
    return names[-1] if names else None


def next_version_name(client: Elasticsearch, alias: str) -> str:
    existing = versions(client, alias)
    last = int(re.search(_VERSION_RE, existing[-1]).group(1)) if existing else 0  # type: ignore[union-attr]
    return f"{alias}-v{last + 1}"


def create_versioned(client: Elasticsearch, alias: str, body: dict[str, Any], point_alias: bool) -> str:
    """Create the next ``alias-vN``; point the alias at it when asked."""
    if client.indices.exists(index=alias) and not client.indices.exists_alias(name=alias):
        raise XLSearchError(f"{alias!r} is a concrete index, not an alias; choose another --index name")
    if point_alias and resolve_alias(client, alias):
        raise XLSearchError(
            f"index {alias!r} already exists (-> {resolve_alias(client, alias)}); "
            "delete it with 'xlsearch index delete' or rebuild with 'xlsearch ingest --rebuild'"
        )
    name = next_version_name(client, alias)
    body["mappings"].setdefault("_meta", {}).update({"alias": alias, "created_by": CREATED_BY})
    try:
        client.indices.create(index=name, settings=body["settings"], mappings=body["mappings"])
        if point_alias:
            client.indices.put_alias(index=name, name=alias, is_write_index=True)
    except ApiError as exc:
        raise ClusterError(f"cannot create index {name}: {exc.message}") from None
    return name


def swap_alias(client: Elasticsearch, alias: str, new_index: str, delete_old: bool = False) -> str | None:
    """Point ``alias`` at ``new_index`` atomically; return the index it left."""
    old = resolve_alias(client, alias)
    actions: list[dict[str, Any]] = []
    if old and old != new_index:
        actions.append({"remove": {"index": old, "alias": alias}})
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    client.indices.update_aliases(actions=actions)
    if delete_old and old and old != new_index:
        if owned_by(client, old, alias):
            client.indices.delete(index=old)
        else:
            log.warning("kept %s: it was not created by xlsearch for %s", old, alias)
    return old


def delete_all(client: Elasticsearch, alias: str) -> list[str]:
    """Delete the alias and every xlsearch version of it, and nothing else.

    Refused when the alias points at an index xlsearch did not create (or the
    name is a concrete index): deleting other people's data is never a side effect.
    """
    if client.indices.exists(index=alias) and not client.indices.exists_alias(name=alias):
        raise XLSearchError(f"{alias!r} is a concrete index, not an xlsearch alias; nothing was deleted")
    target = resolve_alias(client, alias)
    if target and not owned_by(client, target, alias):
        raise XLSearchError(f"alias {alias!r} points at {target}, which xlsearch did not create; nothing was deleted")
    names = [n for n in versions(client, alias) if owned_by(client, n, alias)]
    if target and target not in names:
        names.append(target)
    if not names:
        raise XLSearchError(f"no index named {alias!r}")
    for name in names:  # one by one: the cluster refuses patterns, and so do we
        client.indices.delete(index=name)
    return names


def info(client: Elasticsearch, alias: str) -> IndexInfo:
    target = resolve_alias(client, alias) or (alias if client.indices.exists(index=alias) else None)
    if not target:
        raise XLSearchError(f"no index named {alias!r}; create it with 'xlsearch index create'")
    mapping = client.indices.get_mapping(index=target)[target]["mappings"]
    docs = int(client.count(index=target)["count"])
    return IndexInfo(alias=alias, index=target, docs=docs, meta=mapping.get("_meta", {}))


def list_aliases(client: Elasticsearch) -> list[IndexInfo]:
    """Aliases that point at xlsearch indices (those carrying our ``_meta``)."""
    out = []
    aliases = client.indices.get_alias(index="*", expand_wildcards="open")
    for _index, body in sorted(aliases.items()):
        for alias in body.get("aliases", {}):
            try:
                found = info(client, alias)
            except XLSearchError:
                continue
            if "model" in found.meta:
                out.append(found)
    return out


def read_meta(client: Elasticsearch, alias: str) -> dict[str, Any] | None:
    """The ``_meta`` of the index behind the alias, or None if there is none."""
    target = resolve_alias(client, alias)
    if not target:
        return None
    return index_meta(client, target)


def language_share(client: Elasticsearch, index: str) -> dict[str, float]:
    """Share of the index's products written in each language (one aggregation)."""
    aggs = {"langs": {"terms": {"field": "source_language", "size": 100}}}
    buckets = client.search(index=index, size=0, aggs=aggs)["aggregations"]["langs"]["buckets"]
    total = sum(b["doc_count"] for b in buckets) or 1
    return {b["key"]: b["doc_count"] / total for b in buckets}


def max_result_window(client: Elasticsearch, index: str) -> int:
    """How deep the cluster lets a search on ``index`` page (``index.max_result_window``)."""
    got = client.indices.get_settings(index=index, name="index.max_result_window", include_defaults=True)
    values = [
        int(v.get(kind, {}).get("index", {}).get("max_result_window", 10_000))
        for v in got.values()
        for kind in ("settings", "defaults")
        if v.get(kind, {}).get("index", {}).get("max_result_window")
    ]
    return min(values) if values else 10_000
