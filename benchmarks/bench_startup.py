"""Where the time of one ``xlsearch search`` goes, from a cold process to its answer.

Each row is a fresh Python process (as a shopper's script or a shell user pays it):
the whole command timed from outside, and the same steps timed inside one process
(imports, settings and cluster, each encoder, the translator, the rest of the
client, the search). The torch backend (which loads the weights) is the baseline
of the same run. Needs a running node and an index (default: the demo's).

    python benchmarks/bench_startup.py --index demo-products --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

INSIDE = r"""
import json, sys, time
t0 = time.perf_counter(); marks = {}
def mark(name):
    global t0
    now = time.perf_counter(); marks[name] = round(now - t0, 3); t0 = now
import xlsearch_es.cli  # noqa: F401 - the CLI's own imports
from xlsearch_es.config import load_settings
from xlsearch_es.search.client import XLSearchClient
mark("import xlsearch (cli, client)")
from xlsearch_es.cluster.connection import connect
from xlsearch_es.cluster.indices import read_meta
from xlsearch_es.service import settings_for_index
settings = load_settings(overrides={"index": sys.argv[1]})
es = connect(settings)
settings = settings_for_index(settings, read_meta(es, settings.index))
mark("settings, connect, index meta")
from xlsearch_es.embed.base import encoder_kinds
embedders = {}
for kind in encoder_kinds(settings):
    embedders[kind.vector_field] = kind.load(settings)
    mark(f"load encoder {kind.name}")
from xlsearch_es.translate.factory import make_translator
translator = make_translator(settings)
mark("translator")
client = XLSearchClient(settings, es, encoder=embedders, translator=translator)
mark("client (probe, detector, language share)")
client.search(sys.argv[2], k=10)
mark("first search")
client.search(sys.argv[2] + " rojo", k=10)
mark("second search (warm)")
print(json.dumps(marks))
"""


def run_row(index: str, query: str, backend: str, runs: int) -> dict:
    env = {**os.environ, "XLSEARCH_BACKEND": backend}
    cli = [sys.executable, "-m", "xlsearch_es.cli", "search", query, "--index", index, "--k", "10"]
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
    stderr_bytes = len(proc.stderr.encode())
    stages = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", INSIDE, index, query], env=env, capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        stages.append(json.loads(out.stdout.strip().splitlines()[-1]))
    median = {k: round(statistics.median(s[k] for s in stages), 3) for k in stages[0]}
    return {"backend": backend, "command_s": [round(w, 2) for w in walls],
            "command_median_s": round(statistics.median(walls), 2), "stderr_bytes": stderr_bytes, "stages_s": median}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="demo-products")
    parser.add_argument("--query", default="zapatillas negras")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "startup.json"))
    args = parser.parse_args()
    rows = [run_row(args.index, args.query, backend, args.runs) for backend in ("auto", "torch")]
    base = rows[1]["command_median_s"]
    for row in rows:
        row["x_torch_backend"] = round(row["command_median_s"] / base, 2)
    result = {"index": args.index, "query": args.query, "runs": args.runs,
              "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE"), "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
