"""The service's own routes: the native API under /v1, health, metrics, the pages,
their sign-in and the API docs (served from the package, no CDN)."""

from __future__ import annotations

import hmac
import logging
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from ..cluster.connection import cluster_errors
from ..cluster.indices import list_aliases
from ..errors import ClusterError, XLSearchError
from ..search.request import AUTO_FUSION, HYBRID, Mode
from .bodies import check_query_text, search_filters, whole_number
from .context import ServiceContext, audit_write
from .guard import ELASTIC_HEADERS, SESSION_COOKIE, ServiceError, key_ok, session_token
from .policy import is_served
from .searchers import SearchService

log = logging.getLogger("xlsearch_es.serve")


class SearchBody(BaseModel):
    query: str = Field(max_length=2000)
    index: str | None = None
    lang: str | None = Field(default=None, max_length=16)
    filters: Any = Field(default_factory=dict)
    k: int = 10  # ranges checked by the search itself (one message for the CLI and the API)
    page: int = 1
    mode: Mode = HYBRID
    fusion: str = Field(default=AUTO_FUSION, max_length=40)
    explain: bool = False
    all: bool = False  # the whole window as matches: no product-type grouping, no relevance floor


class ClickBody(BaseModel):
    search_id: str = Field(max_length=64)
    product_id: str = Field(max_length=512)
    index: str | None = None


class SessionBody(BaseModel):
    key: str = Field(max_length=4096)


def native_routes(app: FastAPI, ctx: ServiceContext) -> None:
    for routes in (_health_routes, _search_routes, _event_routes, _load_routes, _page_routes, _session_routes):
        routes(app, ctx)


def _health_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """Health, readiness and metrics."""

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """Ready or not; the details (index, languages, the reason) only to callers with the key."""
        detailed = not ctx.settings.api_key or key_ok(request, ctx.settings.api_key)
        if ctx.state["service"] is None:
            body: dict[str, Any] = {"ready": False, "reason": ctx.state["error"] or "starting"}
            return JSONResponse(body if detailed else {"ready": False}, status_code=503)
        try:
            searcher = await ctx.blocking(lambda: ctx.service().searcher())
            await ctx.blocking(lambda: ctx.service().es.cluster.health())
        except Exception as exc:  # readiness reports any failure as not ready
            return JSONResponse({"ready": False, "reason": str(exc)} if detailed else {"ready": False}, status_code=503)
        if not detailed:
            return JSONResponse({"ready": True})
        return JSONResponse(
            {
                "ready": True,
                "index": searcher.alias,
                "languages": searcher.runtime.languages,
                "vector_fields": searcher.runtime.vector_fields,
            }
        )

    @app.get("/metrics", tags=["health"])
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(ctx.service().metrics.render().decode(), media_type="text/plain; version=0.0.4")


def _search_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """The native read API under /v1."""

    @app.post("/v1/search", tags=["v1"])
    async def search(body: SearchBody) -> dict[str, Any]:
        """The same document as ``xlsearch search --json``."""
        index = ctx.served(body.index)
        filters = search_filters(body.filters)
        deadline = ctx.deadline()

        def run() -> dict[str, Any]:
            resp = (
                ctx.service()
                .searcher(index)
                .search(
                    body.query,
                    lang=body.lang,
                    filters=filters,
                    k=body.k,
                    page=body.page,
                    mode=body.mode,
                    fusion=body.fusion,
                    explain=body.explain,
                    deadline=deadline,
                    focus=not body.all,
                )
            )
            ctx.service().metrics.observe_stages(resp.timings_ms)
            return _recorded(ctx, index, body, resp)

        return await ctx.blocking(run)

    @app.get("/v1/similar/{product_id}", tags=["v1"])
    async def similar(product_id: str, k: int = 10, index: str | None = None) -> dict[str, Any]:
        alias = ctx.served(index)
        k = whole_number(k, "k", 1, 1000, 10)
        return await ctx.blocking(lambda: ctx.service().searcher(alias).similar(product_id, k=k).as_dict())

    @app.get("/v1/indices", tags=["v1"])
    async def indices() -> list[dict[str, Any]]:
        """The served indices (others on the cluster are not shown)."""

        def run() -> list[dict[str, Any]]:
            with cluster_errors(ctx.settings):
                found = list_aliases(ctx.service().es)
            return [i.as_dict() for i in found if is_served(i.alias, ctx.settings.served_indices)]

        return await ctx.blocking(run)


def _recorded(ctx: ServiceContext, index: str, body: SearchBody, resp: Any) -> dict[str, Any]:
    """The answer, with the id of its recorded search (for the page's clicks) when the
    service records; the search is answered even when the log cannot take it."""
    out: dict[str, Any] = resp.as_dict()
    events = ctx.service().events(index)
    if events is not None:
        try:
            shown = [h.id for h in resp.hits]
            out["search_id"] = events.record_search(resp.query, resp.lang, shown, body.page, body.k)
        except ClusterError as exc:
            log.warning("search not recorded: %s", exc)
    return out


def _event_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """Clicks from the page, kept beside the searches that showed the products."""

    @app.post("/v1/click", tags=["v1"])
    async def click(body: ClickBody) -> dict[str, Any]:
        """A click on a product a recorded search showed (the page sends them); 400 for a
        search this service did not give out or a product it did not show."""
        index = ctx.served(body.index)

        def run() -> dict[str, Any]:
            events = ctx.service().events(index)
            if events is None:
                raise ServiceError(404, "recording is off here (serve_events)")
            return {"recorded": True, **events.record_click(body.search_id, body.product_id)}

        return await ctx.blocking(run)


def _load_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """The native ingest and vector-projection API under /v1."""

    @app.post("/v1/ingest", tags=["v1"])
    async def ingest(request: Request, index: str | None = None, delete_missing: bool = False) -> dict[str, Any]:
        """A JSONL catalog in the body; the same accounting as ``xlsearch ingest``. With
        ``delete_missing`` the safety checks always hold here (an empty catalog, or one that
        would delete over delete_missing_max_share of the index, deletes nothing)."""
        from ..ingest.pipeline import IngestOptions, run_ingest

        alias = ctx.served(index)
        data = await request.body()

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
                    encoder=searcher.runtime.embedders if searcher else None,
                    translator=searcher.runtime.translator if searcher else None,
                )
                return summary.as_dict()

        result = await ctx.blocking(run)
        if result.get("dead_letter"):  # the file's name, never the server's paths
            result["dead_letter"] = Path(str(result["dead_letter"])).name
        audit_write(
            request,
            "/v1/ingest",
            alias,
            indexed=result.get("indexed"),
            rejected=result.get("rejected"),
            deleted=result.get("deleted"),
        )
        return result

    @app.get("/v1/vectors", tags=["v1"])
    async def vectors(query: str | None = None, sample: int = 300, index: str | None = None) -> dict[str, Any]:
        """A 2-D projection (PCA) of a sample of product vectors, and the query's point."""
        alias = ctx.served(index)
        if query is not None:
            check_query_text(query)
        return await ctx.blocking(lambda: _projection(ctx.service(), alias, query, min(max(sample, 10), 2000)))


def _page_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """The web pages, their static files and the API docs."""

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

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(_static("docs.html"))

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


def _session_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """The page's sign-in and sign-out in key mode."""

    @app.post("/login", include_in_schema=False)
    async def login(body: SessionBody, request: Request) -> JSONResponse:
        """The page's sign-in: the key once, then an HttpOnly, SameSite=Strict cookie derived from it."""
        key = ctx.settings.api_key
        if not key:
            return JSONResponse({"signed_in": True, "key_required": False})
        if not hmac.compare_digest(body.key.encode(), key.encode()):
            raise ServiceError(401, "wrong API key", "security_exception")
        response = JSONResponse({"signed_in": True, "key_required": True})
        response.set_cookie(
            SESSION_COOKIE,
            session_token(key),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout() -> JSONResponse:
        response = JSONResponse({"signed_in": False})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


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
    field = searcher.runtime.vector_fields[0]
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
        vector = np.array(searcher.retrieval.embed(analysis, "mean")[field], dtype=np.float32)
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
