"""What ``xlsearch serve`` holds: settings, the cluster client, and the models,
loaded once and shared by one searcher per alias."""

from __future__ import annotations

import threading
from typing import Any

from ..cluster.connection import cluster_errors, connect
from ..cluster.indices import is_xlsearch_meta, read_meta
from ..config import Settings
from ..embed.base import Embedder, load_embedders
from ..errors import XLSearchError
from ..ingest.enrich import EnrichContext, enrich_context
from ..relevance.events import EventStore
from ..search.client import XLSearchClient
from ..service import settings_for_index
from .metrics import Metrics


class SearchService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics = Metrics()
        self.es = connect(settings)
        self._searchers: dict[str, XLSearchClient] = {}
        self._embedders: dict[tuple[Any, ...], dict[str, Embedder]] = {}
        self._lock = threading.Lock()

    def searcher(self, alias: str | None = None) -> XLSearchClient:
        """The searcher of ``alias`` (default: the configured index), created once."""
        alias = alias or self.settings.index
        with self._lock:
            if alias not in self._searchers:
                settings, embedders = self._shared_models(self.settings.replace(index=alias))
                self._searchers[alias] = XLSearchClient(settings, client=self.es, encoder=embedders)
            return self._searchers[alias]

    def _shared_models(self, settings: Settings) -> tuple[Settings, dict[str, Embedder]]:
        """The settings adopted to the alias's index and the embedders it needs; indices with
        the same models share them."""
        with cluster_errors(settings):
            meta = read_meta(self.es, settings.index)
        if meta is None or not is_xlsearch_meta(meta):
            raise XLSearchError(f"{settings.index!r} is not an index xlsearch manages; load a catalog into it first")
        adopted = settings_for_index(settings, meta)
        key = (adopted.encoders, adopted.model_ref, adopted.quantize_int8)
        if key not in self._embedders:
            self._embedders[key] = load_embedders(adopted)
        return adopted, self._embedders[key]

    def events(self, alias: str) -> EventStore | None:
        """Where ``alias``'s searches and clicks are kept; None when recording is off."""
        if not self.settings.serve_events:
            return None
        return EventStore(self.es, alias, self.settings.events_retention_days)

    def manages(self, alias: str) -> bool:
        """Whether writes to ``alias`` go through enrichment (an index xlsearch created)."""
        with cluster_errors(self.settings):
            meta = read_meta(self.es, alias)
        return meta is not None and is_xlsearch_meta(meta)

    def enrich_context(self, alias: str) -> EnrichContext:
        """Enrichment for writes through the gateway: the index's own, as a batch load uses."""
        return enrich_context(self.searcher(alias).runtime)

    def close(self) -> None:
        for searcher in self._searchers.values():
            searcher.close()
