"""Haystack's Elasticsearch hybrid pipeline, driven over stdin/stdout by bench_peers.py.

Runs in its own virtual environment (elasticsearch-haystack pins another major
version of the elasticsearch client than xlsearch-es). One JSON command per
line in, one JSON answer per line out:
  {"cmd": "ingest", "corpus": PATH}            -> {"docs": N, "seconds": S}
  {"cmd": "query", "text": T, "k": K}          -> {"ids": [...], "ms": M}
The pipeline is what a Haystack user would build: sentence-transformers with the
same e5 folder and prefixes, BM25 + embedding retrievers, an RRF DocumentJoiner.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()

    from elasticsearch import Elasticsearch
    from haystack import Document, Pipeline
    try:  # haystack-ai 3 moved these to sentence-transformers-haystack
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
            SentenceTransformersTextEmbedder,
        )
    except ImportError:
        from haystack.components.embedders import SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.types import DuplicatePolicy
    from haystack_integrations.components.retrievers.elasticsearch import (
        ElasticsearchBM25Retriever,
        ElasticsearchEmbeddingRetriever,
    )
    from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore

    original_info = Elasticsearch.info

    def info(self, *a, **kw):  # the test build has no GET /; a full cluster answers it
        try:
            return original_info(self, *a, **kw)
        except Exception:  # noqa: BLE001
            return {"version": {"number": "9"}}

    Elasticsearch.info = info
    store = ElasticsearchDocumentStore(hosts=args.url, index=args.index)
    doc_embedder = SentenceTransformersDocumentEmbedder(model=args.model, prefix="passage: ", batch_size=64,
                                                        normalize_embeddings=True, progress_bar=False)
    doc_embedder.warm_up()
    writer = DocumentWriter(store, policy=DuplicatePolicy.OVERWRITE)
    query = Pipeline()
    query.add_component("embed", SentenceTransformersTextEmbedder(model=args.model, prefix="query: ",
                                                                  normalize_embeddings=True, progress_bar=False))
    query.add_component("bm25", ElasticsearchBM25Retriever(document_store=store, top_k=100))
    query.add_component("knn", ElasticsearchEmbeddingRetriever(document_store=store, top_k=100))
    query.add_component("join", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=100))
    query.connect("embed.embedding", "knn.query_embedding")
    query.connect("bm25", "join")
    query.connect("knn", "join")
    query.warm_up()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "ingest":
            docs = []
            with open(cmd["corpus"], encoding="utf-8") as fh:
                for row in map(json.loads, fh):
                    text = " ".join(p for p in (row.get("title"), row.get("text")) if p)
                    docs.append(Document(id=str(row["_id"]), content=text))
            t0 = time.perf_counter()
            for start in range(0, len(docs), 512):
                writer.run(documents=doc_embedder.run(documents=docs[start:start + 512])["documents"])
            store.client.indices.refresh(index=args.index)
            print(json.dumps({"docs": len(docs), "seconds": time.perf_counter() - t0}), flush=True)
        elif cmd["cmd"] == "query":
            t0 = time.perf_counter()
            out = query.run({"embed": {"text": cmd["text"]}, "bm25": {"query": cmd["text"]}})
            ms = (time.perf_counter() - t0) * 1e3
            print(json.dumps({"ids": [d.id for d in out["join"]["documents"]][: cmd["k"]], "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
