"""Prometheus metrics of one service instance (its own registry: no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "xlsearch_requests",
            "Requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "xlsearch_request_errors",
            "Requests answered with a 5xx or 4xx, by route",
            ["route", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "xlsearch_request_seconds", "Request latency by route", ["route"], registry=self.registry
        )
        self.unexpected = Counter(
            "xlsearch_unexpected_errors",
            "Requests that hit an unexpected exception (answered 500, logged once)",
            registry=self.registry,
        )
        self.stages = Histogram(
            "xlsearch_search_stage_seconds",
            "Search time by stage (detect, translate, embed, bm25, knn, fuse, highlight...)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, "server" if status >= 500 else "client").inc()

    def observe_unexpected(self) -> None:
        self.unexpected.inc()

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stages.labels(stage).observe(ms / 1e3)

    def render(self) -> bytes:
        return generate_latest(self.registry)
