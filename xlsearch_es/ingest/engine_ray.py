"""Enrichment on Ray: a pool of actors, each with its own models, fed by the driver.

The driver keeps reading, validating, looking up content hashes, sinking and
checkpointing (so accounting, dead letters, resume and alias swaps are the
local engine's); the actors translate and embed. Results come back in
submission order. An actor whose process dies is restarted by Ray and its
task retried (``max_restarts``/``max_task_retries``), so a killed worker costs
time, not records. ``address`` joins a running cluster (``ray://`` or
``auto``); without it a local Ray runtime starts with the load and stops after.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..config import Settings
from ..errors import ConfigError
from .enrich import EnrichContext, Enriched, enrich_safely
from .records import Product

RESTARTS = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray engine needs Ray: pip install 'xlsearch-es[ray]'") from None
    return ray


class _EnrichActor:
    """Loads the models once, then enriches batches."""

    def __init__(
        self,
        settings: Settings,
        languages: tuple[str, ...],
        vector_fields: list[str],
        segmented: tuple[str, ...] = (),
        attribute_fields: tuple[str, ...] = (),
    ):
        from ..embed.base import load_embedders
        from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
        from ..translate.factory import make_translator

        embedders = load_embedders(settings)
        detector = LanguageDetector(
            candidates=tuple(dict.fromkeys(DEFAULT_CANDIDATES + languages)), fallback=settings.fallback_language
        )
        self.context = EnrichContext(
            languages=languages,
            translator=make_translator(settings),
            embedders={f: embedders[f] for f in vector_fields},
            detector=detector,
            segmented=segmented,
            attribute_fields=attribute_fields,
        )

    def enrich(self, products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]]) -> Enriched:
        return enrich_safely(products, existing, self.context)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayEngine:
    def __init__(
        self,
        context: EnrichContext,
        settings: Settings,
        actors: int = 2,
        address: str | None = None,
        gpus_per_actor: float = 0.0,
    ):
        ray = _ray()
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
            )
        remote = ray.remote(num_cpus=1, num_gpus=gpus_per_actor, max_restarts=RESTARTS, max_task_retries=RESTARTS)(
            _EnrichActor
        )
        worker_settings = settings.replace(threads=settings.threads or 1)
        self.actors = [
            remote.remote(
                worker_settings, context.languages, list(context.embedders), context.segmented, context.attribute_fields
            )
            for _ in range(max(1, actors))
        ]
        ray.get([a.pid.remote() for a in self.actors])  # models loaded before the first batch
        self.capacity = 2 * len(self.actors)  # keep every actor busy while the driver waits for the oldest
        self._next = itertools.cycle(self.actors)
        self._ray = ray

    def submit(self, products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]]) -> Any:
        return next(self._next).enrich.remote(list(products), dict(existing))

    def result(self, handle: Any) -> Enriched:
        return self._ray.get(handle)

    def pids(self) -> list[int]:
        return list(self._ray.get([a.pid.remote() for a in self.actors]))

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        if self._started:
            self._ray.shutdown()
