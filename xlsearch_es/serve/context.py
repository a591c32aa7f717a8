"""What the service's routes share: settings, the loaded service, the bounded worker
pool with its queue limit and time budget, the cluster proxy client, metrics and the
audit log. No module-level state: ``create_app`` makes one per app."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import httpx
from fastapi import FastAPI, Request

from ..config import Settings
from ..errors import ClusterError, XLSearchError
from .guard import ServiceError
from .policy import PolicyError, is_served
from .searchers import SearchService

T = TypeVar("T")
audit = logging.getLogger("xlsearch_es.audit")


class ServiceContext:
    """What the routes share: settings, the service once loaded, the bounded pool, the proxy client."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.state: dict[str, Any] = {"service": None, "error": None, "http": None}
        self.limiter = anyio.CapacityLimiter(max(1, settings.serve_threads))
        self.pending = 0  # requests running or waiting on the pool (touched on the event loop only)
        self.unexpected_errors = 0

    def service(self) -> SearchService:
        if self.state["service"] is None:
            raise ClusterError(f"the service is not ready: {self.state['error'] or 'starting'}")
        return self.state["service"]

    def served(self, index: str | None) -> str:
        """``index`` (default: the first served one) when the service serves it, else a 403."""
        name = index or self.settings.served_indices[0]
        if not isinstance(name, str) or not is_served(name, self.settings.served_indices):
            raise PolicyError(
                403, f"index [{name}] is not served here (served: {', '.join(self.settings.served_indices)})"
            )
        return name

    def deadline(self) -> float:
        """When the request's work must stop (``time.monotonic``), checked between its stages."""
        return time.monotonic() + self.settings.serve_timeout

    async def blocking(self, fn: Callable[[], T]) -> T:
        """Run model and cluster work on the bounded pool, within the request timeout;
        past the pool and its queue, a 503 with Retry-After instead of waiting without end."""
        if self.pending >= self.settings.serve_threads + self.settings.serve_queue:
            raise ServiceError(
                503, "the service is busy; retry shortly", "es_rejected_execution_exception", {"Retry-After": "1"}
            )
        self.pending += 1
        try:
            with anyio.fail_after(self.settings.serve_timeout):
                return await anyio.to_thread.run_sync(fn, limiter=self.limiter)
        finally:
            self.pending -= 1

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        if self.state["service"] is not None:
            self.state["service"].metrics.observe_request(route, method, status, seconds)

    def count_unexpected(self) -> None:
        self.unexpected_errors += 1
        if self.state["service"] is not None:
            self.state["service"].metrics.observe_unexpected()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        try:
            service = await anyio.to_thread.run_sync(SearchService, self.settings)
            self.state["service"] = service
            await anyio.to_thread.run_sync(service.searcher)  # load the models now, not on the first query
        except XLSearchError as exc:
            self.state["error"] = str(exc)
        auth = cluster_auth(self.settings)
        self.state["http"] = httpx.AsyncClient(
            base_url=self.settings.es_url,
            timeout=self.settings.es_request_timeout,
            verify=self.settings.es_ca_certs or self.settings.es_verify_certs,
            **auth,
        )
        yield
        await self.state["http"].aclose()
        if self.state["service"] is not None:
            self.state["service"].close()


def audit_write(request: Request, route: str, index: str, **counts: Any) -> None:
    """One line per write through the service: what, where, how many, who, when."""
    client = request.client.host if request.client else None
    audit.info(
        json.dumps(
            {
                "audit": "write",
                "route": route,
                "index": index,
                **counts,
                "client": client,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
    )


def cluster_auth(settings: Settings) -> dict[str, Any]:
    if settings.es_api_key:
        return {"headers": {"authorization": f"ApiKey {settings.es_api_key}"}}
    if settings.es_username:
        return {"auth": (settings.es_username, settings.es_password or "")}
    return {}
