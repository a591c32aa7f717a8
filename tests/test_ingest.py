"""The ingest worker against the real node, with the real encoder and dictionaries."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.errors import IndexMismatchError
from xlsearch_es.ingest.checkpoint import Checkpoint
from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline
from xlsearch_es.ingest.sink import BulkPolicy, ClusterUnavailable
from xlsearch_es.ingest.source import in_shard

pytestmark = [pytest.mark.es, pytest.mark.model]
ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "samples" / "catalog.jsonl"
LANGS = ("en", "zh", "ja", "de", "es")


@pytest.fixture(scope="module")
def translator(model_settings):
    from xlsearch_es.translate.factory import make_translator

    return make_translator(model_settings.replace(languages=LANGS))  # compiles what the tests load


def run(settings, encoder, translator, client, path, **opts):
    return IngestPipeline(settings, client, encoder, translator, IngestOptions(path=str(path), **opts)).run()


def hashes(client, index):
    client.indices.refresh(index=index)
    resp = client.search(index=index, size=10_000, source_includes=["content_hash"], query={"match_all": {}})
    return {h["_id"]: h["_source"]["content_hash"] for h in resp["hits"]["hits"]}


def test_sample_catalog_loads_then_is_unchanged_then_three_edits(
        model_settings, es_settings, es_client, encoder, translator, index_name, tmp_path):
    settings = es_settings.replace(index=index_name, languages=LANGS, model=None, home=model_settings.home)
    first = run(settings, encoder, translator, es_client, CATALOG)
    assert first.read == 320 and first.indexed == 320 and first.rejected == 0 and first.unchanged == 0
    assert first.read == first.indexed + first.rejected + first.unchanged

    meta = es_client.indices.get_mapping(index=first.index)[first.index]["mappings"]["_meta"]
    assert meta["model"]["name"] == "multilingual-e5-small" and meta["model"]["dims"] == 384
    assert meta["model"]["fingerprint"] == encoder.fingerprint and meta["languages"] == list(LANGS)
    doc = es_client.get(index=index_name, id="zh-dress-003")["_source"]
    assert len(doc["embedding"]) == 384
    assert set(doc["title"]) == {"original", *LANGS}
    assert "dress" in doc["title"]["en"] and doc["title"]["zh"] == doc["title"]["original"]
    assert doc["brand"]["en"] == "H&M"  # brand names are not translated
    assert es_client.count(index=index_name)["count"] == 320

    embedded = encoder.stats["embedded"]
    second = run(settings, encoder, translator, es_client, CATALOG)
    assert (second.read, second.indexed, second.unchanged, second.embedded) == (320, 0, 320, 0)
    assert encoder.stats["embedded"] == embedded

    lines = CATALOG.read_text(encoding="utf-8").splitlines()
    edited = tmp_path / "edited.jsonl"
    for i in (5, 100, 250):
        rec = json.loads(lines[i])
        rec["price"] = round(rec["price"] + 1, 2)
        lines[i] = json.dumps(rec, ensure_ascii=False)
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    third = run(settings, encoder, translator, es_client, edited)
    assert (third.indexed, third.unchanged, third.embedded) == (3, 317, 3)

    # --delete-missing removes products a full catalog no longer has.
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    fourth = run(settings, encoder, translator, es_client, fewer, delete_missing=True)
    assert fourth.deleted == 20 and fourth.unchanged == 300
    es_client.indices.refresh(index=index_name)
    assert es_client.count(index=index_name)["count"] == 300


BAD_LINES = [
    b'{"id": "ok-1", "title": "Red summer dress", "language": "en", "price": 10}',
    b'{"id": "broken", "title": "no closing brace"',
    b'{"title": "no id here"}',
    b'{"id": "no-title", "description": "has no title"}',
    b'{"id": "bad-price", "title": "Jeans", "price": "cheap"}',
    b'{"id": ["list"], "title": "Wrong id type"}',
    b'{"id": "huge", "title": "Huge description", "description": "' + b"x" * (1 << 20) + b'"}',
    b'{"id": "bad-utf8", "title": "caf\xc3\x28 latte"}',
    b'{"id": "ok-1", "title": "Duplicate of the first"}',
    b'["not", "an", "object"]',
    b'{"id": "ok-2", "title": "\xe7\xba\xa2\xe8\x89\xb2 \xe8\xbf\x9e\xe8\xa1\xa3\xe8\xa3\x99 \\u0000 \xf0\x9f\x98\x80", "brand": "Zara"}',
    b'{"id": "bad-attr", "title": "Shoes", "attributes": {"nested": {"a": 1}}}',
    b'',
    b'{"id": 42, "title": "Integer ids are fine", "currency": "usd"}',
]


def test_malformed_input_goes_to_the_dead_letter_file(es_settings, model_settings, es_client, encoder,
                                                      translator, index_name, tmp_path):
    settings = es_settings.replace(index=index_name, languages=("en", "zh"), home=model_settings.home)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(BAD_LINES) + b"\n")
    dead = tmp_path / "dead.jsonl"
    summary = run(settings, encoder, translator, es_client, path, dead_letter=str(dead))
    assert summary.read == 13 and summary.indexed == 3 and summary.rejected == 10
    reasons = {r["line"]: r["reason"] for r in map(json.loads, dead.read_text().splitlines())}
    assert reasons[2].startswith("broken JSON")
    assert reasons[3] == "missing id"
    assert reasons[4] == "missing title"
    assert "price must be a number" in reasons[5]
    assert "id must be a string or integer" in reasons[6]
    assert "description is too long" in reasons[7]
    assert reasons[8].startswith("invalid UTF-8")
    assert "duplicate id 'ok-1' (first seen on line 1)" == reasons[9]
    assert "JSON object" in reasons[10]
    assert "attribute 'nested' must be a scalar" in reasons[12]
    es_client.indices.refresh(index=index_name)
    assert sorted(h["_id"] for h in es_client.search(index=index_name, size=20)["hits"]["hits"]) == ["42", "ok-1", "ok-2"]
    assert es_client.get(index=index_name, id="42")["_source"]["currency"] == "USD"


def test_csv_with_column_mapping_and_shards(es_settings, model_settings, tmp_path, index_name):
    csv_path = tmp_path / "cat.csv"
    rows = ["sku,name,price,language,attributes"]
    rows += [f'p{i},Blue denim jeans size {30 + i},{20 + i},en,"{{""size"": ""{30 + i}""}}"' for i in range(12)]
    rows.append("bad,row,with,too,many,fields")
    csv_path.write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    base = ["--url", es_settings.es_url, "ingest", str(csv_path), "--index", index_name, "--languages", "en,de",
            "--map", "sku=id", "--map", "name=title", "--json"]
    totals = {"read": 0, "indexed": 0, "rejected": 0}
    for shard in ("1/2", "2/2"):
        out = runner.invoke(main, base + ["--shard", shard])
        assert out.exit_code == 0, out.output
        data = json.loads(out.output[out.output.index("{"):])
        for k in totals:
            totals[k] += data[k]
    # The bad row has no id, so both workers see (and reject) it: 12 products + 2 rejections.
    assert totals == {"read": 14, "indexed": 12, "rejected": 2}
    assert sum(in_shard(f"p{i}", (1, 2)) for i in range(12)) not in (0, 12)


def test_model_mismatch_is_refused(es_settings, model_settings, es_client, encoder, translator, index_name, tmp_path):
    from xlsearch_es.cluster.indices import create_versioned
    from xlsearch_es.mapping import ModelMeta
    from xlsearch_es.service import index_body

    settings = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home)
    other = ModelMeta(name="other-model", fingerprint="0000", dims=768, query_prefix="", passage_prefix="")
    create_versioned(es_client, index_name, index_body(settings, es_client, other), point_alias=True)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        run(settings, encoder, translator, es_client, CATALOG)
    summary = run(settings, encoder, translator, es_client, CATALOG, rebuild=True)
    assert summary.index == f"{index_name}-v2" and summary.indexed == 320
    assert es_client.indices.get_alias(name=index_name).keys() == {f"{index_name}-v2"}
    assert not es_client.indices.exists(index=f"{index_name}-v1")


def test_sigkill_then_resume_matches_a_clean_run(es_settings, model_settings, es_client, encoder, translator,
                                                  index_name, tmp_path):
    settings = es_settings.replace(index=index_name + "-clean", languages=LANGS, home=model_settings.home)
    clean = run(settings, encoder, translator, es_client, CATALOG)
    env = {**os.environ, "ELASTICSEARCH_URL": es_settings.es_url, "XLSEARCH_HOME": str(model_settings.home_dir)}
    # The same encoder as the clean run (e5 alone), so the content hashes compare.
    cmd = [sys.executable, "-m", "xlsearch_es.cli", "--encoders", "transformers", "ingest", str(CATALOG),
           "--index", index_name, "--languages", ",".join(LANGS), "--batch-size", "16", "--json"]
    ckpt = Checkpoint(model_settings.home_dir, IngestOptions(path=str(CATALOG)), index_name).path
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ckpt.is_file() and json.loads(ckpt.read_text()).get("line", 0) >= 48:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = json.loads(ckpt.read_text())
    assert 0 < state["line"] < 320, "the run was not killed part-way"
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["resumed_from_line"] == state["line"]
    assert data["read"] == 320 and data["read"] == data["indexed"] + data["rejected"] + data["unchanged"]
    assert not ckpt.exists()
    assert hashes(es_client, index_name) == hashes(es_client, clean.index)
    assert es_client.count(index=index_name)["count"] == 320
    # A search from the command line is quiet: no progress bars or library warnings on stderr.
    search = subprocess.run([sys.executable, "-m", "xlsearch_es.cli", "search", "rotes Kleid", "--index", index_name,
                             "--k", "3"], env=env, capture_output=True, text=True, timeout=300)
    assert search.returncode == 0 and "1." in search.stdout and search.stderr == "", search.stderr[-500:]


@pytest.mark.slow
def test_node_down_part_way_then_resume(base_settings, model_settings, encoder, translator, tmp_path):
    import socket

    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.cluster.node import node_paths, start_node, stop_node

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = base_settings.replace(es_port=port, es_url=f"http://127.0.0.1:{port}", index="down-test",
                                     languages=("en", "de"), es_max_retries=0, es_request_timeout=5)
    start_node(settings)
    try:
        client = connect(settings)
        opts = dict(batch_size=8, bulk=BulkPolicy(max_retries=2, initial_backoff=0.2))
        failure: list[BaseException] = []

        def work():
            try:
                run(settings, encoder, translator, client, CATALOG, **opts)
            except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
                failure.append(exc)

        ckpt = Checkpoint(settings.home_dir, IngestOptions(path=str(CATALOG)), "down-test").path
        worker = threading.Thread(target=work)
        worker.start()
        while worker.is_alive() and not (ckpt.is_file() and json.loads(ckpt.read_text()).get("line", 0) >= 40):
            time.sleep(0.05)
        stop_node(settings)
        worker.join(timeout=300)
        assert failure and isinstance(failure[0], ClusterUnavailable), failure
        assert "run the same command again to resume" in str(failure[0])
        assert ckpt.is_file()
        start_node(settings)
        client = connect(settings)
        summary = run(settings, encoder, translator, client, CATALOG, **opts)
        assert summary.resumed_from_line > 0 and summary.read == 320
        assert summary.read == summary.indexed + summary.rejected + summary.unchanged
        client.indices.refresh(index="down-test")
        assert client.count(index="down-test")["count"] == 320
        client.indices.delete(index=",".join(client.indices.get(index="down-test*")))
    finally:
        stop_node(settings)
        shutil.rmtree(node_paths(settings).node_dir, ignore_errors=True)
