"""Bulk indexing with bounded chunks and retries.

Chunks are bounded by count and by bytes. A chunk that fails as a whole
(connection refused, timeout, 5xx) is retried with exponential backoff; items
the cluster answers 429 for are retried alone; items it refuses for a reason
of their own (mapping, size) come back as rejections so the caller can
dead-letter them. When retries run out, ``ClusterUnavailable`` says so and the
caller keeps its checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from elasticsearch import ApiError, Elasticsearch, TransportError

from ..errors import ClusterError

log = logging.getLogger(__name__)
RETRY_STATUSES = {429, 502, 503, 504}


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


def _chunks(actions: list[tuple[dict, dict | None]], policy: BulkPolicy) -> list[list[tuple[dict, dict | None]]]:
    out, current, size = [], [], 0
    for action in actions:
        body = len(json.dumps(action[0])) + (len(json.dumps(action[1], ensure_ascii=False)) if action[1] else 0)
        if current and (len(current) >= policy.chunk_docs or size + body > policy.chunk_bytes):
            out.append(current)
            current, size = [], 0
        current.append(action)
        size += body
    if current:
        out.append(current)
    return out


def send_bulk(client: Elasticsearch, index: str, actions: list[tuple[dict, dict | None]],
              policy: BulkPolicy = BulkPolicy(), describe: Callable[[Exception], str] = str,
              sleep: Callable[[float], None] = time.sleep) -> BulkResult:
    """Send ``(action, source)`` pairs (source None for deletes) to ``index``."""
    result = BulkResult()
    for chunk in _chunks(actions, policy):
        _send_chunk(client, index, chunk, policy, describe, sleep, result)
    return result


def _operations(pending: list[tuple[dict, dict | None]]) -> list[dict]:
    operations: list[dict] = []
    for action, source in pending:
        operations.append(action)
        if source is not None:
            operations.append(source)
    return operations


def _send_chunk(client: Elasticsearch, index: str, chunk: list[tuple[dict, dict | None]], policy: BulkPolicy,
                describe: Callable[[Exception], str], sleep: Callable[[float], None], result: BulkResult) -> None:
    """One chunk, with retries. A chunk the cluster refuses as a whole (400/413:
    one document it cannot even parse, or a body too large) is split in halves
    until the culprit stands alone and is rejected by itself."""
    pending = chunk
    attempt = 0
    while pending:
        try:
            resp = client.bulk(index=index, operations=_operations(pending))
        except (ApiError, TransportError) as exc:
            status = getattr(getattr(exc, "meta", None), "status", None)
            if isinstance(exc, ApiError) and status in (400, 413):
                if len(pending) > 1:
                    half = len(pending) // 2
                    for part in (pending[:half], pending[half:]):
                        _send_chunk(client, index, part, policy, describe, sleep, result)
                    return
                doc_id = str(pending[0][0].get(next(iter(pending[0][0])), {}).get("_id"))
                result.failed.append((doc_id, f"rejected by Elasticsearch ({status}): {describe(exc)}"))
                return
            retryable = not isinstance(exc, ApiError) or status in RETRY_STATUSES or (status or 0) >= 500
            if not retryable or attempt >= policy.max_retries:
                raise ClusterUnavailable(f"bulk request failed after {attempt} retries: {describe(exc)}") from None
            attempt += 1
            result.retries += 1
            delay = min(policy.max_backoff, policy.initial_backoff * 2 ** (attempt - 1))
            log.warning("bulk request failed (%s); retry %d in %.1fs", describe(exc), attempt, delay)
            sleep(delay)
            continue
        retry = _tally(pending, resp["items"], result)
        if retry:
            if attempt >= policy.max_retries:
                raise ClusterUnavailable(f"the cluster kept rejecting {len(retry)} documents with 429/5xx "
                                         "(is it overloaded, or is its disk full?)")
            attempt += 1
            result.retries += 1
            sleep(min(policy.max_backoff, policy.initial_backoff * 2 ** (attempt - 1)))
        pending = retry


def _tally(pending: list[tuple[dict, dict | None]], items: list[dict],
           result: BulkResult) -> list[tuple[dict, dict | None]]:
    """Count each item's outcome; return those to retry (429/5xx)."""
    retry: list[tuple[dict, dict | None]] = []
    for (action, source), item in zip(pending, items):
        op, info = next(iter(item.items()))
        status = info.get("status", 500)
        if status < 300 or (op == "delete" and status == 404):
            if op == "delete":
                result.deleted += 1
            else:
                result.indexed += 1
        elif status in RETRY_STATUSES:
            retry.append((action, source))
        else:
            err = info.get("error", {})
            reason = err.get("reason", str(err)) if isinstance(err, dict) else str(err)
            result.failed.append((str(info.get("_id")), f"rejected by Elasticsearch ({status}): {reason}"))
    return retry


def index_action(doc_id: str) -> dict[str, Any]:
    return {"index": {"_id": doc_id}}


def delete_action(doc_id: str) -> dict[str, Any]:
    return {"delete": {"_id": doc_id}}
