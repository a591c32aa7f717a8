"""Query adapters (embed/adapter.py): do they carry to queries and languages not trained on?

    python benchmarks/bench_adapter.py --encoder use --out benchmarks/results/adapter-use.json

On cikm-qc-xling's hash split: the adapter is fitted on the train split (early-stopped
on validation) exactly as ``xlsearch train --adapter`` does, then each language's
test queries are ranked by exact cosine over the whole corpus, plain and adapted.
Leave-one-language-out: for each language in turn the adapter is fitted without that
language's queries (train and validation) and scored on that language's test queries,
the case of a market the shop's judgments do not cover yet. An adapter that only
helps the languages it saw would show here as a gain that vanishes when left out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import RESULTS, SHARED

from xlsearch_es.config import load_settings
from xlsearch_es.embed.base import ENCODERS
from xlsearch_es.learn.adapter import AdapterOptions, fit_adapter, validation_ndcg
from xlsearch_es.relevance.judgments import SplitPolicy, load_beir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default="use")
    parser.add_argument("--data", default=str(SHARED / "cikm-qc-xling"))
    parser.add_argument("--out", default=str(RESULTS / "adapter-use.json"))
    args = parser.parse_args()

    judgments = load_beir(Path(args.data))
    split = {
        w: [q for q in judgments.split(SplitPolicy(), w) if judgments.relevant(q.id)]
        for w in ("train", "validation", "test")
    }
    embedder = ENCODERS.get(args.encoder).load(load_settings())
    ids = list(judgments.passages)
    position = {d: i for i, d in enumerate(ids)}
    t0 = time.perf_counter()
    docs = embedder.encode([judgments.passages[d] for d in ids], role="passage")
    every = [q for w in split.values() for q in w]
    vectors = dict(zip([q.id for q in every], embedder.encode([q.text for q in every], role="query")))
    embed_s = time.perf_counter() - t0

    def stack(queries: list) -> np.ndarray:
        return np.stack([vectors[q.id] for q in queries])

    def fit(leave_out: str | None) -> np.ndarray:
        train = [q for q in split["train"] if q.lang != leave_out]
        val = [q for q in split["validation"] if q.lang != leave_out]
        positives = [[position[d] for d in judgments.relevant(q.id)] for q in train]
        qrels = [judgments.qrels[q.id] for q in val]
        options = AdapterOptions(out=Path("unused"))
        weights, _ = fit_adapter(docs, stack(train), positives, stack(val), qrels, ids, options, lambda m: None)
        return weights

    def test_ndcg(lang: str, weights: np.ndarray | None) -> float:
        test = [q for q in split["test"] if q.lang == lang]
        return round(validation_ndcg(docs, stack(test), [judgments.qrels[q.id] for q in test], ids, weights), 4)

    languages = sorted({q.lang for q in split["test"]})
    t1 = time.perf_counter()
    with_all = fit(None)
    fit_s = time.perf_counter() - t1
    rows = {}
    for lang in languages:
        rows[lang] = {
            "test_queries": sum(q.lang == lang for q in split["test"]),
            "plain": test_ndcg(lang, None),
            "adapted": test_ndcg(lang, with_all),
            "adapted_without_it": test_ndcg(lang, fit(lang)),
        }
        print(lang, rows[lang], flush=True)
    overall = {
        k: round(float(np.mean([r[k] for r in rows.values()])), 4) for k in ("plain", "adapted", "adapted_without_it")
    }
    result = {
        "encoder": args.encoder,
        "data": Path(args.data).name,
        "metric": "nDCG@10, exact cosine over the corpus, test split, mean of languages",
        "overall": overall,
        "per_language": rows,
        "embed_seconds": round(embed_s, 1),
        "fit_seconds": round(fit_s, 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(overall))


if __name__ == "__main__":
    main()
