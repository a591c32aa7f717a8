"""``xlsearch serve`` against a running server on loopback and the real node: the
native API, the Elasticsearch-compatible gateway (driven by the official
elasticsearch client, unmodified), metrics, and the pages (headless chromium
where it is installed)."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.service_thread import free_port, running_service, wait_ready

pytestmark = [pytest.mark.es, pytest.mark.model]

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "catalog.jsonl"
NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def served(es_settings, model_settings, tmp_path_factory):
    """A small catalog in its own index, and the service running on a free port."""
    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest

    alias = f"test-serve-{int(time.time())}"
    tmp = tmp_path_factory.mktemp("serve")
    catalog = tmp / "catalog.jsonl"
    catalog.write_text("".join(SAMPLES.read_text(encoding="utf-8").splitlines(keepends=True)[:80]), encoding="utf-8")
    settings = es_settings.replace(index=alias, languages=("en", "de", "es"), home=model_settings.home)
    summary = run_ingest(settings, IngestOptions(path=str(catalog), progress=False))
    assert summary.indexed == 80
    with running_service(settings) as base:
        yield {"base": base, "alias": alias, "settings": settings}
    es = connect(settings)
    es.indices.delete(index=",".join(es.indices.get(index=f"{alias}*")))
    from xlsearch_es.relevance.events import EventStore

    for day in EventStore(es, alias, retention_days=1).days():  # the searches and clicks it recorded
        es.indices.delete(index=day)


def test_health_readiness_and_metrics(served):
    base = served["base"]
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["ready"] and ready["index"] == served["alias"] and ready["vector_fields"] == ["embedding", "embedding_use"]
    httpx.post(f"{base}/v1/search", json={"query": "red dress", "k": 3})
    text = httpx.get(f"{base}/metrics").text
    assert 'xlsearch_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert 'xlsearch_search_stage_seconds_count{stage="embed"}' in text
    assert httpx.get(f"{base}/openapi.json").json()["paths"]["/v1/search"]


def test_native_search_is_the_cli_document(served, es_client):
    from xlsearch_es.search.client import XLSearchClient

    base = served["base"]
    resp = httpx.post(f"{base}/v1/search", json={"query": "grüne Waschmaschine", "k": 5, "explain": True})
    assert resp.status_code == 200
    data = resp.json()
    direct = XLSearchClient(served["settings"], client=es_client).search("grüne Waschmaschine", k=5, explain=True)
    assert [h["id"] for h in data["hits"]] == [h.id for h in direct.hits]
    assert set(data) >= {"query", "lang", "hits", "facets", "translations", "timings_ms"}
    assert data["hits"][0]["components"]["ranks"]
    bad = httpx.post(f"{base}/v1/search", json={"query": "x", "k": 0})
    assert bad.status_code == 400 and "k must be" in bad.json()["error"]
    bad_filter = httpx.post(f"{base}/v1/search", json={"query": "x", "filters": ["price=abc"]})
    assert bad_filter.status_code == 400 and "not a number" in bad_filter.json()["error"]
    first = data["hits"][0]["id"]
    similar = httpx.get(f"{base}/v1/similar/{first}", params={"k": 3}).json()
    assert len(similar["hits"]) == 3 and first not in [h["id"] for h in similar["hits"]]
    assert served["alias"] in [i["alias"] for i in httpx.get(f"{base}/v1/indices").json()]


def test_native_ingest_keeps_the_accounting(served):
    base = served["base"]
    body = "\n".join([json.dumps({"id": "api-1", "title": "Blaue Thermoskanne 1 l", "language": "de"}),
                      "{broken json", json.dumps({"id": "api-2", "title": ""})]) + "\n"
    summary = httpx.post(f"{base}/v1/ingest", params={"index": served["alias"]}, content=body, timeout=120,
                         headers=NDJSON).json()
    assert (summary["read"], summary["indexed"], summary["rejected"]) == (3, 1, 2)
    assert "/" not in summary["dead_letter"]  # the file is named; the server's paths stay on the server
    dead = served["settings"].home_dir / "dead-letter" / summary["dead_letter"]
    lines = dead.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["line"] for line in lines} == {2, 3}


def test_gateway_with_the_official_client(served, es_client):
    from elasticsearch import AuthorizationException, BadRequestError, Elasticsearch, helpers

    alias = served["alias"]
    es = Elasticsearch(served["base"])
    assert es.ping() and es.info()["version"]["number"]
    hybrid = httpx.post(f"{served['base']}/v1/search", json={"query": "zapatillas negras", "k": 5}).json()
    resp = es.search(index=alias, query={"xlsearch": {"query": "zapatillas negras"}}, size=5,
                     aggs={"brands": {"terms": {"field": "brand_exact"}}})
    assert [h["_id"] for h in resp["hits"]["hits"]] == [h["id"] for h in hybrid["hits"]]
    assert resp["aggregations"]["brands"]["buckets"] and "title" in resp["hits"]["hits"][0]["_source"]
    # The clause stands for what matches the query (the running shoes: hits.total counts them);
    # a filter around it narrows those.
    assert resp["hits"]["total"]["value"] == hybrid["total"] < 20
    filtered = es.search(index=alias, size=5, query={"bool": {
        "must": [{"xlsearch": {"query": "zapatillas negras", "lang": "es"}}],
        "filter": [{"range": {"price": {"lte": 150}}}]}})
    assert filtered["hits"]["hits"] and all(h["_source"]["price"] <= 150 for h in filtered["hits"]["hits"])
    assert all("running_shoes" in h["_id"] for h in filtered["hits"]["hits"])
    everything = es.search(index=alias, size=50, query={"xlsearch": {"query": "zapatillas negras", "all": True}})
    assert everything["hits"]["total"]["value"] > resp["hits"]["total"]["value"]
    plain = es.search(index=alias, query={"match": {"title.original": "Sony"}}, size=3)  # passed through
    assert all("Sony" in h["_source"]["title"]["original"] for h in plain["hits"]["hits"])
    with pytest.raises(BadRequestError):
        es.search(index=alias, query={"xlsearch": {"text": "no query key"}})

    ok, errors = helpers.bulk(es, [
        {"_index": alias, "_id": "gw-1", "_source": {"title": "Rote Kaffeemaschine Siemens EQ6", "language": "de"}},
        {"_index": alias, "_id": "gw-2", "_source": {"title": ""}},
        {"_op_type": "update", "_index": alias, "_id": "gw-1", "doc": {"price": 3}},
    ], raise_on_error=False, refresh=True)
    assert ok == 1 and len(errors) == 2
    assert errors[0]["index"]["error"]["reason"] == "missing title"
    assert "update is not supported" in errors[1]["update"]["error"]["reason"]
    doc = es_client.get(index=alias, id="gw-1")["_source"]
    assert doc["title"]["en"] and doc["embedding"] and doc["content_hash"]  # translated and embedded on the way in
    # The same product through a batch load gets the same index-specific fields (attributes here).
    line = json.dumps({"id": "gw-batch", "title": "Rote Kaffeemaschine Siemens EQ6", "language": "de"}) + "\n"
    assert httpx.post(f"{served['base']}/v1/ingest", params={"index": alias}, content=line,
                      timeout=120, headers=NDJSON).json()["indexed"] == 1
    batch_doc = es_client.get(index=alias, id="gw-batch")["_source"]
    assert doc["attr"] == batch_doc["attr"] and "red" in str(doc["attr"]["color"])
    assert es.index(index=alias, id="gw-3", document={"title": "green kettle", "language": "en"},
                    refresh=True)["result"] == "created"
    with pytest.raises(BadRequestError, match="missing title"):
        es.index(index=alias, id="gw-4", document={"price": 3})
    assert es.delete(index=alias, id="gw-3", refresh=True)["result"] == "deleted"

    # An index the service does not serve is neither written nor read through it.
    other = f"{alias}-plain"
    _, refused = helpers.bulk(es, [{"_index": other, "_id": "1", "_source": {"anything": "goes"}}],
                              raise_on_error=False, refresh=True)
    assert refused[0]["index"]["status"] == 403 and not es_client.indices.exists(index=other)
    with pytest.raises(AuthorizationException):
        es.count(index=other)


def test_api_key_guards_every_route_but_health(served):
    from fastapi.testclient import TestClient

    from xlsearch_es.serve.app import create_app

    app = create_app(served["settings"].replace(api_key="s3cret", serve_allowed_hosts=("testserver",)))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.post("/v1/search", json={"query": "dress"}).status_code == 401
        assert client.get("/_cluster/health").status_code == 401
        assert client.post("/v1/search", json={"query": "dress"}, headers={"X-XLSearch-Key": "s3cret"}).status_code == 200
        big = client.post("/v1/ingest", content=b"x" * 10, headers={"X-XLSearch-Key": "s3cret", **NDJSON,
                                                                     "content-length": str(60 * 1024 * 1024)})
        assert big.status_code == 413


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install chromium)")
def test_pages_in_headless_chromium(served, tmp_path):
    base, browser = served["base"], _chromium()
    answer = httpx.post(f"{base}/v1/search", json={"query": "grüne Waschmaschine", "k": 10}).json()
    expected = answer["hits"][0]["id"]
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000"]
    dom = subprocess.run([*common, "--dump-dom", f"{base}/?q=grüne Waschmaschine"], capture_output=True, text=True,
                         timeout=120).stdout
    assert f'data-id="{expected}"' in dom and 'id="detected">de<' in dom
    # the count the page shows is the API's focused total; facets show their labels, not keys
    assert f'id="total">{answer["total"]}<' in dom
    for key, label in answer["facet_labels"]["category"].items():
        assert f'data-value="{html.escape(key)}"' in dom and f">{html.escape(label, quote=False)} (" in dom
    vec = subprocess.run([*common, "--dump-dom", f"{base}/vectors?q=red dress"], capture_output=True, text=True,
                         timeout=120).stdout
    assert 'id="query-point"' in vec and vec.count('class="product"') >= 50 and vec.count('class="nearest"') == 5
    for page, name in ((f"{base}/?q=grüne Waschmaschine", "search.png"), (f"{base}/vectors?q=red dress", "vectors.png")):
        subprocess.run([*common, "--window-size=1280,900", f"--screenshot={tmp_path / name}", page],
                       capture_output=True, timeout=120)
        assert (tmp_path / name).stat().st_size > 10_000


def test_sigterm_lets_the_request_in_flight_finish(served, tmp_path):
    """The CLI's server: SIGTERM while an ingest runs; the ingest answers in full, then exit 0."""
    import os
    import signal
    import sys

    settings, port = served["settings"], free_port()
    env = {**os.environ, "XLSEARCH_HOME": str(settings.home), "ELASTICSEARCH_URL": settings.es_url}
    proc = subprocess.Popen([sys.executable, "-m", "xlsearch_es.cli", "serve", "--index", served["alias"],
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        body = "".join(json.dumps({"id": f"bulk-{i}", "title": f"Wanderschuhe Modell {i} wasserdicht",
                                   "language": "de"}) + "\n" for i in range(300))
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(httpx.post(
            f"{base}/v1/ingest", params={"index": served["alias"]}, content=body, timeout=300,
            headers=NDJSON).json()))
        worker.start()
        time.sleep(2.0)  # the ingest is embedding now
        proc.send_signal(signal.SIGTERM)
        worker.join(timeout=300)
        assert proc.wait(timeout=120) == 0
        assert result.get("indexed") == 300, result
    finally:
        if proc.poll() is None:
            proc.kill()


SHOPPER_QUERIES = ["red dress", "black running shoes", "wireless earbuds", "green charger", "blue laptop",
                   "white kettle", "pink backpack", "smartphone 128GB", "phone case silicone", "headphones",
                   "zapatillas negras", "grüne Waschmaschine", "vestido rojo", "Kopfhörer schwarz",
                   "coffee maker", "vacuum cleaner", "toy for kids", "watch", "jeans", "washing machine"]


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install chromium)")
def test_clicks_on_the_page_are_recorded_and_train_learns_from_them(served, es_client, tmp_path):
    """A shopper searches on the page and clicks a product (headless chromium); the service
    keeps the search and the click in the cluster; tune and train read them back with
    --from-index. Clicks the service did not show are refused, and nothing else is stored."""
    from click.testing import CliRunner

    from tests.browser import Browser
    from xlsearch_es.cli import main
    from xlsearch_es.relevance.events import EventStore, judgments_from_events, read_events

    base, alias = served["base"], served["alias"]
    browser = Browser(_chromium())
    try:
        browser.open(f"{base}/?q=red dress")
        first = browser.wait_for("document.querySelector('.hit[data-id]')?.dataset.id")
        browser.evaluate("document.querySelector('.hit[data-id]').click()")
        assert browser.wait_for("document.querySelector('.hit[data-id]').dataset.recorded") == "1"
    finally:
        browser.close()
    # More shoppers, through the API the page uses: search, then click the top product.
    for query in SHOPPER_QUERIES:
        found = httpx.post(f"{base}/v1/search", json={"query": query, "k": 5}).json()
        clicked = httpx.post(f"{base}/v1/click", json={"search_id": found["search_id"],
                                                       "product_id": found["hits"][0]["id"]})
        assert clicked.status_code == 200 and clicked.json()["position"] == 1
    # Refused: a product that search did not show, an id the service never gave out, a forged one.
    found = httpx.post(f"{base}/v1/search", json={"query": "kettle", "k": 3}).json()
    shown = {h["id"] for h in found["hits"]}
    other = next(h["id"] for h in httpx.post(f"{base}/v1/search", json={"query": "laptop", "k": 10}).json()["hits"]
                 if h["id"] not in shown)
    for body, reason in (({"search_id": found["search_id"], "product_id": other}, "was not shown"),
                         ({"search_id": "20261205-" + "0" * 32, "product_id": other}, "no such search"),
                         ({"search_id": "../_cluster", "product_id": other}, "not one this service gave out")):
        refused = httpx.post(f"{base}/v1/click", json=body)
        assert refused.status_code == 400 and reason in refused.json()["error"], refused.text
    hostile = httpx.post(f"{base}/v1/click", json={"search_id": found["search_id"], "product_id": next(iter(shown))},
                         headers={"origin": "http://evil.example"})
    assert hostile.status_code == 403  # another site cannot plant clicks through a shopper's browser
    assert httpx.post(f"{base}/v1/click", json={"search_id": found["search_id"], "product_id": "x" * 10_000}
                      ).status_code in (400, 422)
    events = list(read_events(es_client, alias))
    searches = [e for e in events if e["type"] == "search"]
    clicks = [e for e in events if e["type"] == "click"]
    assert len(clicks) == len(SHOPPER_QUERIES) + 1 and any(c["product_id"] == first for c in clicks)
    assert {"query", "lang", "shown", "page"} <= set(searches[0]) and "client" not in searches[0]
    assert all(set(e) <= set(EventStore.__dataclass_fields__) | {
        "type", "ts", "index", "search_id", "query", "lang", "shown", "page", "size", "product_id", "position"}
        for e in events)
    judgments = judgments_from_events(events, {c["product_id"]: "text" for c in clicks}, "log")
    assert len(judgments.queries) == len(SHOPPER_QUERIES) + 1 - 1  # "red dress" searched twice: one query

    runner = CliRunner()
    cli = ["--url", served["settings"].es_url, "--home", str(served["settings"].home)]
    tuned = runner.invoke(main, cli + ["tune", "--from-index", "--index", alias, "--holdout", "0.2",
                                       "--validation", "0.75", "--dry-run", "--json"])
    assert tuned.exit_code == 0, tuned.output
    assert json.loads(tuned.stdout)["queries"] >= 1
    trained = runner.invoke(main, cli + ["train", "--from-index", "--index", alias, "--out", str(tmp_path / "m"),
                                         "--holdout", "0.2", "--validation", "0.2", "--max-steps", "2",
                                         "--epochs", "1", "--batch-size", "4", "--json"])
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["training"]["data"].startswith("events-")
    both = runner.invoke(main, cli + ["tune", str(tmp_path), "--from-index", "--index", alias])
    assert both.exit_code == 2 and "not both" in both.output
