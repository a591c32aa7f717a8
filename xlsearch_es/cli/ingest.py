"""The ingest command: a catalog into an index."""

from __future__ import annotations

from typing import Any

import click

from ..config import DEFAULT_ENGINE
from .common import NameChoice, emit, index_option, layout_options, settings_of


@click.command("ingest")
@click.argument("path")
@index_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Input format (default: by suffix).")
@click.option("--languages", help="Languages of a new index, e.g. en,zh,ja (an existing index keeps its own).")
@click.option("--translator", type=NameChoice("translator"))
@click.option("--translator-model", help="Model for seq2seq / causal-lm.")
@layout_options
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
    type=NameChoice("engine"),
    default=DEFAULT_ENGINE,
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
    from ..ingest.pipeline import IngestOptions, run_ingest
    from ..ingest.records import parse_field_map
    from ..ingest.source import parse_shard

    settings = settings_of(ctx, **flags)
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
    emit(
        summary,
        as_json,
        lambda d: (
            f"{d['alias']} -> {d['index']}: read {d['read']}, indexed {d['indexed']}, unchanged {d['unchanged']}, "
            f"rejected {d['rejected']}, deleted {d['deleted']} in {d['seconds']:.1f}s"
            + (f"\nrejected records: {d['dead_letter']}" if d["rejected"] else "")
            + "".join(f"\nnote: {n}" for n in d["notes"])
        ),
    )


COMMANDS = (ingest_cmd,)
