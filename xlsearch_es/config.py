"""All settings in one place.

``Settings`` is filled, lowest priority first, from: the defaults below, a TOML
config file (``--config``, ``XLSEARCH_CONFIG`` or ``XLSEARCH_HOME/config.toml``),
environment variables, and finally explicit overrides (CLI flags). Nothing else
in the package reads the environment, so a ``Settings`` value fully describes a run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .errors import ConfigError

DEFAULT_HOME = Path("~/.cache/xlsearch")
DEFAULT_MODEL_NAME = "multilingual-e5-small"


DEFAULT_ENGINE = "local"  # where ingest enriches by default: this process (ingest/engine.py registers it)


# Dense vector index types a new index can use (Elasticsearch's names); the default was
# chosen from benchmarks/results/vector_index.json (README, "Vector index types").
VECTOR_INDEX_TYPES = ("int8_hnsw", "hnsw", "bbq_hnsw", "flat", "int8_flat", "bbq_flat")
DEFAULT_VECTOR_INDEX = "int8_hnsw"
MAX_SHARDS = 1024
MAX_REPLICAS = 16


@dataclass(frozen=True)
class Settings:
    """One run's configuration. Immutable: derive variants with ``replace``."""

    home: Path = DEFAULT_HOME
    # --- cluster connection -------------------------------------------------
    es_url: str = "http://127.0.0.1:9200"
    es_api_key: str | None = field(default=None, repr=False)
    es_username: str | None = None
    es_password: str | None = field(default=None, repr=False)
    es_ca_certs: str | None = None
    es_verify_certs: bool = True
    es_request_timeout: float = 30.0
    es_max_retries: int = 3
    # --- local node ---------------------------------------------------------
    es_port: int = 9200
    es_heap: str = "512m"
    es_start_timeout: float = 180.0
    # --- index --------------------------------------------------------------
    index: str = "products"
    languages: tuple[str, ...] = ("en",)
    vectors_in_source: bool = True
    language_analyzers: bool = True
    # The layout of a new index (kept across --rebuild unless given again): primary shards
    # (None: 1, or the index's own), replicas (None: 0-1 auto-expanding, a replica wherever a
    # second node exists), the vector index type (None: DEFAULT_VECTOR_INDEX).
    shards: int | None = None
    replicas: int | None = None
    vector_index: str | None = None
    # BM25 scored with the whole index's term statistics (dfs_query_then_fetch): one extra
    # round trip, so an index split into shards scores as one shard would. None: on for an
    # index with more than one primary shard (benchmarks/results/shards.json).
    search_dfs: bool | None = None
    # A query word's dictionary readings chosen by the catalog and the whole query
    # (search/senses.py) rather than by the dictionary's order alone.
    sense_context: bool = True
    # A query asked as a question weighs its kNN side more and leans on the widest encoder
    # (search/request.py QUESTION_*); false: questions are weighed as keyword queries.
    question_weights: bool = True
    # --- models -------------------------------------------------------------
    # Encoder kinds (see ``embed.base.ENCODERS``), one vector field each; the first is primary.
    # e5 + USE fused beat e5 alone on both shared sets (README, "Encoders").
    encoders: tuple[str, ...] = ("transformers", "use")
    # "ENCODER:LANG" pairs treated as uncovered at search time (to test routing; see runtime.covers).
    uncovered_languages: tuple[str, ...] = ()
    model: str | None = None  # folder or hub id; None = the converted e5 under home
    device: str = "cpu"
    threads: int | None = None
    quantize_int8: bool = False
    backend: str = "auto"  # the transformers encoder's runtime: auto (onnx on CPU) | torch | onnx (ONNX Runtime)
    # ONNX Runtime's threads busy-wait between operators: 5-10% more texts/s when the
    # encoder owns the cores, but beside a local node (or the second encoder) the
    # spinning steals their CPU: hybrid search p50 went 95 -> 65 ms with it off.
    spin_threads: bool = False
    max_length: int = 512
    batch_size: int = 64
    translator: str = "lexicon"
    translator_model: str | None = None
    # A folder from 'xlsearch train --adapter': learnt corrections of query vectors, one per
    # encoder kind (embed/adapter.py); product vectors and the index stay as they are.
    query_adapter: str | None = None
    reranker: str | None = None  # a cross-encoder folder from 'xlsearch train --reranker'; None = no reranking
    # True: the reranked top is ordered by the reciprocal ranks of the fused list and the
    # cross-encoder together (a weak reranker cannot undo good retrieval); False: by the
    # cross-encoder alone.
    rerank_blend: bool = True
    fallback_language: str = "en"
    synonyms: str | None = None  # a Solr-format synonyms file, expanded into every query
    # --- service (xlsearch serve) ------------------------------------------------
    api_key: str | None = field(default=None, repr=False)  # required on every route but health when set
    serve_threads: int = 8  # blocking work (models, cluster calls) runs on at most this many threads
    serve_max_body_mb: int = 50  # chunked bodies included: counted as they arrive
    serve_timeout: float = 60.0  # seconds a request may take before a 504; the work stops at its next stage
    # Indices the service searches and writes (aliases; their versions alias-vN too). Empty: the configured index.
    serve_indices: tuple[str, ...] = ()
    # Forward every other Elasticsearch API with the service's credentials. Needs api_key: off,
    # anything not on the gateway's allow-list gets a 403.
    serve_passthrough: bool = False
    # Listening on a non-loopback address without api_key is refused unless this is set.
    serve_allow_open: bool = False
    # Host header values accepted (DNS-rebinding defence); loopback names and the bound host
    # always are; "*" accepts any.
    serve_allowed_hosts: tuple[str, ...] = ()
    # Origins allowed to call the service from a browser (CORS, never with credentials);
    # state-changing requests from any other Origin are refused.
    serve_cors_origins: tuple[str, ...] = ()
    serve_max_clauses: int = 10  # xlsearch clauses in one gateway search body
    serve_queue: int = 16  # requests waiting for a worker beyond serve_threads before 503 + Retry-After
    # Searches (query, language, ids shown, page) and clicks on the page kept in the cluster
    # (xlsearch-events-<alias>-<day>) for train/tune --from-index; days past retention deleted.
    serve_events: bool = True
    events_retention_days: int = 90
    # A delete-missing run may remove at most this share of the index unless forced.
    delete_missing_max_share: float = 0.2
    # Userinfo found in es_url, kept only so messages can mask it; never printed.
    url_credentials: tuple[str | None, str | None] = field(default=(None, None), repr=False, compare=False)

    def __post_init__(self) -> None:
        check_index_name(self.index)
        for name in self.serve_indices:
            check_index_name(name)
        if not 1 <= self.events_retention_days <= 3650:
            raise ConfigError("setting 'events_retention_days' must be between 1 and 3650")
        if self.shards is not None and not 1 <= self.shards <= MAX_SHARDS:
            raise ConfigError(f"setting 'shards' must be between 1 and {MAX_SHARDS}")
        if self.replicas is not None and not 0 <= self.replicas <= MAX_REPLICAS:
            raise ConfigError(f"setting 'replicas' must be between 0 and {MAX_REPLICAS}")
        if self.vector_index is not None and self.vector_index not in VECTOR_INDEX_TYPES:
            raise ConfigError(f"setting 'vector_index' must be one of {', '.join(VECTOR_INDEX_TYPES)}")
        if not 0.0 <= self.delete_missing_max_share <= 1.0:
            raise ConfigError("setting 'delete_missing_max_share' must be between 0 and 1")
        object.__setattr__(self, "languages", _check_languages("languages", tuple(self.languages)))
        for pair in self.uncovered_languages:
            kind, _, lang = pair.partition(":")
            if not kind or not lang:
                raise ConfigError(f"setting 'uncovered_languages' takes ENCODER:LANG pairs, e.g. use:th; got {pair!r}")
            _check_languages("uncovered_languages", (lang,))
        object.__setattr__(
            self, "fallback_language", _check_languages("fallback_language", (self.fallback_language,))[0]
        )
        # Credentials written into the URL move to their own (unprinted) fields,
        # so the URL itself can appear in messages, logs and repr() safely.
        url, user, password = split_url_credentials(self.es_url)
        if user is not None or password is not None:
            object.__setattr__(self, "es_url", url)
            object.__setattr__(self, "url_credentials", (user, password))
            if self.es_username is None and not self.es_api_key:
                object.__setattr__(self, "es_username", user)
                object.__setattr__(self, "es_password", password)

    @property
    def home_dir(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def model_ref(self) -> str:
        """What the encoder loads: the configured model, else the converted e5."""
        if self.model:
            return self.model
        return str(self.home_dir / "models" / DEFAULT_MODEL_NAME)

    @property
    def served_indices(self) -> tuple[str, ...]:
        """The aliases ``xlsearch serve`` answers for."""
        return self.serve_indices or (self.index,)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **coerce(changes))

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict, secrets masked, for ``--json`` output and logs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "url_credentials":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "***"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


SECRET_FIELDS = frozenset({"es_api_key", "es_password", "api_key"})

# Environment variables, by field. The ELASTICSEARCH_* names are the ones other
# Elastic tooling uses, so an existing shell setup just works.
ENV_VARS: dict[str, str] = {
    "home": "XLSEARCH_HOME",
    "es_url": "ELASTICSEARCH_URL",
    "es_api_key": "ELASTICSEARCH_API_KEY",
    "es_username": "ELASTICSEARCH_USERNAME",
    "es_password": "ELASTICSEARCH_PASSWORD",
    "es_ca_certs": "ELASTICSEARCH_CA_CERTS",
    "es_verify_certs": "ELASTICSEARCH_VERIFY_CERTS",
    "es_request_timeout": "ELASTICSEARCH_TIMEOUT",
    "es_port": "XLSEARCH_ES_PORT",
    "es_heap": "XLSEARCH_ES_HEAP",
    "index": "XLSEARCH_INDEX",
    "languages": "XLSEARCH_LANGUAGES",
    "model": "XLSEARCH_MODEL",
    "encoders": "XLSEARCH_ENCODERS",
    "device": "XLSEARCH_DEVICE",
    "threads": "XLSEARCH_THREADS",
    "quantize_int8": "XLSEARCH_QUANTIZE_INT8",
    "backend": "XLSEARCH_BACKEND",
    "spin_threads": "XLSEARCH_SPIN_THREADS",
    "translator": "XLSEARCH_TRANSLATOR",
    "translator_model": "XLSEARCH_TRANSLATOR_MODEL",
    "reranker": "XLSEARCH_RERANKER",
    "query_adapter": "XLSEARCH_QUERY_ADAPTER",
    "rerank_blend": "XLSEARCH_RERANK_BLEND",
    "synonyms": "XLSEARCH_SYNONYMS",
    "api_key": "XLSEARCH_API_KEY",
    "serve_threads": "XLSEARCH_SERVE_THREADS",
    "serve_indices": "XLSEARCH_SERVE_INDICES",
    "serve_passthrough": "XLSEARCH_SERVE_PASSTHROUGH",
    "serve_allow_open": "XLSEARCH_SERVE_ALLOW_OPEN",
    "serve_allowed_hosts": "XLSEARCH_SERVE_ALLOWED_HOSTS",
    "serve_cors_origins": "XLSEARCH_SERVE_CORS_ORIGINS",
    "delete_missing_max_share": "XLSEARCH_DELETE_MISSING_MAX_SHARE",
    "uncovered_languages": "XLSEARCH_UNCOVERED_LANGUAGES",
    "shards": "XLSEARCH_SHARDS",
    "replicas": "XLSEARCH_REPLICAS",
    "vector_index": "XLSEARCH_VECTOR_INDEX",
    "search_dfs": "XLSEARCH_SEARCH_DFS",
    "sense_context": "XLSEARCH_SENSE_CONTEXT",
    "question_weights": "XLSEARCH_QUESTION_WEIGHTS",
    "serve_events": "XLSEARCH_SERVE_EVENTS",
    "events_retention_days": "XLSEARCH_EVENTS_RETENTION_DAYS",
}

_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.DOTALL)
# Characters Elasticsearch forbids in index names, or reads as patterns/lists.
_INDEX_FORBIDDEN = set('\\/*?"<>| ,#:')


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``scheme://user:pass@host`` -> (``scheme://host``, user, password).

    The userinfo ends at the last "@" (a host has none), so passwords with
    unencoded reserved characters (``@ / : # ?``) still split where they should.
    Percent-escapes are decoded, as a browser would.
    """
    match = _SCHEME.match(url or "")
    if not match or "@" not in match.group(2):
        return url, None, None
    userinfo, _, rest = match.group(2).rpartition("@")
    user, sep, password = userinfo.partition(":")
    return match.group(1) + rest, unquote(user) or None, unquote(password) if sep else None


def check_index_name(name: str) -> str:
    """An index/alias name that names exactly one thing, or ConfigError.

    Refuses what Elasticsearch would read as a pattern or a list (``*``, ``?``,
    ``,``, ``_all``, a leading ``-`` exclusion, date math) and what it forbids.
    """
    text = str(name)
    if not text or text in (".", "..") or text.lower() in ("_all", "*"):
        raise ConfigError(f"index name {text!r} names every index; give one alias name")
    bad = sorted(set(text) & _INDEX_FORBIDDEN)
    if bad:
        raise ConfigError(
            f"index name {text!r} contains {' '.join(repr(c) for c in bad)}: wildcards, lists and "
            "these characters are not allowed; give one alias name"
        )
    if text[0] in "-_+":
        raise ConfigError(f"index name {text!r} must not start with '-', '_' or '+'")
    if text != text.lower():
        raise ConfigError(f"index name {text!r} must be lower case")
    if len(text.encode("utf-8")) > 255 or any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise ConfigError(f"index name {text[:40]!r} is too long or contains control characters")
    return text


def _check_languages(name: str, codes: tuple[str, ...]) -> tuple[str, ...]:
    from .text.languages import iso639_1

    out = []
    for code in codes:
        lang = iso639_1(code)
        if lang is None:
            raise ConfigError(f"setting {name!r}: {code!r} is not an ISO 639-1 language code (such as en, zh, de)")
        out.append(lang)
    return tuple(dict.fromkeys(out))


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"setting {name!r} expects true/false, got {value!r}")


def _coerce_one(name: str, value: Any) -> Any:
    if name not in _FIELD_TYPES:
        raise ConfigError(f"unknown setting {name!r}")
    kind = str(_FIELD_TYPES[name])
    if value is None:
        return None
    try:
        if kind == "Path":
            return Path(value)
        if kind.startswith("bool"):
            return _to_bool(name, value)
        if kind.startswith("int"):
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else list(value)
            cleaned = tuple(str(i).strip().lower() for i in items if str(i).strip())
            if not cleaned:
                raise ConfigError(f"setting {name!r} needs at least one value")
            return cleaned
    except (TypeError, ValueError) as exc:
        shown = "***" if name in SECRET_FIELDS or name == "es_url" else repr(value)
        raise ConfigError(f"setting {name!r} got an unusable value {shown}") from exc
    return str(value)


def coerce(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn strings from env vars, TOML and flags into the field's type."""
    return {k: _coerce_one(k, v) for k, v in values.items()}


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    # Accept either a flat file or one with an [xlsearch] table.
    return dict(data.get("xlsearch", data))


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from defaults < config file < environment < overrides.

    ``overrides`` values that are ``None`` are ignored, so CLI flags that were not
    given do not mask lower layers.
    """
    env = os.environ if environ is None else environ
    layers: dict[str, Any] = {}

    home = Path((overrides or {}).get("home") or env.get("XLSEARCH_HOME") or DEFAULT_HOME)
    explicit = config_file or env.get("XLSEARCH_CONFIG")
    candidate = Path(explicit) if explicit else home.expanduser() / "config.toml"
    if explicit and not candidate.is_file():
        raise ConfigError(f"config file {candidate} does not exist")
    if candidate.is_file():
        layers.update(_read_config_file(candidate))

    for name, var in ENV_VARS.items():
        if env.get(var) not in (None, ""):
            layers[name] = env[var]
    for name, value in (overrides or {}).items():
        if value is not None:
            layers[name] = value
    return Settings(**coerce(layers))
