"""The ingest worker: a catalog file in, an up-to-date index out, nothing lost.

Stages, one module each: ``source`` (read + validate + shard), ``enrich``
(detect, translate, embed, build documents: a batch function), ``sink``
(``streaming_bulk``, outage retry, dead letters), ``checkpoint``, and
``sender`` (indexing on a background thread so model work and cluster I/O
overlap). This module runs them for one load: it prepares the target index,
feeds batches through, and finishes (delete-missing, refresh, alias swap).
Batches finish in order, and after each the checkpoint records the last input
line that is fully done (indexed, unchanged or dead-lettered); a killed run
resumes after it. Every record read ends indexed, unchanged or rejected (with
its line and reason in the dead-letter file): the summary's counts add up.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ..categories import META_KEY as CATEGORY_KEY
from ..cluster.connection import cluster_errors, describe_error
from ..cluster.indices import create_versioned, is_xlsearch_meta, read_meta, resolve_alias, swap_alias
from ..cluster.indices import index_meta as read_index_meta
from ..config import Settings
from ..embed.base import Embedder, as_embedders
from ..errors import ClusterError, XLSearchError
from ..runtime import IndexRuntime
from ..service import check_compatible, index_body, settings_for_index
from ..translate.base import Translator
from .categories import record_categories
from .checkpoint import Checkpoint
from .engine import ENGINES, Engine
from .enrich import EXISTING_FIELDS
from .options import IngestOptions
from .progress import IngestInterrupted, ReadProgress, StopSignals
from .prune import CatalogIds, delete_missing
from .records import Product, RawRecord, Rejection, detect_format, read_records
from .sender import BackgroundSender, SenderFailed
from .sink import Action, ClusterUnavailable, DeadLetters, send_bulk
from .source import in_shard, validated
from .tally import LoadProgress, Tally

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    read: int = 0
    indexed: int = 0
    rejected: int = 0
    unchanged: int = 0
    deleted: int = 0
    dead_letter: str | None = None
    index: str = ""
    alias: str = ""
    seconds: float = 0.0
    resumed_from_line: int = 0
    embedded: int = 0
    translated: int = 0
    retries: int = 0
    other_shards: int = 0
    delete_skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------- pipeline --


@dataclass
class _Batch:
    """One enriched batch on its way to the sink."""

    last_line: int
    actions: list[Action]
    rejections: list[Rejection]
    tally: Tally  # the reader's and enrichment's counts at the end of this batch


@dataclass
class _Pending:
    """A batch submitted to the engine, with what the reader knew when it was cut."""

    handle: Any  # the engine's handle; None for a batch of rejections only
    last_line: int
    rejections: list[Rejection]
    read: Tally


@dataclass
class _Work:
    """The batch being filled by the main thread, the batches in flight, and the counts.

    ``read`` is the reader's tally (read, rejected by validation, other shards);
    ``enriched`` what enrichment decided (unchanged, rejected), added as batches
    come back in order, so each checkpoint holds the counts at its batch's end."""

    engine: Engine
    target: str
    fresh: bool
    sender: BackgroundSender[_Batch]
    read: Tally
    enriched: Tally
    last_line: int
    products: list[Product] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    pending: deque[_Pending] = field(default_factory=deque)

    def merged(self, read: Tally) -> Tally:
        return Tally(
            read=read.read,
            other_shards=read.other_shards,
            rejected=read.rejected + self.enriched.rejected,
            unchanged=self.enriched.unchanged,
        )


class IngestPipeline:
    """One load of one catalog into one alias. Models are passed in, loaded once."""

    def __init__(
        self,
        settings: Settings,
        client: Elasticsearch,
        encoder: Embedder | Mapping[str, Embedder],
        translator: Translator,
        options: IngestOptions,
    ):
        self.settings, self.client, self.translator = settings, client, translator
        self.embedders = as_embedders(encoder)
        self.options = options
        self.alias = settings.index
        self.summary = IngestSummary(alias=self.alias)
        self.checkpoint = Checkpoint(settings.home_dir, options, self.alias)
        self._seen: dict[str, int] = {}  # id -> line, of products accepted this run
        self._rejected_ids: set[str] = set()  # ids named on rejected lines
        self._unreadable_lines: list[int] = []  # rejected lines whose id could not be read
        self._sent = Tally()  # indexed and rejected by the cluster (the sender thread's)
        self._timings = {"translate": 0.0, "embed": 0.0, "bulk": 0.0, "lookup": 0.0}

    # -- target index ------------------------------------------------------------
    def _prepare_index(self, saved: LoadProgress | None) -> tuple[str, dict[str, Any], bool]:
        """(physical index, its _meta, fresh) — fresh means it started empty this load."""
        models = {f: e.meta() for f, e in self.embedders.items()}
        with cluster_errors(self.settings):
            if saved and self.client.indices.exists(index=saved.index):
                target, fresh = saved.index, saved.fresh
            else:
                target, fresh = self._target(models)
            index_meta = read_index_meta(self.client, target)
        check_compatible(index_meta, models, self.alias)
        return target, index_meta, fresh

    def _target(self, models: dict[str, Any]) -> tuple[str, bool]:
        """The alias's index, or a new one (first load, or --rebuild)."""
        current = resolve_alias(self.client, self.alias)
        if current and not is_xlsearch_meta(read_index_meta(self.client, current)):
            raise XLSearchError(
                f"{self.alias!r} points at {current}, which xlsearch did not create; "
                "choose another --index name (nothing was written)"
            )
        if current and not self.options.rebuild:
            return current, False
        current_meta = (read_meta(self.client, self.alias) or {}) if current else {}
        languages = current_meta.get("languages")
        settings = self.settings.replace(languages=languages) if languages else self.settings
        body = index_body(settings, self.client, models, current_meta)
        return create_versioned(self.client, self.alias, body, point_alias=not current), True

    # -- sink (sender thread) ----------------------------------------------------
    def _send(self, batch: _Batch, target: str, dead_letters: DeadLetters, progress: LoadProgress) -> None:
        """Index one batch, dead-letter its rejections, then checkpoint past it."""
        t0 = time.perf_counter()
        result = send_bulk(
            self.client, target, batch.actions, self.options.bulk, describe=lambda e: describe_error(e, self.settings)
        )
        self._timings["bulk"] += time.perf_counter() - t0
        self.summary.retries += result.retries
        dead_letters.write(
            [
                *batch.rejections,
                *(
                    Rejection(line=self._seen.get(pid, -1), id=pid, reason=reason, raw="")
                    for pid, reason in result.failed
                ),
            ]
        )
        self._sent.indexed += result.indexed
        self._sent.rejected_by_cluster += len(result.failed)
        progress.line = batch.last_line
        progress.tally = replace(
            batch.tally, indexed=self._sent.indexed, rejected_by_cluster=self._sent.rejected_by_cluster
        )
        self.checkpoint.save(progress)

    def _failure(self, failed: SenderFailed) -> BaseException:
        err, where = failed.error, self.checkpoint.resume_hint()
        if isinstance(err, ClusterError):
            return ClusterUnavailable(f"{err}{where}")
        return XLSearchError(f"indexing stopped: {err}{where}")

    # -- batches -----------------------------------------------------------------
    def _existing(self, target: str, ids: list[str]) -> dict[str, dict]:
        """Content hash, creation time and judged vectors of the products the index already holds."""
        if not ids:
            return {}
        t0 = time.perf_counter()
        hint = self.checkpoint.resume_hint()
        try:
            with cluster_errors(self.settings, ClusterUnavailable, "cannot read existing documents: ", hint):
                resp = self.client.mget(index=target, ids=ids, source_includes=EXISTING_FIELDS)
        finally:
            self._timings["lookup"] += time.perf_counter() - t0
        return {d["_id"]: d.get("_source", {}) for d in resp["docs"] if d.get("found")}

    def _flush(self, work: _Work) -> None:
        """Submit the batch being filled to the engine; take back what is due, in order."""
        if work.products or work.rejections:
            handle = None
            if work.products:
                existing = {} if work.fresh else self._existing(work.target, [p.id for p in work.products])
                handle = work.engine.submit(work.products, existing)
            work.pending.append(_Pending(handle, work.last_line, work.rejections, work.read.copy()))
            work.products, work.rejections = [], []
        while len(work.pending) >= work.engine.capacity:
            self._complete(work)

    def _complete(self, work: _Work) -> None:
        """The oldest batch in flight: its enrichment result, then to the sink."""
        pending = work.pending.popleft()
        actions: list[Action] = []
        failed: list[Rejection] = []
        if pending.handle is not None:
            enriched = work.engine.result(pending.handle)
            actions, failed = enriched.actions, enriched.rejections
            work.enriched.unchanged += enriched.unchanged
            self.summary.embedded += enriched.embedded
            self.summary.translated += enriched.translated
            for key, seconds in enriched.timings.items():
                self._timings[key] += seconds
            for rej in failed:  # a product enrichment could not handle still counts as present
                self._seen.pop(str(rej.id), None)
                self._rejected_ids.add(str(rej.id))
        work.enriched.rejected += len(failed)
        batch = _Batch(
            last_line=pending.last_line,
            actions=actions,
            rejections=pending.rejections + failed,
            tally=work.merged(pending.read),
        )
        try:
            work.sender.put(batch)
        except SenderFailed as exc:
            raise self._failure(exc) from None

    # -- run ---------------------------------------------------------------------
    def run(self) -> IngestSummary:
        start = time.perf_counter()
        opts = self.options
        fmt = detect_format(opts.path, opts.fmt)
        saved = self.checkpoint.load() if opts.resume else None
        target, index_meta, fresh = self._prepare_index(saved)
        dead_letters = DeadLetters(
            Path(saved.dead_letter if saved else (opts.dead_letter or self._default_dead_letter()))
        )
        progress = saved or LoadProgress(index=target, fresh=fresh, dead_letter=str(dead_letters.path))
        progress.index, progress.fresh, progress.dead_letter = target, fresh, str(dead_letters.path)
        resume_line, done = progress.line, progress.tally
        self._sent = Tally(indexed=done.indexed, rejected_by_cluster=done.rejected_by_cluster)
        self.summary.index, self.summary.dead_letter = target, str(dead_letters.path)
        self.summary.resumed_from_line = resume_line
        runtime = IndexRuntime.from_meta(
            self.settings, index_meta, embedders=self.embedders, translator=self.translator, adopt=False
        )
        engine = self._engine(runtime, target, fresh)
        sender: BackgroundSender[_Batch] = BackgroundSender(
            lambda batch: self._send(batch, target, dead_letters, progress), depth=opts.queue_batches
        )
        reading = ReadProgress(opts, resume_line)
        work = _Work(
            engine=engine,
            target=target,
            fresh=fresh,
            sender=sender,
            last_line=resume_line,
            read=Tally(read=done.read, rejected=done.rejected, other_shards=done.other_shards),
            enriched=Tally(unchanged=done.unchanged),
        )
        try:
            self._feed(work, fmt, resume_line, reading)
        except BaseException:
            sender.abandon()
            raise
        finally:
            engine.close()
            reading.close()
            dead_letters.close()
        self._finish(work.merged(work.read), target, fresh, runtime)
        self.summary.seconds = round(time.perf_counter() - start, 3)
        return self.summary

    def _engine(self, runtime: IndexRuntime, target: str, fresh: bool) -> Engine:
        """The configured engine, started (Ray's actors load their own models). If it cannot
        start, nothing was sent, so an index this load created is not left behind empty."""
        try:
            return ENGINES.get(self.options.engine).start(runtime, self.options)
        except BaseException:
            if fresh:
                with cluster_errors(self.settings):
                    self._left_empty(target)
            raise

    def _feed(self, work: _Work, fmt: str, resume_line: int, progress: ReadProgress) -> None:
        """Records in, batches out, until the input ends or a signal asks to stop."""
        with StopSignals() as stop:
            for record in read_records(self.options.path, fmt, self.options.field_map):
                if stop.signum is not None:
                    break
                self._take(record, work, resume_line, progress)
                if len(work.products) >= self.options.batch_size:
                    self._flush(work)
            if stop.signum is None:
                self._flush(work)
            while work.pending:  # batches already submitted finish even after a signal
                self._complete(work)
            try:
                work.sender.close()
            except SenderFailed as exc:
                raise self._failure(exc) from None
            if stop.signum is not None:
                raise IngestInterrupted(stop.signum, self.checkpoint.path if self.checkpoint.enabled else None)

    def _take(self, record: RawRecord, work: _Work, resume_line: int, progress: ReadProgress) -> None:
        """One input record: validated into the batch, or rejected with its reason."""
        replay = record.line <= resume_line
        if not replay:
            progress.tick()
        product, reason = validated(record)
        if product is not None and not in_shard(product.id, self.options.shard):
            if not replay:
                work.read.other_shards += 1
            return
        if product is not None and product.id in self._seen:
            reason = f"duplicate id {product.id!r} (first seen on line {self._seen[product.id]})"
            product = None
        if product is not None:
            self._seen[product.id] = record.line
        else:  # remember what a rejected line names, so --delete-missing spares it
            if record.id is not None:
                self._rejected_ids.add(record.id)
            if not record.id_readable:
                self._unreadable_lines.append(record.line)
        if replay:
            return  # done before the restart: only rebuild the id sets
        work.read.read += 1
        work.last_line = record.end_line or record.line
        if product is None:
            work.read.rejected += 1
            work.rejections.append(
                Rejection(line=record.line, reason=reason or "invalid record", raw=record.raw, id=record.id)
            )
        else:
            work.products.append(product)

    def _finish(self, read: Tally, target: str, fresh: bool, runtime: IndexRuntime) -> None:
        """Counts, deletes, refresh, the category map, alias swap (or removal of an index left empty).

        The checkpoint is cleared only once all of it succeeded."""
        opts, summary = self.options, self.summary
        tally = replace(read, indexed=self._sent.indexed, rejected_by_cluster=self._sent.rejected_by_cluster)
        summary.read, summary.unchanged, summary.other_shards = tally.read, tally.unchanged, tally.other_shards
        summary.indexed, summary.rejected = tally.indexed, tally.rejected_total
        summary.timings = {k: round(v, 3) for k, v in self._timings.items()}
        if not tally.balanced():
            raise XLSearchError(f"accounting mismatch (a bug): {summary.as_dict()}")
        with cluster_errors(self.settings):
            if opts.delete_missing:
                self._prune(target)
            self.client.indices.refresh(index=target)
            kept = not (fresh and self._left_empty(target))
            if kept and (tally.indexed or self.summary.deleted or CATEGORY_KEY not in runtime.meta.raw):
                self._record_categories(target, runtime)
            if kept and opts.rebuild and resolve_alias(self.client, self.alias) != target:
                old = swap_alias(self.client, self.alias, target, delete_old=not opts.keep_old)
                log.info("alias %s now points at %s (was %s)", self.alias, target, old)
        self.checkpoint.clear()

    def _record_categories(self, target: str, runtime: IndexRuntime) -> None:
        """One key per category across the catalog's languages (xlsearch_es/categories.py)."""
        mapping = record_categories(self.client, target, runtime.widest_field(), runtime.languages)
        if not mapping and int(self.client.count(index=target)["count"]) > 0:
            self.summary.notes.append("categories not linked across languages: the index keeps no vectors in _source")

    def _prune(self, target: str) -> None:
        ids = CatalogIds(self._seen.keys(), self._rejected_ids, self._unreadable_lines)
        pruned = delete_missing(
            self.client,
            target,
            ids,
            self.options,
            records_read=self.summary.read,
            max_share=self.settings.delete_missing_max_share,
            describe=lambda e: describe_error(e, self.settings),
        )
        self.summary.deleted, self.summary.delete_skipped = pruned.deleted, pruned.skipped
        if pruned.skipped:
            self.summary.notes.append(f"--delete-missing skipped: {pruned.skipped}")

    def _left_empty(self, target: str) -> bool:
        """A new index this load created and left empty is removed, not left behind."""
        if int(self.client.count(index=target)["count"]) > 0:
            return False
        self.client.indices.delete(index=target)
        current = resolve_alias(self.client, self.alias)
        kept = f"; {self.alias!r} still points at {current}" if current else ""
        self.summary.notes.append(f"no product was indexed, so the new index {target} was removed{kept}")
        self.summary.index = current or ""
        return True

    def _default_dead_letter(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return self.settings.home_dir / "dead-letter" / f"{self.alias}-{stamp}-{os.getpid()}.jsonl"


def run_ingest(
    settings: Settings,
    options: IngestOptions,
    *,
    client: Elasticsearch | None = None,
    encoder: Embedder | Mapping[str, Embedder] | None = None,
    translator: Translator | None = None,
) -> IngestSummary:
    """Load one catalog; models and client are created when not given."""
    from ..cluster.connection import connect
    from ..embed.base import DescribedEmbedder, describe_embedders, load_embedders
    from ..translate.factory import make_translator

    client = client or connect(settings)
    if encoder is None and not options.rebuild:  # an existing index keeps its encoders (and their precision)
        with cluster_errors(settings):
            settings = settings_for_index(settings, read_meta(client, settings.index), precision=False)
    if encoder is not None:
        embedders: Embedder | Mapping[str, Embedder] = encoder
    elif ENGINES.get(options.engine).models_here:
        embedders = load_embedders(settings)
    else:  # the engine's workers load the models; the driver only needs their metadata
        embedders = {f: DescribedEmbedder(meta) for f, meta in describe_embedders(settings).items()}
    translator = translator or make_translator(settings)
    return IngestPipeline(settings, client, embedders, translator, options).run()
