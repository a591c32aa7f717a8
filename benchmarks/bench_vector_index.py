"""Vector index types side by side: recall@10 against exact cosine, query latency,
and the memory and disk each vector costs, from the cluster's own stats.

    python benchmarks/bench_vector_index.py --out benchmarks/results/vector_index.json

Data (all multilingual-e5-small, 384 dims):
- the shared sets' corpora, read back from the eval indices (``xlsearch eval`` builds
  them), queried with their own judged queries embedded by the same model;
- a generated set of ``--generated`` vectors (200,000 by default): mixtures of two real
  corpus vectors plus noise, normalised, so it keeps the clustered shape of real
  embeddings (uniform random vectors would make every index look worse than it is).

Each type gets its own index (one shard, force-merged to one segment, so every type
is measured on the same graph conditions), 10 nearest neighbours with 100 candidates
(``num_candidates``), as search sends them. ``bbq_hnsw`` rescoring oversamples 3x
(the cluster's default for bbq). Latency: p50/p95 over the queries after one warm
pass, client-side, one query at a time. Off-heap bytes per vector: the
``dense_vector`` stats (what must stay in the page cache for fast search: the graph
plus the vectors the search reads); disk: ``_disk_usage`` of the vector field.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, SHARED, peak_rss_mb
from elasticsearch import Elasticsearch, helpers

from xlsearch_es.config import load_settings
from xlsearch_es.embed.base import load_embedders
from xlsearch_es.evaluation.dataset import load_dataset

TYPES: dict[str, dict[str, Any]] = {
    "flat": {"type": "flat"},
    "hnsw": {"type": "hnsw", "m": 16, "ef_construction": 100},
    "int8_hnsw": {"type": "int8_hnsw", "m": 16, "ef_construction": 100},
    "bbq_hnsw": {"type": "bbq_hnsw", "m": 16, "ef_construction": 100, "rescore_vector": {"oversample": 3.0}},
}
K, CANDIDATES = 10, 100


def corpus_vectors(es: Elasticsearch, alias: str) -> np.ndarray:
    """The e5 vectors of an eval index (its ``embedding`` field)."""
    out = []
    body = {"query": {"match_all": {}}, "_source": ["embedding"]}
    for hit in helpers.scan(es, index=alias, query=body):
        vec = hit["_source"].get("embedding")
        if vec:
            out.append(vec)
    return np.asarray(out, dtype=np.float32)


def query_vectors(name: str, limit: int) -> np.ndarray:
    """The set's judged queries, embedded as search embeds them (query prefix)."""
    dataset = load_dataset(SHARED / name, split="all")
    texts = [q["text"] for q in dataset.queries][:limit]
    embedder = load_embedders(load_settings({"encoders": ["transformers"]}))["embedding"]
    return np.asarray(embedder.encode(texts, role="query"), dtype=np.float32)


def generated(base: np.ndarray, n: int, queries: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = base[rng.integers(0, len(base), n + queries)]
    b = base[rng.integers(0, len(base), n + queries)]
    w = rng.uniform(0.2, 0.8, size=(n + queries, 1)).astype(np.float32)
    x = w * a + (1 - w) * b + 0.02 * rng.standard_normal(a.shape).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:]


def exact_top(docs: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    docs_n = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    out = []
    for start in range(0, len(queries), 256):
        sims = queries[start : start + 256] @ docs_n.T
        out.extend(np.argsort(-sims, axis=1)[:, :K].tolist())
    return out


def build(es: Elasticsearch, name: str, options: dict[str, Any], docs: np.ndarray) -> float:
    if es.indices.exists(index=name):
        es.indices.delete(index=name)
    es.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"},
        mappings={
            "properties": {
                "v": {"type": "dense_vector", "dims": docs.shape[1], "similarity": "cosine", "index_options": options}
            }
        },
    )
    t0 = time.perf_counter()
    actions = ({"_index": name, "_id": str(i), "v": vec.tolist()} for i, vec in enumerate(docs))
    helpers.bulk(es, actions, chunk_size=1000, request_timeout=600)
    es.indices.refresh(index=name)
    es.indices.forcemerge(index=name, max_num_segments=1, request_timeout=3600)
    es.indices.refresh(index=name)
    return time.perf_counter() - t0


def measure(es: Elasticsearch, name: str, queries: np.ndarray, truth: list[list[int]]) -> dict[str, Any]:
    def ask(q: np.ndarray) -> list[int]:
        knn = {"field": "v", "query_vector": q.tolist(), "k": K, "num_candidates": CANDIDATES}
        resp = es.search(index=name, knn=knn, size=K, source=False)
        return [int(h["_id"]) for h in resp["hits"]["hits"]]

    for q in queries[:50]:
        ask(q)  # warm the page cache
    latencies, recalls = [], []
    for q, want in zip(queries, truth):
        t0 = time.perf_counter()
        got = ask(q)
        latencies.append((time.perf_counter() - t0) * 1e3)
        recalls.append(len(set(got) & set(want)) / K)
    stats = es.indices.stats(index=name, metric="dense_vector")["_all"]["primaries"]["dense_vector"]
    count = max(int(stats["value_count"]), 1)
    off_heap = stats.get("off_heap", {})
    usage = es.perform_request(
        "POST", f"/{name}/_disk_usage", params={"run_expensive_tasks": "true"}, headers={"accept": "application/json"}
    ).body
    field = usage[name]["fields"].get("v", {})
    latencies.sort()
    return {
        "recall@10": round(statistics.mean(recalls), 4),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "vectors": count,
        "off_heap_bytes_per_vector": round(int(off_heap.get("total_size_bytes", 0)) / count, 1),
        "off_heap_files": {k: v for k, v in off_heap.items() if k != "total_size_bytes" and v},
        "disk_bytes_per_vector": round(int(field.get("knn_vectors_in_bytes", 0)) / count, 1),
    }


def run_set(es: Elasticsearch, label: str, docs: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    truth = exact_top(docs, queries)
    rows = {}
    for kind, options in TYPES.items():
        name = f"bench-vectors-{label}-{kind}".lower()
        seconds = build(es, name, options, docs)
        rows[kind] = {"index_seconds": round(seconds, 1), **measure(es, name, queries, truth)}
        es.indices.delete(index=name)
        print(label, kind, rows[kind], flush=True)
    return {"documents": len(docs), "queries": len(queries), "types": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generated", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--out", type=Path, default=RESULTS / "vector_index.json")
    args = ap.parse_args()
    settings = load_settings()
    es = Elasticsearch(settings.es_url, request_timeout=600)
    results: dict[str, Any] = {"k": K, "num_candidates": CANDIDATES, "sets": {}}
    pool = []
    for name in ("cikm-qc-xling", "xquad-r-xling"):
        docs = corpus_vectors(es, f"eval-{name}-lexicon-transformers-use")
        pool.append(docs)
        results["sets"][name] = run_set(es, name, docs, query_vectors(name, args.queries))
    base = np.concatenate(pool)
    docs, queries = generated(base, args.generated, args.queries)
    results["sets"][f"generated-{args.generated}"] = run_set(es, "generated", docs, queries)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
