"""What ingest, delete and search promise, checked against the real node.

No input aborts a load; deletes touch only what the catalog no longer names
and only indices xlsearch created; an empty load leaves nothing behind;
credentials never reach output; SIGINT/SIGTERM stop cleanly and resume.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlsearch_es.cli import main
from xlsearch_es.cluster.connection import connect, describe_error, redact
from xlsearch_es.cluster.indices import delete_all
from xlsearch_es.config import load_settings
from xlsearch_es.errors import ClusterError, ConfigError, IndexMismatchError, XLSearchError
from xlsearch_es.ingest.checkpoint import Checkpoint
from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "samples" / "catalog.jsonl"


@pytest.fixture(scope="module")
def no_translation(model_settings):
    from xlsearch_es.translate.factory import make_translator

    return make_translator(model_settings.replace(translator="none"))


def load(settings, encoder, translator, client, path, **opts):
    return IngestPipeline(settings, client, encoder, translator, IngestOptions(path=str(path), **opts)).run()


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    return path


def ids_in(client, index: str) -> set[str]:
    client.indices.refresh(index=index)
    return {h["_id"] for h in client.search(index=index, size=1000, source=False)["hits"]["hits"]}


PRODUCTS = [{"id": f"p{i}", "title": f"Blue cotton shirt {i}", "language": "en", "price": 10 + i} for i in range(6)]


# ------------------------------------------------------------ property-based --

_awkward_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_values = (st.none() | st.booleans() | _awkward_text | st.integers(min_value=-(10 ** 400), max_value=10 ** 400)
           | st.floats(allow_nan=True, allow_infinity=True) | st.lists(st.integers(), max_size=2))
_record = st.fixed_dictionaries(
    {"id": st.one_of(st.text(min_size=1, max_size=12), st.integers(min_value=-(10 ** 300), max_value=10 ** 300))},
    optional={"title": _awkward_text | _values, "price": _values, "brand": _values, "language": _values,
              "attributes": st.dictionaries(st.text(max_size=6), _values, max_size=3), "currency": _values,
              "category": _values | st.lists(_awkward_text, max_size=3)})


@pytest.mark.es
@pytest.mark.model
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(records=st.lists(_record, min_size=1, max_size=12))
def test_generated_catalogs_never_abort_and_always_add_up(records, es_settings, model_settings, es_client, encoder,
                                                          no_translation, index_name, tmp_path_factory):
    lines = []
    for rec in records:
        try:
            lines.append(json.dumps(rec, ensure_ascii=False))
        except ValueError:  # an integer past Python's print limit: the broken line still counts
            lines.append('{"id": "unprintable", "title": ' + "9" * 5000 + "}")
    path = tmp_path_factory.mktemp("gen") / "catalog.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings_ = es_settings.replace(index=index_name, languages=("en", "de"), home=model_settings.home)
    summary = load(settings_, encoder, no_translation, es_client, path, delete_missing=True)
    assert summary.read == len(lines) == summary.indexed + summary.rejected + summary.unchanged
    if summary.indexed:
        assert es_client.count(index=index_name)["count"] == summary.indexed
        delete_all(es_client, index_name)
    else:
        assert not es_client.indices.exists(index=index_name), "an all-rejected load left an index behind"


# ------------------------------------------------------------------ deletes --

@pytest.mark.es
@pytest.mark.model
def test_delete_missing_spares_ids_on_rejected_lines_and_skips_when_an_id_is_unreadable(
        es_settings, model_settings, es_client, encoder, no_translation, index_name, tmp_path):
    settings_ = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home)
    load(settings_, encoder, no_translation, es_client, write_jsonl(tmp_path / "full.jsonl", PRODUCTS))
    assert ids_in(es_client, index_name) == {f"p{i}" for i in range(6)}

    # p1's line is now invalid (its price), p5 is gone: only p5 may be deleted.
    edited = [*PRODUCTS[:1], {**PRODUCTS[1], "price": "cheap"}, *PRODUCTS[2:5]]
    summary = load(settings_, encoder, no_translation, es_client, write_jsonl(tmp_path / "a.jsonl", edited),
                   delete_missing=True)
    assert summary.deleted == 1 and summary.rejected == 1 and summary.delete_skipped is None
    assert ids_in(es_client, index_name) == {f"p{i}" for i in range(5)}

    # A broken line could name any product: nothing is deleted unless forced.
    broken = [*PRODUCTS[:2], '{"id": "p2", "title": "cut off', *PRODUCTS[3:4]]
    path = write_jsonl(tmp_path / "b.jsonl", broken)
    summary = load(settings_, encoder, no_translation, es_client, path, delete_missing=True)
    assert summary.deleted == 0 and "line 3" in summary.delete_skipped
    assert any("--force-delete-missing" in n for n in summary.notes)
    assert ids_in(es_client, index_name) == {f"p{i}" for i in range(5)}
    forced = load(settings_, encoder, no_translation, es_client, path, delete_missing=True,
                  force_delete_missing=True)
    assert forced.deleted == 2 and ids_in(es_client, index_name) == {"p0", "p1", "p3"}


@pytest.mark.es
def test_index_commands_refuse_patterns_and_foreign_indices(es_settings, es_client, index_name):
    runner = CliRunner()
    base = ["--url", es_settings.es_url]
    for name in ("*", "_all", f"{index_name}*", f"{index_name},other", f"-{index_name}", "a?b", "<logs-{now/d}>"):
        for cmd in (["index", "delete"], ["index", "info"], ["ingest", str(CATALOG)], ["search", "shirt"]):
            out = runner.invoke(main, base + cmd + ["--index", name])
            assert out.exit_code == 1 and out.output.startswith("error: index name"), (cmd, name, out.output)

    foreign = f"{index_name}-v1"  # named like one of ours, but not ours
    es_client.indices.create(index=foreign, mappings={"properties": {"x": {"type": "keyword"}}})
    es_client.indices.put_alias(index=foreign, name=index_name)
    out = runner.invoke(main, base + ["index", "delete", "--index", index_name])
    assert out.exit_code == 1 and "xlsearch did not create" in out.output
    out = runner.invoke(main, base + ["ingest", str(CATALOG), "--index", index_name, "--rebuild"])
    assert out.exit_code == 1 and "xlsearch did not create" in out.output
    assert es_client.indices.exists(index=foreign)
    assert es_client.indices.get_alias(name=index_name).keys() == {foreign}


@pytest.mark.es
@pytest.mark.model
def test_delete_removes_only_our_versions(es_settings, model_settings, es_client, index_name):
    from xlsearch_es.service import create_index

    settings_ = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home)
    create_index(settings_, es_client)
    stranger = f"{index_name}-v9"
    es_client.indices.create(index=stranger)
    assert delete_all(es_client, index_name) == [f"{index_name}-v1"]
    assert es_client.indices.exists(index=stranger)


# --------------------------------------------------------------- empty loads --

@pytest.mark.es
@pytest.mark.model
def test_all_rejected_load_leaves_no_index_and_keeps_the_alias_on_rebuild(
        es_settings, model_settings, es_client, encoder, no_translation, index_name, tmp_path):
    settings_ = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x"}, "not json", {"title": "no id"}])
    summary = load(settings_, encoder, no_translation, es_client, bad)
    assert (summary.read, summary.rejected, summary.indexed) == (3, 3, 0)
    assert not es_client.indices.exists(index=f"{index_name}-v1") and "was removed" in summary.notes[0]

    load(settings_, encoder, no_translation, es_client, write_jsonl(tmp_path / "ok.jsonl", PRODUCTS))
    current = es_client.indices.get_alias(name=index_name).keys()
    summary = load(settings_, encoder, no_translation, es_client, bad, rebuild=True)
    assert summary.indexed == 0 and es_client.indices.get_alias(name=index_name).keys() == current
    assert f"still points at {next(iter(current))}" in summary.notes[0]
    assert ids_in(es_client, index_name) == {f"p{i}" for i in range(6)}


# ---------------------------------------------------------- int8 vs fp32 --

@pytest.mark.es
@pytest.mark.model
def test_int8_and_fp32_vectors_never_mix(es_settings, model_settings, es_client, encoder, no_translation,
                                         index_name, tmp_path):
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings
    from xlsearch_es.search.client import XLSearchClient

    int8_settings = model_settings.replace(quantize_int8=True)
    int8 = Encoder(spec_from_settings(int8_settings))
    assert int8.fingerprint == encoder.fingerprint + "-onnx-int8"  # --backend auto: ONNX Runtime on the CPU
    settings_ = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home)
    path = write_jsonl(tmp_path / "c.jsonl", PRODUCTS)
    load(settings_, int8, no_translation, es_client, path)
    with pytest.raises(IndexMismatchError, match="holds int8 vectors .* add --int8"):
        load(settings_, encoder, no_translation, es_client, path)
    # Search picks the index's precision by itself.
    client = XLSearchClient(settings_)
    assert client.runtime.embedders["embedding"].fingerprint.endswith("-int8")
    assert client.search("blue shirt", k=3).hits


# ------------------------------------------------------------------ queries --

@pytest.mark.es
@pytest.mark.model
def test_queries_past_the_window_and_bad_ids_are_clear_errors(es_settings, model_settings, es_client, encoder,
                                                               no_translation, index_name, tmp_path):
    from xlsearch_es.search.client import XLSearchClient

    settings_ = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home)
    load(settings_, encoder, no_translation, es_client, write_jsonl(tmp_path / "q.jsonl", PRODUCTS))
    client = XLSearchClient(settings_, client=es_client, encoder=encoder, translator=no_translation)
    assert client.search("shirt", k=10, page=1000).hits == []  # the last page answers (empty here)
    for mode in ("hybrid", "knn", "bm25"):
        with pytest.raises(XLSearchError, match="page 1001 is past the last page: with k=10 the last page is 1000"):
            client.search("shirt", k=10, page=1001, mode=mode)
    with pytest.raises(XLSearchError, match="last page is 400"):
        client.search("shirt", k=25, page=401)
    with pytest.raises(XLSearchError, match="empty"):
        client.similar("")
    with pytest.raises(XLSearchError, match="no product with id 'nope'"):
        client.similar("nope")
    runner = CliRunner()
    for flt in ("price=nan", "price=..inf", "price=1e400"):
        out = runner.invoke(main, ["--url", es_settings.es_url, "search", "shirt", "--index", index_name,
                                   "--filter", flt])
        assert out.exit_code == 1 and "finite" in out.output and "Traceback" not in out.output
    out = runner.invoke(main, ["--url", es_settings.es_url, "similar", "", "--index", index_name])
    assert out.exit_code == 1 and "error: similar needs a product id" in out.output
    # A single number is an exact price.
    exact = client.search("shirt", k=10, mode="bm25", filters=__import__(
        "xlsearch_es.search.query_builder", fromlist=["SearchFilters"]).SearchFilters.from_pairs(["price=12"]))
    assert [h.id for h in exact.hits] == ["p2"]


# ------------------------------------------------------------------ secrets --

AWKWARD_PASSWORDS = ["p@ss", "p:ss", "p/ss", "p#ss", "p?ss", "p%41ss", "p ss", "päss€", "p@:/#?[]%&=+$,;ss",
                     "@@@", "pa'ss\"wd", "x" * 300]


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        body = b'{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":401}'
        self.send_response(401)
        for key, value in (("Content-Type", "application/json"), ("X-Elastic-Product", "Elasticsearch"),
                           ("Content-Length", str(len(body)))):
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_credentials_in_the_url_never_appear(password, caplog) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://elastic:{password}@127.0.0.1:{server.server_address[1]}"
        settings_ = load_settings(environ={"ELASTICSEARCH_URL": url})
        # Percent-escapes are decoded as in any URL ("%41" is "A"); everything else is taken as written.
        assert settings_.es_password == unquote(password) and settings_.es_username == "elastic"
        shown = [repr(settings_), json.dumps(settings_.redacted()), str(settings_), redact(url, settings_)]
        caplog.set_level(logging.DEBUG)
        with pytest.raises(ClusterError) as err:
            connect(settings_)
        shown.append(str(err.value))
        shown += [r.getMessage() for r in caplog.records]
        result = CliRunner().invoke(main, ["index", "list"], env={"ELASTICSEARCH_URL": url})
        assert result.exit_code == 1 and "rejected the credentials" in result.output
        shown.append(result.output)
        for text in shown:
            assert password not in text and unquote(password) not in text, text
    finally:
        server.shutdown()


def test_describe_error_masks_passwords_inside_messages() -> None:
    from elasticsearch import TransportError

    settings_ = load_settings(environ={"ELASTICSEARCH_URL": "https://u:s3cr%2Ft@h:9243"})
    assert settings_.es_password == "s3cr/t"
    message = describe_error(TransportError("failed for https://u:s3cr%2Ft@h:9243 with s3cr/t"), settings_)
    assert "s3cr" not in message


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="ISO 639-1"):
        load_settings(environ={"XLSEARCH_LANGUAGES": "en,eng"})
    with pytest.raises(ConfigError, match="index name"):
        load_settings(environ={"XLSEARCH_INDEX": "prod*"})


# --------------------------------------------------------------- interrupts --

@pytest.mark.es
@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("sig,code,int8", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_signals_stop_cleanly_after_a_checkpoint_and_resume(sig, code, int8, es_settings, model_settings,
                                                            es_client, index_name):
    env = {**os.environ, "ELASTICSEARCH_URL": es_settings.es_url, "XLSEARCH_HOME": str(model_settings.home_dir)}
    cmd = [sys.executable, "-m", "xlsearch_es.cli", "ingest", str(CATALOG), "--index", index_name,
           "--languages", "en,de", "--translator", "none", "--batch-size", "16", "--json"] + (["--int8"] if int8 else [])
    ckpt = Checkpoint(model_settings.home_dir, IngestOptions(path=str(CATALOG)), index_name).path
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.is_file() and json.loads(ckpt.read_text()).get("line", 0) >= 32:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    assert "interrupted by" in err and "run the same command again to resume" in err and "Traceback" not in err
    state = json.loads(ckpt.read_text())
    assert 0 < state["line"] < 320
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    data = json.loads(resumed.stdout)
    assert data["resumed_from_line"] == state["line"] and data["read"] == 320
    assert data["read"] == data["indexed"] + data["rejected"] + data["unchanged"]
    assert es_client.count(index=index_name)["count"] == 320 and not ckpt.exists()


# ------------------------------------------------------ the sink's own retries --

@pytest.mark.es
def test_sink_halves_a_refused_request_and_retries_an_outage(es_settings, es_client, index_name):
    """streaming_bulk does neither: a bulk request refused whole (400) is split until
    the one document that causes it is rejected alone; a connection failure is
    retried for the actions not yet acknowledged. The real node indexes the rest."""
    from elasticsearch import ApiError, Elasticsearch
    from elasticsearch import ConnectionError as ESConnectionError

    from xlsearch_es.ingest.sink import BulkPolicy, index_action, send_bulk

    state = {"outages": 1, "requests": 0}

    class Flaky(Elasticsearch):
        def bulk(self, *args, operations=None, **kwargs):  # noqa: ANN001, ANN201 - elasticsearch-py signature
            state["requests"] += 1
            if state["outages"]:
                state["outages"] -= 1
                raise ESConnectionError("connection refused (simulated)")
            if any(b'"poison"' in op if isinstance(op, bytes) else "poison" in str(op) for op in operations):
                refused = es_client.options(ignore_status=400).indices.create(index="-refused")
                raise ApiError("refused as a whole", refused.meta, refused.body)
            return super().bulk(*args, operations=operations, **kwargs)

    client = Flaky(es_settings.es_url)
    es_client.indices.create(index=index_name)
    actions = [(index_action(f"d{i}"), {"n": i, "tag": "poison" if i == 5 else "ok"}) for i in range(12)]
    result = send_bulk(client, index_name, actions, BulkPolicy(initial_backoff=0.01), sleep=lambda s: None)
    assert result.indexed == 11 and result.retries == 1
    assert [pid for pid, _ in result.failed] == ["d5"] and "(400)" in result.failed[0][1]
    es_client.indices.refresh(index=index_name)
    assert es_client.count(index=index_name)["count"] == 11
    assert state["requests"] >= 5  # outage retry, then halves down to the culprit
