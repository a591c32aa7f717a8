"""The BM25 policy, measured: the lenient clause's weight and minimum_should_match
and the typo clause's weight are chosen on the validation split of each shared
set and reported on the test split, beside our old clauses and a default
Elasticsearch setup (OR match, fuzziness AUTO).

    .venv/bin/python benchmarks/bench_lexical.py [--datasets cikm-qc-xling,xquad-r-xling] [--hybrid]
        [--val-sample 50] [--test-sample 60]

Uses the indices `xlsearch eval` built (run it first). ``--hybrid`` also runs the
default hybrid on the test split with the old and the chosen BM25 policy.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, require_shared, write_result  # noqa: E402

OFF = {"lenient": 0.0, "typo": 0.0}
GRID = [
    OFF,
    {"lenient": 0.25, "lenient_msm": "1", "typo": 0.0},
    {"lenient": 0.5, "lenient_msm": "1", "typo": 0.0},
    {"lenient": 1.0, "lenient_msm": "1", "typo": 0.0},
    {"lenient": 0.5, "lenient_msm": "2<50%", "typo": 0.0},
    {"lenient": 1.0, "lenient_msm": "2<50%", "typo": 0.0},
    {"lenient": 0.5, "lenient_msm": "1", "typo": 0.3},
    {"lenient": 0.5, "lenient_msm": "1", "typo": 1.0},
    {"lenient": 0.5, "lenient_msm": "1", "typo": 0.3, "lenient_scope": "others+original"},
    {"lenient": 0.5, "lenient_msm": "1", "typo": 0.3, "lenient_scope": "all"},
    {"lenient": 0.25, "lenient_msm": "1", "typo": 0.3, "lenient_scope": "others+original"},
]


def _score(client, dataset, run) -> dict[str, float]:
    from xlsearch_es.relevance.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k

    ndcg, mrr, recall = [], [], []
    per_lang: dict[str, list[float]] = {}
    for q in dataset.queries:
        rels = dataset.qrels.get(q["_id"], {})
        if not any(v > 0 for v in rels.values()):
            continue
        ids = run(q)
        ndcg.append(ndcg_at_k(ids, rels, 10))
        mrr.append(mrr_at_k(ids, rels, 10))
        recall.append(recall_at_k(ids, rels, 100))
        per_lang.setdefault(q.get("lang", "und"), []).append(ndcg[-1])
    return {
        "ndcg@10": round(float(mean(ndcg)), 4),
        "mrr@10": round(float(mean(mrr)), 4),
        "recall@100": round(float(mean(recall)), 4),
        "queries": len(ndcg),
        "ndcg@10_by_lang": {lg: round(float(mean(v)), 4) for lg, v in sorted(per_lang.items())},
    }


def _ids(client, **kwargs) -> Callable[[dict], list[str]]:
    """A run: the ids of the top 100 for a query, searched with these arguments."""
    return lambda q: [h.id for h in client.search(q["text"], lang=q.get("lang"), k=100, highlight=False, **kwargs).hits]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="cikm-qc-xling,xquad-r-xling")
    ap.add_argument("--hybrid", action="store_true")
    ap.add_argument("--val-sample", type=int, default=50, help="validation queries per language (seeded)")
    ap.add_argument("--test-sample", type=int, default=60, help="test queries per language (seeded)")
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings
    from xlsearch_es.evaluation.dataset import load_dataset
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.search.query_builder import BM25Boosts

    base = load_settings()
    suffix = "" if base.encoders == ("transformers",) else "-" + "-".join(base.encoders)
    result: dict = {"command": "python benchmarks/bench_lexical.py " + " ".join(sys.argv[1:]), "datasets": {}}
    for name in args.datasets.split(","):
        client = XLSearchClient(base.replace(index=f"eval-{name}-{base.translator}{suffix}"))
        validation = load_dataset(SHARED / name, split="validation", sample=args.val_sample)
        test = load_dataset(SHARED / name, split="test", sample=args.test_sample)

        ids = functools.partial(_ids, client)

        def bm25(boosts, ids=ids):
            return ids(mode="bm25", boosts=boosts, use_tuning=False)

        grid = []
        for cell in GRID:
            boosts = replace(BM25Boosts(), **cell)
            grid.append({"policy": cell, "validation": _score(client, validation, bm25(boosts))})
            print(name, cell, grid[-1]["validation"]["ndcg@10"], flush=True)
        best = max(grid, key=lambda g: g["validation"]["ndcg@10"])["policy"]
        chosen, old = replace(BM25Boosts(), **best), replace(BM25Boosts(), **OFF)
        plain = ids(mode="bm25", translate_query=False, query_languages=[], lexical="plain")
        report = {
            "validation_grid": grid,
            "chosen_on_validation": best,
            "test": {
                "bm25-plain (default Elasticsearch)": _score(client, test, plain),
                "bm25+qt+dt, old clauses": _score(client, test, bm25(old)),
                "bm25+qt+dt, chosen policy": _score(client, test, bm25(chosen)),
            },
        }
        if args.hybrid:
            report["test"]["hybrid, old clauses"] = _score(client, test, ids(boosts=old, use_tuning=False))
            report["test"]["hybrid, chosen policy"] = _score(client, test, ids(boosts=chosen, use_tuning=False))
            report["test"]["knn"] = _score(client, test, ids(mode="knn"))
        result["datasets"][name] = report
        print(json.dumps({name: report["test"]}, indent=1), flush=True)
        client.close()
    # One file per dataset, so a run of one set leaves the other's result alone.
    for name, report in result["datasets"].items():
        print(f"wrote {write_result(f'lexical-{name}', {'command': result['command'], name: report})}")


if __name__ == "__main__":
    main()
