"""The product index body: ``mappings/products.json`` completed for one index.

Pure functions: the template, the index's languages, the embedding model's
metadata and the cluster's capabilities go in; a ``{settings, mappings}`` body
comes out. Nothing here talks to a cluster.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigError

SCHEMA_FILE = "products.json"
ORIGINAL = "original"
TEXT_FIELDS = ("title", "description", "brand", "category")


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


@dataclass(frozen=True)
class ModelMeta:
    """What an index records about the encoder that filled its vectors."""

    name: str
    fingerprint: str
    dims: int
    query_prefix: str
    passage_prefix: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_index_body(
    template: dict[str, Any],
    languages: tuple[str, ...] | list[str],
    model: ModelMeta,
    translator: str,
    language_analyzers: bool,
    vectors_in_source: bool = True,
    exclude_source_vectors_setting: bool = True,
) -> dict[str, Any]:
    """Complete the template for these languages, this model and this cluster."""
    if not languages:
        raise ConfigError("an index needs at least one language")
    if model.dims <= 0:
        raise ConfigError(f"embedding dims must be positive, got {model.dims}")
    per_lang = template["per_language"]
    analyzers = per_lang.get("language_analyzers", {}) if language_analyzers else {}

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

    vector = copy.deepcopy(template["vector"])
    vector_field = vector.pop("field")
    vector["dims"] = model.dims
    properties[vector_field] = vector

    settings = copy.deepcopy(template.get("settings", {}))
    source: dict[str, Any] = {}
    if exclude_source_vectors_setting:
        # 9.x hides vectors from _source by default; Kibana inspection wants them.
        settings.setdefault("index", {})["mapping.exclude_source_vectors"] = not vectors_in_source
    elif not vectors_in_source:
        source = {"excludes": [vector_field]}

    mappings: dict[str, Any] = {
        "dynamic": "strict",
        "_meta": {
            "schema_version": template["schema_version"],
            "model": model.as_dict(),
            "vector_field": vector_field,
            "translator": translator,
            "languages": list(languages),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "properties": properties,
    }
    if source:
        mappings["_source"] = source
    return {"settings": settings, "mappings": mappings}
