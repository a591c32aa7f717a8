"""What this cluster can do, asked once per client.

Users run the full distribution; CI runs the integ-test build that lacks
language analyzers and the ``rrf``/``linear`` retrievers. Code asks the probe and
picks features from it instead of failing on what is missing.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from ..text.segment import NATIVE_ANALYZERS

_NO_MATCH: dict[str, Any] = {"standard": {"query": {"match_none": {}}}}
_PROBE_INDEX = "xlsearch-capability-probe-none*"
_cache: weakref.WeakKeyDictionary[Elasticsearch, Capabilities] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Capabilities:
    version: str
    language_analyzers: bool
    rrf_retriever: bool
    linear_retriever: bool
    exclude_source_vectors_setting: bool
    word_analyzers: tuple[str, ...] = ()  # languages a plugin segments into words (smartcn, kuromoji, nori)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _server_version(client: Elasticsearch) -> str:
    nodes: dict[str, dict[str, Any]] = client.nodes.info(node_id="_local", metric="_none").get("nodes", {})
    return str(next(iter(nodes.values()), {}).get("version", "unknown"))


def _has_analyzer(client: Elasticsearch, name: str) -> bool:
    try:
        client.indices.analyze(analyzer=name, text="probe")
        return True
    except ApiError:
        return False


def _has_retriever(client: Elasticsearch, retriever: dict) -> bool:
    try:
        client.search(index=_PROBE_INDEX, allow_no_indices=True, ignore_unavailable=True, retriever=retriever, size=0)
        return True
    except ApiError:
        return False


def probe(client: Elasticsearch, refresh: bool = False) -> Capabilities:
    """Probe (or return the cached probe of) the cluster behind ``client``."""
    if not refresh and client in _cache:
        return _cache[client]
    try:
        version = _server_version(client)
    except (ApiError, TransportError):
        version = "unknown"
    caps = Capabilities(
        version=version,
        language_analyzers=_has_analyzer(client, "english"),
        rrf_retriever=_has_retriever(client, {"rrf": {"retrievers": [_NO_MATCH, _NO_MATCH]}}),
        linear_retriever=_has_retriever(
            client,
            {
                "linear": {
                    "retrievers": [{"retriever": _NO_MATCH, "weight": 1.0}, {"retriever": _NO_MATCH, "weight": 1.0}]
                }
            },
        ),
        exclude_source_vectors_setting=_version_at_least(version, (9, 1)),
        word_analyzers=tuple(lang for lang, name in NATIVE_ANALYZERS.items() if _has_analyzer(client, name)),
    )
    _cache[client] = caps
    return caps


def _version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    try:
        parts = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return parts >= minimum
