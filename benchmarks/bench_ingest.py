"""Ingest throughput and peak memory.

    .venv/bin/python benchmarks/bench_ingest.py --records 20000 [--int8]

Scales samples/catalog.jsonl up to N records (new ids, varied numbers), loads it
into a fresh index with the lexicon translator and the e5 encoder, and in the
same process embeds the same passage texts with the bare encoder. Reports
records/s for both and their ratio (goal >= 0.8: translation and the cluster
hidden behind the model), and the process's peak RSS. Run it at 20,000 and
100,000 records to compare memory (goal: flat).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, peak_rss_mb, write_result  # noqa: E402


def scaled_catalog(n: int, out: Path) -> None:
    base = [json.loads(line) for line in (ROOT / "samples" / "catalog.jsonl").open(encoding="utf-8")]
    rng = random.Random(3)
    with out.open("w", encoding="utf-8") as fh:
        for i in range(n):
            rec = dict(base[i % len(base)])
            rec["id"] = f"{rec['id']}-{i}"
            rec["title"] = f"{rec['title']} #{rng.randrange(10_000)}"
            rec["price"] = round(rec["price"] * rng.uniform(0.8, 1.2), 2)
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--encoder-sample", type=int, default=2000, help="texts embedded bare for the ratio")
    args = ap.parse_args()

    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.config import load_settings
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings
    from xlsearch_es.ingest.document import passage_text
    from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline
    from xlsearch_es.ingest.records import validate
    from xlsearch_es.service import model_meta
    from xlsearch_es.translate.factory import make_translator

    index = f"bench-ingest-{args.records}"
    settings = load_settings().replace(index=index, languages=("en", "zh", "ja", "de", "es"),
                                       quantize_int8=args.int8)
    client = connect(settings)
    for name in client.indices.get(index=f"{index}*", allow_no_indices=True):
        client.indices.delete(index=name)
    model_meta(settings)
    encoder = Encoder(spec_from_settings(settings))
    translator = make_translator(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.jsonl"
        scaled_catalog(args.records, path)
        rss_before = peak_rss_mb()
        t0 = time.perf_counter()
        summary = IngestPipeline(settings, client, encoder, translator,
                                 IngestOptions(path=str(path), progress=False)).run()
        ingest_s = time.perf_counter() - t0
        rss_ingest = peak_rss_mb()
        # The encoder alone on the same passage texts (a sample, cache off).
        records = [validate(i, json.loads(line)) for i, line in enumerate(path.open(encoding="utf-8"), 1)
                   if i <= args.encoder_sample]
    texts = [passage_text(p) for p in records]
    t1 = time.perf_counter()
    encoder.encode(texts, use_cache=False)
    enc_s = time.perf_counter() - t1
    ingest_rate = summary.indexed / ingest_s
    enc_rate = len(texts) / enc_s
    result = {
        "command": f"python benchmarks/bench_ingest.py --records {args.records}" + (" --int8" if args.int8 else ""),
        "records": args.records, "encoder": "int8" if args.int8 else "fp32",
        "indexed": summary.indexed, "seconds": round(ingest_s, 1),
        "ingest_records_per_s": round(ingest_rate, 1), "encoder_only_texts_per_s": round(enc_rate, 1),
        "ratio": round(ingest_rate / enc_rate, 3), "timings": summary.timings,
        "peak_rss_mb_before_ingest": round(rss_before), "peak_rss_mb_after_ingest": round(rss_ingest),
    }
    print(json.dumps(result, indent=2))
    write_result(f"ingest-{args.records}{'-int8' if args.int8 else ''}", result)
    for name in client.indices.get(index=f"{index}*"):
        client.indices.delete(index=name)


if __name__ == "__main__":
    main()
