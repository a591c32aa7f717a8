"""The service on a free loopback port in a thread of the test process, for tests that
talk to it over real HTTP (keep-alive, chunked bodies, concurrency)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, attempts: int = 240) -> None:
    """Poll /readyz until the service says ready (models loaded, cluster reachable)."""
    for _ in range(attempts):
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("the service never became ready")


@contextmanager
def running_service(settings) -> Iterator[str]:
    """Start ``create_app(settings)`` under uvicorn, wait until /readyz says ready, yield its base URL."""
    import uvicorn

    from xlsearch_es.serve.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
