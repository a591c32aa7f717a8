"""Load test of ``xlsearch serve`` on loopback, beside the in-process client in the same run.

8 concurrent users (asyncio + httpx) send hybrid searches for 60 s to POST /v1/search;
then the same queries run through XLSearchClient in this process with 8 threads.
Reports errors, p50/p95 latency and queries/s of both, and their ratio.

Usage: python benchmarks/bench_serve.py --index demo-products [--users 8] [--seconds 60]
Writes benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

QUERIES = ["绿色 连衣裙", "青いノートパソコン", "grüne Waschmaschine", "zapatillas negras", "green USB-C charger",
           "wireless earbuds", "Kaffeemaschine rot", "vestido rojo verano", "ノートパソコン 16GB", "LEGO City",
           "red dress", "black running shoes", "Sony WF-1000XM4", "machine à laver", "smartwatch pink"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1) if ordered else 0.0


async def _user(client: httpx.AsyncClient, stop: float, lat: list[float], errors: list[str], offset: int) -> None:
    i = offset
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        try:
            resp = await client.post("/v1/search", json={"query": QUERIES[i % len(QUERIES)], "k": 10})
            if resp.status_code != 200:
                errors.append(f"{resp.status_code}: {resp.text[:100]}")
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)
        lat.append((time.perf_counter() - t0) * 1e3)
        i += 1


async def _load(base: str, users: int, seconds: float) -> dict:
    lat: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(_user(client, start + seconds, lat, errors, u) for u in range(users)))
        wall = time.perf_counter() - start
    return {"requests": len(lat), "errors": len(errors), "error_samples": errors[:5], "p50_ms": _pct(lat, 50),
            "p95_ms": _pct(lat, 95), "qps": round(len(lat) / wall, 1)}


def _in_process(settings, users: int, seconds: float) -> dict:  # noqa: ANN001 - Settings
    from xlsearch_es.search.client import XLSearchClient

    client = XLSearchClient(settings)
    lat: list[float] = []
    stop = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            client.search(QUERIES[i % len(QUERIES)], k=10)
            lat.append((time.perf_counter() - t0) * 1e3)
            i += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(users) as pool:
        list(pool.map(worker, range(users)))
    wall = time.perf_counter() - start
    return {"requests": len(lat), "p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95), "qps": round(len(lat) / wall, 1)}


def main() -> None:
    import uvicorn

    from xlsearch_es.config import load_settings
    from xlsearch_es.serve.app import create_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="demo-products")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    settings = load_settings({"index": args.index})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    asyncio.run(_load(base, 2, 3))  # warm-up
    served = asyncio.run(_load(base, args.users, args.seconds))
    server.should_exit = True
    thread.join()
    direct = _in_process(settings, args.users, args.seconds)
    result = {"index": args.index, "users": args.users, "seconds": args.seconds, "service": served,
              "in_process": direct, "service_qps_ratio": round(served["qps"] / max(direct["qps"], 1e-9), 3),
              "median_overhead_ms": round(served["p50_ms"] - direct["p50_ms"], 1),
              "cpu_note": "2 cores shared by Elasticsearch, the server and the load generator"}
    out = Path(__file__).parent / "results" / "serve.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
