"""xlsearch against the peer a user would pick, in one run on the same node and corpus:
Haystack's Elasticsearch hybrid pipeline (haystack-ai + elasticsearch-haystack,
sentence-transformers with the same e5 folder and prefixes, RRF joiner).

    python benchmarks/bench_peers.py ../shared/data/cikm-qc-xling --peer-python PEER_VENV/bin/python

The peer runs in its own virtual environment (its Elasticsearch client is another
major version): python -m venv PEER_VENV && PEER_VENV/bin/pip install haystack-ai
elasticsearch-haystack sentence-transformers sentence-transformers-haystack. Measures ingest docs/s (ours
translating into every query language, the peer English-only as a user would set
it up), query p50/p95 with the queries interleaved (the order alternates per
query), and nDCG@10 / recall@100 on the held-out test split.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1)


class Peer:
    def __init__(self, python: str, url: str, index: str, model: str):
        script = Path(__file__).parent / "peers" / "haystack_peer.py"
        self.proc = subprocess.Popen([python, str(script), "--url", url, "--index", index, "--model", model],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._read()

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the peer process ended")
        return json.loads(line)

    def call(self, **cmd: object) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.terminate()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--peer-python", required=True)
    ap.add_argument("--sample", type=int, default=30, help="test queries per language")
    args = ap.parse_args()

    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.config import load_settings
    from xlsearch_es.embed.base import load_embedders
    from xlsearch_es.relevance.metrics import mean, ndcg_at_k, recall_at_k
    from xlsearch_es.evaluation.dataset import corpus_as_catalog, load_dataset
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.translate.factory import make_translator

    dataset = load_dataset(args.dataset, sample=args.sample, split="test")
    languages = tuple(dict.fromkeys(["en"] + [lg for lg in dataset.languages if lg != "und"]))
    settings = load_settings().replace(index="peer-xlsearch", languages=languages)
    client = connect(settings)
    for name in ("peer-xlsearch", "peer-haystack"):
        for index in client.indices.get(index=f"{name}*", allow_no_indices=True):
            client.indices.delete(index=index)
    peer = Peer(args.peer_python, settings.es_url, "peer-haystack", settings.model_ref)
    # Both clocks start with the models loaded and warm (the peer calls warm_up() first).
    embedders, translator = load_embedders(settings), make_translator(settings)
    for embedder in embedders.values():
        embedder.encode(["warm up"], role="passage")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            catalog = Path(tmp) / "catalog.jsonl"
            docs = corpus_as_catalog(args.dataset, catalog)
            t0 = time.perf_counter()
            run_ingest(settings, IngestOptions(path=str(catalog), progress=False, resume=False), client=client,
                       encoder=embedders, translator=translator)
            ours_ingest = time.perf_counter() - t0
        peer_ingest = peer.call(cmd="ingest", corpus=str(args.dataset / "corpus.jsonl"))
        searcher = XLSearchClient(settings, client=client, encoder=embedders, translator=translator)
        for q in dataset.queries[:5]:  # warm both
            searcher.search(q["text"], lang=q.get("lang"), k=100, highlight=False)
            peer.call(cmd="query", text=q["text"], k=100)
        lat: dict[str, list[float]] = {"xlsearch": [], "haystack": []}
        quality: dict[str, dict[str, list]] = {n: {"ndcg@10": [], "recall@100": []} for n in lat}
        for i, q in enumerate(dataset.queries):
            order = ("xlsearch", "haystack") if i % 2 == 0 else ("haystack", "xlsearch")
            for name in order:
                if name == "xlsearch":
                    t0 = time.perf_counter()
                    ids = [h.id for h in searcher.search(q["text"], lang=q.get("lang"), k=100, highlight=False).hits]
                    lat[name].append((time.perf_counter() - t0) * 1e3)
                else:
                    out = peer.call(cmd="query", text=q["text"], k=100)
                    ids = out["ids"]
                    lat[name].append(out["ms"])
                rels = dataset.qrels.get(q["_id"], {})
                quality[name]["ndcg@10"].append(ndcg_at_k(ids, rels, 10))
                quality[name]["recall@100"].append(recall_at_k(ids, rels, 100))
    finally:
        peer.close()
    result = {
        "command": f"python benchmarks/bench_peers.py {args.dataset} --peer-python PEER --sample {args.sample}",
        "dataset": dataset.name, "documents": docs, "queries": len(dataset.queries),
        "ingest_docs_per_s": {"xlsearch": round(docs / ours_ingest, 1),
                              "haystack": round(peer_ingest["docs"] / peer_ingest["seconds"], 1)},
        "ingest_note": f"xlsearch translates into {len(languages)} languages (translation memory as the home "
                       "holds it); the peer indexes English only; both clocks start with models loaded",
        "query_ms": {n: {"p50": _pct(v, 50), "p95": _pct(v, 95)} for n, v in lat.items()},
        "relevance": {n: {k: round(float(mean([x for x in v if x is not None]) or 0.0), 4) for k, v in m.items()}
                      for n, m in quality.items()},
    }
    result["ratios_xlsearch_to_haystack"] = {
        "ingest": round(result["ingest_docs_per_s"]["xlsearch"] / result["ingest_docs_per_s"]["haystack"], 2),
        "p50": round(result["query_ms"]["xlsearch"]["p50"] / result["query_ms"]["haystack"]["p50"], 2),
        "p95": round(result["query_ms"]["xlsearch"]["p95"] / result["query_ms"]["haystack"]["p95"], 2),
    }
    print(json.dumps(result, indent=2))
    print(f"wrote {write_result(f'peers-{dataset.name}', result)}")


if __name__ == "__main__":
    main()
