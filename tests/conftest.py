"""Shared fixtures: the real Elasticsearch node, real models, per-test index names.

The node is the one at ELASTICSEARCH_URL when that answers; otherwise the local
node manager starts one (and stops it at the end). Nothing here mocks the client.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit
from pathlib import Path

import pytest

from xlsearch_es.config import Settings, load_settings

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def es_settings(base_settings: Settings):
    """Settings pointing at a live cluster; starts the local node if needed."""
    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.cluster.node import start_node, stop_node
    from xlsearch_es.errors import ClusterError

    settings = base_settings
    started = False
    try:
        connect(settings)
    except ClusterError:
        if os.environ.get("ELASTICSEARCH_URL") and "127.0.0.1" not in settings.es_url and "localhost" not in settings.es_url:
            pytest.fail(f"ELASTICSEARCH_URL={settings.es_url} is set but does not answer")
        port = urlsplit(settings.es_url).port or 9200
        settings = settings.replace(es_port=port, es_url=f"http://127.0.0.1:{port}")
        _, started = start_node(settings)
    yield settings
    if started:
        stop_node(settings)


@pytest.fixture(scope="session")
def es_client(es_settings: Settings):
    from xlsearch_es.cluster.connection import connect

    return connect(es_settings)


@pytest.fixture
def index_name(es_client, request) -> str:
    """A fresh alias name per test; everything behind it is deleted afterwards."""
    name = f"test-{request.node.name.lower()[:30].strip('_-[]')}-{uuid.uuid4().hex[:8]}"
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    yield name
    leftovers = es_client.indices.get(index=f"{name}*", allow_no_indices=True, expand_wildcards="all")
    if leftovers:  # the cluster refuses wildcard deletes, so name each index
        es_client.indices.delete(index=",".join(leftovers))


@pytest.fixture(scope="session")
def model_settings(base_settings: Settings) -> Settings:
    """Settings whose model is the converted e5 (converted once per machine)."""
    from xlsearch_es.embed.e5_convert import prepare_e5

    prepare_e5(Path(base_settings.model_ref))
    return base_settings


@pytest.fixture(scope="session")
def encoder(model_settings: Settings):
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings

    return Encoder(spec_from_settings(model_settings))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA
