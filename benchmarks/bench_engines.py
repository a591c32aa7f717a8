"""Ingest engines side by side in one run: local (in-process) vs Ray with 1 and 2 actors.

    .venv/bin/python benchmarks/bench_engines.py --records 2000 [--backend torch]

Each engine loads the same scaled catalog into a fresh index (languages en, de,
lexicon translator, e5). On a 2-core machine Ray adds its own processes and a
copy of the models per actor, so expect overhead here; the point of Ray is more
machines. Reports records/s and the ratio to the local engine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_ingest import scaled_catalog  # noqa: E402
from benchmarks.common import write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--backend", default="auto", help="auto: ONNX Runtime on a CPU (the default backend)")
    args = ap.parse_args()

    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.config import load_settings
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest

    settings = load_settings().replace(languages=("en", "de"), backend=args.backend)
    client = connect(settings)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.jsonl"
        scaled_catalog(args.records, path)
        for engine, actors in (("local", 0), ("ray", 1), ("ray", 2)):
            index = f"bench-engine-{engine}-{actors}"
            for name in client.indices.get(index=f"{index}*", allow_no_indices=True):
                client.indices.delete(index=name)
            t0 = time.perf_counter()
            summary = run_ingest(settings.replace(index=index),
                                 IngestOptions(path=str(path), progress=False, resume=False, engine=engine,
                                               ray_actors=max(1, actors)), client=client)
            seconds = time.perf_counter() - t0
            rows.append({"engine": engine, "actors": actors, "records": summary.read, "indexed": summary.indexed,
                         "seconds": round(seconds, 1), "records_per_s": round(summary.read / seconds, 1)})
            print(rows[-1], flush=True)
            for name in client.indices.get(index=f"{index}*", allow_no_indices=True):
                client.indices.delete(index=name)
    local = rows[0]["records_per_s"]
    for row in rows:
        row["ratio_to_local"] = round(row["records_per_s"] / local, 2)
    path = write_result("engines", {"command": f"python benchmarks/bench_engines.py --records {args.records} "
                                               f"--backend {args.backend}", "results": rows,
                                    "note": "2 cores, no GPU: the Ray Data actor pool shares the same two cores; "
                                            "Ray start and model loading are timed"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
