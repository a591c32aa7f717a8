"""A local multi-node cluster: ``xlsearch es start --nodes N``.

N nodes of the same build form one cluster named after its first HTTP port: HTTP
ports PORT..PORT+N-1, transport ports 100 above them, each node with its own
data and logs under ``cluster-PORT/``, every node seeding from all the others,
and all of them named as initial masters (used only the first time the cluster
forms). The cluster's layout is kept beside its nodes, so ``es stop --port PORT``
and ``es status --port PORT`` find every member. It can run beside any other
local node or cluster on other ports.

Two master-eligible nodes keep one voting node: a 2-node cluster survives losing
the node that is not the elected master (its replicas take over), not losing the
master. Three nodes survive losing any one.
"""

from __future__ import annotations

import json
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import NodeError
from .node import NodeSpec, NodeStatus, get_json, launch, log_tail, node_status, stop_node

MAX_NODES = 9


@dataclass(frozen=True)
class LocalCluster:
    """The members of one local cluster, in port order."""

    base_port: int
    members: tuple[NodeSpec, ...]

    @classmethod
    def planned(cls, base_port: int, nodes: int) -> LocalCluster:
        if not 2 <= nodes <= MAX_NODES:
            raise NodeError(f"--nodes must be between 2 and {MAX_NODES} for a local cluster (1 is 'es start')")
        ports = [base_port + i for i in range(nodes)]
        names = tuple(f"xlsearch-{p}" for p in ports)
        peers = tuple(p + 100 for p in ports)
        group = f"cluster-{base_port}"
        members = tuple(
            NodeSpec(
                http_port=p, cluster=f"xlsearch-local-{base_port}", name=n, peers=peers, masters=names, group=group
            )
            for p, n in zip(ports, names)
        )
        return cls(base_port, members)

    def member(self, port: int) -> NodeSpec:
        for spec in self.members:
            if spec.http_port == port:
                return spec
        raise NodeError(f"no node of the cluster at port {self.base_port} listens on {port}")


def _layout_file(settings: Settings, base_port: int) -> Path:
    return settings.home_dir / "elasticsearch" / f"cluster-{base_port}" / "layout.json"


def read_cluster(settings: Settings) -> LocalCluster | None:
    """The local cluster whose first node is on ``settings.es_port``, if one was started there."""
    path = _layout_file(settings, settings.es_port)
    try:
        nodes = int(json.loads(path.read_text())["nodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return LocalCluster.planned(settings.es_port, nodes)


def start_cluster(settings: Settings, nodes: int) -> tuple[list[NodeStatus], bool]:
    """Start every member that is not running and wait until all N have joined one cluster."""
    cluster = LocalCluster.planned(settings.es_port, nodes)
    existing = read_cluster(settings)
    if existing is not None and len(existing.members) != nodes:
        raise NodeError(
            f"a {len(existing.members)}-node cluster was started on port {settings.es_port}; "
            f"stop it ('xlsearch es stop --port {settings.es_port}') and use another port for {nodes} nodes"
        )
    path = _layout_file(settings, settings.es_port)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nodes": nodes}))
    started = False
    for spec in cluster.members:
        if not node_status(settings, spec).running:
            launch(settings, spec)
            started = True
    _wait_formed(settings, cluster)
    return [node_status(settings, spec) for spec in cluster.members], started


def _wait_formed(settings: Settings, cluster: LocalCluster) -> None:
    deadline = time.monotonic() + settings.es_start_timeout
    url = f"http://127.0.0.1:{cluster.base_port}/_cluster/health"
    while time.monotonic() < deadline:
        try:
            health = get_json(url)
            if health.get("number_of_nodes") == len(cluster.members) and health.get("status") in ("green", "yellow"):
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(1.0)
    logs = "\n".join(log_tail(settings, 10, spec) for spec in cluster.members)
    raise NodeError(
        f"the {len(cluster.members)} nodes did not form a cluster within {settings.es_start_timeout:.0f}s.\n{logs}"
    )


def stop_cluster(settings: Settings, cluster: LocalCluster) -> bool:
    """Stop every member (the last ones first); True if any was running."""
    stopped = [stop_node(settings, spec=spec) for spec in reversed(cluster.members)]
    return any(stopped)


def cluster_status(settings: Settings, cluster: LocalCluster) -> list[NodeStatus]:
    return [node_status(settings, spec) for spec in cluster.members]
