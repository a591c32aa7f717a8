"""Does tuning's cross-fit (learn/crossfit.py) rank judged lists as Elasticsearch does?

    xlsearch learn-vectors ../shared/data/cikm-qc-xling --index eval-cikm-qc-xling-lexicon-transformers-use
    python benchmarks/bench_crossfit.py --out benchmarks/results/learn3/crossfit-vs-elasticsearch.json

On an eval index that holds judged vectors (learnt from the default split's train
queries), the cross-fit is given every learning query in every fold, so its exact
lists should be the index's: for test queries, the top-10 overlap of the two
lists per judged field and the largest score difference of a product in both
(Elasticsearch's HNSW is approximate and its vectors may be quantised).
XLSEARCH_MODEL / XLSEARCH_QUERY_ADAPTER select a learnt configuration's index.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from choose_defaults import open_set
from common import RESULTS

from xlsearch_es.cluster.indices import resolve_alias
from xlsearch_es.learn.crossfit import CrossFit, centroids_of
from xlsearch_es.learn.judged import embed_queries, holding_ids
from xlsearch_es.relevance.judgments import SplitPolicy
from xlsearch_es.search.fusion import knn_list_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="cikm-qc-xling")
    parser.add_argument("--queries", type=int, default=100, help="test queries compared")
    parser.add_argument("--out", default=str(RESULTS / "learn3" / "crossfit-vs-elasticsearch.json"))
    args = parser.parse_args()
    client, judgments = open_set(args.set)
    runtime = client.runtime
    if not runtime.meta.judged:
        raise SystemExit(f"{client.alias} holds no judged vectors: run xlsearch learn-vectors first")
    train = judgments.split(SplitPolicy(), "train")
    target = resolve_alias(client.es, client.alias) or client.alias
    held = holding_ids(client.es, target, next(iter(runtime.meta.judged)))
    names = {j: knn_list_name(j, runtime.knn_fields.index(j)) for j in runtime.meta.judged}
    vectors = embed_queries(runtime, train, sorted(set(runtime.meta.judged.values())))
    every = centroids_of(runtime.meta.judged, vectors, {q.id: judgments.relevant(q.id) for q in train}, held)
    whole = CrossFit(dict(runtime.meta.judged), names, dict.fromkeys(range(5), every), len(train))
    overlap: dict[str, list[float]] = {n: [] for n in names.values()}
    gap: dict[str, float] = dict.fromkeys(names.values(), 0.0)
    for query in judgments.split(SplitPolicy(), "test")[: args.queries]:
        analysis = client.understand(query.text, query.lang)
        query_vectors = client.query_vectors(analysis)
        served = client.knn_lists(analysis, 10, vectors=query_vectors)
        simulated = whole.lists(query, query_vectors, 10)
        for name in names.values():
            es_list, ours = dict(served[name]), dict(simulated[name])
            both = set(es_list) & set(ours)
            overlap[name].append(len(both) / 10)
            gap[name] = max([gap[name], *(abs(es_list[d] - ours[d]) for d in both)])
    report = {
        "index": client.alias,
        "queries": args.queries,
        "top10_overlap": {n: round(statistics.fmean(v), 3) for n, v in overlap.items()},
        "max_score_difference": {n: round(v, 4) for n, v in gap.items()},
    }
    print(json.dumps(report, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
