"""The ingest worker: a catalog file in, an up-to-date index out, nothing lost.

Main thread: read -> validate -> batch -> skip unchanged (content hash already
in the index) -> detect language -> translate -> embed -> queue. A sender
thread takes batches off a bounded queue and bulk-indexes them, so model work
and cluster I/O overlap while the model never runs more than a few batches
ahead. Batches finish in order, and after each the checkpoint records the last
input line that is fully done (indexed, unchanged or dead-lettered); a killed
run resumes after it. Every record read ends indexed, unchanged or rejected
(with its line and reason in the dead-letter file): the summary's counts add up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from ..cluster.connection import describe_error
from ..cluster.indices import create_versioned, read_meta, resolve_alias, swap_alias
from ..config import Settings
from ..embed.encoder import Encoder
from ..errors import ClusterError, XLSearchError
from ..mapping import TEXT_FIELDS
from ..service import check_compatible, index_body
from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
from ..translate.base import Translator
from .bulk import BulkPolicy, ClusterUnavailable, delete_action, index_action, send_bulk
from .document import build_document, content_hash, passage_text, texts_to_translate
from .records import InvalidRecord, Product, Rejection, detect_format, read_records, validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    path: str
    fmt: str | None = None
    rebuild: bool = False
    keep_old: bool = False
    delete_missing: bool = False
    shard: tuple[int, int] | None = None  # (i, n), 1-based i
    field_map: dict[str, str] = field(default_factory=dict)
    dead_letter: str | None = None
    batch_size: int = 128
    queue_batches: int = 3
    progress: bool | None = None  # None: a bar on a terminal, log lines otherwise
    resume: bool = True
    bulk: BulkPolicy = BulkPolicy()


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
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise XLSearchError(f"--shard expects i/N such as 1/4, got {text!r}") from None
    if n < 1 or not 1 <= i <= n:
        raise XLSearchError(f"--shard {text}: i must be between 1 and N")
    return i, n


def in_shard(product_id: str, shard: tuple[int, int] | None) -> bool:
    if not shard:
        return True
    i, n = shard
    return zlib.crc32(product_id.encode()) % n == i - 1


# --------------------------------------------------------------- checkpoint --

class Checkpoint:
    """Progress of one (input file, alias, shard) load, saved atomically."""

    def __init__(self, home: Path, options: IngestOptions, alias: str):
        self.enabled = options.path != "-"
        src = str(Path(options.path).resolve()) if self.enabled else "-"
        key = hashlib.sha256(f"{src}|{alias}|{options.shard}|{options.rebuild}".encode()).hexdigest()[:16]
        self.path = home / "checkpoints" / f"{alias}-{key}.json"
        self.fingerprint = self._file_fingerprint(options.path) if self.enabled else {}

    @staticmethod
    def _file_fingerprint(path: str) -> dict[str, Any]:
        st = Path(path).stat()
        return {"input": str(Path(path).resolve()), "size": st.st_size, "mtime": st.st_mtime}

    def load(self) -> dict[str, Any] | None:
        if not self.enabled or not self.path.is_file():
            return None
        try:
            state = json.loads(self.path.read_text())
        except json.JSONDecodeError:
            return None
        if {k: state.get(k) for k in self.fingerprint} != self.fingerprint:
            log.warning("input changed since the checkpoint %s; starting over", self.path)
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.fingerprint, **state}))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# ----------------------------------------------------------------- pipeline --

@dataclass
class _Batch:
    last_line: int
    actions: list[tuple[dict, dict | None]]
    rejections: list[Rejection]
    counts: dict[str, int]  # main-thread counters at the end of this batch


class IngestPipeline:
    """One load of one catalog into one alias. Models are passed in, loaded once."""

    def __init__(self, settings: Settings, client: Elasticsearch, encoder: Encoder, translator: Translator,
                 options: IngestOptions):
        self.settings, self.client, self.encoder, self.translator = settings, client, encoder, translator
        self.options = options
        self.alias = settings.index
        self.summary = IngestSummary(alias=self.alias)
        self.checkpoint = Checkpoint(settings.home_dir, options, self.alias)
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=max(1, options.queue_batches))
        self._sender_error: BaseException | None = None
        self._seen: dict[str, int] = {}
        self._timings = {"translate": 0.0, "embed": 0.0, "bulk": 0.0, "lookup": 0.0}

    # -- target index ------------------------------------------------------------
    def _prepare_index(self, state: dict[str, Any] | None) -> tuple[str, dict[str, Any], bool]:
        """(physical index, its _meta, fresh) — fresh means it started empty this load."""
        meta = self.encoder.meta()
        try:
            if state and state.get("index") and self.client.indices.exists(index=state["index"]):
                target = state["index"]
                fresh = bool(state.get("fresh"))
            else:
                current = resolve_alias(self.client, self.alias)
                if current and not self.options.rebuild:
                    target, fresh = current, False
                else:
                    languages = (read_meta(self.client, self.alias) or {}).get("languages") if current else None
                    settings = self.settings.replace(languages=languages) if languages else self.settings
                    body = index_body(settings, self.client, meta)
                    target = create_versioned(self.client, self.alias, body, point_alias=not current)
                    fresh = True
            index_meta = self.client.indices.get_mapping(index=target)[target]["mappings"].get("_meta", {})
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        check_compatible(index_meta, meta, self.alias)
        return target, index_meta, fresh

    # -- sender thread -----------------------------------------------------------
    def _sender(self, target: str, dead_letter: Path, state: dict[str, Any]) -> None:
        try:
            with dead_letter.open("a", encoding="utf-8") as dl:
                while True:
                    batch = self._queue.get()
                    if batch is None:
                        return
                    t0 = time.perf_counter()
                    result = send_bulk(self.client, target, batch.actions, self.options.bulk,
                                       describe=lambda e: describe_error(e, self.settings))
                    self._timings["bulk"] += time.perf_counter() - t0
                    self.summary.retries += result.retries
                    rejections = list(batch.rejections)
                    rejections += [Rejection(line=self._seen.get(pid, -1), id=pid, reason=reason, raw="")
                                   for pid, reason in result.failed]
                    for rej in rejections:
                        dl.write(json.dumps(rej.as_dict(), ensure_ascii=False) + "\n")
                    dl.flush()
                    state["sent"]["indexed"] += result.indexed
                    state["sent"]["rejected_by_cluster"] += len(result.failed)
                    state["line"] = batch.last_line
                    state["counts"] = batch.counts
                    self.checkpoint.save(state)
        except BaseException as exc:  # handed to the main thread, which reports it
            self._sender_error = exc
            while True:  # unblock the producer
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def _put(self, batch: _Batch, sender: threading.Thread) -> None:
        while True:
            if self._sender_error is not None or not sender.is_alive():
                raise self._sender_failure()
            try:
                self._queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def _sender_failure(self) -> BaseException:
        err = self._sender_error
        where = f"; progress is kept in {self.checkpoint.path}, run the same command again to resume" \
            if self.checkpoint.enabled else ""
        if isinstance(err, ClusterError):
            return ClusterUnavailable(f"{err}{where}")
        return XLSearchError(f"indexing stopped: {err}{where}")

    # -- batches -----------------------------------------------------------------
    def _existing(self, target: str, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        t0 = time.perf_counter()
        try:
            resp = self.client.mget(index=target, ids=ids, source_includes=["content_hash", "created_at"])
        except (ApiError, TransportError) as exc:
            raise ClusterUnavailable(f"cannot read existing documents: {describe_error(exc, self.settings)}"
                                     f"; progress is kept in {self.checkpoint.path}") from None
        finally:
            self._timings["lookup"] += time.perf_counter() - t0
        return {d["_id"]: d.get("_source", {}) for d in resp["docs"] if d.get("found")}

    def _build(self, products: list[Product], languages: list[str], target: str, fresh: bool,
               detector: LanguageDetector) -> tuple[list[tuple[dict, dict | None]], int]:
        existing = {} if fresh else self._existing(target, [p.id for p in products])
        model_fp = self.encoder.fingerprint
        tr_fp = self.translator.backend.fingerprint()
        todo: list[tuple[Product, str, str]] = []
        unchanged = 0
        for p in products:
            lang = p.language or detector.detect(f"{p.title} {p.description[:200]}").lang
            digest = content_hash(p, languages, tr_fp, model_fp)
            if existing.get(p.id, {}).get("content_hash") == digest:
                unchanged += 1
            else:
                todo.append((p, lang, digest))
        if not todo:
            return [], unchanged

        # Translate: one call per (source, target) pair and field, each string once.
        t0 = time.perf_counter()
        translations: dict[str, dict[str, dict[str, str]]] = {p.id: {} for p, _, _ in todo}
        by_src: dict[str, list[Product]] = {}
        for p, lang, _ in todo:
            by_src.setdefault(lang, []).append(p)
            if lang in languages:
                translations[p.id][lang] = texts_to_translate(p)
        for src, group in by_src.items():
            brands = {p.brand for p in group if p.brand}
            for tgt in languages:
                if tgt == src or not self.translator.backend.supports(src, tgt):
                    continue
                for fld in TEXT_FIELDS:
                    items = [(p, getattr(p, fld)) for p in group if getattr(p, fld)]
                    if fld == "brand" or not items:  # brand names are kept as written
                        for p, text in items:
                            translations[p.id].setdefault(tgt, {})[fld] = text
                        continue
                    outs = self.translator.translate([t for _, t in items], src, tgt, brands=brands)
                    for (p, _), out in zip(items, outs):
                        translations[p.id].setdefault(tgt, {})[fld] = out
        self._timings["translate"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        vectors = self.encoder.encode([passage_text(p) for p, _, _ in todo], role="passage")
        self._timings["embed"] += time.perf_counter() - t0
        self.summary.embedded += len(todo)

        vector_field = self._vector_field
        actions = []
        for (p, lang, digest), vec in zip(todo, vectors):
            created = existing.get(p.id, {}).get("created_at")
            doc = build_document(p, lang, translations[p.id], vec, vector_field, digest, created)
            actions.append((index_action(p.id), doc))
        return actions, unchanged

    # -- run ---------------------------------------------------------------------
    def run(self) -> IngestSummary:
        start = time.perf_counter()
        opts = self.options
        fmt = detect_format(opts.path, opts.fmt)
        state = self.checkpoint.load() if opts.resume else None
        target, index_meta, fresh = self._prepare_index(state)
        languages = list(index_meta.get("languages") or self.settings.languages)
        self._vector_field = index_meta.get("vector_field", "embedding")
        resume_line = int(state["line"]) if state else 0
        counts = dict(state["counts"]) if state else {"read": 0, "rejected": 0, "unchanged": 0, "other_shards": 0}
        dead_letter = Path(state["dead_letter"] if state else (opts.dead_letter or self._default_dead_letter()))
        dead_letter.parent.mkdir(parents=True, exist_ok=True)
        state = state or {"sent": {"indexed": 0, "rejected_by_cluster": 0}}
        state.update({"index": target, "fresh": fresh, "dead_letter": str(dead_letter)})
        self.summary.index, self.summary.dead_letter = target, str(dead_letter)
        self.summary.resumed_from_line = resume_line

        detector = LanguageDetector(candidates=tuple(dict.fromkeys(DEFAULT_CANDIDATES + tuple(languages))),
                                    fallback=self.settings.fallback_language)
        sender = threading.Thread(target=self._sender, args=(target, dead_letter, state), daemon=True)
        sender.start()
        progress = _Progress(opts, resume_line)
        products: list[Product] = []
        rejections: list[Rejection] = []
        last_line = resume_line
        try:
            for line, data, raw, error in read_records(opts.path, fmt):
                replay = line <= resume_line
                if not replay:
                    progress.tick()
                product = None
                reason = error
                if data is not None:
                    try:
                        product = validate(line, data, opts.field_map)
                    except InvalidRecord as exc:
                        reason = str(exc)
                if product is not None and not in_shard(product.id, opts.shard):
                    if not replay:
                        counts["other_shards"] += 1
                    continue
                if product is not None and product.id in self._seen:
                    reason = f"duplicate id {product.id!r} (first seen on line {self._seen[product.id]})"
                    product = None
                if product is not None:
                    self._seen[product.id] = line
                if replay:
                    continue  # done before the restart: only rebuild the seen-id set
                counts["read"] += 1
                last_line = line
                if product is None:
                    counts["rejected"] += 1
                    rid = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), (str, int)) else None
                    rejections.append(Rejection(line=line, reason=reason or "invalid record", raw=raw,
                                                id=None if rid is None else str(rid)))
                else:
                    products.append(product)
                if len(products) >= opts.batch_size:
                    self._flush(products, rejections, counts, last_line, languages, target, fresh, detector, sender)
                    products, rejections = [], []
            self._flush(products, rejections, counts, last_line, languages, target, fresh, detector, sender)
            self._queue.put(None)
            sender.join()
            if self._sender_error is not None:
                raise self._sender_failure()
        except BaseException:
            progress.close()
            if sender.is_alive():
                self._sender_error = self._sender_error or RuntimeError("stopped")
                try:
                    self._queue.put_nowait(None)
                except queue.Full:
                    pass
            raise
        progress.close()

        self.summary.read = counts["read"]
        self.summary.unchanged = counts["unchanged"]
        self.summary.other_shards = counts["other_shards"]
        self.summary.indexed = state["sent"]["indexed"]
        self.summary.rejected = counts["rejected"] + state["sent"]["rejected_by_cluster"]
        try:
            if opts.delete_missing:
                self.summary.deleted = self._delete_missing(target)
            self.client.indices.refresh(index=target)
            if opts.rebuild and resolve_alias(self.client, self.alias) != target:
                old = swap_alias(self.client, self.alias, target, delete_old=not opts.keep_old)
                log.info("alias %s now points at %s (was %s)", self.alias, target, old)
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        self.checkpoint.clear()
        self.summary.translated = self.translator.stats["translated"]
        self.summary.timings = {k: round(v, 3) for k, v in self._timings.items()}
        self.summary.seconds = round(time.perf_counter() - start, 3)
        if self.summary.read != self.summary.indexed + self.summary.rejected + self.summary.unchanged:
            raise XLSearchError(f"accounting mismatch (a bug): {self.summary.as_dict()}")
        return self.summary

    def _flush(self, products: list[Product], rejections: list[Rejection], counts: dict[str, int],
               last_line: int, languages: list[str], target: str, fresh: bool,
               detector: LanguageDetector, sender: threading.Thread) -> None:
        if not products and not rejections:
            return
        actions, unchanged = self._build(products, languages, target, fresh, detector) if products else ([], 0)
        counts["unchanged"] += unchanged
        self._put(_Batch(last_line=last_line, actions=actions, rejections=rejections, counts=dict(counts)), sender)

    def _delete_missing(self, target: str) -> int:
        """Delete documents (of this shard) whose product was not in the catalog."""
        stale: list[str] = []
        after = None
        while True:
            body: dict[str, Any] = {"size": 1000, "sort": [{"id": "asc"}], "_source": False,
                                    "query": {"match_all": {}}, "fields": ["id"]}
            if after:
                body["search_after"] = after
            hits = self.client.search(index=target, **body)["hits"]["hits"]
            if not hits:
                break
            for h in hits:
                if h["_id"] not in self._seen and in_shard(h["_id"], self.options.shard):
                    stale.append(h["_id"])
            after = hits[-1]["sort"]
        if not stale:
            return 0
        result = send_bulk(self.client, target, [(delete_action(i), None) for i in stale], self.options.bulk)
        return result.deleted

    def _default_dead_letter(self) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        return self.settings.home_dir / "dead-letter" / f"{self.alias}-{stamp}-{os.getpid()}.jsonl"


class _Progress:
    """A tqdm bar on a terminal; a log line every 10 s otherwise."""

    def __init__(self, options: IngestOptions, skip: int):
        self.bar = None
        self.count = 0
        self.last = time.monotonic()
        self.start = self.last
        interactive = sys.stderr.isatty() if options.progress is None else options.progress
        if interactive:
            from tqdm import tqdm

            total = _count_lines(options.path)
            self.bar = tqdm(total=max(0, total - skip) if total is not None else None, unit="rec",
                            file=sys.stderr, dynamic_ncols=True)

    def tick(self) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        elif time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            rate = self.count / (self.last - self.start)
            print(f"ingest: {self.count} records read ({rate:.0f}/s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


def run_ingest(settings: Settings, options: IngestOptions, client: Elasticsearch | None = None,
               encoder: Encoder | None = None, translator: Translator | None = None) -> IngestSummary:
    """Load one catalog; models and client are created when not given."""
    from ..cluster.connection import connect
    from ..embed.encoder import spec_from_settings
    from ..service import model_meta
    from ..translate.factory import make_translator

    client = client or connect(settings)
    if encoder is None:
        model_meta(settings)
        encoder = Encoder(spec_from_settings(settings))
    translator = translator or make_translator(settings)
    return IngestPipeline(settings, client, encoder, translator, options).run()
