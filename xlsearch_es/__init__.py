"""xlsearch-es: cross-lingual product search on Elasticsearch.

The public API, importable from the package root::

    from xlsearch_es import XLSearchClient, SearchFilters, load_settings

Names load on first use, so ``import xlsearch_es`` (and so the CLI) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "xlsearch_es.config",
    "load_settings": "xlsearch_es.config",
    "XLSearchError": "xlsearch_es.errors",
    "XLSearchClient": "xlsearch_es.search.client",
    "SearchFilters": "xlsearch_es.search.query_builder",
    "IngestOptions": "xlsearch_es.ingest.options",
    "run_ingest": "xlsearch_es.ingest.pipeline",
    "collect_status": "xlsearch_es.doctor",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xlsearch_es' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
