"""The Ray (Data) engine on a local Ray with a pool of 2 actors: the same index as
the local engine, and exact counts after an actor's process is killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the ray engine is an optional extra: pip install 'xlsearch-es[ray]'")
pytestmark = [pytest.mark.es, pytest.mark.model, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "catalog.jsonl"
VOLATILE = {"created_at", "updated_at"}


def _catalog(tmp_path: Path, n: int) -> Path:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    lines.insert(5, "{not json\n")  # a rejected line keeps its line number through the engine
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _documents(es, index: str) -> dict[str, dict]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: {k: v for k, v in h["_source"].items() if k not in VOLATILE} for h in hits}


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith("ray::MapWorker(MapBatches(EnrichBatches))"):
                pids.append(int(entry.name))
    return pids


def test_ray_engine_builds_the_same_index_and_survives_a_killed_actor(es_settings, model_settings, es_client,
                                                                      tmp_path):
    from xlsearch_es.ingest.checkpoint import Checkpoint
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest

    catalog = _catalog(tmp_path, 96)
    stamp = int(time.time())
    local_alias, ray_alias = f"test-engine-local-{stamp}", f"test-engine-ray-{stamp}"
    base = es_settings.replace(languages=("en", "de"), home=model_settings.home)
    try:
        local = run_ingest(base.replace(index=local_alias), IngestOptions(path=str(catalog), batch_size=16))
        options = IngestOptions(path=str(catalog), batch_size=8, engine="ray", ray_actors=2)
        checkpoint = Checkpoint(base.home_dir, options, ray_alias).path
        outcome: dict = {}

        def load() -> None:
            try:
                outcome["summary"] = run_ingest(base.replace(index=ray_alias), options)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        worker = threading.Thread(target=load)
        worker.start()
        killed = None
        deadline = time.time() + 240
        while worker.is_alive() and time.time() < deadline and killed is None:
            if checkpoint.is_file() and json.loads(checkpoint.read_text()).get("line", 0) >= 16 and _actor_pids():
                killed = _actor_pids()[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        worker.join(timeout=600)
        assert "error" not in outcome, outcome.get("error")
        summary = outcome["summary"]
        assert killed is not None, "the load finished before an actor could be killed"
        for s in (local, summary):
            assert (s.read, s.indexed, s.rejected, s.unchanged) == (97, 96, 1, 0)
        dead = [json.loads(line) for line in Path(summary.dead_letter).read_text(encoding="utf-8").splitlines()]
        assert [d["line"] for d in dead] == [6]

        left, right = _documents(es_client, local_alias), _documents(es_client, ray_alias)
        assert left.keys() == right.keys() and len(left) == 96
        for doc_id, doc in left.items():
            other = dict(right[doc_id])
            for field in [k for k in doc if k.startswith("embedding")]:  # every vector field, to float noise
                assert np.allclose(doc.pop(field), other.pop(field), atol=1e-4), (doc_id, field)
            assert doc == other, doc_id
    finally:
        for alias in (local_alias, ray_alias):
            names = es_client.indices.get(index=f"{alias}*", allow_no_indices=True)
            if names:
                es_client.indices.delete(index=",".join(names))


def test_ray_engine_refuses_more_actors_than_cpus_and_leaves_no_index(es_settings, model_settings, es_client,
                                                                      tmp_path):
    from xlsearch_es.errors import ConfigError
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest

    catalog = _catalog(tmp_path, 4)
    alias = f"test-engine-cpus-{int(time.time())}"
    settings = es_settings.replace(languages=("en",), home=model_settings.home, index=alias)
    with pytest.raises(ConfigError, match="needs a CPU per actor"):
        run_ingest(settings, IngestOptions(path=str(catalog), engine="ray", ray_actors=512))
    assert not es_client.indices.get(index=f"{alias}*", allow_no_indices=True)
