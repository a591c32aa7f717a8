"""``xlsearch``: a thin click shell over the library.

Each command turns flags into Settings, calls one library function and prints
its result (a table for people, ``--json`` for programs). Errors meant for the
user become one line on stderr and a non-zero exit, never a traceback. The
commands live by group: cluster, models (and text), ingest, search, learn, serve.
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import XLSearchError
from . import cluster, ingest, learn, models, search, serve
from .common import NameChoice


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
    type=NameChoice("backend"),
    help="Runtime of the transformers encoder (XLSEARCH_BACKEND): auto (default: ONNX Runtime on CPU, torch on GPU), "
    "torch, or onnx.",
)
@click.option(
    "--encoders",
    type=NameChoice("encoder", many=True),
    help="Encoders of a new index, one vector field each, e.g. transformers,use (XLSEARCH_ENCODERS).",
)
@click.option("--query-adapter", help="Query adapter folder from 'xlsearch train --adapter' (XLSEARCH_QUERY_ADAPTER).")
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
    from ..console import configure_console

    configure_console(verbose)
    ctx.obj = {k: v for k, v in overrides.items() if v is not None}
    if es_insecure:
        ctx.obj["es_verify_certs"] = False
    ctx.obj["config_file"] = config_file


for _module in (cluster, models, ingest, search, learn, serve):
    for _command in _module.COMMANDS:
        main.add_command(_command)
