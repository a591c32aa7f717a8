"""Commands for the cluster: the local node, indices, status, capabilities, Kibana."""

from __future__ import annotations

from typing import Any

import click

from .common import emit, index_option, layout_options, port_option, settings_of


@click.group()
def es() -> None:
    """Manage the local Elasticsearch (one node, or a local multi-node cluster)."""


@es.command("start")
@port_option
@click.option("--heap", "es_heap", help="JVM heap per node, e.g. 512m (XLSEARCH_ES_HEAP).")
@click.option("--timeout", "es_start_timeout", type=float, help="Seconds to wait for the node (or cluster).")
@click.option(
    "--nodes",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="Nodes in one local cluster (HTTP ports PORT..PORT+N-1, transport ports 100 above).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def es_start(ctx: click.Context, as_json: bool, nodes: int, **flags: Any) -> None:
    """Download (once), configure and start the node (or N nodes as one cluster); wait until usable."""
    settings = settings_of(ctx, **flags)
    if nodes > 1:
        from ..cluster.local_cluster import start_cluster

        members, started = start_cluster(settings, nodes)
        emit({"started": started, "nodes": [m.as_dict() for m in members]}, as_json, lambda d: _nodes_text(d["nodes"]))
        return
    from ..cluster.node import start_node

    status, started = start_node(settings)
    data = {"started": started, **status.as_dict()}
    emit(
        data,
        as_json,
        lambda d: (
            f"Elasticsearch {d['version']} {'started' if started else 'is already running'} "
            f"at {d['url']} (health {d['health']}, pid {d['pid']})"
        ),
    )


def _nodes_text(nodes: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{n['name']}: {n['url']} running={n['running']} health={n['health']} pid={n['pid']}" for n in nodes
    )


@es.command("stop")
@port_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def es_stop(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Stop the node (or every node of the cluster) started by 'xlsearch es start' on this port."""
    from ..cluster.local_cluster import read_cluster, stop_cluster
    from ..cluster.node import stop_node

    settings = settings_of(ctx, **flags)
    cluster = read_cluster(settings)
    stopped = stop_cluster(settings, cluster) if cluster else stop_node(settings)
    emit({"stopped": stopped}, as_json, lambda d: "stopped" if stopped else "no local node is running")


@es.command("status")
@port_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def es_status(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Version, URL and health of the local node (of each node of a local cluster)."""
    from ..cluster.local_cluster import cluster_status, read_cluster
    from ..cluster.node import node_status

    settings = settings_of(ctx, **flags)
    cluster = read_cluster(settings)
    if cluster is not None:
        members = cluster_status(settings, cluster)
        emit({"nodes": [m.as_dict() for m in members]}, as_json, lambda d: _nodes_text(d["nodes"]))
        if not all(m.running for m in members):
            ctx.exit(3)
        return
    status = node_status(settings)
    emit(
        status.as_dict(),
        as_json,
        lambda d: (
            f"running: {d['running']}\nurl: {d['url']}\nversion: {d['version']}\nhealth: {d['health']}\npid: {d['pid']}"
        ),
    )
    if not status.running:
        ctx.exit(3)


@es.command("logs")
@port_option
@click.option("-n", "--lines", type=int, default=40, show_default=True)
@click.pass_context
def es_logs(ctx: click.Context, lines: int, **flags: Any) -> None:
    """The last lines of the node's logs."""
    from ..cluster.node import log_tail

    click.echo(log_tail(settings_of(ctx, **flags), lines))


# ---------------------------------------------------------------- index ---


@click.group()
def index() -> None:
    """Create, inspect and delete product indices (versioned, behind an alias)."""


@index.command("create")
@index_option
@click.option("--languages", help="Comma-separated languages of the catalog fields, e.g. en,zh,ja.")
@click.option("--hide-vectors", is_flag=True, default=False, help="Keep vectors out of _source.")
@layout_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_create(ctx: click.Context, as_json: bool, hide_vectors: bool, **flags: Any) -> None:
    """Create ALIAS-v1 from mappings/ and point the alias at it."""
    from ..service import create_index

    settings = settings_of(ctx, **flags, vectors_in_source=False if hide_vectors else None)
    result = create_index(settings)
    emit(
        result,
        as_json,
        lambda d: (
            f"created {d['index']} behind alias {d['alias']} ({d['dims']} dims, languages {','.join(d['languages'])})"
        ),
    )


@index.command("delete")
@index_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_delete(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Delete the alias and every version behind it."""
    from ..cluster.connection import connect
    from ..cluster.indices import delete_all

    settings = settings_of(ctx, **flags)
    deleted = delete_all(connect(settings), settings.index)
    emit({"deleted": deleted}, as_json, lambda d: "deleted " + ", ".join(d["deleted"]))


@index.command("info")
@index_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_info(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """The physical index behind the alias, its document count and _meta."""
    from ..cluster.connection import connect
    from ..cluster.indices import info

    settings = settings_of(ctx, **flags)
    data = info(connect(settings), settings.index).as_dict()
    emit(
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
    from ..cluster.connection import connect
    from ..cluster.indices import list_aliases

    rows = [i.as_dict() for i in list_aliases(connect(settings_of(ctx)))]
    emit(
        rows,
        as_json,
        lambda rs: (
            "\n".join(f"{r['alias']:<24} {r['index']:<28} {r['docs']:>8} docs" for r in rs) or "no xlsearch indices"
        ),
    )


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Node, models, dictionaries and indices (and whether each index fits the models), in one screen."""
    from ..doctor import collect_status, render_status

    report = collect_status(settings_of(ctx)).as_dict()
    emit(report, as_json, render_status)
    if not report["ok"]:
        ctx.exit(3)


@click.command("probe")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def probe_cmd(ctx: click.Context, as_json: bool) -> None:
    """What the cluster supports (version, analyzers, retrievers)."""
    from ..cluster.capabilities import probe
    from ..cluster.connection import connect

    caps = probe(connect(settings_of(ctx))).as_dict()
    emit(caps, as_json, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@click.group()
def kibana() -> None:
    """Kibana helpers."""


@kibana.command("setup")
@click.option("--kibana-url", default="http://127.0.0.1:5601", show_default=True)
@index_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kibana_setup(ctx: click.Context, kibana_url: str, as_json: bool, **flags: Any) -> None:
    """Import a data view on the alias so Kibana's Discover shows the products."""
    from ..cluster.kibana import import_saved_objects

    settings = settings_of(ctx, **flags)
    result = import_saved_objects(kibana_url, settings.index)
    emit(result, as_json, lambda d: f"imported {d.get('successCount', 0)} saved object(s) into {kibana_url}")


COMMANDS = (es, index, status_cmd, probe_cmd, kibana)
