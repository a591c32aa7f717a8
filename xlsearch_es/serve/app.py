"""``xlsearch serve``: the native JSON API, the Elasticsearch-compatible gateway,
metrics and the web pages, on FastAPI.

Models load once at start. Blocking work (models, cluster calls through the
sync client) runs on a bounded thread pool within a time budget that the work
itself checks between stages; requests beyond the pool and a short queue get a
503 with Retry-After. ``guard`` decides who may ask for what before any route
runs (see ``policy``): by default the service is a search gateway on the
indices it serves, never an open proxy to the cluster whose credentials it holds.
Routes: ``routes_native`` (/v1, pages, health) and ``routes_gateway`` (the
Elasticsearch APIs on the allow-list).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from ..config import Settings
from ..errors import ConfigError
from .context import ServiceContext
from .guard import API_KEY_HEADER, BodyLimit, RequestGuard
from .policy import is_loopback_bind
from .routes_gateway import gateway_routes
from .routes_native import native_routes


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse settings that would hand the cluster to whoever reaches the port."""
    if settings.serve_passthrough and not settings.api_key:
        raise ConfigError(
            "serve_passthrough forwards any Elasticsearch API with the service's credentials: "
            "it needs an API key (--api-key / XLSEARCH_API_KEY)"
        )
    if not is_loopback_bind(host) and not settings.api_key and not settings.serve_allow_open:
        raise ConfigError(
            f"listening on {host} without an API key lets anyone on the network search and write "
            "the served indices: set --api-key (XLSEARCH_API_KEY), or --allow-open if that is meant"
        )


def create_app(settings: Settings, host: str = "127.0.0.1") -> FastAPI:
    check_exposure(settings, host)
    ctx = ServiceContext(settings)
    app = FastAPI(
        title="xlsearch",
        version="1",
        lifespan=ctx.lifespan,
        docs_url=None,  # /docs is served from the package: no assets from a CDN
        redoc_url=None,
        description="Cross-lingual product search: native API under /v1, an Elasticsearch-compatible "
        "search gateway on the served indices.",
    )
    app.exception_handler(RequestValidationError)(_invalid_request)
    guard = RequestGuard(settings, host, ctx.observe, ctx.count_unexpected)
    app.middleware("http")(guard)
    app.add_middleware(BodyLimit, limit_mb=settings.serve_max_body_mb)
    if settings.serve_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.serve_cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", API_KEY_HEADER],
        )
    native_routes(app, ctx)
    gateway_routes(app, ctx)  # last: its catch-all answers what nothing else matched
    return app


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """A body that does not fit the route's model: 422 with one readable line (never the
    input echoed back: a NaN or a megabyte in it would break the answer itself)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    reasons = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors[:5])
    return JSONResponse({"error": reasons or "invalid request"}, status_code=422)


def run_server(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT, let requests in flight finish, then return (exit 0).

    uvicorn re-raises the signal after its graceful shutdown, which would end the
    process with the signal's status; a finished shutdown is a success here.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    config = uvicorn.Config(
        create_app(settings, host),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=int(settings.serve_timeout),
    )
    Server(config).run()
