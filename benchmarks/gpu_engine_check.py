"""Device check for the ingest engines on a GPU machine: enrichment alone (no cluster).

The GPU machine here has no Elasticsearch and cannot receive the e5 weights, so
this times the engines' enrichment stage, which is where ingest spends its time
(detect, hash, embed, build documents), on a randomly initialised model with
multilingual-e5-small's exact architecture (see ``gpu_encoder_check.py``;
random weights cost the same compute). Rows, in one run: the local engine on
the CPU and on CUDA, Ray Data with 1 actor (given the GPU by the engine's
one-GPU-per-actor rule) and with 2 actors (one GPU is not enough for two, so
they run on the CPU); ``--in-flight 2,4`` runs each Ray row with 2 and with 4
blocks queued per actor (``ray-1/4``). Every row must return every product as
an action.

    python benchmarks/gpu_engine_check.py --products 4096 --in-flight 2,4 --out gpu_engines.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gpu_encoder_check import build  # noqa: E402


def _products(n: int, tag: str = "model") -> list:
    """Products whose texts differ by ``tag``: the warm-up batch must not fill the encoder's cache for the timed run."""
    from xlsearch_es.ingest.records import Product

    colours, things = ["red", "blue", "green", "black"], ["summer dress", "wireless earbuds", "phone case", "kettle"]
    return [
        Product(
            line=i + 1,
            id=f"p{i}",
            title=f"{colours[i % 4]} {things[(i // 4) % 4]} {tag} {i}",
            description=f"A {colours[i % 4]} {things[(i // 4) % 4]} for every day, size {i % 40}. " * 3,
            brand="Acme",
            category=things[(i // 4) % 4],
            language="en",
        )
        for i in range(n)
    ]


def _drive(engine, products: list, batch: int) -> tuple[float, int]:
    """Every batch through the engine, at most ``capacity`` in flight, as the pipeline does."""
    pending: deque = deque()
    actions = 0
    t0 = time.perf_counter()
    for start in range(0, len(products), batch):
        pending.append(engine.submit(products[start : start + batch], {}))
        while len(pending) >= engine.capacity:
            actions += len(engine.result(pending.popleft()).actions)
    while pending:
        actions += len(engine.result(pending.popleft()).actions)
    return time.perf_counter() - t0, actions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--out", default="gpu_engines.json")
    ap.add_argument("--rows", default="local-cpu,local-cuda,ray-1,ray-2")
    ap.add_argument("--in-flight", default="2", help="blocks queued per Ray actor; a list runs each Ray row per value")
    args = ap.parse_args()
    import torch

    from xlsearch_es.config import Settings
    from xlsearch_es.embed.base import describe_embedders, load_embedders
    from xlsearch_es.mapping import build_index_body, load_template
    from xlsearch_es.ingest.engine import LocalEngine
    from xlsearch_es.ingest.engine_ray import RayEngine
    from xlsearch_es.ingest.enrich import EnrichContext
    from xlsearch_es.text.langid import LanguageDetector
    from xlsearch_es.translate.factory import make_translator

    folder = Path(tempfile.gettempdir()) / "e5-arch-random"
    build(folder)
    home = Path(tempfile.mkdtemp(prefix="xlsearch-home-"))
    products = _products(args.products)
    result: dict = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpus": torch.get_num_threads(),
        "products": args.products,
        "batch": args.batch,
        "note": "enrichment only (no cluster); e5-small architecture, random weights; Ray start and model loading "
        "are timed in seconds_with_start",
        "rows": [],
    }
    base = Settings(home=home, model=str(folder), encoders=("transformers",), backend="torch",
                    languages=("en",), translator="none")
    rows = [r for r in args.rows.split(",") if not r.startswith("ray")]
    rows += [f"{r}/{n}" for r in args.rows.split(",") if r.startswith("ray") for n in args.in_flight.split(",")]
    for row in rows:
        kind, _, where = row.partition("-")
        where, _, in_flight = where.partition("/")
        t_start = time.perf_counter()
        in_process = kind == "local"
        settings = base.replace(device=where if in_process else "cpu")  # Ray moves an actor given a GPU to cuda
        context = EnrichContext(
            languages=settings.languages,
            translator=make_translator(settings),
            # the Ray actors load their own models: only the field names travel
            embedders=load_embedders(settings) if in_process else dict.fromkeys(("embedding",)),  # type: ignore[arg-type]
            detector=LanguageDetector(candidates=("en", "de"), fallback="en"),
        )
        # Ray actors build their runtime from the index's _meta (as a load's actors do)
        meta = build_index_body(load_template(), settings.languages, describe_embedders(settings), "none",
                                language_analyzers=False)["mappings"]["_meta"]
        engine = LocalEngine(context) if in_process else RayEngine(meta, settings, actors=int(where),
                                                                   in_flight_per_actor=int(in_flight))
        warm = _products(args.batch, tag="warm-up")
        _drive(engine, warm, args.batch)  # load and warm before the clock, as a long load would be
        seconds, actions = _drive(engine, products, args.batch)
        engine.close()
        total = time.perf_counter() - t_start
        assert actions == len(products), (row, actions)
        per_s = round(len(products) / seconds, 1)
        result["rows"].append({"row": row, "seconds": round(seconds, 2), "products_per_s": per_s,
                               "seconds_with_start": round(total, 1)})
        print(result["rows"][-1], flush=True)
    local = next((r for r in result["rows"] if r["row"] == "local-cpu"), None)
    for r in result["rows"]:
        if local:
            r["ratio_to_local_cpu"] = round(r["products_per_s"] / local["products_per_s"], 2)
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
