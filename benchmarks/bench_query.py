"""Query latency (p50/p95 per stage and end to end), 4-thread throughput and memory.

    .venv/bin/python benchmarks/bench_query.py [--dataset xquad-r-xling] [--queries 500] [--backends torch,onnx]

Uses the index `xlsearch eval` built for the dataset's corpus (run that first).
The encoder's own time for one query is measured in the same run, so the goal
"end-to-end p50 <= 2 x encoder time" is a ratio, not an absolute time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, peak_rss_mb, read_jsonl, require_shared, write_result  # noqa: E402
from xlsearch_es.relevance.metrics import percentile  # noqa: E402


def _measure(settings, queries: list[dict], mode: str) -> dict:
    from xlsearch_es.search.client import XLSearchClient

    client = XLSearchClient(settings)
    for q in queries[:20]:
        client.search(q["text"], k=10, mode=mode)
    transformers = client.runtime.embedders["embedding"]
    # One forward of the transformers encoder for one query (cache off), on the same texts.
    enc_ms = []
    for q in queries[:200]:
        t0 = time.perf_counter()
        transformers.encode([q["text"]], role="query", use_cache=False)
        enc_ms.append((time.perf_counter() - t0) * 1e3)
    for embedder in client.runtime.embedders.values():
        getattr(embedder, "_cache", {}).clear()  # cold embeddings: a repeat would flatter the search
    stages: dict[str, list[float]] = {}
    total = []
    for q in queries:
        resp = client.search(q["text"], k=10, mode=mode)
        total.append(resp.took_ms)
        for name, ms in resp.timings_ms.items():
            stages.setdefault(name, []).append(ms)
    for embedder in client.runtime.embedders.values():
        getattr(embedder, "_cache", {}).clear()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda q: client.search(q["text"], k=10, mode=mode), queries))
    qps4 = len(queries) / (time.perf_counter() - t0)
    enc_p50 = statistics.median(enc_ms)
    out = {
        "backend": getattr(transformers, "backend", settings.backend),
        "encoders": list(client.runtime.embedders),
        "end_to_end_ms": {"p50": round(percentile(total, 50), 1), "p95": round(percentile(total, 95), 1)},
        "stages_ms": {k: {"p50": round(percentile(v, 50), 2), "p95": round(percentile(v, 95), 2)}
                      for k, v in stages.items()},
        "encoder_one_query_ms": {"p50": round(enc_p50, 1), "p95": round(percentile(enc_ms, 95), 1)},
        "ratio_e2e_p50_to_encoder_p50": round(percentile(total, 50) / enc_p50, 2),
        "throughput_4_threads_qps": round(qps4, 1),
    }
    client.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="xquad-r-xling")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--backends", default="torch,onnx", help="encoder runtimes to measure, in this order")
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings

    queries = read_jsonl(SHARED / args.dataset / "queries.jsonl")
    random.Random(5).shuffle(queries)
    queries = queries[: args.queries]
    base = load_settings()
    suffix = "" if base.encoders == ("transformers",) else "-" + "-".join(base.encoders)
    index = f"eval-{args.dataset}-{base.translator}{suffix}"  # the index `xlsearch eval` built
    runs = {name: _measure(base.replace(index=index, backend=name), queries, args.mode)
            for name in args.backends.split(",")}
    result = {
        "command": f"python benchmarks/bench_query.py --dataset {args.dataset} --queries {args.queries} "
                   f"--mode {args.mode} --backends {args.backends}",
        "dataset": args.dataset, "index": index, "queries": len(queries), "mode": args.mode,
        "highlight": True, "runs": runs,
        "peak_rss_mb": round(peak_rss_mb()),
    }
    if "torch" in runs:  # the goal is set against torch fp32's forward, the encoder the issue measured
        ref = runs["torch"]["encoder_one_query_ms"]["p50"]
        result["ratio_e2e_p50_to_torch_encoder_p50"] = {n: round(r["end_to_end_ms"]["p50"] / ref, 2)
                                                       for n, r in runs.items()}
    print(json.dumps(result, indent=2))
    write_result(f"query-{args.dataset}-{args.mode}", result)


if __name__ == "__main__":
    main()
