"""What every request passes before a route runs, and what every answer carries.

One middleware applies ``policy`` (path, Host, Origin, body type, the
allow-list), the API key (header or the page's session cookie), the body-size
limit (chunked bodies too, counted as they arrive) and turns every failure
into a 4xx with a reason: Elasticsearch's error shape on gateway paths, the
native ``{"error": ...}`` on ``/v1``. An unexpected exception is a 500 that is
logged once and counted, and the connection stays usable. Security headers
go on every answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..errors import ClusterError, DeadlineExceeded, XLSearchError
from .policy import (
    SAFE_METHODS,
    PolicyError,
    body_type_allowed,
    checked_path,
    decide,
    host_allowed,
    origin_allowed,
)

log = logging.getLogger(__name__)
API_KEY_HEADER = "x-xlsearch-key"
SESSION_COOKIE = "xlsearch_session"
ELASTIC_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
# Routes anyone may call when a key is set: health, the pages' HTML and files, signing in.
PUBLIC_PATHS = ("/healthz", "/readyz", "/vectors", "/docs", "/login", "/logout")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Product images may come from anywhere; scripts, styles and calls only from here.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ServiceError(XLSearchError):
    """A refusal with its own status (403, 413, 415, 429, 503) and headers (Retry-After)."""

    def __init__(
        self, status: int, message: str, kind: str = "xlsearch_exception", headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


class BodyTooLarge(ServiceError):
    def __init__(self, limit_mb: int):
        super().__init__(413, f"request body over {limit_mb} MB", "content_too_long_exception")


def session_token(api_key: str) -> str:
    """The cookie's value: derived from the key, so the cookie never holds the key itself."""
    return hmac.new(api_key.encode(), b"xlsearch-page-session-v1", hashlib.sha256).hexdigest()


def key_ok(request: Request, api_key: str) -> bool:
    """The key in the X-XLSearch-Key header, or the session cookie the page's sign-in set."""
    given = request.headers.get(API_KEY_HEADER)
    if given is not None:
        return hmac.compare_digest(given.encode(), api_key.encode())
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie is not None and hmac.compare_digest(cookie.encode(), session_token(api_key).encode())


def is_gateway_path(path: str) -> bool:
    return path != "/" and not (path.startswith(("/v1/", "/static/")) or path in (*PUBLIC_PATHS, "/metrics"))


def error_response(
    path: str, status: int, message: str, kind: str = "xlsearch_exception", headers: dict[str, str] | None = None
) -> JSONResponse:
    """Elasticsearch's error document on gateway paths, ``{"error": message}`` elsewhere."""
    if is_gateway_path(path):
        cause = {"type": kind, "reason": message}
        body: dict[str, Any] = {"error": {**cause, "root_cause": [cause]}, "status": status}
        return JSONResponse(body, status_code=status, headers={**ELASTIC_HEADERS, **(headers or {})})
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """Counts body bytes as they arrive and stops at the limit, whatever Content-Length said."""

    def __init__(self, app: ASGIApp, limit_mb: int):
        self.app, self.limit_mb, self.limit = app, limit_mb, limit_mb * 1024 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit_mb)
            return message

        await self.app(scope, counted, send)


class RequestGuard:
    """The middleware: checks, then the route, then the error mapping and metrics."""

    def __init__(
        self,
        settings: Settings,
        bind_host: str,
        observe: Callable[[str, str, int, float], None],
        on_unexpected: Callable[[], None],
    ):
        self.settings = settings
        self.served = settings.served_indices
        self.allowed_hosts = (*settings.serve_allowed_hosts, bind_host)
        self.observe, self.on_unexpected = observe, on_unexpected

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        path = request.url.path
        try:
            response = await self._checked(request, call_next)
        except Exception as exc:  # the last resort: a 500 that keeps the connection, logged once
            refusal = _wrapped_refusal(exc)
            if refusal is not None:  # raised while the body streamed in: it arrives inside a task group
                response = error_response(path, refusal.status, str(refusal), refusal.kind, refusal.headers)
            else:
                log.exception("unexpected error on %s %s", request.method, path)
                self.on_unexpected()
                response = error_response(path, 500, "internal error (logged on the server)")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        self.observe(route, request.method, response.status_code, time.perf_counter() - started)
        return response

    async def _checked(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        try:
            self._admit(request)
            return await call_next(request)
        except PolicyError as exc:
            return error_response(path, exc.status, exc.reason, exc.kind)
        except ServiceError as exc:
            return error_response(path, exc.status, str(exc), exc.kind, exc.headers)
        except (TimeoutError, DeadlineExceeded):
            return error_response(path, 504, f"the request took over {self.settings.serve_timeout:g} s")
        except ClusterError as exc:
            return _cluster_error_response(path, exc)
        except RecursionError:
            return error_response(path, 400, "the body is nested too deeply", "parse_exception")
        except XLSearchError as exc:
            return error_response(path, 400, str(exc), "illegal_argument_exception")

    def _admit(self, request: Request) -> None:
        """Everything decided from the request line and headers, before the body is read."""
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        path = checked_path(raw.decode("latin-1").split("?", 1)[0])
        host = request.headers.get("host")
        if not host_allowed(host, self.allowed_hosts):
            raise PolicyError(403, f"Host {host!r} is not served here (serve_allowed_hosts)")
        method = request.method.upper()
        if method not in SAFE_METHODS and not origin_allowed(
            request.headers.get("origin"), host, self.settings.serve_cors_origins
        ):
            raise PolicyError(403, f"requests from Origin {request.headers.get('origin')!r} are not allowed")
        api_key = self.settings.api_key
        public = path in PUBLIC_PATHS or path.startswith("/static/") or (path == "/" and _wants_html(request))
        if api_key and not public and not key_ok(request, api_key):
            raise ServiceError(401, "missing or wrong API key (header X-XLSearch-Key)", "security_exception")
        if _has_body(request) and not body_type_allowed(request.headers.get("content-type")):
            raise ServiceError(
                415,
                "request bodies must be JSON (application/json) or NDJSON (application/x-ndjson)",
                "media_type_header_exception",
            )
        length = request.headers.get("content-length")
        if length and (not length.isdigit() or int(length) > self.settings.serve_max_body_mb * 1024 * 1024):
            raise BodyTooLarge(self.settings.serve_max_body_mb)
        request.state.decision = decide(method, path, self.served, self.settings.serve_passthrough)


def _wrapped_refusal(exc: BaseException) -> ServiceError | None:
    """A ServiceError inside an exception group (or chained), as anyio task groups deliver it."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _wrapped_refusal(inner)
            if found is not None:
                return found
    cause = exc.__cause__ or exc.__context__
    return _wrapped_refusal(cause) if cause is not None and cause is not exc else None


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return bool(length and length != "0") or "chunked" in request.headers.get("transfer-encoding", "").lower()


def _cluster_error_response(path: str, exc: ClusterError) -> JSONResponse:
    """The cluster's own verdict keeps its meaning: its 4xx are the caller's (400, 413,
    and 429 so clients back off); the rest is a 502 (answered badly) or 503 (unreachable)."""
    status = exc.status
    if status is not None and 400 <= status < 500 and status not in (401, 403):
        headers = {"Retry-After": "1"} if status == 429 else None
        return error_response(path, status, str(exc), "cluster_rejected_exception", headers)
    return error_response(path, 502 if status is not None else 503, str(exc), "cluster_exception")
