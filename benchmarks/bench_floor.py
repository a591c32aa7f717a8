"""The relevance floor (search/focus.py): learned on the train split, reported on test.

    python benchmarks/bench_floor.py --sample 30 --out benchmarks/results/floor.json

Needs the eval indices (``xlsearch eval`` on both shared sets builds them).

Learn: the default hybrid with the floor off (``focus=False``) returns each query's
fused top 100 with every list's score; for each (kNN gap, BM25 share) on a grid,
the floor keeps the products that pass it. The chosen pair is the one that keeps
the fewest products while keeping at least 99.5% of the judged relevant
products the window holds, on both sets at once.

Report: the default hybrid with the floor on (the learned constants as shipped)
and off, on the test split: nDCG@10, MRR@10, the mean total, and recall@100 of
what the total counts (the top min(total, 100)): the floor must not cost it more
than 0.005.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from common import RESULTS, SHARED

from xlsearch_es.config import load_settings
from xlsearch_es.evaluation.dataset import load_dataset
from xlsearch_es.relevance.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from xlsearch_es.search.client import XLSearchClient
from xlsearch_es.search.focus import DEFAULT_FLOOR, Floor, floor_cut

SETS = ("cikm-qc-xling", "xquad-r-xling")
GAPS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2)
SHARES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, None)  # None: no BM25 rule
KEEP = 0.995


def _client(name: str) -> XLSearchClient:
    return XLSearchClient(load_settings({"index": f"eval-{name}-lexicon-transformers-use"}))


def _window_scores(client: XLSearchClient, queries: list[dict]) -> list[tuple[dict, list[tuple[str, dict]]]]:
    out = []
    for q in queries:
        resp = client.search(q["text"], lang=q.get("lang"), k=100, explain=True, focus=False, highlight=False)
        out.append((q, [(h.id, h.components.get("scores", {})) for h in resp.hits]))
    return out


def _kept(floor: Floor, hits: list[tuple[str, dict]]) -> set[str]:
    cut = floor_cut([i for i, _ in hits], dict(hits), floor)
    return {i for i, _ in hits[:cut]}


def learn(runs: dict[str, list], qrels: dict[str, dict]) -> dict:
    grid = []
    for gap, share in itertools.product(GAPS, SHARES):
        floor = Floor(gap, share)
        relevant = kept_relevant = kept = 0
        for name, items in runs.items():
            for q, hits in items:
                rel = {d for d, g in qrels[name].get(q["_id"], {}).items() if g > 0}
                keep = _kept(floor, hits)
                in_window = rel & {i for i, _ in hits}
                relevant += len(in_window)
                kept_relevant += len(in_window & keep)
                kept += len(keep)
        queries = sum(len(v) for v in runs.values())
        grid.append(
            {
                "knn_gap": gap,
                "bm25_share": share,
                "relevant_kept": kept_relevant / max(relevant, 1),
                "mean_kept": kept / max(queries, 1),
            }
        )
    ok = [g for g in grid if g["relevant_kept"] >= KEEP]
    best = min(ok, key=lambda g: (g["mean_kept"], -g["relevant_kept"])) if ok else None
    return {"grid": grid, "chosen": best}


def report(client: XLSearchClient, queries: list[dict], qrels: dict) -> dict:
    rows = {}
    for label, on in (("floor", True), ("whole window", False)):
        ndcg, rec, mrr, totals = [], [], [], []
        for q in queries:
            resp = client.search(q["text"], lang=q.get("lang"), k=100, focus=on, highlight=False)
            ranked = [h.id for h in resp.hits]
            judged = qrels.get(q["_id"], {})
            ndcg.append(ndcg_at_k(ranked, judged, 10))
            rec.append(recall_at_k(ranked[: resp.total], judged, 100))  # what the total counts
            mrr.append(mrr_at_k(ranked, judged, 10))
            totals.append(resp.total)
        rows[label] = {
            "ndcg@10": round(mean(ndcg) or 0, 4),
            "recall@100": round(mean(rec) or 0, 4),
            "mrr@10": round(mean(mrr) or 0, 4),
            "mean_total": round(sum(totals) / max(len(totals), 1), 1),
        }
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=30, help="queries per language and split")
    ap.add_argument("--out", type=Path, default=RESULTS / "floor.json")
    args = ap.parse_args()
    runs, qrels, test = {}, {}, {}
    for name in SETS:
        train = load_dataset(SHARED / name, sample=args.sample, split="train")
        test[name] = load_dataset(SHARED / name, sample=args.sample, split="test")
        qrels[name] = train.qrels
        runs[name] = _window_scores(_client(name), train.queries)
    learned = learn(runs, qrels)
    print("chosen on train:", learned["chosen"], "shipped:", DEFAULT_FLOOR)
    reported = {name: report(_client(name), test[name].queries, test[name].qrels) for name in SETS}
    for name, rows in reported.items():
        for label, row in rows.items():
            print(f"{name:15} {label:13} {row}")
    result = {
        "sample_per_language": args.sample,
        "keep": KEEP,
        "learned": learned,
        "shipped": {"knn_gap": DEFAULT_FLOOR.knn_gap, "bm25_share": DEFAULT_FLOOR.bm25_share},
        "test": reported,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
