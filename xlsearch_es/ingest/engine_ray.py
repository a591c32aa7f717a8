"""Enrichment on Ray Data: a streaming dataset fed by the driver, mapped by an
actor pool whose actors each load the models once.

    driver: read -> validate -> hash lookup --put--> feed actor
    Ray Data: read tasks take from the feed -> map_batches(EnrichBatches, actor pool)
    driver: results by sequence number -> sink -> checkpoint

The driver keeps reading (so stdin works and the catalog need not sit on shared
storage), and it keeps sinking and checkpointing: accounting, dead letters,
resume and alias swaps are the local engine's. One dataset row is one pipeline
batch, so a block is the unit of work, retry and resume. Ray Data restarts an
actor whose process dies and retries its block, so a killed worker costs time,
not records. ``address`` joins a running cluster (``auto`` or ``ray://``);
without it a local Ray runtime starts with the load and stops after. Where the
cluster has a GPU for every actor, each actor gets one.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..config import Settings
from ..errors import ConfigError, XLSearchError
from ..runtime import IndexRuntime
from .engine import EngineKind
from .enrich import Enriched, enrich_context, enrich_safely
from .options import IngestOptions
from .records import Product

POLL_S = 0.5  # how often a waiting driver checks that the dataset is still running
IN_FLIGHT_PER_ACTOR = 2  # blocks queued per actor; 4 measured no faster, even for a GPU actor (gpu_engine_check.py)


def _ray() -> Any:
    try:
        import ray
        import ray.data  # the engine is a Ray Data pipeline
    except ImportError:
        raise ConfigError("the ray engine needs Ray Data: pip install 'xlsearch-es[ray]'") from None
    return ray


class _Feed:
    """Batches the driver has cut and no read task has taken yet (a Ray actor).

    Read tasks take the lowest sequence number first, and block while the feed is
    empty and open; ``close`` lets them finish."""

    def __init__(self) -> None:
        self.items: dict[int, bytes] = {}
        self.closed = False
        self.changed = asyncio.Condition()

    async def put(self, seq: int, payload: bytes) -> None:
        async with self.changed:
            self.items[seq] = payload
            self.changed.notify_all()

    async def close(self) -> None:
        async with self.changed:
            self.closed = True
            self.changed.notify_all()

    async def take(self) -> tuple[int, bytes] | None:
        async with self.changed:
            await self.changed.wait_for(lambda: bool(self.items) or self.closed)
            if not self.items:
                return None
            seq = min(self.items)
            return seq, self.items.pop(seq)


def _feed_source(feed: Any, readers: int) -> Any:
    """A Ray Data datasource whose ``readers`` read tasks stream rows from the feed."""
    import pyarrow as pa
    import ray
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    def read() -> Iterator[Any]:
        while (item := ray.get(feed.take.remote())) is not None:
            seq, payload = item
            yield pa.table({"seq": pa.array([seq], pa.int64()), "payload": pa.array([payload], pa.binary())})

    class FeedDatasource(Datasource):
        def estimate_inmemory_data_size(self) -> int | None:
            return None  # unknown: the catalog is still being read

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None):
            meta = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
            return [ReadTask(read, meta) for _ in range(readers)]

    return FeedDatasource()


class EnrichBatches:
    """The actor pool's callable: loads the models once, then enriches one batch per row."""

    def __init__(self, settings: Settings, index_meta: dict[str, Any]):
        # The index's own encoders and translator, loaded here (models are not pickled).
        self.context = enrich_context(IndexRuntime.from_meta(settings, index_meta, adopt=False))

    def __call__(self, rows: Any) -> Any:
        import pyarrow as pa

        results = []
        for payload in rows["payload"].to_pylist():
            products, existing = pickle.loads(payload)
            results.append(pickle.dumps(enrich_safely(products, existing, self.context)))
        return pa.table({"seq": rows["seq"], "result": pa.array(results, pa.binary())})


class _Results:
    """Iterates the dataset on a thread and keeps each batch's result under its sequence number."""

    def __init__(self, dataset: Any):
        self._dataset = dataset
        self._ready: dict[int, Enriched] = {}
        self._error: BaseException | None = None
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="xlsearch-ray-results", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for rows in self._dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0):
                with self._done:
                    for seq, result in zip(rows["seq"].to_pylist(), rows["result"].to_pylist(), strict=True):
                        self._ready[seq] = pickle.loads(result)
                    self._done.notify_all()
        except BaseException as exc:  # handed to the driver's next wait
            self._error = exc
        finally:
            with self._done:
                self._done.notify_all()

    def wait(self, seq: int) -> Enriched:
        with self._done:
            while seq not in self._ready:
                if self._error is not None:
                    raise XLSearchError(f"the Ray Data pipeline failed: {self._error}") from self._error
                if not self._thread.is_alive():
                    raise XLSearchError(f"the Ray Data pipeline ended without batch {seq}")
                self._done.wait(POLL_S)
            return self._ready.pop(seq)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


def _cpus_per_actor(ray: Any, resources: Mapping[str, float], actors: int) -> int:
    """The cluster's CPUs shared out among the actors (at least one each, at most a node's)."""
    nodes = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    share = int(resources.get("CPU", 0) // actors)
    return max(1, min(share, int(max(nodes, default=1))))


def start_ray(runtime: IndexRuntime, options: IngestOptions) -> RayEngine:
    """Ray actors that load the index's models themselves (the driver's may be descriptions only)."""
    return RayEngine(runtime.meta.raw, runtime.settings, actors=options.ray_actors, address=options.ray_address)


class RayEngine:
    def __init__(
        self,
        index_meta: Mapping[str, Any],
        settings: Settings,
        actors: int = 2,
        address: str | None = None,
        gpus_per_actor: float | None = None,
        in_flight_per_actor: int = IN_FLIGHT_PER_ACTOR,
    ):
        ray = _ray()
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            try:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
                )
            except Exception as exc:  # Ray raises many kinds for an unreachable cluster
                where = f"join the Ray cluster at {address}" if address else "start a local Ray runtime"
                raise ConfigError(f"cannot {where}: {type(exc).__name__}: {exc}") from None
        actors = max(1, actors)
        try:
            self._start(index_meta, settings, actors, gpus_per_actor)
            self.capacity = max(1, in_flight_per_actor) * actors  # the pipeline waits for the oldest beyond
        except BaseException:
            self._shutdown()
            raise

    def _start(self, index_meta: Mapping[str, Any], settings: Settings, actors: int, gpus: float | None) -> None:
        ray = self._ray
        resources = ray.cluster_resources()
        if resources.get("CPU", 0) < actors:
            raise ConfigError(
                f"--ray-actors {actors} needs a CPU per actor; the Ray cluster has {resources.get('CPU', 0):g}"
            )
        if gpus is None:  # one GPU per actor where the cluster has enough
            gpus = 1.0 if resources.get("GPU", 0) >= actors else 0.0
        cpus = _cpus_per_actor(ray, resources, actors)
        worker_settings = settings.replace(threads=settings.threads or cpus)
        if gpus and settings.device == "cpu":
            worker_settings = worker_settings.replace(device="cuda")
        self._feed = ray.remote(num_cpus=0)(_Feed).remote()
        dataset = ray.data.read_datasource(_feed_source(self._feed, readers=actors), num_cpus=0)
        dataset = dataset.map_batches(
            EnrichBatches,
            fn_constructor_kwargs={"settings": worker_settings, "index_meta": dict(index_meta)},
            batch_size=1,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus,
            num_gpus=gpus,
        )
        data_context = dataset.context
        data_context.target_max_block_size = 1  # every row (a whole batch) is its own block: streams as it is cut
        data_context.execution_options.preserve_order = False  # results are matched by sequence number
        data_context.enable_progress_bars = False  # the pipeline has its own
        self._results = _Results(dataset)
        self._next_seq = 0

    def submit(self, products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]]) -> int:
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        payload = pickle.dumps((list(products), dict(existing)), protocol=pickle.HIGHEST_PROTOCOL)
        self._ray.get(self._feed.put.remote(seq, payload))
        return seq

    def result(self, handle: int) -> Enriched:
        return self._results.wait(handle)

    def close(self) -> None:
        try:
            self._ray.get(self._feed.close.remote())
            self._results.join(timeout=60)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()


RAY = EngineKind(start_ray, models_here=False)
