"""Do results depend on the shard count? One shard against three (one replica), on a
local 2-node cluster, with and without distributed term statistics (dfs).

    xlsearch es start --nodes 2 --port 9270
    ELASTICSEARCH_URL=http://127.0.0.1:9270 python benchmarks/bench_shards.py --out benchmarks/results/shards.json

The xquad-r corpus is loaded twice (``--shards 1 --replicas 0`` and ``--shards 3
--replicas 1``); its test-split queries (``--sample`` per language) run in each mode.
Reported: overlap@10 of the 3-shard top 10 with the 1-shard top 10, nDCG@10 of each,
and p50 latency, with dfs off and on (kNN candidates are per shard, so recall can
only grow with shards; BM25's term statistics are per shard unless dfs gathers them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import RESULTS, SHARED

from xlsearch_es.config import load_settings
from xlsearch_es.evaluation.dataset import corpus_as_catalog, load_dataset
from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest
from xlsearch_es.relevance.metrics import mean, ndcg_at_k
from xlsearch_es.search.client import XLSearchClient

SET = "xquad-r-xling"
MODES = ("bm25", "knn", "hybrid")


def load(alias: str, shards: int, replicas: int, languages: tuple[str, ...]) -> None:
    settings = load_settings({"index": alias, "languages": languages, "shards": shards, "replicas": replicas})
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "corpus.jsonl"
        corpus_as_catalog(SHARED / SET, catalog)
        run_ingest(settings, IngestOptions(path=str(catalog), rebuild=True, progress=False))


def run(client: XLSearchClient, queries: list[dict], mode: str) -> tuple[dict[str, list[str]], float]:
    runs, times = {}, []
    for q in queries:
        t0 = time.perf_counter()
        resp = client.search(q["text"], lang=q.get("lang"), k=10, mode=mode, highlight=False)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1e3)
        runs[q["_id"]] = [h.id for h in resp.hits]
    return runs, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS / "shards.json")
    args = ap.parse_args()
    dataset = load_dataset(SHARED / SET, sample=args.sample, split="test")
    languages = tuple(dict.fromkeys(["en", *[lg for lg in dataset.languages if lg != "und"]]))
    load("bench-shards-1", 1, 0, languages)
    load("bench-shards-3", 3, 1, languages)
    one = XLSearchClient(load_settings({"index": "bench-shards-1"}))
    rows = []
    for dfs in (False, True):
        three = XLSearchClient(load_settings({"index": "bench-shards-3", "search_dfs": dfs}))
        for mode in MODES:
            base, base_ms = run(one, dataset.queries, mode)
            split, split_ms = run(three, dataset.queries, mode)
            overlap = [len(set(base[q]) & set(split[q])) / 10 for q in base if base[q]]
            row = {
                "mode": mode,
                "dfs": dfs,
                "overlap@10": round(statistics.mean(overlap), 4),
                "ndcg@10_1shard": round(mean([ndcg_at_k(base[q], dataset.qrels[q], 10) for q in base]) or 0, 4),
                "ndcg@10_3shards": round(mean([ndcg_at_k(split[q], dataset.qrels[q], 10) for q in split]) or 0, 4),
                "p50_ms_1shard": round(base_ms, 1),
                "p50_ms_3shards": round(split_ms, 1),
            }
            rows.append(row)
            print(row, flush=True)
    result = {"set": SET, "queries": len(dataset.queries), "nodes": 2, "rows": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
