"""Query latency with and without the question profile, interleaved in one run.

    .venv/bin/python benchmarks/bench_question_profile.py [--queries 200]

The profile (search/plan.py: a question weighs its kNN side twice and leans on e5)
changes weights, not requests, so it should cost nothing; this checks it on
xquad-r's questions against the index `xlsearch eval` built. Each query runs once
each way, in alternating order, with the encoders' caches emptied before every
search so neither side reuses the other's embeddings.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, read_jsonl, require_shared, write_result
from xlsearch_es.relevance.metrics import percentile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="xquad-r-xling")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--a-a", action="store_true", help="both sides without the profile: the run's own noise")
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.text.question import is_question

    queries = [q for q in read_jsonl(SHARED / args.dataset / "queries.jsonl") if is_question(q["text"])]
    random.Random(5).shuffle(queries)
    queries = queries[: args.queries]
    base = load_settings()
    index = f"eval-{args.dataset}-{base.translator}-{'-'.join(base.encoders)}"  # the index `xlsearch eval` built
    client = XLSearchClient(base.replace(index=index))
    planner = client.planner
    on = (1.0, 1.0) if args.a_a else (planner.question_knn_factor, planner.question_widest_odds)
    profile = {"on": on, "off": (1.0, 1.0)}
    for q in queries[:20]:  # warm-up
        client.search(q["text"], k=10)
    took: dict[str, list[float]] = {"on": [], "off": []}
    stages: dict[str, dict[str, list[float]]] = {"on": {}, "off": {}}
    for i, q in enumerate(queries):
        for variant in ("on", "off") if i % 2 == 0 else ("off", "on"):
            planner.question_knn_factor, planner.question_widest_odds = profile[variant]
            for embedder in client.runtime.embedders.values():
                getattr(embedder, "_cache", {}).clear()
            resp = client.search(q["text"], k=10)
            took[variant].append(resp.took_ms)
            for stage, ms in resp.timings_ms.items():
                stages[variant].setdefault(stage, []).append(ms)
    planner.question_knn_factor, planner.question_widest_odds = profile["on"]
    summary = {v: {"p50": round(percentile(t, 50), 1), "p95": round(percentile(t, 95), 1)} for v, t in took.items()}
    result = {
        "command": f"python benchmarks/bench_question_profile.py --dataset {args.dataset} --queries {args.queries}"
        + (" --a-a" if args.a_a else ""),
        "index": index,
        "queries": len(queries),
        "question_profile_ms": summary,
        "ratio_p50_on_to_off": round(summary["on"]["p50"] / summary["off"]["p50"], 3),
        "stage_p50_ms": {v: {k: round(percentile(t, 50), 2) for k, t in st.items()} for v, st in stages.items()},
        "mean_paired_difference_ms": round(statistics.fmean(a - b for a, b in zip(took["on"], took["off"])), 2),
    }
    client.close()
    print(json.dumps(result, indent=2))
    write_result(f"question-profile-latency-{args.dataset}" + ("-a-a" if args.a_a else ""), result)


if __name__ == "__main__":
    main()
