"""The Elasticsearch-compatible routes on the allow-list (see ``policy``): _search with
the xlsearch clause expanded, _bulk/_doc/_create through enrichment, and the reads
forwarded unchanged. Forwarded writes keep the cluster's verdict: a refusal of the
whole request is returned as that refusal, per-item errors keep their positions."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from ..cluster.connection import cluster_errors
from ..config import Settings
from ..errors import ClusterError, XLSearchError
from ..ingest.online import index_records
from .bodies import decode_utf8, parse_json, search_filters
from .context import ServiceContext, audit_write
from .gateway import BulkAction, ClauseRequest, bulk_item, bulk_lines, expand_xlsearch, parse_bulk
from .guard import API_KEY_HEADER, ELASTIC_HEADERS
from .policy import PolicyError, is_served
from .searchers import SearchService

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
# Never sent on to the cluster: the service's own key and the page's session.
PRIVATE_HEADERS = {API_KEY_HEADER, "cookie", "origin", "referer"}
PRIVATE_PARAMS = {"api_key"}


def gateway_routes(app: FastAPI, ctx: ServiceContext) -> None:
    for routes in (_gateway_search_routes, _gateway_bulk_routes, _gateway_doc_routes, _proxy_route):
        routes(app, ctx)


def _gateway_search_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """Elasticsearch's _search, with the xlsearch clause expanded."""

    @app.api_route("/{index}/_search", methods=["GET", "POST"], include_in_schema=False)
    async def gateway_search(index: str, request: Request) -> Response:
        raw = await request.body()
        body = parse_json(raw, "the search body") if raw.strip() else {}
        if not isinstance(body, dict):
            raise XLSearchError("a search body must be a JSON object")
        deadline = ctx.deadline()

        def run_clause(clause: ClauseRequest, window: int) -> list[tuple[str, float]]:
            searcher = ctx.service().searcher(index)
            resp = searcher.search(
                clause.query,
                lang=clause.lang,
                mode=clause.mode,  # type: ignore[arg-type]
                fusion=clause.fusion,
                filters=search_filters(clause.filters),
                k=window,
                highlight=False,
                deadline=deadline,
                focus=not clause.all,
            )
            ctx.service().metrics.observe_stages(resp.timings_ms)
            # what matches the query (the total counts only that), so the cluster's
            # hits.total and aggregations describe the same products
            return [(h.id, h.score) for h in resp.hits[: resp.total]]

        expanded = await ctx.blocking(lambda: expand_xlsearch(body, run_clause, ctx.settings.serve_max_clauses))
        content = json.dumps(body).encode() if expanded else raw
        return await _forward(ctx.state["http"], request, f"/{index}/_search", content)


def _gateway_bulk_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """Elasticsearch's _bulk on the served indices, through enrichment."""

    @app.api_route("/_bulk", methods=["POST", "PUT"], include_in_schema=False)
    async def gateway_bulk(request: Request) -> Response:
        return await _bulk(request, None)

    @app.api_route("/{index}/_bulk", methods=["POST", "PUT"], include_in_schema=False)
    async def gateway_index_bulk(index: str, request: Request) -> Response:
        return await _bulk(request, index)

    async def _bulk(request: Request, index: str | None) -> Response:
        started = time.perf_counter()
        actions = parse_bulk(decode_utf8(await request.body(), "the _bulk body"), index)
        refresh = request.query_params.get("refresh")
        items, forwarded = await ctx.blocking(lambda: _enrich_bulk(ctx.service(), ctx.settings, actions, refresh))
        if forwarded:
            params = {k: v for k, v in request.query_params.items() if k not in PRIVATE_PARAMS}
            try:
                resp = await ctx.state["http"].post(
                    "/_bulk",
                    content=bulk_lines([a for a, _ in forwarded]).encode(),
                    params=params,
                    headers={"content-type": "application/x-ndjson", "accept-encoding": "identity"},
                )
            except httpx.HTTPError as exc:
                raise ClusterError(f"cannot reach the cluster: {type(exc).__name__}") from None
            if len(forwarded) == len(actions) and not resp.is_success:  # refused whole: say so, as it said it
                audit_write(
                    request,
                    request.url.path,
                    index or "",
                    actions=len(actions),
                    failed=len(actions),
                    status=resp.status_code,
                )
                return Response(resp.content, status_code=resp.status_code, headers=_upstream_headers(resp))
            _merge_forwarded(items, forwarded, resp)
        errors = any(next(iter(i.values())).get("error") for i in items if i)
        audit_write(
            request,
            request.url.path,
            index or ",".join(sorted({a.index or "" for a in actions})),
            actions=len(actions),
            failed=sum(1 for i in items if next(iter(i.values())).get("error")),
        )
        return JSONResponse(
            {"took": int((time.perf_counter() - started) * 1e3), "errors": errors, "items": items},
            headers=ELASTIC_HEADERS,
        )


def _merge_forwarded(
    items: list[dict[str, Any]], forwarded: list[tuple[BulkAction, int]], resp: httpx.Response
) -> None:
    """The cluster's answers for the forwarded actions, in their places. A refusal of the
    whole request (or an answer that does not account for every action) marks each of
    them failed with the cluster's status: never an empty success."""
    answered: list[Any] = []
    if resp.is_success:
        try:
            answered = list(resp.json().get("items", []))
        except (ValueError, AttributeError):
            answered = []
    if len(answered) == len(forwarded):
        for (_, position), item in zip(forwarded, answered, strict=True):
            items[position] = item
        return
    status = resp.status_code if not resp.is_success else 502
    try:
        reason = json.dumps(resp.json().get("error", resp.json()))[:500]
    except (ValueError, AttributeError):
        reason = resp.text[:500]
    for action, position in forwarded:
        items[position] = bulk_item(
            action.op,
            action.index,
            action.id,
            status,
            "rejected",
            f"the cluster refused the request ({status}): {reason}",
        )


def _gateway_doc_routes(app: FastAPI, ctx: ServiceContext) -> None:
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
            raise PolicyError(403, f"index [{index}] is not an xlsearch index; load a catalog into it first")
        source = parse_json(raw or b"null", "the document")
        if doc_id is None and not (isinstance(source, dict) and source.get("id") is not None):
            raise XLSearchError(f"{index!r} is an xlsearch index: a document needs an id (in the path or its 'id')")
        op = "create" if "/_create/" in request.url.path else "index"
        action = BulkAction(position=0, op="index", index=index, id=doc_id, source=source)
        refresh = request.query_params.get("refresh")
        items, _ = await ctx.blocking(lambda: _enrich_bulk(ctx.service(), ctx.settings, [action], refresh))
        item = items[0]["index"]
        audit_write(
            request,
            f"/{{index}}/_{'create' if op == 'create' else 'doc'}",
            index,
            actions=1,
            failed=int("error" in item),
        )
        if "error" in item:
            error = {**item["error"], "root_cause": [item["error"]]}
            return JSONResponse(
                {"error": error, "status": item["status"]}, status_code=item["status"], headers=ELASTIC_HEADERS
            )
        return JSONResponse(
            {k: v for k, v in item.items() if k != "status"}, status_code=item["status"], headers=ELASTIC_HEADERS
        )


def _proxy_route(app: FastAPI, ctx: ServiceContext) -> None:
    """What the allow-list lets through unchanged (reads on served indices, single-document
    deletes), and everything when the operator opened the passthrough."""

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"], include_in_schema=False)
    async def proxy(path: str, request: Request) -> Response:
        decision = getattr(request.state, "decision", None)
        if decision is None or decision.kind == "own":
            return JSONResponse({"error": f"no route {request.method} /{path}"}, status_code=404)
        body = await request.body()
        if path.endswith("/_mget") and decision.kind == "read" and body.strip():
            _check_mget(parse_json(body, "the _mget body"), ctx.settings.served_indices)
        response = await _forward(ctx.state["http"], request, "/" + path, body)
        if request.method not in ("GET", "HEAD"):
            audit_write(request, f"{request.method} /{path}", decision.index or "", status=response.status_code)
        return response


def _check_mget(body: Any, served: tuple[str, ...]) -> None:
    """An _mget on a served index may not name documents of another index."""
    docs = body.get("docs", []) if isinstance(body, dict) else []
    for doc in docs if isinstance(docs, list) else []:
        other = doc.get("_index") if isinstance(doc, dict) else None
        if other is not None and (not isinstance(other, str) or not is_served(other, served)):
            raise PolicyError(403, f"index [{other}] is not served here")


def _sort_actions(
    service: SearchService, settings: Settings, actions: list[BulkAction], items: list[dict[str, Any]]
) -> tuple[list[tuple[BulkAction, int]], dict[str, list[BulkAction]]]:
    """Where each action goes: refused in its place in ``items`` (no index, not served,
    not an xlsearch index, update), forwarded (deletes), or grouped by index for enrichment."""
    forwarded: list[tuple[BulkAction, int]] = []
    managed: dict[str, bool] = {}
    groups: dict[str, list[BulkAction]] = {}
    for action in actions:
        if action.index is None:
            items[action.position] = bulk_item(
                action.op, None, action.id, 400, "rejected", "no index: name one in the path or the action's _index"
            )
            continue
        if not is_served(action.index, settings.served_indices):
            items[action.position] = bulk_item(
                action.op, action.index, action.id, 403, "rejected", f"index [{action.index}] is not served here"
            )
            continue
        if action.index not in managed:
            managed[action.index] = service.manages(action.index)
        if not managed[action.index]:
            items[action.position] = bulk_item(
                action.op, action.index, action.id, 403, "rejected", f"[{action.index}] is not an xlsearch index"
            )
        elif action.op == "delete":
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
    return forwarded, groups


def _enrich_bulk(
    service: SearchService, settings: Settings, actions: list[BulkAction], refresh: str | None
) -> tuple[list[dict[str, Any]], list[tuple[BulkAction, int]]]:
    """Index/create actions on served xlsearch indices go through enrichment; deletes on
    them are returned to be forwarded; an action on any other index is refused (403) in
    its place. Items come back in the request's order."""
    items: list[dict[str, Any]] = [{} for _ in actions]
    forwarded, groups = _sort_actions(service, settings, actions, items)
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


def _upstream_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}


def upstream_request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The client's headers as the cluster gets them: no hop-by-hop headers, never the
    service's key, the page's cookie or Origin; compression only if the client asked
    (httpx would otherwise ask for it on the client's behalf)."""
    out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP | PRIVATE_HEADERS}
    asked = next((v for k, v in out.items() if k.lower() == "accept-encoding"), None)
    out = {k: v for k, v in out.items() if k.lower() != "accept-encoding"}
    out["accept-encoding"] = asked or "identity"
    return out


async def _forward(http: httpx.AsyncClient, request: Request, path: str, content: bytes) -> Response:
    """Send the request on to the cluster and stream its answer back, headers kept (the
    client's own credentials are forwarded when it sent any; the service's key, the page's
    cookie and Origin never are). Compression only when the client asked for it."""
    headers = upstream_request_headers(request.headers)
    params: list[tuple[str, str | int | float | bool | None]] = [
        (k, v) for k, v in request.query_params.multi_items() if k not in PRIVATE_PARAMS
    ]
    upstream = http.build_request(request.method, path, params=params, headers=headers, content=content)
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
