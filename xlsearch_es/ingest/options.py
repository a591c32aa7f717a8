"""What one load is asked to do (``xlsearch ingest``'s flags), shared by the pipeline,
its checkpoint and the engines without any of them importing the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import DEFAULT_ENGINE
from .sink import BulkPolicy


@dataclass(frozen=True)
class IngestOptions:
    path: str
    fmt: str | None = None
    rebuild: bool = False
    keep_old: bool = False
    delete_missing: bool = False
    # Skip delete-missing's safety checks: a rejected line without a readable id, a catalog that
    # read nothing, more than Settings.delete_missing_max_share of the index deleted.
    force_delete_missing: bool = False
    shard: tuple[int, int] | None = None  # (i, n), 1-based i
    field_map: dict[str, str] = field(default_factory=dict)
    dead_letter: str | None = None
    batch_size: int = 128
    queue_batches: int = 3
    progress: bool | None = None  # None: a bar on a terminal, log lines otherwise
    resume: bool = True
    bulk: BulkPolicy = BulkPolicy()
    engine: str = DEFAULT_ENGINE  # where enrichment runs: a name in ingest.engine.ENGINES
    ray_address: str | None = None  # join this Ray cluster; None starts a local Ray runtime
    ray_actors: int = 2
