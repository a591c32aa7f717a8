"""The product index body: ``mappings/products.json`` completed for one index.

Pure functions: the template, the index's languages, the embedding model's
metadata and the cluster's capabilities go in; a ``{settings, mappings}`` body
comes out. Nothing here talks to a cluster.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import DEFAULT_VECTOR_INDEX, Settings
from .errors import ConfigError
from .text.attributes import ATTRIBUTE_FIELDS

SCHEMA_FILE = "products.json"
ORIGINAL = "original"
TEXT_FIELDS = ("title", "description", "brand", "category")
CATEGORY_FIELD = "category_path"  # the product's category as written (keyword)


def mappings_dir() -> Path:
    """``mappings/`` in a source checkout, or the copy shipped inside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "mappings", here / "mappings"):
        if (candidate / SCHEMA_FILE).is_file():
            return candidate
    raise ConfigError("cannot find mappings/products.json next to the package")


def load_template(path: Path | None = None) -> dict[str, Any]:
    path = path or mappings_dir() / SCHEMA_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot load index template {path}: {exc}") from exc


# The encoder kind an index made before encoders were named used (embed/base.py registers it).
DEFAULT_ENCODER = "transformers"


@dataclass(frozen=True)
class ModelMeta:
    """What an index records about the encoder that filled its vectors."""

    name: str
    fingerprint: str
    dims: int
    query_prefix: str
    passage_prefix: str
    encoder: str = DEFAULT_ENCODER  # the registered encoder kind that makes these vectors
    languages: tuple[str, ...] = ()  # what it was trained on (embed/languages.py); () = not declared

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexLayout:
    """How an index is laid out on the cluster: shards, replicas, the vector index type.

    Recorded in ``_meta.layout`` so a ``--rebuild`` keeps it unless told otherwise."""

    shards: int = 1
    replicas: int | None = None  # None: 0-1 auto-expanding
    vector_index: str = DEFAULT_VECTOR_INDEX

    @classmethod
    def chosen(cls, settings: Settings, current: Mapping[str, Any] | None = None) -> IndexLayout:
        """The settings' layout; what they leave open comes from ``current`` (an index's
        ``_meta``, on --rebuild), else the defaults."""
        held = (current or {}).get("layout") or {}
        return cls(
            shards=settings.shards if settings.shards is not None else int(held.get("shards", 1)),
            replicas=settings.replicas if settings.replicas is not None else held.get("replicas"),
            vector_index=settings.vector_index or str(held.get("vector_index") or DEFAULT_VECTOR_INDEX),
        )

    def apply(self, index_settings: dict[str, Any], vector_template: dict[str, Any]) -> None:
        index = index_settings.setdefault("index", {})
        index["number_of_shards"] = self.shards
        if self.replicas is not None:
            index.pop("auto_expand_replicas", None)
            index["number_of_replicas"] = self.replicas
        options = dict(vector_template.get("index_options") or {})
        options["type"] = self.vector_index
        if self.vector_index.endswith("flat"):  # no graph to build
            options.pop("m", None)
            options.pop("ef_construction", None)
        if self.vector_index.startswith("bbq"):  # 1-bit vectors: rescored from 3x the candidates
            options.setdefault("rescore_vector", {"oversample": BBQ_OVERSAMPLE})
        vector_template["index_options"] = options

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)


BBQ_OVERSAMPLE = 3.0


def build_index_body(
    template: dict[str, Any],
    languages: tuple[str, ...] | list[str],
    model: ModelMeta | Mapping[str, ModelMeta],
    translator: str,
    language_analyzers: bool,
    vectors_in_source: bool = True,
    exclude_source_vectors_setting: bool = True,
    word_analyzers: Mapping[str, str] | None = None,
    segmented: Sequence[str] = (),
    layout: IndexLayout | None = None,
) -> dict[str, Any]:
    """Complete the template for these languages, these models and this cluster.

    ``model`` is one model (for the template's vector field) or a mapping of
    vector field -> model, one ``dense_vector`` field each, the first primary.
    ``word_analyzers``: language -> a plugin's word analyzer the cluster has
    (smartcn, kuromoji, nori), used for that language's fields. ``segmented``:
    languages whose words the client cuts (text/segment.py) into ``words.<lang>``,
    split on whitespace by the cluster.
    """
    if not languages:
        raise ConfigError("an index needs at least one language")
    layout = layout or IndexLayout()
    vector_template = copy.deepcopy(template["vector"])
    default_field = vector_template.pop("field")
    models = {default_field: model} if isinstance(model, ModelMeta) else dict(model)
    if not models:
        raise ConfigError("an index needs at least one encoder")
    for meta in models.values():
        if meta.dims <= 0:
            raise ConfigError(f"embedding dims must be positive, got {meta.dims}")
    per_lang = template["per_language"]
    analyzers = dict(per_lang.get("language_analyzers", {})) if language_analyzers else {}
    analyzers.update(word_analyzers or {})
    words = [lang for lang in segmented if lang in languages]
    properties = _properties(template, languages, analyzers, words)
    settings = copy.deepcopy(template.get("settings", {}))
    layout.apply(settings, vector_template)
    for vector_field, meta in models.items():
        properties[vector_field] = {**copy.deepcopy(vector_template), "dims": meta.dims}
    source: dict[str, Any] = {}
    if exclude_source_vectors_setting:
        # 9.x hides vectors from _source by default; Kibana inspection wants them.
        settings.setdefault("index", {})["mapping.exclude_source_vectors"] = not vectors_in_source
    elif not vectors_in_source:
        source = {"excludes": list(models)}

    mappings: dict[str, Any] = {
        "dynamic": "strict",
        "_meta": {**_meta(template, models, translator, languages, words), "layout": layout.as_meta()},
        "properties": properties,
    }
    if source:
        mappings["_source"] = source
    return {"settings": settings, "mappings": mappings}


def _properties(
    template: dict[str, Any], languages: Sequence[str], analyzers: Mapping[str, str], words: Sequence[str]
) -> dict[str, Any]:
    """The text fields per language (with their analyzers), attr and words; vectors are added after."""
    per_lang = template["per_language"]
    properties: dict[str, Any] = copy.deepcopy(template["properties"])
    for field, spec in per_lang["fields"].items():
        # "original" holds the text as written, whatever its language, so a
        # record in a language the index does not translate into still matches.
        lang_props = {ORIGINAL: {**copy.deepcopy(spec), "analyzer": per_lang["default_analyzer"]}}
        for lang in languages:
            field_spec = copy.deepcopy(spec)
            field_spec["analyzer"] = analyzers.get(lang, per_lang["default_analyzer"])
            lang_props[lang] = field_spec
        properties[field] = {"properties": lang_props}
    # Canonical colours and materials (text/attributes.py), for boosts and filters.
    properties["attr"] = {"properties": {kind: {"type": "keyword"} for kind in ATTRIBUTE_FIELDS}}
    if words:
        properties["words"] = {"properties": {lang: {"type": "text", "analyzer": "whitespace"} for lang in words}}
    return properties


def _meta(
    template: dict[str, Any],
    models: Mapping[str, ModelMeta],
    translator: str,
    languages: Sequence[str],
    words: Sequence[str],
) -> dict[str, Any]:
    """What the index records about itself (runtime.IndexMeta reads it back)."""
    primary = next(iter(models))
    return {
        "schema_version": template["schema_version"],
        "model": models[primary].as_dict(),
        "vector_field": primary,
        "models": {f: m.as_dict() for f, m in models.items()},
        "vector_fields": list(models),  # the order (Elasticsearch does not keep a map's order)
        "translator": translator,
        "languages": list(languages),
        "segmented": list(words),
        "attribute_fields": list(ATTRIBUTE_FIELDS),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


JUDGED_META_KEY = "judged"  # what ``xlsearch learn-vectors`` recorded (learn/judged.py)
JUDGED_SUFFIX = "_judged"
JUDGED_PATTERN = f"*{JUDGED_SUFFIX}"  # every judged field, as a _source include pattern


def judged_field_name(vector_field: str) -> str:
    """The field beside an encoder's vector field holding a product's judged-query centroid."""
    return f"{vector_field}{JUDGED_SUFFIX}"


def judged_fields(index_meta: Mapping[str, Any] | None) -> dict[str, str]:
    """judged field -> the encoder field whose query vector searches it, as ``_meta`` records
    them (only for encoder fields the index still has, and with the fingerprint it recorded)."""
    meta = index_meta or {}
    record = meta.get(JUDGED_META_KEY)
    if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
        return {}
    models = index_models(meta)
    prints = record.get("model_fingerprints") or {}
    return {
        str(j): str(src)
        for j, src in record["fields"].items()
        if src in models and prints.get(src, "") == str(models[src].get("fingerprint", ""))
    }


def recorded_encoder(model: Mapping[str, Any]) -> str:
    """The encoder kind a recorded model names (older records name none)."""
    return str(model.get("encoder") or DEFAULT_ENCODER)


def index_models(index_meta: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """vector field -> recorded model, from an index ``_meta`` (indices made before
    multi-vector support record one ``model`` and its ``vector_field``)."""
    meta = index_meta or {}
    if isinstance(meta.get("models"), dict) and meta["models"]:
        models = meta["models"]
        order = [f for f in meta.get("vector_fields") or [] if f in models]
        return {
            f: models[f] for f in dict.fromkeys([*order, str(meta.get("vector_field")), *sorted(models)]) if f in models
        }
    if isinstance(meta.get("model"), dict):
        return {str(meta.get("vector_field") or "embedding"): meta["model"]}
    return {}
