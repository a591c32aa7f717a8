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
                settings = self.settings.replace(index=alias)
                with cluster_errors(settings):
                    meta = read_meta(self.es, alias)
                if meta is None or not is_xlsearch_meta(meta):
                    raise XLSearchError(f"{alias!r} is not an index xlsearch manages; load a catalog into it first")
                settings = settings_for_index(settings, meta)
                key = (settings.encoders, settings.model_ref, settings.quantize_int8)
                if key not in self._embedders:  # indices with the same models share them
                    self._embedders[key] = load_embedders(settings)
                self._searchers[alias] = XLSearchClient(settings, client=self.es, encoder=self._embedders[key])
            return self._searchers[alias]

    def manages(self, alias: str) -> bool:
        """Whether writes to ``alias`` go through enrichment (an index xlsearch created)."""
        with cluster_errors(self.settings):
            meta = read_meta(self.es, alias)
        return meta is not None and is_xlsearch_meta(meta)

    def enrich_context(self, alias: str) -> EnrichContext:
        """Enrichment for writes through the gateway: the index's own, as a batch load uses."""
        searcher = self.searcher(alias)
        return enrich_context(
            searcher.languages,
            searcher.translator,
            {f: searcher.embedders[f] for f in searcher.vector_fields},
            fallback_language=searcher.settings.fallback_language,
            segmented=searcher.segmented,
            attribute_fields=searcher.attribute_fields,
        )

    def close(self) -> None:
        for searcher in self._searchers.values():
            searcher.close()
