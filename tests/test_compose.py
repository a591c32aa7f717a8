"""docker-compose.yml checked as far as one can without a Docker engine."""

import json
from pathlib import Path

import yaml

from xlsearch_es.cluster.kibana import saved_objects_file
from xlsearch_es.cluster.node import ES_VERSION

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_images_ports_healthchecks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"elasticsearch", "kibana", "kibana-setup"} <= set(services)
    assert services["elasticsearch"]["image"].endswith(f"/elasticsearch:{ES_VERSION}")
    assert services["kibana"]["image"].endswith(f"/kibana:{ES_VERSION}")
    assert "127.0.0.1:9200:9200" in services["elasticsearch"]["ports"]
    assert "127.0.0.1:5601:5601" in services["kibana"]["ports"]
    assert "xpack.security.enabled=false" in services["elasticsearch"]["environment"]
    for name in ("elasticsearch", "kibana"):
        assert services[name]["healthcheck"]["test"]
    assert "esdata" in compose["volumes"]
    assert services["kibana-setup"]["depends_on"]["kibana"]["condition"] == "service_healthy"


def test_saved_objects_target_the_alias():
    objs = [json.loads(line) for line in saved_objects_file("shop").decode().splitlines()]
    assert objs[0]["type"] == "index-pattern" and objs[0]["attributes"]["title"] == "shop"
    default = (ROOT / "mappings" / "kibana" / "products-data-view.ndjson").read_text()
    assert json.loads(default.splitlines()[0])["attributes"]["title"] == "products"
