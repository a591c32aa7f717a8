"""The floor: e5 alone with exact (brute-force) cosine, no Elasticsearch.

    .venv/bin/python benchmarks/exact_cosine.py xquad-r-xling --sample 200

Same encoder, same passage texts and the same seeded query sample as
`xlsearch eval`, so its figures sit beside the report's rows like for like.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import SHARED, read_jsonl, require_shared, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--sample", type=int)
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings
    from xlsearch_es.evaluation.runner import evaluate_runs, load_dataset
    from xlsearch_es.ingest.document import passage_text
    from xlsearch_es.ingest.records import validate

    ds = load_dataset(SHARED / args.dataset, sample=args.sample)
    encoder = Encoder(spec_from_settings(load_settings()))
    docs = read_jsonl(SHARED / args.dataset / "corpus.jsonl")
    ids = [d["_id"] for d in docs]

    def record(d: dict):  # the same mapping as evaluation.runner.corpus_as_catalog
        text = (d.get("text") or "").strip()
        title = (d.get("title") or "").strip() or text[:1000]
        rec = {"id": d["_id"], "title": title}
        if text and text != title:
            rec["description"] = text
        return validate(0, rec)

    doc_vecs = encoder.encode([passage_text(record(d)) for d in docs])
    query_vecs = encoder.encode([q["text"] for q in ds.queries], role="query")
    sims = query_vecs @ doc_vecs.T
    runs = {q["_id"]: [ids[j] for j in np.argsort(-sims[i], kind="stable")[:100]] for i, q in enumerate(ds.queries)}
    overall, per_lang = evaluate_runs(ds, runs)
    result = {"command": f"python benchmarks/exact_cosine.py {args.dataset}" + (f" --sample {args.sample}" if args.sample else ""),
              "queries": len(ds.queries), "overall": overall, "per_language": per_lang}
    print(json.dumps(result, indent=2))
    write_result(f"exact-cosine-{args.dataset}", result)


if __name__ == "__main__":
    main()
