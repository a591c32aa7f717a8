"""Commands that measure and learn from judgments: eval, train, tune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import NameChoice, emit, holdout_option, index_option, say, settings_of, split_policy, validation_option


@click.command("eval")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--modes", "variants", help="Comma-separated variants (default: all); see the report for names.")
@click.option("--translator", type=NameChoice("translator"))
@click.option("--translator-model", help="Model for seq2seq / causal-lm.")
@click.option("--languages", "query_langs", help="Only queries in these languages, e.g. en,zh.")
@click.option("--sample", type=int, help="Queries per language (seeded sample) for a quick run.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write JSON, Markdown and PNG here.")
@click.option(
    "--split",
    type=click.Choice(["test", "validation", "train", "all"]),
    default="test",
    show_default=True,
    help="Which hash split of the queries to report on; test is never trained or tuned on.",
)
@click.option(
    "--leave-one-language-out",
    "leave_one_out",
    is_flag=True,
    help="Also tune without each language in turn and report it on its test queries (vs the widest encoder alone).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    dataset_dir: str,
    variants: str | None,
    query_langs: str | None,
    sample: int | None,
    out_dir: str | None,
    split: str,
    leave_one_out: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Relevance (nDCG@10, recall@100, MRR@10) of every variant on a BEIR-layout set."""
    from ..evaluation.report import render_markdown
    from ..evaluation.runner import run_eval

    settings = settings_of(ctx, **flags)
    report = run_eval(
        settings,
        Path(dataset_dir),
        variants=variants.split(",") if variants else None,
        sample=sample,
        languages=query_langs.split(",") if query_langs else None,
        out_dir=Path(out_dir) if out_dir else None,
        split=split,
        leave_one_out=leave_one_out,
        progress=say,
    )
    emit(report, as_json, render_markdown)


# ------------------------------------------------------ learn from judgments ---


@click.command("train")
@click.argument("data", required=False, type=click.Path(exists=True))
@click.option(
    "--from-index",
    "from_index",
    is_flag=True,
    help="Judgments from the searches and clicks xlsearch serve recorded for the index (instead of DATA).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Model folder to write.")
@click.option(
    "--catalog", type=click.Path(exists=True, dir_okay=False), help="Products of a click log (a catalog file)."
)
@click.option("--index", "index_name", help="Mine hard negatives from this index (and read a click log's products).")
@click.option("--epochs", type=int, default=3, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=5e-5, show_default=True)
@click.option("--max-steps", type=int, help="Stop after this many steps.")
@click.option("--eval-every", type=int, help="Validate every N steps (default: about 8 times per run).")
@click.option("--seed", type=int, default=13, show_default=True)
@holdout_option
@validation_option
@click.option("--dead-letter", type=click.Path(dir_okay=False), help="Where unusable judgment lines go.")
@click.option("--force", is_flag=True, help="Overwrite a non-empty --out folder.")
@click.option(
    "--reranker",
    "as_reranker",
    is_flag=True,
    help="Train a cross-encoder reranker (from the encoder's weights) instead of the encoder.",
)
@click.option(
    "--adapter",
    type=NameChoice("encoder", many=True),
    help="Train query adapters for these encoder kinds (e.g. use) instead of the encoder: no re-embedding; "
    "search with --query-adapter OUT.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def train_cmd(
    ctx: click.Context,
    data: str | None,
    from_index: bool,
    out_dir: str,
    catalog: str | None,
    index_name: str | None,
    holdout: float,
    validation: float,
    dead_letter: str | None,
    as_reranker: bool,
    adapter: str | None,
    as_json: bool,
    **opts: Any,
) -> None:
    """Fine-tune the encoder (or train a reranker, or query adapters) on judgments (a BEIR
    folder, a click log, or with --from-index what the service recorded)."""
    from ..learn.train import TrainOptions, train_encoder

    if as_reranker and adapter:
        raise click.UsageError("--reranker and --adapter train different things; pick one")
    settings = settings_of(ctx)
    judgments = _judgments(ctx, data, catalog, index_name, dead_letter, from_index)
    if as_reranker:
        _train_reranker(settings, judgments, Path(out_dir), split_policy(holdout, validation), opts, as_json)
        return
    if adapter:
        kinds = tuple(adapter.split(","))
        _train_adapters(settings, judgments, Path(out_dir), split_policy(holdout, validation), kinds, opts, as_json)
        return
    options = TrainOptions(out=Path(out_dir), index=index_name, split=split_policy(holdout, validation), **opts)
    manifest = train_encoder(settings, judgments, options, say=say)
    emit(
        manifest,
        as_json,
        lambda d: (
            f"{d['name']} written to {d['path']} (fingerprint {d['fingerprint']}); validation nDCG@10 "
            f"{d['training']['validation_ndcg@10']['before']} -> {d['training']['validation_ndcg@10']['after']} "
            f"after {d['training']['best_step']} of {d['training']['steps']} steps"
        ),
    )


def _train_reranker(settings: Any, judgments: Any, out: Path, split: Any, opts: dict[str, Any], as_json: bool) -> None:
    from ..learn.rerank import RerankOptions, train_reranker

    rerank_opts = RerankOptions(
        out=out,
        split=split,
        seed=opts["seed"],
        force=opts["force"],
        epochs=min(opts["epochs"], 1),
        max_steps=opts["max_steps"] or RerankOptions.max_steps,
    )
    manifest = train_reranker(settings, judgments, rerank_opts, say=say)
    emit(
        manifest,
        as_json,
        lambda d: (
            f"{d['name']} written to {d['path']}: validation "
            f"{d['training']['validation_ndcg@10_top20']}; use it with --reranker {d['path']}"
        ),
    )


def _train_adapters(
    settings: Any, judgments: Any, out: Path, split: Any, kinds: tuple[str, ...], opts: dict[str, Any], as_json: bool
) -> None:
    from ..learn.adapter import AdapterOptions, train_query_adapters

    options = AdapterOptions(out=out, encoders=kinds, split=split, seed=opts["seed"], force=opts["force"])
    manifest = train_query_adapters(settings, judgments, options, say=say)

    def text(d: dict[str, Any]) -> str:
        lines = [
            f"{kind}: validation nDCG@10 {a['validation_ndcg@10']['plain']} -> {a['validation_ndcg@10']['adapted']}"
            for kind, a in d["adapters"].items()
        ]
        lines += [f"{kind}: no gain on validation, not written" for kind in d["not_written"]]
        if d["adapters"]:
            lines.append(f"written to {d['path']}; search with --query-adapter {d['path']}")
        return "\n".join(lines)

    emit(manifest, as_json, text)


def index_judgments_options(fn: Any) -> Any:
    """DATA or --from-index, on an --index: the judgments of the commands that learn into an
    index (tune, learn-vectors), with their split and where unusable lines go."""
    for option in reversed(
        [
            click.argument("data", required=False, type=click.Path(exists=True)),
            click.option(
                "--from-index",
                "from_index",
                is_flag=True,
                help="Judgments from the searches and clicks xlsearch serve recorded for the index (instead of DATA).",
            ),
            index_option,
            click.option(
                "--catalog",
                type=click.Path(exists=True, dir_okay=False),
                help="Products of a click log (a catalog file).",
            ),
            holdout_option,
            validation_option,
            click.option("--dead-letter", type=click.Path(dir_okay=False), help="Where unusable judgment lines go."),
            click.option("--json", "as_json", is_flag=True),
        ]
    ):
        fn = option(fn)
    return fn


@click.command("tune")
@index_judgments_options
@click.option("--dry-run", is_flag=True, help="Measure, but leave the index's parameters as they are.")
@click.pass_context
def tune_cmd(
    ctx: click.Context,
    data: str | None,
    from_index: bool,
    catalog: str | None,
    holdout: float,
    validation: float,
    dry_run: bool,
    dead_letter: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Learn fusion, kNN weight, rank window, translation blend and BM25 boosts for an index."""
    from ..learn.tune import store, tune
    from ..search.client import XLSearchClient

    settings = settings_of(ctx, **flags)
    client = XLSearchClient(settings)
    judgments = _judgments(ctx, data, catalog, settings.index, dead_letter, from_index)
    result = tune(client, judgments, split_policy(holdout, validation), say=say)
    tuning = None if dry_run else store(client, result, judgments, split=split_policy(holdout, validation))
    data_out = {
        **result,
        "params": result["params"].as_dict(),
        "per_language": {k: v.as_dict() for k, v in result["per_language"].items()},
        "stored": None if tuning is None else {"version": tuning.version, "index": settings.index},
    }
    emit(
        data_out,
        as_json,
        lambda d: (
            f"validation nDCG@10: defaults {d['defaults']}, tuned {d['tuned']} ({d['queries']} queries); "
            + (
                f"out of fold {d['out_of_fold']['gain']:+.4f} ± {d['out_of_fold']['stderr']:.4f}; "
                if d.get("out_of_fold")
                else ""
            )
            + (
                f"stored as version {d['stored']['version']} in {d['stored']['index']}"
                if d["stored"]
                else "defaults kept: the tuned parameters did not beat them out of fold"
                if not d["improved"]
                else "dry run: nothing stored"
            )
            + (f"\nparams: {d['params']}" if d["improved"] else "")
            + "".join(f"\n{lang}: {p}" for lang, p in d["per_language"].items())
            + _components_text(d.get("components"))
        ),
    )


@click.command("learn-vectors")
@index_judgments_options
@click.option("--forget", is_flag=True, help="Clear the index's judged vectors (search as before learning).")
@click.pass_context
def learn_vectors_cmd(
    ctx: click.Context,
    data: str | None,
    from_index: bool,
    catalog: str | None,
    holdout: float,
    validation: float,
    forget: bool,
    dead_letter: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Give each judged product a second vector: the mean of the train-split queries that
    found it (one field per encoder, searched and fused beside its own vectors)."""
    from ..cluster.connection import cluster_errors, connect
    from ..learn.judged import forget_judged_vectors, learn_judged_vectors
    from ..runtime import IndexRuntime

    settings = settings_of(ctx, **flags)
    es = connect(settings)
    if forget:
        if data or from_index:
            raise click.UsageError("--forget takes no judgments")
        with cluster_errors(settings):
            done = forget_judged_vectors(es, settings.index, say=say)
        emit(done, as_json, lambda d: f"cleared {d['cleared']} products")
        return
    runtime = IndexRuntime.open(settings, es)
    judgments = _judgments(ctx, data, catalog, settings.index, dead_letter, from_index)
    with cluster_errors(settings):
        report = learn_judged_vectors(es, runtime, judgments, split_policy(holdout, validation), say=say)
    emit(
        report,
        as_json,
        lambda d: (
            f"{d['products']} products in {d['index']} hold judged vectors ({', '.join(d['fields'])}) "
            f"from {d['queries']} train queries of {d['data']}"
        ),
    )


def _components_text(components: dict[str, Any] | None) -> str:
    """The served hybrid beside each of its parts alone, per language (validation nDCG@10)."""
    if not components or not components.get("per_language"):
        return ""
    rows = components["per_language"]
    parts = list(next(iter(rows.values())))
    lines = ["", "validation nDCG@10 per language: " + " | ".join(parts)]
    lines += [f"  {lang}: " + " | ".join(f"{r[p]:.4f}" for p in parts) for lang, r in rows.items()]
    below = components.get("hybrid_below_a_part") or []
    lines.append("hybrid below one of its parts in: " + (", ".join(below) if below else "no language"))
    return "\n".join(lines)


def _judgments(
    ctx: click.Context,
    data: str | None,
    catalog: str | None,
    index_name: str | None,
    dead_letter: str | None,
    from_index: bool = False,
) -> Any:
    """A BEIR folder, a click log with its products from --catalog or --index, or (with
    --from-index) the index's recorded searches and clicks (a Judgments)."""
    from ..cluster.connection import cluster_errors, connect
    from ..relevance.judgments import load_judgments_from

    settings = settings_of(ctx)
    if from_index:
        from ..relevance.events import judgments_from_events, read_events
        from ..relevance.judgments import index_passages

        if data:
            raise click.UsageError("give DATA or --from-index, not both")
        if not index_name:
            raise click.UsageError("--from-index needs --index NAME")
        es = connect(settings)
        with cluster_errors(settings):
            products = index_passages(es, index_name)
            judgments = judgments_from_events(read_events(es, index_name), products, name=f"events-{index_name}")
        say(f"{len(judgments.queries)} queries with clicks recorded for {index_name}")
        return judgments
    if not data:
        raise click.UsageError("DATA is required (a BEIR folder or a click log), or --from-index")
    path = Path(data)
    target = Path(dead_letter) if dead_letter else settings.home_dir / "dead-letter" / f"{path.stem}-judgments.jsonl"
    index = (connect(settings), index_name) if index_name and not catalog and not path.is_dir() else None
    judgments, written = load_judgments_from(path, catalog=catalog, index=index, dead_letter=target)
    if written:
        say(f"{len(judgments.rejected)} unusable line(s) written to {written}")
    return judgments


COMMANDS = (eval_cmd, train_cmd, tune_cmd, learn_vectors_cmd)
