"""Where enrichment runs: in this process (``local``, the default) or on a Ray
cluster (``ray``). An engine takes batches and gives their results back in the
order they were submitted, with at most ``capacity`` in flight, so the
pipeline's checkpoint, accounting and sink stay the same for both."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import DEFAULT_ENGINE
from ..errors import ConfigError
from ..registry import Registry
from ..runtime import IndexRuntime
from .enrich import EnrichContext, Enriched, enrich_context, enrich_safely
from .options import IngestOptions
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


def start_local(runtime: IndexRuntime, options: IngestOptions) -> LocalEngine:
    return LocalEngine(enrich_context(runtime))


@dataclass(frozen=True)
class EngineKind:
    """A registered engine: how it starts, and whether it encodes with the driver's models
    (else its workers load their own, and the driver needs only their metadata)."""

    start: Callable[[IndexRuntime, IngestOptions], Engine]
    models_here: bool


LOCAL = EngineKind(start_local, models_here=True)
ENGINES: Registry[EngineKind] = Registry(
    "engine", {DEFAULT_ENGINE: "xlsearch_es.ingest.engine:LOCAL", "ray": "xlsearch_es.ingest.engine_ray:RAY"}
)


def check_engine(name: str) -> str:
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES.names())}")
    return name
