"""The colour test with and without senses in context, on an index of the sample catalog.

    xlsearch ingest samples/catalog.jsonl --index demo-products --languages en,zh,ja,de,es
    python benchmarks/bench_colours.py --index demo-products --out benchmarks/results/colours.json

Rows: readings in the dictionary's order (sense_context off) and chosen by the catalog,
the attribute vocabulary and the query's embedding (on, the default). Query p50 is
reported for both (the same process, one after the other, after a warm-up pass).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from xlsearch_es.config import load_settings
from xlsearch_es.evaluation.colours import colour_test, load_colour_queries
from xlsearch_es.search.client import XLSearchClient

QUERIES = Path(__file__).resolve().parents[1] / "tests" / "data" / "colour_queries.tsv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="demo-products")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    queries = load_colour_queries(QUERIES)
    base = load_settings().replace(index=args.index)
    result = {}
    for name, on in (("dictionary order", False), ("senses in context", True)):
        client = XLSearchClient(base.replace(sense_context=on))
        colour_test(client, queries)  # warm-up: models, caches, the cluster's
        times = []
        for q in queries:
            t0 = time.perf_counter()
            client.search(q.query, k=1)
            times.append((time.perf_counter() - t0) * 1e3)
        result[name] = {**colour_test(client, queries), "ms_p50": round(statistics.median(times), 1)}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
