"""The serve command: the search service."""

from __future__ import annotations

from typing import Any

import click

from .common import index_option, settings_of


@click.command("serve")
@index_option
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
    from ..serve.app import run_server

    settings = settings_of(ctx, **flags)
    served = ", ".join(settings.served_indices)
    click.echo(f"xlsearch serving {served} on http://{host}:{port}/ (gateway to {settings.es_url})", err=True)
    run_server(settings, host, port)


COMMANDS = (serve_cmd,)
