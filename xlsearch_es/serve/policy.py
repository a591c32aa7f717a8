"""Who may ask the service for what: pure rules, decided before any route runs.

The service holds the cluster's credentials, so anything it forwards is done
with them. By default it is a search gateway, not a proxy: an allow-list of
Elasticsearch APIs on the indices it serves (searches, counts, gets, field
caps, mappings, health; writes through enrichment), and a 403 in
Elasticsearch's own shape for everything else. Paths are checked before
routing: a ``..`` segment, an encoded slash or a backslash is refused, so
``/v1/..%2F_cluster/settings`` cannot reach past a reverse proxy that exposes
only ``/v1/``. Requests with a body must say it is JSON or NDJSON (browsers
can send ``text/plain`` and forms across sites without asking), Host headers
must name this service (DNS rebinding), and a state-changing request from a
foreign ``Origin`` is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
JSON_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths of the service itself (not Elasticsearch's): pages, the native API, health.
OWN_PREFIXES = ("/v1/", "/static/")
OWN_PATHS = ("/", "/healthz", "/readyz", "/metrics", "/vectors", "/docs", "/openapi.json", "/login", "/logout")
# Elasticsearch APIs allowed on a served index: path suffix after "/{index}" -> methods.
READ_APIS: dict[str, tuple[str, ...]] = {
    "/_search": ("GET", "POST"),
    "/_count": ("GET", "POST"),
    "/_mget": ("GET", "POST"),
    "/_field_caps": ("GET", "POST"),
    "/_mapping": ("GET",),
    "": ("HEAD",),  # indices.exists
}
_DOC = re.compile(r"^/(?P<api>_doc|_create|_source)(?:/(?P<id>[^/]+))?$")
_INDEX = re.compile(r"^/(?P<index>[^/_][^/]*)(?P<rest>(?:/.*)?)$")


class PolicyError(Exception):
    """A request refused before routing: ``status`` and a reason for the caller."""

    def __init__(self, status: int, reason: str, kind: str = "security_exception"):
        super().__init__(reason)
        self.status, self.reason, self.kind = status, reason, kind


@dataclass(frozen=True)
class Decision:
    """What a request is: ``own`` (a route of the service), ``search`` (the gateway's
    expanded _search), ``write`` (enriched writes), ``read`` (forwarded unchanged),
    or ``passthrough`` (forwarded because the operator opened everything)."""

    kind: str
    index: str | None = None


def checked_path(raw_path: str) -> str:
    """The request path, percent-decoded once, or PolicyError for a path that could
    mean something else to the service, a proxy in front, or the cluster behind."""
    if "\\" in raw_path or re.search(r"%(2f|5c|00)", raw_path, re.IGNORECASE):
        raise PolicyError(
            400, "encoded slashes, backslashes and NUL are not allowed in paths", "illegal_argument_exception"
        )
    path = unquote(raw_path)
    if not path.startswith("/") or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise PolicyError(400, "the path has control characters", "illegal_argument_exception")
    segments = path.split("/")[1:]
    if any(seg in (".", "..") for seg in segments) or "//" in path:
        raise PolicyError(400, "paths may not contain '.', '..' or empty segments", "illegal_argument_exception")
    return path


def is_served(index: str, served: tuple[str, ...]) -> bool:
    """An alias the service serves, or one of its versions (``alias-vN``)."""
    return any(index == alias or re.fullmatch(re.escape(alias) + r"-v\d+", index) for alias in served)


def decide(method: str, path: str, served: tuple[str, ...], passthrough: bool = False) -> Decision:
    """Classify a request by method and (checked) path; PolicyError for what is not allowed."""
    method = method.upper()
    if path in OWN_PATHS or path.startswith(OWN_PREFIXES):
        return Decision("own")
    if path in ("/_bulk",) and method in ("POST", "PUT"):
        return Decision("write")  # each action's index is checked against ``served``
    if path in ("/_cluster/health",) and method in ("GET", "HEAD"):
        return Decision("read")
    match = re.fullmatch(r"/_cluster/health/(?P<index>[^/]+)", path)
    if match and method in ("GET", "HEAD"):
        return _on_served(Decision("read", match["index"]), served, passthrough)
    match = _INDEX.match(path)
    if match:
        index, rest = match["index"], match["rest"]
        if rest in READ_APIS and method in READ_APIS[rest]:
            return _on_served(Decision("search" if rest == "/_search" else "read", index), served, passthrough)
        if rest == "/_bulk" and method in ("POST", "PUT"):
            return _on_served(Decision("write", index), served, passthrough)
        doc = _DOC.match(rest)
        if doc:
            api, doc_id = doc["api"], doc["id"]
            if api in ("_doc", "_source") and doc_id and method in ("GET", "HEAD"):
                return _on_served(Decision("read", index), served, passthrough)
            if api == "_doc" and doc_id and method == "DELETE":
                return _on_served(Decision("write", index), served, passthrough)
            if api in ("_doc", "_create") and doc_id and method in ("PUT", "POST"):
                return _on_served(Decision("write", index), served, passthrough)
            if api == "_doc" and not doc_id and method == "POST":
                return _on_served(Decision("write", index), served, passthrough)
    if passthrough:
        return Decision("passthrough")
    raise PolicyError(403, f"{method} {path} is not allowed through the xlsearch gateway (see README, Security)")


def _on_served(decision: Decision, served: tuple[str, ...], passthrough: bool) -> Decision:
    index = decision.index or ""
    if is_served(index, served):
        return decision
    if passthrough and not any(c in index for c in ",*"):
        return Decision("passthrough", index)
    raise PolicyError(403, f"index [{index}] is not served here (served: {', '.join(served)})")


def host_allowed(host_header: str | None, allowed: tuple[str, ...]) -> bool:
    """The Host header names this service (a loopback name, the bound host, or one configured)."""
    if "*" in allowed:
        return True
    if not host_header:
        return False
    host = urlsplit("//" + host_header).hostname or ""
    return host.lower() in {h.strip("[]").lower() for h in (*LOOPBACK_HOSTS, *allowed)}


def origin_allowed(origin: str | None, host_header: str | None, cors_origins: tuple[str, ...]) -> bool:
    """No Origin (not a browser), the page's own origin, or one the operator listed."""
    if not origin:
        return True
    if origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in cors_origins}:
        return True
    parts = urlsplit(origin)
    return bool(host_header) and parts.netloc.lower() == (host_header or "").lower()


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def body_type_allowed(content_type: str | None) -> bool:
    """JSON or NDJSON, including the Elasticsearch client's versioned types."""
    return media_type(content_type) in JSON_TYPES


def is_loopback_bind(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK_HOSTS or host.startswith("127.")
