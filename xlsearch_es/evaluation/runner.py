"""``xlsearch eval``: relevance of every variant on a BEIR-layout set, side by side.

The corpus goes through the ingest worker into its own index (its languages:
English plus every query language, so documents are translated into them);
each query goes through the thin client once per variant. Variants isolate
what each part adds: plain BM25 on the original text, BM25 with query
translation, BM25 over translated documents, both, kNN alone (query vector
from the query only, or averaged with its translations), hybrid with each
fusion, and hybrid with translation switched off.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import XLSearchError
from ..mapping import DEFAULT_ENCODER
from ..relevance.judgments import SplitPolicy, beir_hash
from ..relevance.metrics import mean, mrr_at_k, ndcg_at_k, percentile, recall_at_k
from .dataset import SPLITS, Dataset, corpus_as_catalog, load_dataset
from .variants import Variant, all_variants, per_field, runs_here

TOP_K = 100


@dataclass
class VariantResult:
    variant: str
    description: str
    overall: dict[str, float | None]
    per_language: dict[str, dict[str, float | None]]
    latency_ms: dict[str, float]
    queries: int
    errors: int = 0
    notes: list[str] = field(default_factory=list)


def evaluate_runs(dataset: Dataset, runs: dict[str, list[str]]) -> tuple[dict, dict]:
    """Per-query metrics averaged overall and per query language."""
    per_lang: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    overall: dict[str, list] = defaultdict(list)
    for q in dataset.queries:
        ranked = runs.get(q["_id"], [])
        rels = dataset.qrels.get(q["_id"], {})
        values = {
            "ndcg@10": ndcg_at_k(ranked, rels, 10),
            "recall@100": recall_at_k(ranked, rels, 100),
            "mrr@10": mrr_at_k(ranked, rels, 10),
        }
        for name, v in values.items():
            overall[name].append(v)
            per_lang[q.get("lang") or "und"][name].append(v)
    agg = lambda d: {k: _round(mean(v)) for k, v in d.items()}
    return agg(overall), {lang: agg(v) for lang, v in sorted(per_lang.items())}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def run_eval(
    settings: Settings,
    dataset_dir: Path,
    *,
    variants: list[str] | None = None,
    sample: int | None = None,
    languages: list[str] | None = None,
    out_dir: Path | None = None,
    progress: Callable[[str], None] = lambda m: None,
    split: str = "test",
    leave_one_out: bool = False,
) -> dict[str, Any]:
    """Index the corpus, run every variant, write JSON/Markdown/PNG reports; return the report.

    Queries come from one hash split (``test`` by default: the half no training
    or tuning ever sees). A fine-tuned model (its manifest names its base) is
    measured beside its base: base rows as named, fine-tuned rows prefixed ``ft-``.
    """
    if split not in SPLITS:
        raise XLSearchError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    training = _training_record(settings, dataset_dir, split)
    policy = SplitPolicy(**training["split"]) if training and training.get("split") else SplitPolicy()
    chosen, notes = _choose_variants(variants, settings, split)
    dataset = load_dataset(dataset_dir, sample=sample, languages=languages, split=split, policy=policy)
    if not dataset.queries:
        raise XLSearchError(f"no judged queries in {dataset_dir} (split {split})")

    rows: list[VariantResult] = []
    base_path = (training or {}).get("base_model_path")
    if training and base_path and Path(base_path).is_dir():
        base = _evaluate_model(
            settings.replace(model=base_path), dataset, dataset_dir, chosen, "", policy, progress, split=split
        )
        model_dependent = [v for v in chosen if v.search.get("mode") != "bm25"]
        tuned = _evaluate_model(settings, dataset, dataset_dir, model_dependent, "ft-", policy, progress, split=split)
        rows = base["results"] + tuned["results"]
        info = tuned
    else:
        info = _evaluate_model(
            settings, dataset, dataset_dir, chosen, "", policy, progress, loo=leave_one_out, split=split
        )
        rows = info["results"]
    report = _report(dataset, sample, split, policy, info, training, notes, rows)
    if info.get("leave_one_language_out"):
        report["leave_one_language_out"] = info["leave_one_language_out"]
    if out_dir:
        write_reports(report, out_dir)
    return report


def _training_record(settings: Settings, dataset_dir: Path, split: str) -> dict[str, Any] | None:
    """What a fine-tuned model's manifest says about its training; refuses to report
    on queries the model was trained on (only the test split is clean)."""
    from ..embed.manifest import read_manifest

    model = Path(settings.model_ref)
    training = (read_manifest(model) or {}).get("training") if model.is_dir() else None
    if training and training.get("data_hash") == beir_hash(dataset_dir) and split != "test":
        raise XLSearchError(
            f"the model was trained on the {split!r} queries of {dataset_dir.name} (its manifest "
            "records this set's hash); it is reported only on --split test"
        )
    return training


def _choose_variants(names: list[str] | None, settings: Settings, split: str) -> tuple[list[Variant], list[str]]:
    """The variants asked for (all by default) that can run here, and notes on those left out."""
    known = all_variants()
    unknown = set(names or []) - {v.name for v in known}
    if unknown:
        raise XLSearchError(f"unknown variants {sorted(unknown)}; known: {', '.join(v.name for v in known)}")
    chosen = [v for v in known if not names or v.name in names]
    notes = []
    if not settings.reranker and any(v.rerank for v in chosen):
        chosen = [v for v in chosen if not v.rerank]
        if names:
            notes.append("rerank rows need --reranker; left out")
    if split != "test" and any(v.tuned for v in chosen):
        chosen = [v for v in chosen if not v.tuned]
        notes.append("tuned rows need --split test (tuning learns on the validation split); left out")
    return chosen, notes


def _report(
    dataset: Dataset,
    sample: int | None,
    split: str,
    policy: SplitPolicy,
    info: dict[str, Any],
    training: dict[str, Any] | None,
    notes: list[str],
    rows: list[VariantResult],
) -> dict[str, Any]:
    return {
        "dataset": dataset.name,
        "queries": len(dataset.queries),
        "sample_per_language": sample,
        "split": split,
        "split_policy": policy.as_dict(),
        "languages": dataset.languages,
        "index": info["index"],
        "index_languages": info["index_languages"],
        "documents": info["documents"],
        "ingest_seconds": info["ingest_seconds"],
        "model": info["model"],
        "base_model": (training or {}).get("base_model"),
        "translator": info["translator"],
        "query_adapter": info.get("query_adapter"),
        "judged": info.get("judged"),
        "top_k": TOP_K,
        "tuning": info["tuning"],
        "notes": notes,
        "variants": [r.__dict__ for r in rows],
        "cross_lingual_gap": cross_lingual_gap(rows),
        "unjudged_policy": "unjudged documents count as not relevant; queries without a relevant document are left out",
    }


def _evaluate_model(
    settings: Settings,
    dataset: Dataset,
    dataset_dir: Path,
    variants: list[Variant],
    prefix: str,
    policy: SplitPolicy,
    progress: Callable[[str], None],
    loo: bool = False,
    split: str = "test",
) -> dict[str, Any]:
    """Index the corpus with ``settings``' model, tune if a variant wants it, run the variants
    (and, with ``loo``, the leave-one-language-out protocol)."""
    from ..cluster.connection import connect
    from ..embed.base import load_embedders
    from ..learn.judged import check_judged
    from ..search.client import XLSearchClient
    from ..service import model_meta
    from ..translate.factory import make_translator

    index_langs = tuple(dict.fromkeys(["en"] + [lg for lg in dataset.languages if lg != "und"]))
    meta = model_meta(settings)
    settings = settings.replace(index=eval_alias(settings, dataset.name, meta.fingerprint), languages=index_langs)
    client = connect(settings)
    embedders = load_embedders(settings)
    translator = make_translator(settings)
    ingest, docs, ingest_s = _index_corpus(settings, client, embedders, translator, dataset_dir, progress)
    searchers: dict[str, XLSearchClient] = {}

    def searcher(key: str) -> XLSearchClient:
        if key not in searchers:
            tr = translator if key == "configured" else make_translator(settings, "none")
            searchers[key] = XLSearchClient(settings, client=client, encoder=embedders, translator=tr)
        return searchers[key]

    configured = searcher("configured")
    judged = check_judged(configured.runtime.meta.raw, beir_hash(dataset_dir), dataset_dir.name, split, policy)
    tuning = (
        _tuning(searcher("configured"), dataset_dir, policy, prefix, progress)
        if any(v.tuned for v in variants)
        else None
    )
    runnable = [v for v in per_field(variants, configured) if runs_here(v, configured, progress)]
    results = [_run_variant(searcher(v.translator), dataset, v, prefix, progress) for v in runnable]
    return {
        "results": results,
        "index": ingest.index,
        "index_languages": list(index_langs),
        "documents": docs,
        "ingest_seconds": round(ingest_s, 1),
        "model": meta.as_dict(),
        "models": {f: e.meta().as_dict() for f, e in embedders.items()},
        "translator": translator.name,
        "query_adapter": settings.query_adapter,
        "judged": judged,
        "tuning": tuning,
        "leave_one_language_out": _loo(searcher("configured"), dataset_dir, dataset, policy, progress) if loo else None,
    }


def _index_corpus(
    settings: Settings,
    client: Any,
    embedders: Any,
    translator: Any,
    dataset_dir: Path,
    progress: Callable[[str], None],
) -> tuple[Any, int, float]:
    """Load the set's corpus as a catalog into ``settings.index``; the report keeps how long it took."""
    from ..ingest.pipeline import IngestOptions, IngestPipeline

    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "corpus.jsonl"
        docs = corpus_as_catalog(dataset_dir, catalog)
        progress(f"indexing {docs} documents into {settings.index} (languages {','.join(settings.languages)})")
        t0 = time.perf_counter()
        ingest = IngestPipeline(settings, client, embedders, translator, IngestOptions(path=str(catalog))).run()
        return ingest, docs, time.perf_counter() - t0


def _loo(searcher: Any, dataset_dir: Path, dataset: Dataset, policy: SplitPolicy, progress: Callable[[str], None]):
    from ..relevance.judgments import load_beir
    from .loo import leave_one_language_out

    return leave_one_language_out(searcher, load_beir(dataset_dir), dataset, policy, progress)


def eval_alias(settings: Settings, dataset: str, fingerprint: str) -> str:
    """One eval index per set, translator, model (when not the default) and encoder set."""
    default_model = settings.model is None or settings.model_ref == settings.replace(model=None).model_ref
    suffix = "" if default_model else f"-{fingerprint[:10]}"
    if settings.encoders != (DEFAULT_ENCODER,):
        suffix += "-" + "-".join(settings.encoders)
    return f"eval-{dataset}-{settings.translator}{suffix}".lower()


def _tuning(
    searcher: Any, dataset_dir: Path, policy: SplitPolicy, prefix: str, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Tune the eval index on this set's validation split, or reuse a tuning it
    already holds for the same set, split and vectors."""
    from ..embed.adapter import adapter_fingerprint
    from ..learn.tune import TUNER_VERSION, store, tune
    from ..relevance.judgments import load_beir

    current = searcher.planner.tuning
    if (
        current is not None
        and current.data_hash == beir_hash(dataset_dir)
        and current.validation.get("split", SplitPolicy().as_dict()) == policy.as_dict()
        and current.validation.get("tuner", 1) == TUNER_VERSION
        and current.validation.get("query_adapter") == adapter_fingerprint(searcher.settings.query_adapter)
    ):
        progress(f"{prefix}reusing tuning v{current.version} stored in the index")
        return {
            "defaults": current.validation.get("ndcg@10_defaults"),
            "tuned": current.validation.get("ndcg@10_tuned"),
            "improved": True,
            "params": current.params.as_dict(),
            "version": current.version,
            "per_language": {k: v.as_dict() for k, v in current.per_language.items()},
        }
    progress(f"{prefix}tuning on the validation split of {dataset_dir.name}")
    judgments = load_beir(dataset_dir)
    result = tune(searcher, judgments, policy, say=progress)
    stored = store(searcher, result, judgments, split=policy)
    return {
        "defaults": result["defaults"],
        "tuned": result["tuned"],
        "improved": result["improved"],
        "params": result["params"].as_dict(),
        "version": stored.version if stored else None,
        "per_language": {k: v.as_dict() for k, v in result["per_language"].items()},
    }


def _run_variant(
    searcher: Any, dataset: Dataset, variant: Variant, prefix: str, progress: Callable[[str], None]
) -> VariantResult:
    progress(f"{prefix}{variant.name}: {len(dataset.queries)} queries")
    runs: dict[str, list[str]] = {}
    latencies: list[float] = []
    errors = 0
    for q in dataset.queries:
        start = time.perf_counter()
        try:
            resp = searcher.search(
                q["text"],
                lang=q.get("lang"),
                k=TOP_K,
                use_tuning=variant.tuned,
                rerank=variant.rerank,
                highlight=False,
                **variant.search,
            )
            runs[q["_id"]] = [h.id for h in resp.hits]
        except XLSearchError:
            errors += 1
            runs[q["_id"]] = []
        latencies.append((time.perf_counter() - start) * 1e3)
    overall, per_lang = evaluate_runs(dataset, runs)
    return VariantResult(
        variant=prefix + variant.name,
        description=("fine-tuned model: " if prefix else "") + variant.description,
        overall=overall,
        per_language=per_lang,
        latency_ms={"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1)},
        queries=len(dataset.queries),
        errors=errors,
    )


def cross_lingual_gap(results: list[VariantResult]) -> dict[str, dict[str, float | None]]:
    """1 - MRR(lang) / MRR(en) per variant, when English queries exist."""
    out: dict[str, dict[str, float | None]] = {}
    for r in results:
        en = (r.per_language.get("en") or {}).get("mrr@10")
        if not en:
            continue
        out[r.variant] = {
            lang: (None if m.get("mrr@10") is None else round(1 - float(m["mrr@10"] or 0.0) / en, 4))
            for lang, m in r.per_language.items()
            if lang != "en"
        }
    return out


def write_reports(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    from .report import render_chart, render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / report["dataset"]
    paths = {"json": stem.with_suffix(".json"), "md": stem.with_suffix(".md"), "png": stem.with_suffix(".png")}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    paths["md"].write_text(render_markdown(report))
    render_chart(report, paths["png"])
    return paths
