from pathlib import Path

import pytest

from xlsearch_es.config import Settings, load_settings
from xlsearch_es.errors import ConfigError


def test_layers_defaults_file_env_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[xlsearch]\nindex = "from-file"\nlanguages = ["en", "ZH"]\nes_heap = "1g"\n')
    env = {"XLSEARCH_INDEX": "from-env", "ELASTICSEARCH_URL": "http://h:1"}
    s = load_settings(overrides={"index": "from-flag", "es_port": None}, config_file=cfg, environ=env)
    assert s.index == "from-flag"          # flag beats env and file
    assert s.es_url == "http://h:1"        # env beats default
    assert s.languages == ("en", "zh")     # file, normalised
    assert s.es_heap == "1g"
    assert s.es_port == 9200               # None flag does not mask the default


def test_env_coercion_and_errors(tmp_path: Path) -> None:
    s = load_settings(environ={"XLSEARCH_LANGUAGES": "en, de,es", "XLSEARCH_ES_PORT": "9300",
                               "ELASTICSEARCH_VERIFY_CERTS": "no", "XLSEARCH_HOME": str(tmp_path)})
    assert s.languages == ("en", "de", "es") and s.es_port == 9300 and s.es_verify_certs is False
    with pytest.raises(ConfigError, match="es_port"):
        load_settings(environ={"XLSEARCH_ES_PORT": "abc", "XLSEARCH_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "missing.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("index = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=bad, environ={})
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings().replace(nonsense=1)


def test_secrets_are_redacted() -> None:
    s = Settings(es_api_key="sekrit", es_password="pw")
    assert "sekrit" not in repr(s) and "pw" not in repr(s)
    assert s.redacted()["es_api_key"] == "***" and s.redacted()["es_password"] == "***"


def test_uncovered_languages_are_encoder_language_pairs():
    from xlsearch_es.config import load_settings

    assert load_settings(environ={"XLSEARCH_UNCOVERED_LANGUAGES": "use:th,use:de"}).uncovered_languages == (
        "use:th", "use:de")
    with pytest.raises(ConfigError, match="ENCODER:LANG"):
        Settings(uncovered_languages=("use",))
