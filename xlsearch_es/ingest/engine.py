"""Where enrichment runs: in this process (``local``, the default) or on a Ray
cluster (``ray``). An engine takes batches and gives their results back in the
order they were submitted, with at most ``capacity`` in flight, so the
pipeline's checkpoint, accounting and sink stay the same for both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..errors import ConfigError
from ..registry import Registry
from .enrich import EnrichContext, Enriched, enrich_safely
from .records import Product


class Engine(Protocol):
    capacity: int  # batches in flight before the pipeline waits for the oldest

    def submit(self, products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]]) -> Any:
        """Start enriching one batch; returns a handle."""
        ...

    def result(self, handle: Any) -> Enriched:
        """The batch's result (blocks until it is ready)."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    """Enrichment inline, on the calling thread (the sink runs on its own thread)."""

    capacity = 1

    def __init__(self, context: EnrichContext):
        self.context = context

    def submit(self, products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]]) -> Enriched:
        return enrich_safely(products, existing, self.context)

    def result(self, handle: Enriched) -> Enriched:
        return handle

    def close(self) -> None:
        pass


ENGINES: Registry[Any] = Registry(
    "engine", {"local": "xlsearch_es.ingest.engine:LocalEngine", "ray": "xlsearch_es.ingest.engine_ray:RayEngine"}
)


def check_engine(name: str) -> str:
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES.names())}")
    return name
