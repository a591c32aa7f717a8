"""Query latency (p50/p95 per stage and end to end), 4-thread throughput and memory.

    .venv/bin/python benchmarks/bench_query.py [--dataset xquad-r-xling] [--queries 1000]

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
from xlsearch_es.evaluation.metrics import percentile  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="xquad-r-xling")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--mode", default="hybrid")
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings
    from xlsearch_es.search.client import XLSearchClient

    queries = read_jsonl(SHARED / args.dataset / "queries.jsonl")
    random.Random(5).shuffle(queries)
    queries = queries[: args.queries]
    settings = load_settings().replace(index=f"eval-{args.dataset}-lexicon")
    client = XLSearchClient(settings)
    client.search("warm up", k=10)

    # The encoder alone, one query at a time (cache off), on the same texts.
    enc_ms = []
    for q in queries[:200]:
        t0 = time.perf_counter()
        client.encoder.encode([q["text"]], role="query", use_cache=False)
        enc_ms.append((time.perf_counter() - t0) * 1e3)

    stages: dict[str, list[float]] = {}
    total = []
    for q in queries:
        resp = client.search(q["text"], k=10, mode=args.mode)
        total.append(resp.took_ms)
        for name, ms in resp.timings_ms.items():
            stages.setdefault(name, []).append(ms)
    # Throughput with 4 threads on fresh queries (caches would flatter a repeat).
    client.encoder._cache.clear()  # noqa: SLF001 - benchmark wants cold embeddings
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda q: client.search(q["text"], k=10, mode=args.mode), queries))
    qps4 = len(queries) / (time.perf_counter() - t0)

    enc_p50 = statistics.median(enc_ms)
    result = {
        "command": f"python benchmarks/bench_query.py --dataset {args.dataset} --queries {args.queries} --mode {args.mode}",
        "dataset": args.dataset, "queries": len(queries), "mode": args.mode,
        "end_to_end_ms": {"p50": round(percentile(total, 50), 1), "p95": round(percentile(total, 95), 1)},
        "stages_ms": {k: {"p50": round(percentile(v, 50), 2), "p95": round(percentile(v, 95), 2)}
                      for k, v in stages.items()},
        "encoder_one_query_ms": {"p50": round(enc_p50, 1), "p95": round(percentile(enc_ms, 95), 1)},
        "ratio_e2e_p50_to_encoder_p50": round(percentile(total, 50) / enc_p50, 2),
        "throughput_4_threads_qps": round(qps4, 1),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    print(json.dumps(result, indent=2))
    write_result(f"query-{args.dataset}-{args.mode}", result)


if __name__ == "__main__":
    main()
