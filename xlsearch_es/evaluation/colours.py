"""The colour test: does a query naming a colour and a product type get a product of
that colour (and type) at top 1? Queries in tests/data/colour_queries.tsv, in twelve
languages and five scripts, against the sample catalog (samples/catalog.jsonl)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..search.client import XLSearchClient


@dataclass(frozen=True)
class ColourQuery:
    lang: str
    query: str
    color: str
    type: str  # the sample catalog's product kind, as in its ids ("en-running_shoes-002")


def load_colour_queries(path: Path) -> list[ColourQuery]:
    with path.open(encoding="utf-8") as fh:
        return [ColourQuery(**row) for row in csv.DictReader(fh, delimiter="\t")]


def _kind(product_id: str) -> str:
    return product_id.split("-", 1)[-1].rsplit("-", 1)[0]


def colour_test(client: XLSearchClient, queries: list[ColourQuery]) -> dict[str, Any]:
    """Share of queries whose top hit carries the colour (and the type too), overall
    and per language, with the misses listed."""
    total: Counter[str] = Counter()
    colour: Counter[str] = Counter()
    both: Counter[str] = Counter()
    misses = []
    for q in queries:
        hits = client.search(q.query, k=1).hits
        top = hits[0].id if hits else ""
        held = client.es.get(index=client.alias, id=top, source_includes=["attr"])["_source"] if top else {}
        has_colour = q.color in held.get("attr", {}).get("color", [])
        has_type = _kind(top) == q.type
        total[q.lang] += 1
        colour[q.lang] += has_colour
        both[q.lang] += has_colour and has_type
        if not (has_colour and has_type):
            misses.append({"query": q.query, "want": f"{q.color} {q.type}", "top": top})
    n = sum(total.values())
    return {
        "queries": n,
        "colour_top1": round(sum(colour.values()) / n, 3),
        "colour_and_type_top1": round(sum(both.values()) / n, 3),
        "per_language": {lg: f"{colour[lg]}/{total[lg]} colour, {both[lg]}/{total[lg]} both" for lg in total},
        "misses": misses,
    }
