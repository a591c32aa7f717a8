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
import signal
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from ..cluster.connection import describe_error
from ..cluster.indices import create_versioned, is_xlsearch_meta, read_meta, resolve_alias, swap_alias
from ..cluster.indices import index_meta as read_index_meta
from ..config import Settings
from ..embed.encoder import Encoder
from ..errors import ClusterError, XLSearchError
from ..mapping import TEXT_FIELDS
from ..service import check_compatible, index_body
from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
from ..translate.base import Translator
from .bulk import BulkPolicy, ClusterUnavailable, delete_action, index_action, send_bulk
from .document import build_document, content_hash, passage_text, texts_to_translate
from .records import InvalidRecord, Product, RawRecord, Rejection, detect_format, read_records, validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    path: str
    fmt: str | None = None
    rebuild: bool = False
    keep_old: bool = False
    delete_missing: bool = False
    force_delete_missing: bool = False  # delete even when a rejected line's id could not be read
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
    delete_skipped: str | None = None
    notes: list[str] = field(default_factory=list)
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


@dataclass
class _Work:
    """The batch being filled by the main thread, and what building it needs."""

    languages: list[str]
    target: str
    fresh: bool
    detector: LanguageDetector
    sender: threading.Thread
    counts: dict[str, int]
    last_line: int
    products: list[Product] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def _validated(record: RawRecord) -> tuple[Product | None, str | None]:
    """(product, None) or (None, reason): no record content can raise out of here."""
    if record.error is not None or record.data is None:
        return None, record.error or "invalid record"
    try:
        return validate(record.line, record.data), None
    except InvalidRecord as exc:
        return None, str(exc)
    except RecursionError:
        return None, "record nested too deeply"
    except Exception as exc:  # noqa: BLE001 - a validator bug must cost one record, not the run
        return None, f"could not be validated: {type(exc).__name__}: {exc}"


class IngestInterrupted(XLSearchError):
    """SIGINT/SIGTERM stopped the load after finishing the batches in flight."""

    def __init__(self, signum: int, checkpoint: Path | None):
        name = signal.Signals(signum).name
        where = f"; progress is kept in {checkpoint}, run the same command again to resume" if checkpoint else ""
        super().__init__(f"interrupted by {name}{where}")
        self.exit_code = 128 + signum


class _StopSignals:
    """SIGINT and SIGTERM ask the load to stop between records instead of
    raising inside model code (torch's int8 kernels abort the process when
    interrupted). A second signal exits at once; the checkpoint on disk is
    always a consistent one."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:  # noqa: ARG002 - signal handler signature
        if self.signum is not None:
            os._exit(128 + signum)
        self.signum = signum
        print(f"ingest: {signal.Signals(signum).name} received; finishing the batches in flight "
              "(send it again to stop at once)", file=sys.stderr, flush=True)

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


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
        self._seen: dict[str, int] = {}  # id -> line, of products accepted this run
        self._rejected_ids: set[str] = set()  # ids named on rejected lines
        self._unreadable_lines: list[int] = []  # rejected lines whose id could not be read
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
                if current and not is_xlsearch_meta(read_index_meta(self.client, current)):
                    raise XLSearchError(f"{self.alias!r} points at {current}, which xlsearch did not create; "
                                        "choose another --index name (nothing was written)")
                if current and not self.options.rebuild:
                    target, fresh = current, False
                else:
                    languages = (read_meta(self.client, self.alias) or {}).get("languages") if current else None
                    settings = self.settings.replace(languages=languages) if languages else self.settings
                    body = index_body(settings, self.client, meta)
                    target = create_versioned(self.client, self.alias, body, point_alias=not current)
                    fresh = True
            index_meta = read_index_meta(self.client, target)
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
        actions: list[tuple[dict, dict | None]] = []
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
        work = _Work(languages=languages, target=target, fresh=fresh, detector=detector, sender=sender,
                     counts=counts, last_line=resume_line)
        try:
            with _StopSignals() as stop:
                for record in read_records(opts.path, fmt, opts.field_map):
                    if stop.signum is not None:
                        break
                    self._take(record, work, resume_line, progress)
                    if len(work.products) >= opts.batch_size:
                        self._flush(work)
                if stop.signum is None:
                    self._flush(work)
                self._queue.put(None)
                sender.join()
                if self._sender_error is not None:
                    raise self._sender_failure()
                if stop.signum is not None:
                    raise IngestInterrupted(stop.signum, self.checkpoint.path if self.checkpoint.enabled else None)
        except BaseException:
            progress.close()
            self._stop_sender(sender)
            raise
        progress.close()
        self._finish(state, counts, target, fresh)
        self.summary.seconds = round(time.perf_counter() - start, 3)
        return self.summary

    def _take(self, record: RawRecord, work: "_Work", resume_line: int, progress: "_Progress") -> None:
        """One input record: validated into the batch, or rejected with its reason."""
        replay = record.line <= resume_line
        if not replay:
            progress.tick()
        product, reason = _validated(record)
        if product is not None and not in_shard(product.id, self.options.shard):
            if not replay:
                work.counts["other_shards"] += 1
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
        work.counts["read"] += 1
        work.last_line = record.end_line or record.line
        if product is None:
            work.counts["rejected"] += 1
            work.rejections.append(Rejection(line=record.line, reason=reason or "invalid record", raw=record.raw,
                                             id=record.id))
        else:
            work.products.append(product)

    def _stop_sender(self, sender: threading.Thread) -> None:
        if sender.is_alive():
            self._sender_error = self._sender_error or RuntimeError("stopped")
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass

    def _finish(self, state: dict[str, Any], counts: dict[str, int], target: str, fresh: bool) -> None:
        """Counts, deletes, refresh, alias swap (or removal of an index left empty).

        The checkpoint is cleared only once all of it succeeded."""
        opts = self.options
        self.summary.read = counts["read"]
        self.summary.unchanged = counts["unchanged"]
        self.summary.other_shards = counts["other_shards"]
        self.summary.indexed = state["sent"]["indexed"]
        self.summary.rejected = counts["rejected"] + state["sent"]["rejected_by_cluster"]
        self.summary.translated = self.translator.stats["translated"]
        self.summary.timings = {k: round(v, 3) for k, v in self._timings.items()}
        if self.summary.read != self.summary.indexed + self.summary.rejected + self.summary.unchanged:
            raise XLSearchError(f"accounting mismatch (a bug): {self.summary.as_dict()}")
        try:
            if opts.delete_missing:
                self.summary.deleted = self._delete_missing(target)
            self.client.indices.refresh(index=target)
            if not (fresh and self._left_empty(target)) and opts.rebuild \
                    and resolve_alias(self.client, self.alias) != target:
                old = swap_alias(self.client, self.alias, target, delete_old=not opts.keep_old)
                log.info("alias %s now points at %s (was %s)", self.alias, target, old)
        except (ApiError, TransportError) as exc:
            raise ClusterError(describe_error(exc, self.settings)) from None
        self.checkpoint.clear()

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

    def _flush(self, work: "_Work") -> None:
        if not work.products and not work.rejections:
            return
        actions, unchanged, failed = self._build_safely(work) if work.products else ([], 0, [])
        work.counts["unchanged"] += unchanged
        work.counts["rejected"] += len(failed)
        self._put(_Batch(last_line=work.last_line, actions=actions, rejections=work.rejections + failed,
                         counts=dict(work.counts)), work.sender)
        work.products, work.rejections = [], []

    def _build_safely(self, work: "_Work") -> tuple[list[tuple[dict, dict | None]], int, list[Rejection]]:
        """Build a batch; if enrichment fails, retry product by product so only the
        product that breaks it is rejected (with the error) and the run goes on."""
        try:
            actions, unchanged = self._build(work.products, work.languages, work.target, work.fresh, work.detector)
            return actions, unchanged, []
        except (ClusterError, KeyboardInterrupt, MemoryError):
            raise
        except Exception:  # noqa: BLE001 - isolated below, product by product
            log.warning("a batch failed to build; retrying its %d products one by one", len(work.products))
        actions, unchanged, failed = [], 0, []
        for product in work.products:
            try:
                one, same = self._build([product], work.languages, work.target, work.fresh, work.detector)
            except (ClusterError, KeyboardInterrupt, MemoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - this product is the one that breaks enrichment
                self._seen.pop(product.id, None)
                self._rejected_ids.add(product.id)
                failed.append(Rejection(line=product.line, id=product.id, raw="",
                                        reason=f"could not be translated or embedded: {type(exc).__name__}: {exc}"))
                continue
            actions += one
            unchanged += same
        return actions, unchanged, failed

    def _delete_missing(self, target: str) -> int:
        """Delete documents (of this shard) whose id no line of the catalog names.

        Ids on rejected lines count as present. When a rejected line's id could
        not be read at all, the step is skipped unless forced: that line might
        name any product.
        """
        if self._unreadable_lines and not self.options.force_delete_missing:
            shown = ", ".join(map(str, self._unreadable_lines[:5])) + (" ..." if len(self._unreadable_lines) > 5 else "")
            self.summary.delete_skipped = (
                f"{len(self._unreadable_lines)} rejected line(s) (line {shown}) have no readable id, so a "
                "product they name could be deleted by mistake; nothing was deleted. Fix those lines, or pass "
                "--force-delete-missing")
            self.summary.notes.append(f"--delete-missing skipped: {self.summary.delete_skipped}")
            return 0
        stale = [h["_id"] for h in helpers.scan(self.client, index=target, query={"query": {"match_all": {}}},
                                                 _source=False, size=1000)
                 if h["_id"] not in self._seen and h["_id"] not in self._rejected_ids
                 and in_shard(h["_id"], self.options.shard)]
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
