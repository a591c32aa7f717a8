"""The sink: documents into the index with elasticsearch-py's ``streaming_bulk``,
plus what it lacks, and the dead-letter file.

``streaming_bulk`` chunks by count and bytes and retries items the cluster
answers 429/5xx for, with backoff. Two things it does not do are added here:
an outage (connection refused, timeout) retries the items not yet
acknowledged, with backoff, and a chunk the cluster refuses as a whole
(400/413: one document it cannot parse, or a body too large) is split in
halves until the culprit stands alone and is rejected by itself. When retries
run out, ``ClusterUnavailable`` says so and the caller keeps its checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from elasticsearch import Elasticsearch, TransportError, helpers

from ..errors import ClusterError
from .records import Rejection

log = logging.getLogger(__name__)
RETRY_STATUSES = (429, 502, 503, 504)
WHOLE_REFUSALS = (400, 413)

Action = tuple[dict, "dict | None"]  # (action line, source; None for deletes)


class ClusterUnavailable(ClusterError):
    """The cluster kept failing after every retry."""


@dataclass
class BulkResult:
    indexed: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)
    retries: int = 0


@dataclass(frozen=True)
class BulkPolicy:
    chunk_docs: int = 500
    chunk_bytes: int = 10 * 1024 * 1024
    max_retries: int = 6
    initial_backoff: float = 1.0
    max_backoff: float = 30.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))


def index_action(doc_id: str) -> dict[str, Any]:
    return {"index": {"_id": doc_id}}


def delete_action(doc_id: str) -> dict[str, Any]:
    return {"delete": {"_id": doc_id}}


def send_bulk(
    client: Elasticsearch,
    index: str,
    actions: list[Action],
    policy: BulkPolicy = BulkPolicy(),
    describe: Callable[[Exception], str] = str,
    sleep: Callable[[float], None] = time.sleep,
) -> BulkResult:
    """Send ``(action, source)`` pairs to ``index``; every action ends counted or in ``failed``."""
    result = BulkResult()
    _send(client, index, actions, policy, describe, sleep, result)
    return result


def _send(
    client: Elasticsearch,
    index: str,
    actions: list[Action],
    policy: BulkPolicy,
    describe: Callable[[Exception], str],
    sleep: Callable[[float], None],
    result: BulkResult,
) -> None:
    pending, attempt = actions, 0
    while pending:
        by_id = {_id_of(a): a for a in pending}
        refused: dict[str, tuple[Action, str]] = {}  # id -> (action, why the whole request was refused)
        try:
            for ok, item in helpers.streaming_bulk(
                client,
                (_helper_action(a) for a in pending),
                index=index,
                chunk_size=policy.chunk_docs,
                max_chunk_bytes=policy.chunk_bytes,
                max_retries=policy.max_retries,
                initial_backoff=policy.initial_backoff,
                max_backoff=policy.max_backoff,
                retry_on_status=RETRY_STATUSES,
                raise_on_error=False,
                raise_on_exception=False,
                yield_ok=True,
            ):
                action = by_id.pop(_item_id(item), None)
                if action is not None and _tally(ok, item, action, refused, result, describe):
                    raise ClusterUnavailable(
                        f"the cluster kept refusing documents with {_status(item)} after "
                        f"{policy.max_retries} retries (is it overloaded, or its disk full?)"
                    )
        except TransportError as exc:  # an outage: retry what was not acknowledged
            attempt += 1
            if attempt > policy.max_retries:
                raise ClusterUnavailable(f"bulk request failed after {attempt - 1} retries: {describe(exc)}") from None
            result.retries += 1
            log.warning("bulk request failed (%s); retry %d in %.1fs", describe(exc), attempt, policy.backoff(attempt))
            sleep(policy.backoff(attempt))
            pending = [a for a in pending if _id_of(a) in by_id]
            continue
        if len(pending) == 1 and refused:  # refused alone: this document is the culprit
            result.failed.append((_id_of(pending[0]), next(iter(refused.values()))[1]))
        elif refused:
            items = [a for a, _ in refused.values()]
            half = max(1, len(items) // 2)
            for part in (items[:half], items[half:]):
                if part:
                    _send(client, index, part, policy, describe, sleep, result)
        pending = []


def _tally(
    ok: bool,
    item: dict,
    action: Action,
    refused: dict[str, tuple[Action, str]],
    result: BulkResult,
    describe: Callable[[Exception], str],
) -> bool:
    """Count one item's outcome; True when it failed for a reason retries could not fix."""
    op, info = next(iter(item.items()))
    status = info.get("status")
    if ok or (op == "delete" and status == 404):
        if op == "delete":
            result.deleted += 1
        else:
            result.indexed += 1
        return False
    if "exception" in info and status in WHOLE_REFUSALS:  # the whole request was refused
        refused[_id_of(action)] = (action, f"rejected by Elasticsearch ({status}): {describe(info['exception'])}")
        return False
    if status in RETRY_STATUSES or (isinstance(status, int) and status >= 500):
        return True
    err = info.get("error", {})
    reason = err.get("reason", str(err)) if isinstance(err, dict) else str(err)
    result.failed.append((str(info.get("_id")), f"rejected by Elasticsearch ({status}): {reason}"))
    return False


def _helper_action(action: Action) -> dict[str, Any]:
    (op, meta), source = next(iter(action[0].items())), action[1]
    out = {"_op_type": op, **meta}
    if source is not None:
        out["_source"] = source
    return out


def _id_of(action: Action) -> str:
    return str(next(iter(action[0].values())).get("_id"))


def _item_id(item: dict) -> str:
    return str(next(iter(item.values())).get("_id"))


def _status(item: dict) -> Any:
    return next(iter(item.values())).get("status")


class DeadLetters:
    """The dead-letter file: one JSON line per rejected record, flushed per batch."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = None

    def write(self, rejections: Iterable[Rejection]) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        for rej in rejections:
            self._fh.write(json.dumps(rej.as_dict(), ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
