"""``xlsearch serve``: the native JSON API, the Elasticsearch-compatible gateway,
metrics and the web pages, on FastAPI.

Models load once at start. Blocking work (models, cluster calls through the
sync client) runs on a bounded thread pool with a timeout; proxying is async
and streamed. Every route but ``/healthz`` and ``/readyz`` needs the API key
when one is configured. The service only talks to the configured cluster.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import httpx
import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..cluster.connection import cluster_errors
from ..cluster.indices import list_aliases
from ..config import Settings
from ..errors import ClusterError, ConfigError, XLSearchError
from ..ingest.online import index_records
from ..search.query_builder import SearchFilters
from .gateway import ELASTIC_HEADERS, BulkAction, ClauseRequest, bulk_item, bulk_lines, expand_xlsearch, parse_bulk
from .service import SearchService

T = TypeVar("T")
HEALTH_ROUTES = {"/healthz", "/readyz"}
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
}
API_KEY_HEADER = "x-xlsearch-key"


class SearchBody(BaseModel):
    query: str
    index: str | None = None
    lang: str | None = None
    filters: dict[str, Any] | list[str] = Field(default_factory=dict)
    k: int = 10
    page: int = 1
    mode: Literal["hybrid", "bm25", "knn"] = "hybrid"
    fusion: str = "auto"
    explain: bool = False


def _filters(value: dict[str, Any] | list[str]) -> SearchFilters:
    try:
        if isinstance(value, list):
            return SearchFilters.from_pairs(value)
        return SearchFilters(**value)
    except (TypeError, ValueError) as exc:
        raise XLSearchError(f"filters: {exc}") from None


class _Shared:
    """What the routes share: settings, the service once loaded, the bounded pool, the proxy client."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.state: dict[str, Any] = {"service": None, "error": None, "http": None}
        self.limiter = anyio.CapacityLimiter(max(1, settings.serve_threads))

    def service(self) -> SearchService:
        if self.state["service"] is None:
            raise ClusterError(f"the service is not ready: {self.state['error'] or 'starting'}")
        return self.state["service"]

    async def blocking(self, fn: Callable[[], T]) -> T:
        """Run model and cluster work on the bounded pool, within the request timeout."""
        with anyio.fail_after(self.settings.serve_timeout):
            return await anyio.to_thread.run_sync(fn, limiter=self.limiter)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        try:
            service = await anyio.to_thread.run_sync(SearchService, self.settings)
            self.state["service"] = service
            await anyio.to_thread.run_sync(service.searcher)  # load the models now, not on the first query
        except XLSearchError as exc:
            self.state["error"] = str(exc)
        auth = _cluster_auth(self.settings)
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

    async def guard(self, request: Request, call_next: Callable[[Request], Any]) -> Response:
        """API key, body size limit, metrics; errors as JSON (Elasticsearch-shaped on gateway routes)."""
        started = time.perf_counter()
        path = request.url.path
        if self.settings.api_key and path not in HEALTH_ROUTES and not _key_ok(request, self.settings.api_key):
            response: Response = _error(request, 401, "missing or wrong API key (header X-XLSearch-Key)")
        elif int(request.headers.get("content-length") or 0) > self.settings.serve_max_body_mb * 1024 * 1024:
            response = _error(request, 413, f"request body over {self.settings.serve_max_body_mb} MB")
        else:
            try:
                response = await call_next(request)
            except TimeoutError:
                response = _error(request, 504, f"the request took over {self.settings.serve_timeout:g} s")
            except ClusterError as exc:
                response = _error(request, 502 if self.state["service"] else 503, str(exc))
            except (XLSearchError, ConfigError) as exc:
                response = _error(request, 400, str(exc))
        route = getattr(request.scope.get("route"), "path", "unmatched")
        if self.state["service"] is not None:
            self.state["service"].metrics.observe_request(
                route, request.method, response.status_code, time.perf_counter() - started
            )
        return response


def create_app(settings: Settings) -> FastAPI:
    ctx = _Shared(settings)
    app = FastAPI(
        title="xlsearch",
        version="1",
        lifespan=ctx.lifespan,
        description="Cross-lingual product search: native API under /v1, an Elasticsearch-compatible "
        "gateway everywhere else.",
    )
    app.middleware("http")(ctx.guard)
    for routes in (
        _health_routes,
        _search_routes,
        _load_routes,
        _page_routes,
        _gateway_search_routes,
        _gateway_bulk_routes,
        _gateway_doc_routes,
        _proxy_route,
    ):
        routes(app, ctx)
    return app


def _health_routes(app: FastAPI, ctx: _Shared) -> None:
    """Health, readiness and metrics."""

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        if ctx.state["service"] is None:
            return JSONResponse({"ready": False, "reason": ctx.state["error"] or "starting"}, status_code=503)
        try:
            searcher = await ctx.blocking(lambda: ctx.service().searcher())
            await ctx.blocking(lambda: ctx.service().es.cluster.health())
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
            return JSONResponse({"ready": False, "reason": str(exc)}, status_code=503)
        return JSONResponse(
            {
                "ready": True,
                "index": searcher.alias,
                "languages": searcher.languages,
                "vector_fields": searcher.vector_fields,
            }
        )

    @app.get("/metrics", tags=["health"])
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(ctx.service().metrics.render().decode(), media_type="text/plain; version=0.0.4")


def _search_routes(app: FastAPI, ctx: _Shared) -> None:
    """The native read API under /v1."""

    # ---------------------------------------------------------- native API --
    @app.post("/v1/search", tags=["v1"])
    async def search(body: SearchBody) -> dict[str, Any]:
        """The same document as ``xlsearch search --json``."""

        def run() -> dict[str, Any]:
            resp = (
                ctx.service()
                .searcher(body.index)
                .search(
                    body.query,
                    lang=body.lang,
                    filters=_filters(body.filters),
                    k=body.k,
                    page=body.page,
                    mode=body.mode,
                    fusion=body.fusion,
                    explain=body.explain,
                )
            )
            ctx.service().metrics.observe_stages(resp.timings_ms)
            return resp.as_dict()

        return await ctx.blocking(run)

    @app.get("/v1/similar/{product_id}", tags=["v1"])
    async def similar(product_id: str, k: int = 10, index: str | None = None) -> dict[str, Any]:
        return await ctx.blocking(lambda: ctx.service().searcher(index).similar(product_id, k=k).as_dict())

    @app.get("/v1/indices", tags=["v1"])
    async def indices() -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            with cluster_errors(ctx.settings):
                return [i.as_dict() for i in list_aliases(ctx.service().es)]

        return await ctx.blocking(run)


def _load_routes(app: FastAPI, ctx: _Shared) -> None:
    """The native ingest and vector-projection API under /v1."""

    @app.post("/v1/ingest", tags=["v1"])
    async def ingest(request: Request, index: str | None = None, delete_missing: bool = False) -> dict[str, Any]:
        """A JSONL catalog in the body; the same accounting and dead-letter file as ``xlsearch ingest``."""
        from ..ingest.pipeline import IngestOptions, run_ingest

        data = await request.body()
        alias = index or ctx.settings.index

        def run() -> dict[str, Any]:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "catalog.jsonl"
                path.write_bytes(data)
                searcher = ctx.service().searcher(alias) if ctx.service().manages(alias) else None
                opts = IngestOptions(path=str(path), delete_missing=delete_missing, progress=False, resume=False)
                summary = run_ingest(
                    ctx.settings.replace(index=alias),
                    opts,
                    client=ctx.service().es,
                    encoder=searcher.embedders if searcher else None,
                    translator=searcher.translator if searcher else None,
                )
                return summary.as_dict()

        return await ctx.blocking(run)

    @app.get("/v1/vectors", tags=["v1"])
    async def vectors(query: str | None = None, sample: int = 300, index: str | None = None) -> dict[str, Any]:
        """A 2-D projection (PCA) of a sample of product vectors, and the query's point."""
        return await ctx.blocking(lambda: _projection(ctx.service(), index, query, min(max(sample, 10), 2000)))


def _page_routes(app: FastAPI, ctx: _Shared) -> None:
    """The web pages and their static files."""

    # --------------------------------------------------------------- pages --
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def root(request: Request) -> Response:
        """The web page for browsers; Elasticsearch's own info document for its clients."""
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_static("index.html"))
        info = await ctx.blocking(lambda: _cluster_info(ctx.service()))
        if request.method == "HEAD":
            return Response(status_code=200, headers=ELASTIC_HEADERS)
        return JSONResponse(info, headers=ELASTIC_HEADERS)

    @app.get("/vectors", include_in_schema=False)
    async def vectors_page() -> HTMLResponse:
        return HTMLResponse(_static("vectors.html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
        suffix = Path(name).suffix
        if suffix not in types or "/" in name:
            return PlainTextResponse("not found", status_code=404)
        try:
            return Response(_static(name), media_type=types[suffix])
        except FileNotFoundError:
            return PlainTextResponse("not found", status_code=404)


def _gateway_search_routes(app: FastAPI, ctx: _Shared) -> None:
    """Elasticsearch's _search, with the xlsearch clause expanded."""

    # ------------------------------------------------------------- gateway --
    @app.api_route("/{index}/_search", methods=["GET", "POST"], include_in_schema=False)
    async def gateway_search(index: str, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise XLSearchError(f"the search body is not JSON: {exc.msg}") from None
        if not isinstance(body, dict):
            raise XLSearchError("a search body must be a JSON object")

        def run_clause(clause: ClauseRequest, window: int) -> list[tuple[str, float]]:
            searcher = ctx.service().searcher(index)
            resp = searcher.search(
                clause.query,
                lang=clause.lang,
                mode=clause.mode,  # type: ignore[arg-type]
                fusion=clause.fusion,
                filters=_filters(clause.filters),
                k=window,
                highlight=False,
            )
            ctx.service().metrics.observe_stages(resp.timings_ms)
            return [(h.id, h.score) for h in resp.hits]

        expanded = await ctx.blocking(lambda: expand_xlsearch(body, run_clause))
        content = json.dumps(body).encode() if expanded else raw
        return await _forward(ctx.state["http"], request, f"/{index}/_search", content)


def _gateway_bulk_routes(app: FastAPI, ctx: _Shared) -> None:
    """Elasticsearch's _bulk, through enrichment for the indices xlsearch manages."""

    @app.api_route("/_bulk", methods=["POST", "PUT"], include_in_schema=False)
    async def gateway_bulk(request: Request) -> Response:
        return await _bulk(request, None)

    @app.api_route("/{index}/_bulk", methods=["POST", "PUT"], include_in_schema=False)
    async def gateway_index_bulk(index: str, request: Request) -> Response:
        return await _bulk(request, index)

    async def _bulk(request: Request, index: str | None) -> Response:
        started = time.perf_counter()
        actions = parse_bulk((await request.body()).decode("utf-8", errors="replace"), index)
        refresh = request.query_params.get("refresh")
        items, forwarded = await ctx.blocking(lambda: _enrich_bulk(ctx.service(), ctx.settings, actions, refresh))
        if forwarded:
            params = {k: v for k, v in request.query_params.items()}
            resp = await ctx.state["http"].post(
                "/_bulk",
                content=bulk_lines([a for a, _ in forwarded]).encode(),
                params=params,
                headers={"content-type": "application/x-ndjson"},
            )
            for (_, position), item in zip(forwarded, resp.json().get("items", [])):
                items[position] = item
        errors = any(next(iter(i.values())).get("error") for i in items if i)
        return JSONResponse(
            {"took": int((time.perf_counter() - started) * 1e3), "errors": errors, "items": items},
            headers=ELASTIC_HEADERS,
        )


def _gateway_doc_routes(app: FastAPI, ctx: _Shared) -> None:
    """Elasticsearch's _doc and _create for one record, through enrichment."""

    @app.api_route("/{index}/_doc/{doc_id}", methods=["PUT", "POST"], include_in_schema=False)
    @app.api_route("/{index}/_create/{doc_id}", methods=["PUT", "POST"], include_in_schema=False)
    async def gateway_doc(index: str, doc_id: str, request: Request) -> Response:
        return await _one_document(request, index, doc_id)

    @app.post("/{index}/_doc", include_in_schema=False)
    async def gateway_doc_without_id(index: str, request: Request) -> Response:
        """A catalog record carries its own id; Elasticsearch's generated ids would change on every load."""
        return await _one_document(request, index, None)

    async def _one_document(request: Request, index: str, doc_id: str | None) -> Response:
        raw = await request.body()
        if not await ctx.blocking(lambda: ctx.service().manages(index)):
            return await _forward(ctx.state["http"], request, request.url.path, raw)
        try:
            source = json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            raise XLSearchError(f"the document is not JSON: {exc.msg}") from None
        if doc_id is None and not (isinstance(source, dict) and source.get("id") is not None):
            raise XLSearchError(f"{index!r} is an xlsearch index: a document needs an id (in the path or its 'id')")
        action = BulkAction(position=0, op="index", index=index, id=doc_id, source=source)
        refresh = request.query_params.get("refresh")
        items, _ = await ctx.blocking(lambda: _enrich_bulk(ctx.service(), ctx.settings, [action], refresh))
        item = items[0]["index"]
        if "error" in item:
            error = {**item["error"], "root_cause": [item["error"]]}
            return JSONResponse(
                {"error": error, "status": item["status"]}, status_code=item["status"], headers=ELASTIC_HEADERS
            )
        return JSONResponse(
            {k: v for k, v in item.items() if k != "status"}, status_code=item["status"], headers=ELASTIC_HEADERS
        )


def _proxy_route(app: FastAPI, ctx: _Shared) -> None:
    """Everything else goes to the cluster unchanged."""

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"], include_in_schema=False)
    async def proxy(path: str, request: Request) -> Response:
        """Everything else goes to the cluster unchanged (streamed)."""
        return await _forward(ctx.state["http"], request, "/" + path, await request.body())


def _enrich_bulk(
    service: SearchService, settings: Settings, actions: list[BulkAction], refresh: str | None
) -> tuple[list[dict[str, Any]], list[tuple[BulkAction, int]]]:
    """Index/create actions on xlsearch indices go through enrichment; the rest is
    returned to be forwarded. Items come back in the request's order."""
    items: list[dict[str, Any]] = [{} for _ in actions]
    forwarded: list[tuple[BulkAction, int]] = []
    managed: dict[str, bool] = {}
    groups: dict[str, list[BulkAction]] = {}
    for action in actions:
        if action.index is None:
            items[action.position] = bulk_item(
                action.op, None, action.id, 400, "rejected", "no index: name one in the path or the action's _index"
            )
            continue
        if action.index not in managed:
            managed[action.index] = service.manages(action.index)
        if not managed[action.index] or action.op == "delete":
            forwarded.append((action, action.position))
        elif action.op == "update":
            items[action.position] = bulk_item(
                "update",
                action.index,
                action.id,
                400,
                "rejected",
                "update is not supported by the enrichment gateway; send the whole catalog record with index",
            )
        else:
            groups.setdefault(action.index, []).append(action)
    for alias, group in groups.items():
        records = []
        for action in group:
            record = dict(action.source) if isinstance(action.source, dict) else action.source
            if isinstance(record, dict) and action.id is not None:
                record["id"] = action.id
            records.append(record)
        outcomes = index_records(settings, service.es, alias, service.enrich_context(alias), records)
        for action, outcome in zip(group, outcomes):
            items[action.position] = bulk_item(
                action.op, alias, outcome.id or action.id, outcome.status, outcome.result, outcome.reason
            )
        if refresh in ("true", "wait_for", ""):
            with cluster_errors(settings):
                service.es.indices.refresh(index=alias)
    return items, forwarded


def _cluster_info(service: SearchService) -> dict[str, Any]:
    """What ``GET /`` answers on a full cluster, built from routes every build has."""
    with cluster_errors(service.settings):
        nodes = service.es.nodes.info(node_id="_local", metric="_none")
        health = service.es.cluster.health()
    node: dict[str, Any] = next(iter(nodes.get("nodes", {}).values()), {})
    version = str(node.get("version", "0.0.0"))
    return {
        "name": node.get("name", "xlsearch"),
        "cluster_name": health.get("cluster_name", ""),
        "cluster_uuid": "_na_",
        "version": {
            "number": version,
            "build_flavor": "default",
            "lucene_version": "",
            "minimum_wire_compatibility_version": version,
            "minimum_index_compatibility_version": version,
        },
        "tagline": "You Know, for Search (through the xlsearch gateway)",
    }


def _projection(service: SearchService, index: str | None, query: str | None, sample: int) -> dict[str, Any]:
    searcher = service.searcher(index)
    field = searcher.vector_fields[0]
    with cluster_errors(service.settings):
        hits = service.es.search(
            index=searcher.alias,
            size=sample,
            source={"includes": [field, "title", "source_language"]},
            query={"function_score": {"query": {"match_all": {}}, "random_score": {"seed": 7, "field": "_seq_no"}}},
        )["hits"]["hits"]
    hits = [h for h in hits if h["_source"].get(field)]
    if len(hits) < 3:
        raise XLSearchError(f"fewer than 3 products with vectors in _source in {searcher.alias!r}")
    matrix = np.array([h["_source"][field] for h in hits], dtype=np.float32)
    mean = matrix.mean(axis=0)
    _, _, components = np.linalg.svd(matrix - mean, full_matrices=False)
    points = (matrix - mean) @ components[:2].T
    out: dict[str, Any] = {
        "index": searcher.alias,
        "field": field,
        "points": [
            {
                "id": h["_id"],
                "x": float(x),
                "y": float(y),
                "lang": h["_source"].get("source_language"),
                "title": (h["_source"].get("title") or {}).get("original", ""),
            }
            for h, (x, y) in zip(hits, points)
        ],
    }
    if query:
        analysis = searcher.understand(query)
        vector = np.array(searcher._embed(analysis, "mean")[field], dtype=np.float32)
        qx, qy = (vector - mean) @ components[:2].T
        nearest = np.argsort(-(matrix @ vector))[:5]
        out["query"] = {
            "text": query,
            "lang": analysis.lang,
            "x": float(qx),
            "y": float(qy),
            "nearest": [hits[i]["_id"] for i in nearest],
        }
    return out


def _static(name: str) -> str:
    return resources.files("xlsearch_es.serve").joinpath("static", name).read_text(encoding="utf-8")


def _key_ok(request: Request, key: str) -> bool:
    import hmac

    given = request.headers.get(API_KEY_HEADER) or request.query_params.get("api_key") or ""
    return hmac.compare_digest(given.encode(), key.encode())


def _is_gateway(path: str) -> bool:
    return not (path.startswith("/v1/") or path in HEALTH_ROUTES or path in ("/metrics", "/vectors", "/docs"))


def _error(request: Request, status: int, message: str) -> JSONResponse:
    if _is_gateway(request.url.path) and request.url.path != "/":
        body: dict[str, Any] = {
            "error": {
                "type": "xlsearch_exception",
                "reason": message,
                "root_cause": [{"type": "xlsearch_exception", "reason": message}],
            },
            "status": status,
        }
        return JSONResponse(body, status_code=status, headers=ELASTIC_HEADERS)
    return JSONResponse({"error": message}, status_code=status)


def _cluster_auth(settings: Settings) -> dict[str, Any]:
    if settings.es_api_key:
        return {"headers": {"authorization": f"ApiKey {settings.es_api_key}"}}
    if settings.es_username:
        return {"auth": (settings.es_username, settings.es_password or "")}
    return {}


async def _forward(http: httpx.AsyncClient, request: Request, path: str, content: bytes) -> Response:
    """Send the request on to the cluster and stream its answer back, headers kept
    (the client's own credentials are forwarded when it sent any)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != API_KEY_HEADER}
    upstream = http.build_request(
        request.method, path, params=list(request.query_params.multi_items()), headers=headers, content=content
    )
    try:
        resp = await http.send(upstream, stream=True)
    except httpx.HTTPError as exc:
        raise ClusterError(f"cannot reach the cluster: {type(exc).__name__}") from None
    out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.aiter_raw():
                yield chunk
        finally:
            await resp.aclose()

    return StreamingResponse(body(), status_code=resp.status_code, headers=out_headers)


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
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=int(settings.serve_timeout),
    )
    Server(config).run()
