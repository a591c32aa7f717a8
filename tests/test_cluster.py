"""Real-node tests: index from mappings/, bulk, kNN, BM25, filters, alias swap, probe."""

from __future__ import annotations

import http.server
import threading

import pytest
from click.testing import CliRunner
from elasticsearch import ApiError, helpers

from xlsearch_es.cli import main
from xlsearch_es.cluster import indices
from xlsearch_es.cluster.capabilities import probe
from xlsearch_es.cluster.connection import connect
from xlsearch_es.errors import ClusterError, XLSearchError
from xlsearch_es.mapping import ModelMeta, build_index_body, load_template

pytestmark = pytest.mark.es
META = ModelMeta(name="tiny", fingerprint="f00d", dims=4, query_prefix="", passage_prefix="")
DOCS = [
    ("p1", "red summer dress", "clothing", 19.9, [1.0, 0.0, 0.0, 0.0]),
    ("p2", "blue denim jeans", "clothing", 49.0, [0.0, 1.0, 0.0, 0.0]),
    ("p3", "wireless earbuds", "electronics", 89.0, [0.0, 0.0, 1.0, 0.0]),
    ("p4", "red phone case", "electronics", 9.5, [0.9, 0.0, 0.1, 0.0]),
]


def _body(es_client):
    caps = probe(es_client)
    return build_index_body(load_template(), ("en", "zh"), META, "none",
                            language_analyzers=caps.language_analyzers,
                            exclude_source_vectors_setting=caps.exclude_source_vectors_setting)


def _fill(es_client, index: str) -> None:
    actions = [{"_index": index, "_id": pid, "_source": {
        "id": pid, "source_language": "en", "title": {"en": title}, "category_path": cat,
        "price": price, "availability": "in_stock", "embedding": vec}} for pid, title, cat, price, vec in DOCS]
    ok, errors = helpers.bulk(es_client, actions, refresh="wait_for")
    assert ok == len(DOCS) and not errors


def test_create_bulk_knn_match_filter_and_alias_swap(es_client, index_name):
    v1 = indices.create_versioned(es_client, index_name, _body(es_client), point_alias=True)
    assert v1 == f"{index_name}-v1"
    assert indices.resolve_alias(es_client, index_name) == v1
    _fill(es_client, index_name)

    meta = indices.read_meta(es_client, index_name)
    assert meta["model"]["dims"] == 4 and meta["languages"] == ["en", "zh"]
    got = es_client.get(index=index_name, id="p1")["_source"]
    assert got["embedding"] == [1.0, 0.0, 0.0, 0.0]  # vectors visible for Kibana

    knn = es_client.search(index=index_name, knn={"field": "embedding", "query_vector": [1, 0, 0, 0],
                                                  "k": 2, "num_candidates": 10})
    assert [h["_id"] for h in knn["hits"]["hits"]] == ["p1", "p4"]

    bm25 = es_client.search(index=index_name, query={"match": {"title.en": "denim"}})
    assert [h["_id"] for h in bm25["hits"]["hits"]] == ["p2"]

    filtered = es_client.search(index=index_name, knn={
        "field": "embedding", "query_vector": [1, 0, 0, 0], "k": 3, "num_candidates": 10,
        "filter": {"term": {"category_path": "electronics"}}})
    assert [h["_id"] for h in filtered["hits"]["hits"]][:1] == ["p4"]
    assert all(h["_source"]["category_path"] == "electronics" for h in filtered["hits"]["hits"])

    with pytest.raises(XLSearchError, match="already exists"):
        indices.create_versioned(es_client, index_name, _body(es_client), point_alias=True)

    v2 = indices.create_versioned(es_client, index_name, _body(es_client), point_alias=False)
    assert v2 == f"{index_name}-v2" and indices.resolve_alias(es_client, index_name) == v1
    old = indices.swap_alias(es_client, index_name, v2, delete_old=True)
    assert old == v1 and indices.resolve_alias(es_client, index_name) == v2
    assert indices.versions(es_client, index_name) == [v2]
    assert es_client.count(index=index_name)["count"] == 0
    assert indices.delete_all(es_client, index_name) == [v2]


def test_client_speaks_orjson_with_numpy_and_any_script(es_client, index_name, es_settings):
    """Requests are serialized by orjson: numpy vectors and scalars, and any script, arrive as sent."""
    import numpy as np
    from elasticsearch.serializer import OrjsonSerializer

    client = connect(es_settings)
    assert isinstance(client.transport.serializers.get_serializer("application/json"), OrjsonSerializer)
    indices.create_versioned(client, index_name, _body(client), point_alias=True)
    title = "Ткань 😀 \u200b 布料 \"quoted\" \\ back"
    vector = np.array([0.6, 0.8, 0.0, 0.0], dtype=np.float32)
    doc = {"id": "n1", "title": {"original": title}, "embedding": vector, "price": np.float32(9.5)}
    client.index(index=index_name, id="n1", document=doc, refresh=True)
    got = client.get(index=index_name, id="n1")["_source"]
    assert got["title"]["original"] == title and got["price"] == 9.5
    assert np.allclose(got["embedding"], vector)
    hits = client.search(index=index_name, knn={"field": "embedding", "query_vector": vector, "k": 1, "num_candidates": 5})
    assert hits["hits"]["hits"][0]["_id"] == "n1"


def test_strict_mapping_rejects_unknown_fields(es_client, index_name):
    indices.create_versioned(es_client, index_name, _body(es_client), point_alias=True)
    with pytest.raises(ApiError):
        es_client.index(index=index_name, id="x", document={"id": "x", "surprise": 1})


def test_probe_matches_what_the_cluster_does(es_client):
    caps = probe(es_client)
    assert caps.version.startswith("9.")
    assert probe(es_client) is caps  # cached per client
    try:
        es_client.indices.analyze(analyzer="english", text="running shoes")
        has_english = True
    except ApiError:
        has_english = False
    assert caps.language_analyzers is has_english


def test_unreachable_url_is_a_clear_error(es_settings):
    bad = es_settings.replace(es_url="http://127.0.0.1:9", es_request_timeout=2)
    with pytest.raises(ClusterError, match="cannot reach Elasticsearch at http://127.0.0.1:9"):
        connect(bad)


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        body = b'{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":401}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


def test_wrong_credentials_give_one_line_error_without_secret(es_settings):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = CliRunner().invoke(main, ["--url", url, "--api-key", "TOPSECRETKEY", "index", "list"])
        assert result.exit_code == 1
        assert "rejected the credentials" in result.output
        assert "TOPSECRETKEY" not in result.output and "Traceback" not in result.output
    finally:
        server.shutdown()


def test_cli_index_create_twice_and_info(es_settings, index_name, model_settings):
    runner = CliRunner()
    args = ["--url", es_settings.es_url]
    first = runner.invoke(main, args + ["index", "create", "--index", index_name, "--languages", "en,ja", "--json"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, args + ["index", "create", "--index", index_name])
    assert second.exit_code == 1
    assert second.output.strip().startswith("error:") and "already exists" in second.output
    assert len(second.output.strip().splitlines()) == 1
    info = runner.invoke(main, args + ["index", "info", "--index", index_name, "--json"])
    assert info.exit_code == 0 and f"{index_name}-v1" in info.output
    listed = runner.invoke(main, args + ["index", "list", "--json"])
    assert index_name in listed.output
    gone = runner.invoke(main, args + ["index", "delete", "--index", index_name])
    assert gone.exit_code == 0
    missing = runner.invoke(main, args + ["index", "info", "--index", index_name])
    assert missing.exit_code == 1 and "no index named" in missing.output
