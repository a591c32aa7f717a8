"""Local Elasticsearch nodes for development, demos, CI and multi-node tests.

Each node runs the build from cluster/distribution.py with its own config, data
and logs under ``XLSEARCH_HOME/elasticsearch``: a single node (``node-PORT``,
``discovery.type: single-node``) or a member of a local cluster
(``cluster-BASE/node-PORT``, seeded with its peers; cluster/local_cluster.py).
Elasticsearch refuses to run as root, so under root a node runs as a dedicated
unprivileged user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import NodeError
from .distribution import ES_VERSION, distribution_dir, fetch_distribution, find_java

SERVICE_USER = "xlsearch-es"
TRANSPORT_OFFSET = 100  # a node's transport port is its HTTP port + 100


@dataclass(frozen=True)
class NodeSpec:
    """One node's identity: its ports, its cluster, and (in a multi-node cluster) its peers."""

    http_port: int
    cluster: str = "xlsearch-local"
    name: str = "xlsearch-local-node"
    peers: tuple[int, ...] = ()  # the transport ports of every member; () = a single node
    masters: tuple[str, ...] = ()  # the names that bootstrap the cluster the first time
    group: str = ""  # the folder the cluster's members share ("" for a single node)

    @property
    def transport_port(self) -> int:
        return self.http_port + TRANSPORT_OFFSET

    def config_lines(self) -> list[str]:
        if not self.peers:
            return ["discovery.type: single-node"]
        seeds = ", ".join(f'"127.0.0.1:{p}"' for p in self.peers)
        masters = ", ".join(f'"{n}"' for n in self.masters)
        return [f"discovery.seed_hosts: [{seeds}]", f"cluster.initial_master_nodes: [{masters}]"]


@dataclass(frozen=True)
class NodePaths:
    """Where one local node keeps its files (one node per HTTP port)."""

    root: Path
    port: int
    group: str = field(default="")

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def distribution(self) -> Path:
        return distribution_dir(self.root)

    @property
    def node_dir(self) -> Path:
        return (self.root / self.group if self.group else self.root) / f"node-{self.port}"

    @property
    def config_dir(self) -> Path:
        return self.node_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.node_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.node_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.node_dir / "es.pid"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"


def node_paths(settings: Settings, spec: NodeSpec | None = None) -> NodePaths:
    root = settings.home_dir / "elasticsearch"
    if spec is None:
        return NodePaths(root=root, port=settings.es_port)
    return NodePaths(root=root, port=spec.http_port, group=spec.group)


# ------------------------------------------------------------------- config --


def write_node_config(paths: NodePaths, spec: NodeSpec) -> None:
    """Write this node's config folder (a copy of the distribution's, plus ours)."""
    if not paths.config_dir.is_dir():
        shutil.copytree(paths.distribution / "config", paths.config_dir)
    for d in (paths.data_dir, paths.logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    yml = "\n".join(
        [
            "# Written by xlsearch; edits are overwritten at each start.",
            f"cluster.name: {spec.cluster}",
            f"node.name: {spec.name}",
            f"path.data: {paths.data_dir}",
            f"path.logs: {paths.logs_dir}",
            "network.host: 127.0.0.1",
            f"http.port: {spec.http_port}",
            f"transport.port: {spec.transport_port}",
            *spec.config_lines(),
            "xpack.security.enabled: false",
            "cluster.routing.allocation.disk.threshold_enabled: false",
            "",
        ]
    )
    (paths.config_dir / "elasticsearch.yml").write_text(yml)


# ------------------------------------------------------------ service user --


def _ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise NodeError(f"cannot create the service user {SERVICE_USER!r}: {proc.stderr.strip()}")
    return pwd.getpwnam(SERVICE_USER)


def _grant_access(paths: NodePaths, user: pwd.struct_passwd) -> None:
    """Let the service user own the node folder and read the distribution.

    Ancestors it cannot traverse (``/root`` is 0700) get the search bit for
    others only: enough to reach the folder, not to list anything.
    """
    for parent in reversed(paths.root.resolve().parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, mode | stat.S_IXOTH)
    for base in (paths.root, paths.distribution):
        base.chmod(base.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
    for dirpath, _dirnames, filenames in os.walk(paths.node_dir):
        os.chown(dirpath, user.pw_uid, user.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), user.pw_uid, user.pw_gid)
    # The distribution itself stays root-owned and read-only to the node.
    for dirpath, _dirnames, filenames in os.walk(paths.distribution):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o055)
        for name in filenames:
            p = os.path.join(dirpath, name)
            os.chmod(p, os.stat(p).st_mode | 0o044)


# ------------------------------------------------------------- lifecycle --


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    url: str
    pid: int | None = None
    version: str | None = None
    health: str | None = None
    managed: bool = True
    name: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "url": self.url,
            "pid": self.pid,
            "version": self.version,
            "health": self.health,
            "managed": self.managed,
            "name": self.name,
        }


def _read_pid(paths: NodePaths) -> int | None:
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # local URL
        return json.loads(resp.read().decode("utf-8"))


def _probe_http(port: int) -> tuple[str | None, str | None]:
    """(health, version) of whatever answers on the port, or (None, None)."""
    base = f"http://127.0.0.1:{port}"
    try:
        health = get_json(f"{base}/_cluster/health").get("status")
        nodes: dict[str, dict[str, Any]] = get_json(f"{base}/_nodes/_local/info/none").get("nodes", {})
        version = next(iter(nodes.values()), {}).get("version")
        return health, version
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


def node_status(settings: Settings, spec: NodeSpec | None = None) -> NodeStatus:
    port = spec.http_port if spec else settings.es_port
    paths = node_paths(settings, spec)
    url = f"http://127.0.0.1:{port}"
    pid = _read_pid(paths)
    health, version = _probe_http(port)
    name = spec.name if spec else None
    if pid is None and health is None:
        return NodeStatus(running=False, url=url, name=name)
    return NodeStatus(
        running=health is not None,
        url=url,
        pid=pid,
        version=version,
        health=health,
        managed=pid is not None,
        name=name,
    )


def log_tail(settings: Settings, lines: int = 40, spec: NodeSpec | None = None) -> str:
    """The last lines of the node's logs (console output and the server log)."""
    paths = node_paths(settings, spec)
    chunks = []
    for log in (paths.console_log, paths.logs_dir / f"{(spec or NodeSpec(settings.es_port)).cluster}.log"):
        if log.is_file():
            text = log.read_text(errors="replace").splitlines()[-lines:]
            chunks.append(f"--- {log} ---\n" + "\n".join(text))
    return "\n".join(chunks) if chunks else f"no logs yet under {paths.logs_dir}"


def start_node(settings: Settings, wait: bool = True, spec: NodeSpec | None = None) -> tuple[NodeStatus, bool]:
    """Start the node unless it runs; return (status, started_now). ``spec``: a member of a
    local cluster (its readiness is the cluster's: local_cluster.py waits for it)."""
    spec = spec or NodeSpec(settings.es_port)
    current = node_status(settings, spec)
    if current.running and current.managed:
        return current, False
    proc = launch(settings, spec)
    if not wait:
        return node_status(settings, spec), True
    deadline = time.monotonic() + settings.es_start_timeout
    while time.monotonic() < deadline:
        health, _ = _probe_http(spec.http_port)
        if health in ("green", "yellow"):
            return node_status(settings, spec), True
        if proc.poll() is not None and not _read_pid(node_paths(settings, spec)):
            raise NodeError(
                f"Elasticsearch exited during start (code {proc.returncode}).\n{log_tail(settings, 25, spec)}"
            )
        time.sleep(1.0)
    raise NodeError(
        f"Elasticsearch did not become ready within {settings.es_start_timeout:.0f}s.\n{log_tail(settings, 25, spec)}"
    )


def launch(settings: Settings, spec: NodeSpec) -> subprocess.Popen[bytes]:
    """Configure the node and start its process (detached); does not wait."""
    paths = node_paths(settings, spec)
    for port in (spec.http_port, spec.transport_port):
        if port_open(port):
            raise NodeError(
                f"port {port} is already in use by another process; "
                "stop it or choose another port with --port / XLSEARCH_ES_PORT"
            )
    java_home = find_java()
    fetch_distribution(paths.root)
    write_node_config(paths, spec)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ES_JAVA_HOME": str(java_home),
        "ES_PATH_CONF": str(paths.config_dir),
        "ES_JAVA_OPTS": f"-Xms{settings.es_heap} -Xmx{settings.es_heap}",
        "LANG": "C.UTF-8",
    }
    cmd = [str(paths.distribution / "bin" / "elasticsearch"), "-p", str(paths.pid_file)]
    if os.geteuid() == 0:
        user = _ensure_service_user()
        _grant_access(paths, user)
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        cmd = [runuser, "-u", SERVICE_USER, "--"] + cmd
        env["HOME"] = str(paths.node_dir)
    paths.pid_file.unlink(missing_ok=True)
    with paths.console_log.open("ab") as console:
        return subprocess.Popen(
            cmd,
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(paths.node_dir),
        )


def stop_node(settings: Settings, timeout: float = 60.0, spec: NodeSpec | None = None) -> bool:
    """Stop the node by its pid file; True if one was running."""
    paths = node_paths(settings, spec)
    pid = _read_pid(paths)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _read_pid(paths) is None:
            paths.pid_file.unlink(missing_ok=True)
            return True
        time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    paths.pid_file.unlink(missing_ok=True)
    return True


__all__ = ["ES_VERSION", "NodePaths", "NodeSpec", "NodeStatus", "find_java", "node_paths", "start_node", "stop_node"]
