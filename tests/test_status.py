"""``xlsearch status``: one screen of what this machine has, read without doing any work."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main

pytestmark = [pytest.mark.es]


def test_status_reports_node_model_dictionaries_and_index_fit(es_settings, model_settings, index_name, tmp_path):
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest

    catalog = tmp_path / "c.jsonl"
    catalog.write_text(json.dumps({"id": "s1", "title": "Red dress", "language": "en"}) + "\n", encoding="utf-8")
    settings = es_settings.replace(index=index_name, home=model_settings.home, encoders=("transformers",))
    assert run_ingest(settings, IngestOptions(path=str(catalog), progress=False)).indexed == 1
    args = ["--url", es_settings.es_url, "--home", str(model_settings.home_dir), "--encoders", "transformers"]
    result = CliRunner().invoke(main, [*args, "status", "--json"])
    data = json.loads(result.output)
    assert data["node"]["reachable"] and data["node"]["health"] in ("green", "yellow")
    assert data["models"]["prepared"] and data["models"]["tokenizer_max_length"] == 512
    row = next(r for r in data["indices"] if r["alias"] == index_name)
    assert row["docs"] == 1 and row["compatible"] is True and row["encoders"] == ["transformers"]
    assert result.exit_code == (0 if data["ok"] else 3)
    text = CliRunner().invoke(main, [*args, "status"]).output
    assert f"index        {index_name} ->" in text and "cluster" in text.splitlines()[0]


def test_status_says_what_to_fix_when_nothing_is_there(tmp_path):
    args = ["--url", "http://127.0.0.1:9", "--home", str(tmp_path / "empty")]
    result = CliRunner().invoke(main, [*args, "status", "--json"])
    data = json.loads(result.output)
    assert result.exit_code == 3 and not data["ok"] and not data["node"]["reachable"]
    assert any("models prepare" in p for p in data["problems"]) and any("es start" in p for p in data["problems"])


def test_status_checks_the_query_adapter_and_reranker_folders(tmp_path):
    """A configured adapter or reranker folder that cannot be read is a problem status names."""
    args = ["--url", "http://127.0.0.1:9", "--home", str(tmp_path / "empty"), "--query-adapter", str(tmp_path),
            "--reranker", str(tmp_path / "nothing")]
    data = json.loads(CliRunner().invoke(main, [*args, "status", "--json"]).output)
    assert any(p.startswith("query adapter:") and "adapter.json" in p for p in data["problems"])
    assert any(p.startswith("reranker:") and "config.json" in p for p in data["problems"])
