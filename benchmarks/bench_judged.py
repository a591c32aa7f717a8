"""Judged vectors (learn/judged.py): their weight chosen so it carries, and what they add.

    xlsearch eval ../shared/data/cikm-qc-xling --sample 2 --modes hybrid-auto   # builds the eval index (once)
    python benchmarks/bench_judged.py --out benchmarks/results/learn3/judged-cikm.json

On cikm-qc-xling's eval index: the judged vectors are learnt from the train split
(as ``xlsearch learn-vectors`` does), the validation split picks their weight with
each language left out in turn (the best mean nDCG@10 over the other languages),
and the test split, never looked at, reports the default hybrid with the chosen
weight beside the same hybrid without judged vectors and each part alone, per
language. The vectors are cleared again at the end (``--keep`` leaves them), so
the eval index serves the other benchmarks as before. With XLSEARCH_MODEL (and
XLSEARCH_QUERY_ADAPTER) set, the same runs on that model's eval index:

    XLSEARCH_MODEL=models/e5-cikm XLSEARCH_QUERY_ADAPTER=models/use-cikm \
        python benchmarks/bench_judged.py --out benchmarks/results/learn3/judged-cikm-learnt.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from choose_defaults import means, open_set, overall, part_scores, sampled, scores
from common import RESULTS

from xlsearch_es.learn.judged import forget_judged_vectors, learn_judged_vectors
from xlsearch_es.learn.tune import JUDGED_GRID, Tuner, defaults_for
from xlsearch_es.relevance.judgments import Judgments, SplitPolicy
from xlsearch_es.relevance.metrics import percentile
from xlsearch_es.search.client import XLSearchClient
from xlsearch_es.search.request import default_judged_weight


def weight_scores(tuner: Tuner, weight: float) -> dict:
    params = replace(defaults_for(tuner.client), judged_weight=weight)
    return scores(tuner, lambda item: tuner.ranking(params, item))


def latency(client, queries: list, rounds: int = 2) -> dict:
    """p50/p95 ms of the whole search (k=10, a page's fields included), with and without the
    judged lists, interleaved query by query so both see the same caches and load."""
    took: dict[str, list[float]] = {"with judged vectors": [], "without": []}
    for _ in range(rounds):
        for q in queries:
            for name, weight in (("with judged vectors", None), ("without", 0.0)):
                t0 = time.perf_counter()
                client.search(q.text, lang=q.lang, k=10, judged_weight=weight)
                took[name].append(1000 * (time.perf_counter() - t0))
    return {n: {"p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)} for n, v in took.items()}


def language_left_out(client, judgments: Judgments, test: Tuner, lang: str) -> dict:
    """Judged vectors learnt without any of ``lang``'s queries, scored on its test queries:
    a market the judgments do not cover yet (the products' vectors come from other languages)."""
    others = replace(judgments, queries={k: q for k, q in judgments.queries.items() if q.lang != lang})
    learn_judged_vectors(client.es, client.runtime, others, SplitPolicy(), say=lambda _m: None)
    mine = Tuner(client, judgments, [i.query for i in test.items if i.query.lang == lang], lambda _m: None)
    default = default_judged_weight(client.runtime.judged_redundant)
    at = {w: means(weight_scores(mine, w))[lang] for w in (0.0, default)}
    return {
        "without_judged": [round(v, 4) for v in at[0.0]],  # nDCG@10, MRR@10
        "judged_learnt_without_it": [round(v, 4) for v in at[default]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="cikm-qc-xling")
    parser.add_argument("--test-sample", type=int, default=10_000, help="test queries per language")
    parser.add_argument("--latency-queries", type=int, default=200, help="test queries timed both ways")
    parser.add_argument("--languages-left-out", action="store_true", help="also learn without each language")
    parser.add_argument("--keep", action="store_true", help="leave the judged vectors in the eval index")
    parser.add_argument("--out", default=str(RESULTS / "learn3" / "judged-cikm.json"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    client, judgments = open_set(args.set)
    learnt = learn_judged_vectors(client.es, client.runtime, judgments, SplitPolicy(), say=print)
    # a client whose runtime lists the judged fields, on the models already loaded
    runtime = client.runtime
    client = XLSearchClient(client.settings, client=client.es, encoder=runtime.embedders, translator=runtime.translator)
    default = default_judged_weight(client.runtime.judged_redundant)  # 0.5 where the encoders learnt these judgments
    try:
        validation = sampled(client, judgments, ("validation",), 10_000)
        by_weight = {w: weight_scores(validation, w) for w in JUDGED_GRID}
        grid = {w: means(s) for w, s in by_weight.items()}
        languages = sorted(grid[0.0])

        def others(w: float, left_out: str) -> float:
            return statistics.fmean(grid[w][lg][0] for lg in languages if lg != left_out)

        loo = {}
        for lg in languages:
            picked = max(JUDGED_GRID, key=lambda w: (others(w, lg), w == default))
            loo[lg] = {
                "picked": picked,
                "ndcg@10_left_out": round(grid[picked][lg][0], 4),
                "ndcg@10_without_judged": round(grid[0.0][lg][0], 4),
            }
            print(lg, loo[lg], flush=True)
        test = sampled(client, judgments, ("test",), args.test_sample)
        # the weight most languages picked when left out, where it is not the default
        picked = Counter(v["picked"] for v in loo.values()).most_common(1)[0][0]
        rows = {
            f"hybrid, judged weight {default} (default)": weight_scores(test, default),
            **(
                {f"hybrid, judged weight {picked} (picked on validation)": weight_scores(test, picked)}
                if picked != default
                else {}
            ),
            "hybrid without judged vectors": weight_scores(test, 0.0),
            **{f"{part} alone": part_scores(test, defaults_for(client), part) for part in ["bm25", *test.parts]},
        }
        report = {
            "set": args.set,
            "learnt": {k: learnt[k] for k in ("queries", "products", "not_in_index", "fields")},
            "validation_ndcg@10_by_weight": {str(w): round(overall(s), 4) for w, s in by_weight.items()},
            "leave_one_language_out": loo,
            "test": {
                name: {
                    "ndcg@10": round(overall(s), 4),
                    "mrr@10": round(overall(s, 1), 4),
                    "per_language": {lg: [round(v[0], 4), round(v[1], 4)] for lg, v in sorted(means(s).items())},
                }
                for name, s in rows.items()
            },
            "test_queries": len(test.items),
            "latency": latency(
                client, [item.query for item in test.items[:: max(1, len(test.items) // args.latency_queries)]]
            ),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if args.languages_left_out:  # last: each run rewrites the vectors
            report["vectors_without_the_language"] = {
                lg: language_left_out(client, judgments, test, lg) for lg in languages
            }
            print(json.dumps(report["vectors_without_the_language"], indent=1), flush=True)
    finally:
        if not args.keep:
            forget_judged_vectors(client.es, client.alias, say=print)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: (v["ndcg@10"], v["mrr@10"]) for k, v in report["test"].items()}, indent=1))


if __name__ == "__main__":
    main()
