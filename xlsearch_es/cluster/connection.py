"""One place that turns Settings into a connected Elasticsearch client.

The client is checked with ``_cluster/health`` rather than ``GET /``: the
integ-test distribution has no root endpoint, so ``ping()``/``info()`` fail on it
while the cluster is perfectly usable. Errors are re-worded without secrets.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionTimeout,
    Elasticsearch,
    TransportError,
)
from elasticsearch import ConnectionError as ESConnectionError

from ..config import Settings
from ..errors import ClusterError


def redact(text: str, settings: Settings) -> str:
    """Remove credentials from a message: URL userinfo, API key, passwords (as
    written and percent-encoded, longest first so no fragment survives)."""
    text = re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)\S*@", r"\1***@", text)
    secrets = {s for s in (settings.es_api_key, settings.es_password, settings.url_credentials[1]) if s}
    forms = {form for secret in secrets for form in (secret, quote(secret, safe=""), quote(secret))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def safe_url(settings: Settings) -> str:
    return redact(settings.es_url, settings)


def make_client(settings: Settings) -> Elasticsearch:
    """Build the client; nothing is sent yet."""
    kwargs: dict[str, Any] = {
        "request_timeout": settings.es_request_timeout,
        "max_retries": settings.es_max_retries,
        "retry_on_timeout": True,
    }
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        # Encoded here as UTF-8 (RFC 7617): the client's own encoder refuses non-ASCII passwords.
        pair = f"{settings.es_username}:{settings.es_password or ''}".encode()
        kwargs["basic_auth"] = base64.b64encode(pair).decode("ascii")
    if settings.es_url.startswith("https"):
        kwargs["verify_certs"] = settings.es_verify_certs
        if settings.es_ca_certs:
            kwargs["ca_certs"] = settings.es_ca_certs
    try:
        from elasticsearch.serializer import OrjsonSerializer

        # A product with its vectors is ~20 kB of JSON: the standard library spent
        # 0.6 ms on each in the bulk sender (orjson: 0.05 ms), holding the GIL.
        kwargs["serializer"] = OrjsonSerializer()
    except ImportError:  # orjson is a dependency; a trimmed install keeps the standard serializer
        pass
    try:
        return Elasticsearch(settings.es_url, **kwargs)
    except ValueError as exc:
        raise ClusterError(f"bad Elasticsearch URL {safe_url(settings)!r}: {redact(str(exc), settings)}") from exc


def describe_error(exc: Exception, settings: Settings) -> str:
    """A one-line, secret-free explanation of a client exception."""
    url = safe_url(settings)
    if isinstance(exc, AuthenticationException):
        return (
            f"Elasticsearch at {url} rejected the credentials (401); check ELASTICSEARCH_API_KEY / username / password"
        )
    if isinstance(exc, AuthorizationException):
        return f"Elasticsearch at {url} refused the request (403): the user lacks a privilege"
    if isinstance(exc, ConnectionTimeout):
        return f"Elasticsearch at {url} did not answer in {settings.es_request_timeout:g}s"
    if isinstance(exc, ESConnectionError):
        return f"cannot reach Elasticsearch at {url}; is it running? (start a local one with 'xlsearch es start')"
    if isinstance(exc, ApiError):
        reason = exc.message
        try:
            err = exc.body.get("error", {})
            reason = err.get("reason") or err.get("type") or reason
        except AttributeError:
            pass
        return redact(f"Elasticsearch error {exc.meta.status}: {reason}", settings)
    if isinstance(exc, TransportError):
        return redact(f"Elasticsearch transport error: {exc.message}", settings)
    return redact(str(exc), settings)


@contextmanager
def cluster_errors(
    settings: Settings, wrap: type[ClusterError] = ClusterError, prefix: str = "", suffix: str = ""
) -> Iterator[None]:
    """Client errors inside the block become one readable ``wrap`` error, credentials masked."""
    try:
        yield
    except (ApiError, TransportError) as exc:
        error = wrap(f"{prefix}{describe_error(exc, settings)}{suffix}")
        if isinstance(error, ClusterError) and isinstance(exc, ApiError):
            error.status = exc.meta.status
        raise error from None


def connect(settings: Settings) -> Elasticsearch:
    """A client that has answered a health request, or a ClusterError."""
    client = make_client(settings)
    with cluster_errors(settings):
        client.options(request_timeout=min(settings.es_request_timeout, 10.0), max_retries=0).cluster.health()
    return client
