"""Fusions the cluster performs in one request: summed scores, and the native retrievers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import query_builder as qb
from .fusion import HybridPlan, ServerFusion

if TYPE_CHECKING:
    from ..cluster.capabilities import Capabilities

# Elasticsearch adds the kNN similarity (0..1) to the BM25 score (often 10-100):
# the boost brings them to comparable scales.
COMBINED_KNN_SCALE = 10.0


class Combined(ServerFusion):
    name = "combined"
    description = "one request, BM25 and kNN scores added by Elasticsearch (kNN boosted x10)"
    facets = True

    def request(self, plan: HybridPlan) -> dict[str, Any]:
        return qb.combined_request(
            plan.bm25,
            plan.vectors,
            plan.filters,
            plan.size,
            plan.offset,
            plan.window,
            plan.num_candidates,
            knn_boost=plan.knn_weight * COMBINED_KNN_SCALE,
        )


class NativeRetriever(ServerFusion):
    """The cluster's ``rrf`` or ``linear`` retriever (a licensed/full-distribution feature)."""

    def __init__(self, kind: str, knn_weight: float, fallback: str, description: str):
        self.kind, self.knn_weight, self._fallback = kind, knn_weight, fallback
        self.name, self.description = f"native-{kind}", description

    def fallback(self, caps: Capabilities) -> tuple[str, str] | None:
        has = caps.rrf_retriever if self.kind == "rrf" else caps.linear_retriever
        return None if has else (self._fallback, f"the cluster has no {self.kind} retriever")

    def request(self, plan: HybridPlan) -> dict[str, Any]:
        return qb.retriever_request(
            self.kind,
            plan.bm25,
            plan.vectors,
            plan.filters,
            plan.size,
            plan.offset,
            plan.window,
            plan.num_candidates,
            weights=(1.0, plan.knn_weight),
        )


COMBINED = Combined()
NATIVE_RRF = NativeRetriever("rrf", 1.0, "rrf", "the cluster's rrf retriever (client-side rrf where it has none)")
NATIVE_LINEAR = NativeRetriever(
    "linear", 2.0, "minmax", "the cluster's linear retriever, min-max normalised (client-side minmax where it has none)"
)
