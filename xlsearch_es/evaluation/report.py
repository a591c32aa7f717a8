"""Markdown tables and a PNG chart from an evaluation report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .loo import render_loo


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def render_markdown(report: dict[str, Any]) -> str:
    """The report for people: the overall table, tuning and notes, per-language tables, the gap."""
    langs = report["languages"]
    lines = _overview(report) + _tuning_and_notes(report)
    for title, metric in (("nDCG@10", "ndcg@10"), ("MRR@10", "mrr@10")):
        rows = {v["variant"]: {lg: _metric(v, lg, metric) for lg in langs} for v in report["variants"]}
        lines += _per_language_table(f"{title} per query language", langs, rows)
    gap = report.get("cross_lingual_gap") or {}
    if gap:
        others = [lg for lg in langs if lg != "en"]
        lines += _per_language_table("Cross-lingual gap: 1 - MRR(lang) / MRR(en)", others, gap)
    if report.get("leave_one_language_out"):
        lines += render_loo(report["leave_one_language_out"])
    lines.append("")
    return "\n".join(lines)


def _overview(report: dict[str, Any]) -> list[str]:
    lines = [
        f"# {report['dataset']}: relevance by variant",
        "",
        f"{report['queries']} queries ({_sample_text(report['sample_per_language'])}), "
        f"{report['documents']} documents, model {report['model']['name']} ({report['model']['fingerprint']}), "
        f"translator {report['translator']}, index languages {', '.join(report['index_languages'])}. "
        f"Top {report['top_k']} per query. {report['unjudged_policy'].capitalize()}.",
        "",
        f"Queries from the `{report.get('split', 'all')}` split (by query hash; `test` is never trained or "
        "tuned on)."
        + (
            f" Fine-tuned from {report['base_model']}: `ft-` rows use the fine-tuned model, the others its base."
            if report.get("base_model")
            else ""
        )
        + (f" Query vectors through the adapter {report['query_adapter']}." if report.get("query_adapter") else ""),
        "",
        "| variant | nDCG@10 | recall@100 | MRR@10 | p50 ms | p95 ms | what it is |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in report["variants"]:
        o = v["overall"]
        lines.append(
            f"| {v['variant']} | {_fmt(o['ndcg@10'])} | {_fmt(o['recall@100'])} | {_fmt(o['mrr@10'])} | "
            f"{v['latency_ms']['p50']:.0f} | {v['latency_ms']['p95']:.0f} | {v['description']} |"
        )
    return lines


def _tuning_and_notes(report: dict[str, Any]) -> list[str]:
    lines = []
    tuning = report.get("tuning")
    if tuning:
        lines += [
            "",
            f"Tuning (validation split): nDCG@10 {tuning['defaults']} with defaults, {tuning['tuned']} tuned"
            + ("" if tuning["improved"] else " (not better: defaults kept)")
            + f"; parameters {tuning['params']}"
            + "".join(f"; {lang}: {p}" for lang, p in (tuning.get("per_language") or {}).items())
            + ".",
        ]
    for note in report.get("notes") or []:
        lines += ["", f"Note: {note}."]
    return lines


def _per_language_table(title: str, langs: list[str], rows: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["", f"## {title}", "", "| variant | " + " | ".join(langs) + " |", "|---|" + "---|" * len(langs)]
    for name, per in rows.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(per.get(lg)) for lg in langs) + " |")
    return lines


def render_chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = report["languages"]
    variants = report["variants"]
    width = 0.8 / max(1, len(variants))
    cmap = plt.get_cmap("tab20")
    colors = [cmap(i) for i in range(cmap.N)]
    fig, ax = plt.subplots(figsize=(max(9, 1.3 * len(langs) + 5), 5))
    for i, v in enumerate(variants):
        values = [v["per_language"].get(lg, {}).get("ndcg@10") or 0.0 for lg in langs]
        ax.bar(
            [x + i * width for x in range(len(langs))], values, width, label=v["variant"], color=colors[i % len(colors)]
        )
    ax.set_xticks([x + width * (len(variants) - 1) / 2 for x in range(len(langs))])
    ax.set_xticklabels(langs)
    ax.set_ylabel("nDCG@10")
    ax.set_title(f"{report['dataset']}: nDCG@10 per query language")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sample_text(sample: int | None) -> str:
    return "all" if not sample else f"{sample} per language"


def _metric(variant: dict, lang: str, name: str) -> float | None:
    return variant["per_language"].get(lang, {}).get(name)
