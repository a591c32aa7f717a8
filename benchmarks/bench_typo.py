"""The typo clause's fields and prefix: what each costs the cluster and what it
changes in the ranking, on the validation split (the clause's policy is chosen
there; the test split stays unseen).

    .venv/bin/python benchmarks/bench_typo.py [--split validation] [--sample 40]

Cost: Elasticsearch's ``took`` for our BM25 request (as search sends it, facets
included) on 80 xquad questions, each sent twice. Relevance: BM25 and the
default hybrid, nDCG@10, on both shared sets. Uses the indices ``xlsearch eval``
built.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_lexical import _score  # noqa: E402
from benchmarks.common import SHARED, read_jsonl, require_shared, write_result  # noqa: E402

ALL_FIELDS = ("title", "brand", "category", "description")
VARIANTS = {
    "prefix 1, every field": (1, ALL_FIELDS),
    "prefix 2, every field": (2, ALL_FIELDS),
    "prefix 1, title and brand": (1, ("title", "brand")),
    "prefix 2, title and brand": (2, ("title", "brand")),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="validation")
    ap.add_argument("--sample", type=int, default=40, help="queries per language (seeded)")
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings
    from xlsearch_es.evaluation.dataset import load_dataset
    from xlsearch_es.search import query_builder as qb
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.search.results import facet_aggs as _facet_aggs

    base = load_settings()
    names = ("xquad-r-xling", "cikm-qc-xling")
    clients = {n: XLSearchClient(base.replace(index=f"eval-{n}-lexicon-transformers-use")) for n in names}
    data = {n: load_dataset(SHARED / n, split=args.split, sample=args.sample) for n in names}
    questions = read_jsonl(SHARED / "xquad-r-xling" / "queries.jsonl")
    random.Random(5).shuffle(questions)
    questions = questions[:80]
    kept = (qb.TYPO_PREFIX_LENGTH, qb.TYPO_FIELDS)
    rows = {}
    for name, (prefix, fields) in VARIANTS.items():
        qb.TYPO_PREFIX_LENGTH, qb.TYPO_FIELDS = prefix, fields
        xquad = clients["xquad-r-xling"]
        took = []
        for q in questions + questions:
            query = xquad.planner.bm25_query(xquad.understand(q["text"]), None)
            resp = xquad.es.search(index=xquad.alias, query=query, size=100, _source=False, aggs=_facet_aggs())
            took.append(resp["took"])
        row: dict = {"bm25_took_p50_ms": statistics.median(took)}
        for n, client in clients.items():
            for mode in ("bm25", "hybrid"):

                def run(q, client=client, mode=mode):
                    res = client.search(
                        q["text"], lang=q.get("lang"), k=100, highlight=False, mode=mode, use_tuning=False
                    )
                    return [h.id for h in res.hits]

                row[f"{n} {mode}"] = _score(client, data[n], run)["ndcg@10"]
        rows[name] = row
        print(name, row, flush=True)
    qb.TYPO_PREFIX_LENGTH, qb.TYPO_FIELDS = kept
    command = f"python benchmarks/bench_typo.py --split {args.split} --sample {args.sample}"
    print(f"wrote {write_result(f'typo-{args.split}', {'command': command, 'variants': rows})}")


if __name__ == "__main__":
    main()
