"""Search commands: search and similar."""

from __future__ import annotations

from typing import Any

import click

from ..search.request import AUTO_FUSION as FUSION_DEFAULT
from ..search.request import HYBRID as MODE_DEFAULT
from .common import NameChoice, emit, index_option, parse_filters, settings_of


def _hits_table(resp: dict, explain: bool) -> str:
    lines = [
        f"{resp['query']!r} [{resp['lang']}] {resp['mode']}"
        + (f"/{resp['fusion']}" if resp.get("fusion") else "")
        + f": {resp['total']} results, page {resp['page']}, {resp['took_ms']:.0f} ms"
    ]
    if resp.get("translations"):
        lines.append("  translated: " + "; ".join(f"{k}: {v}" for k, v in resp["translations"].items()))
    for note in resp.get("notes", []):
        lines.append(f"  note: {note}")
    if explain and resp.get("tuning"):
        applied = ", ".join(f"{k}={v}" for k, v in resp["tuning"]["applied"].items())
        lines.append(f"  tuned ({resp['tuning']['source']}): {applied}")
    for rank, h in enumerate(resp["hits"], start=(resp["page"] - 1) * resp["size"] + 1):
        price = f"{h['price']:.2f} {h['currency'] or ''}" if h.get("price") is not None else ""
        lines.append(f"{rank:>3}. {h['score']:<9.4f} [{h['lang'] or '?'}] {h['title'][:70]:<70} {price}")
        if explain and h.get("components"):
            lines.append(f"       ranks {h['components'].get('ranks')}  scores {h['components'].get('scores')}")
    if resp.get("facets", {}).get("category"):
        top = list(resp["facets"]["category"].items())[:5]
        labels = resp.get("facet_labels", {}).get("category", {})
        lines.append("  categories: " + ", ".join(f"{labels.get(k, k)} ({v})" for k, v in top))
    return "\n".join(lines)


@click.command("search")
@click.argument("query")
@index_option
@click.option("--lang", help="Query language (detected when omitted).")
@click.option("--k", "k", type=int, default=10, show_default=True, help="Results per page.")
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--mode", type=NameChoice("mode"), default=MODE_DEFAULT, show_default=True)
@click.option(
    "--fusion",
    type=NameChoice("fusion"),
    default=FUSION_DEFAULT,
    show_default=True,
    help="auto: z-score for a one-language catalog, reciprocal rank for a mixed one.",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    help="key=value: category, brand, price=MIN..MAX, availability, language (repeatable).",
)
@click.option("--explain", is_flag=True, help="Show each component's rank and score.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Count and rank the whole window as matches (no product-type grouping, no relevance floor).",
)
@click.option(
    "--dfs/--no-dfs",
    "search_dfs",
    default=None,
    help="BM25 with the whole index's term statistics (dfs_query_then_fetch; XLSEARCH_SEARCH_DFS).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search_cmd(
    ctx: click.Context,
    query: str,
    lang: str | None,
    k: int,
    page: int,
    mode: str,
    fusion: str,
    filters: tuple[str, ...],
    explain: bool,
    show_all: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Search the catalog in any language."""
    from ..search.client import XLSearchClient

    client = XLSearchClient(settings_of(ctx, **flags))
    resp = client.search(
        query,
        lang=lang,
        filters=parse_filters(filters),
        k=k,
        page=page,
        mode=mode,  # type: ignore[arg-type]
        fusion=fusion,
        explain=explain,
        focus=not show_all,
    ).as_dict()
    emit(resp, as_json, lambda d: _hits_table(d, explain))


@click.command("similar")
@click.argument("product_id")
@index_option
@click.option("--k", "k", type=int, default=10, show_default=True)
@click.option("--filter", "filters", multiple=True, help="key=value filters, as for search.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def similar_cmd(
    ctx: click.Context, product_id: str, k: int, filters: tuple[str, ...], as_json: bool, **flags: Any
) -> None:
    """Products most like PRODUCT_ID (nearest vectors)."""
    from ..search.client import XLSearchClient

    resp = XLSearchClient(settings_of(ctx, **flags)).similar(product_id, filters=parse_filters(filters), k=k).as_dict()
    emit(resp, as_json, lambda d: _hits_table(d, False))


COMMANDS = (search_cmd, similar_cmd)
