"""A sharded index on a real 2-node local cluster (``xlsearch es start --nodes 2``):
the layout options, results that do not depend on the shard count, and a node
stopped while search and ingest run."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.cluster.local_cluster import LocalCluster, cluster_status, read_cluster, start_cluster
from xlsearch_es.cluster.node import port_open, start_node, stop_node
from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest
from xlsearch_es.search.client import XLSearchClient

pytestmark = [pytest.mark.es, pytest.mark.model]
CATALOG = Path(__file__).resolve().parents[1] / "samples" / "catalog.jsonl"
LANGUAGES = ("en", "zh", "ja", "de", "es")
QUERIES = ("绿色 连衣裙", "青いノートパソコン", "grüne Waschmaschine", "zapatillas negras", "green USB-C charger")


def _free_base() -> int:
    for base in range(9400, 9600, 10):
        if not any(port_open(p) for p in (base, base + 1, base + 100, base + 101)):
            return base
    raise RuntimeError("no free ports for a 2-node cluster")


@pytest.fixture(scope="module")
def two_nodes(model_settings, encoder):
    base = _free_base()
    settings = model_settings.replace(es_port=base, es_url=f"http://127.0.0.1:{base}", es_start_timeout=300.0)
    shutil.rmtree(settings.home_dir / "elasticsearch" / f"cluster-{base}", ignore_errors=True)  # a fresh cluster
    members, started = start_cluster(settings, 2)
    assert started and all(m.running for m in members)
    yield settings
    cluster = read_cluster(settings)
    assert cluster is not None
    env = {"XLSEARCH_HOME": str(settings.home_dir)}
    out = CliRunner().invoke(main, ["es", "stop", "--port", str(base), "--json"], env=env, catch_exceptions=False)
    assert json.loads(out.output) == {"stopped": True}  # every member, from the first port alone
    assert not any(port_open(spec.http_port) for spec in cluster.members)
    shutil.rmtree(settings.home_dir / "elasticsearch" / f"cluster-{base}", ignore_errors=True)


def _master_and_other(settings) -> tuple[int, int]:
    """(HTTP port of the elected master, HTTP port of the other node)."""
    from xlsearch_es.cluster.connection import connect

    es = connect(settings)
    master = es.cat.master(format="json")[0]["node"]
    ports = [spec.http_port for spec in LocalCluster.planned(settings.es_port, 2).members]
    m = next(p for p in ports if master == f"xlsearch-{p}")
    return m, next(p for p in ports if p != m)


def _load(settings, alias: str, catalog: Path, **layout) -> None:
    summary = run_ingest(
        settings.replace(index=alias, languages=LANGUAGES, **layout),
        IngestOptions(path=str(catalog), progress=False),
    )
    assert summary.indexed == summary.read and summary.rejected == 0


def test_status_and_layout_of_a_sharded_index(two_nodes, tmp_path):
    settings = two_nodes
    env = {"XLSEARCH_HOME": str(settings.home_dir)}
    out = CliRunner().invoke(main, ["es", "status", "--port", str(settings.es_port), "--json"], env=env,
                             catch_exceptions=False)
    nodes = json.loads(out.output)["nodes"]
    assert [n["name"] for n in nodes] == [f"xlsearch-{settings.es_port}", f"xlsearch-{settings.es_port + 1}"]
    assert all(n["running"] and n["health"] == "green" for n in nodes)
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(CATALOG.read_text(encoding="utf-8").splitlines(keepends=True)[:160]), encoding="utf-8")
    _load(settings, "shop-three", catalog, shards=3, replicas=1)
    _load(settings, "shop-one", catalog, shards=1, replicas=0)
    from xlsearch_es.cluster.connection import connect

    es = connect(settings)
    es.cluster.health(index="shop-three", wait_for_status="green", timeout="60s")
    shards = es.cat.shards(index="shop-three-v1", format="json")
    assert len(shards) == 6 and {s["node"] for s in shards} == {n["name"] for n in nodes}
    assert {s["state"] for s in shards} == {"STARTED"}
    meta = es.indices.get_mapping(index="shop-three-v1")["shop-three-v1"]["mappings"]["_meta"]
    assert meta["layout"] == {"shards": 3, "replicas": 1, "vector_index": "int8_hnsw"}

    # The same top results as one shard: dfs (on by default for a sharded index) gives BM25
    # the whole index's statistics; kNN candidates are per shard, so recall cannot drop.
    one = XLSearchClient(settings.replace(index="shop-one"))
    three = XLSearchClient(settings.replace(index="shop-three"))
    assert three.runtime.dfs and not one.runtime.dfs
    for query in QUERIES:
        a = [h.id for h in one.search(query, k=5, highlight=False).hits]
        b = [h.id for h in three.search(query, k=5, highlight=False).hits]
        assert a[0] == b[0] and len(set(a) & set(b)) >= 4, (query, a, b)  # near-ties may swap below

    # --rebuild keeps the layout unless told otherwise
    summary = run_ingest(
        settings.replace(index="shop-three", languages=LANGUAGES),
        IngestOptions(path=str(catalog), rebuild=True, progress=False),
    )
    rebuilt = es.indices.get_mapping(index=summary.index)[summary.index]["mappings"]["_meta"]["layout"]
    assert summary.index == "shop-three-v2" and rebuilt["shards"] == 3 and rebuilt["replicas"] == 1


def test_a_node_stopped_during_search_and_ingest(two_nodes, tmp_path):
    """The node that is not the master stops: search answers from the replicas; an ingest
    running meanwhile ends with exact counts and nothing lost."""
    settings = two_nodes
    master, other = _master_and_other(settings)
    via_master = settings.replace(es_url=f"http://127.0.0.1:{master}")
    from xlsearch_es.cluster.connection import connect

    es = connect(via_master)
    client = XLSearchClient(via_master.replace(index="shop-three"))
    before = [h.id for h in client.search(QUERIES[0], k=5, highlight=False).hits]
    cluster = LocalCluster.planned(settings.es_port, 2)
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text(CATALOG.read_text(encoding="utf-8"), encoding="utf-8")
    result: dict = {}

    def load() -> None:
        result["summary"] = run_ingest(
            via_master.replace(index="shop-moving", languages=LANGUAGES, shards=3, replicas=1),
            IngestOptions(path=str(catalog), progress=False, batch_size=32),
        )

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(8.0)  # the load is sending batches now
    assert stop_node(settings, spec=cluster.member(other))
    during = [h.id for h in client.search(QUERIES[0], k=5, highlight=False).hits]
    assert during[0] == before[0], (before, during)
    worker.join(timeout=600)
    summary = result["summary"]
    assert summary.read == 320 and summary.indexed == 320 and summary.rejected == 0
    es.indices.refresh(index="shop-moving")
    assert es.count(index="shop-moving")["count"] == 320
    assert [s.running for s in cluster_status(settings, cluster)] == [p == master for p in (settings.es_port, settings.es_port + 1)]
    # the node comes back and the replicas are rebuilt on it
    start_node(settings, wait=False, spec=cluster.member(other))
    es.cluster.health(index="shop-moving", wait_for_status="green", wait_for_nodes="2", timeout="180s")
