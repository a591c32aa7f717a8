"""A small seeded sample of the real evaluation, end to end on the real node."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.errors import XLSearchError
from xlsearch_es.evaluation.dataset import load_dataset

pytestmark = [pytest.mark.es, pytest.mark.model, pytest.mark.slow]


def test_load_dataset_sampling(shared_data):
    ds = load_dataset(shared_data / "xquad-r-xling", sample=4)
    assert ds.languages == ["de", "en", "es", "ru", "zh"] and len(ds.queries) == 20
    again = load_dataset(shared_data / "xquad-r-xling", sample=4)
    assert [q["_id"] for q in ds.queries] == [q["_id"] for q in again.queries]  # seeded
    assert all(ds.qrels[q["_id"]] for q in ds.queries)


def test_not_a_beir_folder(tmp_path):
    with pytest.raises(XLSearchError, match="not a BEIR dataset"):
        load_dataset(tmp_path)


def test_eval_sample_writes_reports(shared_data, es_settings, model_settings, es_client, tmp_path):
    out = tmp_path / "reports"
    existed = set(es_client.indices.get(index="eval-xquad-r-xling-*", allow_no_indices=True))
    result = CliRunner().invoke(main, [
        "--url", es_settings.es_url, "eval", str(shared_data / "xquad-r-xling"), "--sample", "5",
        "--modes", "bm25-original,bm25+qt+dt,knn,hybrid-rrf", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "xquad-r-xling.json").read_text())
    assert report["queries"] == 25 and [v["variant"] for v in report["variants"]] == \
        ["bm25-original", "bm25+qt+dt", "knn", "hybrid-rrf"]
    for v in report["variants"]:
        assert set(v["overall"]) == {"ndcg@10", "recall@100", "mrr@10"}
        assert set(v["per_language"]) == {"de", "en", "es", "ru", "zh"}
        assert 0 <= v["overall"]["ndcg@10"] <= 1 and v["errors"] == 0
    knn = next(v for v in report["variants"] if v["variant"] == "knn")
    assert knn["overall"]["mrr@10"] > 0.3  # e5 alone finds most answers even on 25 queries
    assert set(report["cross_lingual_gap"]["knn"]) == {"de", "es", "ru", "zh"}
    md = (out / "xquad-r-xling.md").read_text()
    assert "| hybrid-rrf |" in md and "Cross-lingual gap" in md
    assert (out / "xquad-r-xling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if report["index"] not in existed:  # a developer's full evaluation index stays
        es_client.indices.delete(index=report["index"])
