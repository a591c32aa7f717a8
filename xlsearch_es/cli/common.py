"""What every command shares: settings from the flags, output, option types and common options."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from ..config import Settings, load_settings
from ..errors import XLSearchError


def _registry_names(kind: str) -> tuple[str, ...]:
    """The names a choice offers, read from where they are defined (registries and the
    request's modes), when the command line is parsed: plugins' strategies are offered too."""
    if kind == "encoder":
        from ..embed.base import ENCODERS

        return ENCODERS.names()
    if kind == "translator":
        from ..translate.factory import TRANSLATORS

        return TRANSLATORS.names()
    if kind == "fusion":
        from ..search.fusion import FUSIONS

        return FUSIONS.names()
    if kind == "engine":
        from ..ingest.engine import ENGINES

        return ENGINES.names()
    if kind == "mode":
        from ..search.request import MODES

        return MODES
    if kind == "backend":
        from ..embed.encoder import BACKENDS

        return BACKENDS
    raise ValueError(f"no names of kind {kind!r}")


class NameChoice(click.ParamType):
    """One name (or, with ``many``, a comma-separated list) of a kind the library defines."""

    name = "choice"

    def __init__(self, kind: str, many: bool = False):
        self.kind, self.many = kind, many

    def _names(self) -> tuple[str, ...]:
        return _registry_names(self.kind)

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


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from the root group's flags, this command's flags, env vars and the config file."""
    base = dict(ctx.obj or {})
    config_file = base.pop("config_file", None)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return load_settings(overrides=base, config_file=config_file)


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json or human is None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(human(data))


def say(message: str) -> None:
    """Progress for people, on stderr (stdout stays the result)."""
    click.echo(message, err=True)


index_option = click.option("--index", help="Alias name (XLSEARCH_INDEX, default 'products').")


def layout_options(fn: Any) -> Any:
    """--shards, --replicas and --vector-index: the layout of a new index (kept across --rebuild)."""
    from ..config import MAX_REPLICAS, MAX_SHARDS, VECTOR_INDEX_TYPES

    fn = click.option(
        "--vector-index",
        "vector_index",
        type=click.Choice(VECTOR_INDEX_TYPES),
        help="Dense vector index type of a new index (XLSEARCH_VECTOR_INDEX; default int8_hnsw).",
    )(fn)
    fn = click.option(
        "--replicas",
        type=click.IntRange(0, MAX_REPLICAS),
        help="Replicas of a new index (XLSEARCH_REPLICAS; default: 0-1, one wherever a second node exists).",
    )(fn)
    return click.option(
        "--shards",
        type=click.IntRange(1, MAX_SHARDS),
        help="Primary shards of a new index (XLSEARCH_SHARDS; default 1, or the index's own on --rebuild).",
    )(fn)


port_option = click.option("--port", "es_port", type=int, help="HTTP port (XLSEARCH_ES_PORT, default 9200).")
json_option = click.option("--json", "as_json", is_flag=True)
holdout_option = click.option(
    "--holdout",
    type=float,
    default=0.5,
    show_default=True,
    help="Share of queries held out (by hash) for honest evaluation; 0 trains on all.",
)
validation_option = click.option(
    "--validation", type=float, default=0.1, show_default=True, help="Share of queries for early stopping and tuning."
)


def parse_filters(pairs: tuple[str, ...]) -> Any:  # a SearchFilters (imported when a search runs)
    from ..search.query_builder import SearchFilters

    try:
        return SearchFilters.from_pairs(pairs)
    except ValueError as exc:
        raise XLSearchError(str(exc)) from None


def split_policy(holdout: float, validation: float) -> Any:  # a SplitPolicy
    from ..relevance.judgments import SplitPolicy

    return SplitPolicy(holdout=holdout, validation=validation)


def language_codes(text: str) -> tuple[str, ...]:
    from ..text.languages import iso639_1

    codes = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in codes if iso639_1(c) != c.lower()]
    if bad or not codes:
        raise click.BadParameter(f"not ISO 639-1 codes: {', '.join(bad) or text!r}", param_hint="--languages")
    return tuple(c.lower() for c in codes)
