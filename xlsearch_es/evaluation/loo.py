"""Leave-one-language-out: does a choice made on some languages hold on another?

For each query language L of a set: tune on the validation queries of every other
language (the global search only, no per-language overrides), then search L's test
queries with those parameters. Beside it, on the same test queries: the defaults,
and the widest-coverage encoder alone (the other vector fields given no weight, BM25
and fusion as the defaults have them). A default is kept only where no language's
MRR@10 falls more than ``MRR_TOLERANCE`` below that encoder alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import XLSearchError
from ..learn.tune import Tuner, defaults_for, search_global
from ..relevance.judgments import Judgments, SplitPolicy
from ..relevance.metrics import mean, mrr_at_k, ndcg_at_k
from .dataset import Dataset

MRR_TOLERANCE = 0.01
TOP_K = 100


def leave_one_language_out(
    searcher: Any,
    judgments: Judgments,
    dataset: Dataset,
    policy: SplitPolicy,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Per held-out language: MRR@10 and nDCG@10 of the defaults, of the parameters tuned
    without it, and of the widest-coverage encoder alone; and whether the rule holds."""
    validation = judgments.split(policy, "validation")
    if len({q.lang for q in validation}) < 2:
        raise XLSearchError("leave-one-language-out needs validation queries in two languages or more")
    tuner = Tuner(searcher, judgments, validation, progress)
    defaults = defaults_for(searcher)
    alone = _widest_alone(searcher, defaults)
    rows: dict[str, dict[str, Any]] = {}
    for lang in dataset.languages:
        items = [i for i in tuner.items if i.query.lang != lang]
        tuned, _ = search_global(tuner, defaults, items)
        test = [q for q in dataset.queries if (q.get("lang") or "und") == lang]
        progress(f"leave-one-language-out: {lang} held out ({len(items)} tuning, {len(test)} test queries)")
        rows[lang] = {
            "test_queries": len(test),
            "defaults": _measure(searcher, dataset, test, defaults),
            "tuned_without": _measure(searcher, dataset, test, tuned),
            "widest_encoder_alone": _measure(searcher, dataset, test, alone),
            "params_tuned_without": tuned.as_dict(),
        }
    return {"rows": rows, "rule": _rule(rows), "widest_encoder": alone.as_dict().get("knn_shares")}


def _widest_alone(searcher: Any, defaults: Any) -> Any:
    """The defaults with the whole kNN weight on the encoder that declares most languages."""
    widest = searcher.runtime.widest_field()
    return replace(defaults, knn_shares=tuple(1.0 if f == widest else 0.0 for f in searcher.runtime.vector_fields))


def _measure(searcher: Any, dataset: Dataset, queries: list[dict[str, Any]], params: Any) -> dict[str, float]:
    mrr, ndcg = [], []
    for q in queries:
        resp = searcher.search(
            q["text"],
            lang=q.get("lang"),
            k=TOP_K,
            use_tuning=False,
            rerank=False,
            highlight=False,
            fusion=params.fusion,
            knn_weight=params.knn_weight,
            rank_window=params.rank_window,
            translation_weight=params.translation_weight,
            boosts=params.boosts,
            knn_shares=params.knn_shares,
        )
        ranked, rels = [h.id for h in resp.hits], dataset.qrels.get(q["_id"], {})
        mrr.append(mrr_at_k(ranked, rels, 10))
        ndcg.append(ndcg_at_k(ranked, rels, 10))
    return {"mrr@10": round(mean(mrr) or 0.0, 4), "ndcg@10": round(mean(ndcg) or 0.0, 4)}


def _rule(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Which held-out languages fall more than MRR_TOLERANCE below the widest encoder alone,
    for the defaults and for parameters tuned without them."""
    out = {}
    for name in ("defaults", "tuned_without"):
        worse = {
            lang: round(r[name]["mrr@10"] - r["widest_encoder_alone"]["mrr@10"], 4)
            for lang, r in rows.items()
            if r[name]["mrr@10"] < r["widest_encoder_alone"]["mrr@10"] - MRR_TOLERANCE
        }
        out[name] = {"holds": not worse, "languages_below": worse}
    return out


def render_loo(loo: dict[str, Any]) -> list[str]:
    """The per-language table of a leave-one-language-out run (Markdown lines)."""
    lines = [
        "",
        "## Leave-one-language-out (MRR@10 / nDCG@10 on each held-out language's test queries)",
        "",
        "| held out | queries | defaults | tuned without it | widest encoder alone |",
        "|---|---|---|---|---|",
    ]
    for lang, r in loo["rows"].items():
        cells = [
            f"{r[k]['mrr@10']:.3f} / {r[k]['ndcg@10']:.3f}"
            for k in ("defaults", "tuned_without", "widest_encoder_alone")
        ]
        lines.append(f"| {lang} | {r['test_queries']} | " + " | ".join(cells) + " |")
    for name, verdict in loo["rule"].items():
        below = ", ".join(f"{lg} {d:+.3f}" for lg, d in verdict["languages_below"].items()) or "none"
        lines.append(f"\n{name}: rule {'holds' if verdict['holds'] else 'fails'} (more than 0.01 below: {below})")
    return lines
