"""Operations that join the parts: settings + models + cluster -> an index.

Kept apart from mapping (pure) and cluster (transport) so each stays testable
alone; the CLI and the Python API both call these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elasticsearch import Elasticsearch

from .cluster.capabilities import probe
from .cluster.connection import connect
from .cluster.indices import create_versioned
from .config import Settings
from .errors import IndexMismatchError
from .mapping import (
    DEFAULT_ENCODER,
    IndexLayout,
    ModelMeta,
    build_index_body,
    index_models,
    load_template,
    recorded_encoder,
)
from .text.segment import NATIVE_ANALYZERS, SEGMENTED_LANGUAGES


def model_meta(settings: Settings) -> ModelMeta:
    """The primary encoder's metadata (models converted or prepared first if needed)."""
    return next(iter(models_meta(settings).values()))


def models_meta(settings: Settings) -> dict[str, ModelMeta]:
    """vector field -> metadata, for every configured encoder."""
    from .embed.base import describe_embedders

    return describe_embedders(settings)


def index_body(
    settings: Settings,
    client: Elasticsearch,
    models: Mapping[str, ModelMeta],
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of a new index; ``current``: the ``_meta`` of the index it replaces
    (--rebuild), whose layout it keeps where the settings leave it open."""
    caps = probe(client)
    return build_index_body(
        load_template(),
        settings.languages,
        models,
        settings.translator,
        language_analyzers=settings.language_analyzers and caps.language_analyzers,
        vectors_in_source=settings.vectors_in_source,
        exclude_source_vectors_setting=caps.exclude_source_vectors_setting,
        word_analyzers={lang: NATIVE_ANALYZERS[lang] for lang in caps.word_analyzers},
        segmented=[lang for lang in SEGMENTED_LANGUAGES if lang not in caps.word_analyzers],
        layout=IndexLayout.chosen(settings, current),
    )


def create_index(
    settings: Settings,
    client: Elasticsearch | None = None,
    *,
    point_alias: bool = True,
    models: Mapping[str, ModelMeta] | None = None,
) -> dict[str, Any]:
    """Create the next versioned index for ``settings.index`` (alias pointed if asked)."""
    client = client or connect(settings)
    models = models or models_meta(settings)
    body = index_body(settings, client, models)
    name = create_versioned(client, settings.index, body, point_alias=point_alias)
    primary = next(iter(models.values()))
    return {
        "alias": settings.index,
        "index": name,
        "dims": primary.dims,
        "model": primary.name,
        "fingerprint": primary.fingerprint,
        "languages": list(settings.languages),
        "vector_fields": {f: m.name for f, m in models.items()},
    }


def settings_for_index(settings: Settings, index_meta: dict[str, Any] | None, *, precision: bool = True) -> Settings:
    """The encoders the index holds vectors of, and (``precision``) the precision
    (fp32 or int8) its transformers vectors were made with: searches then match
    without a flag. Ingest keeps the user's precision, so a mismatch is refused."""
    from .embed.encoder import ONNX, TORCH
    from .embed.fingerprints import INT8_SUFFIX, ONNX_INT8_SUFFIX

    models = index_models(index_meta)
    if not models:
        return settings
    kinds = tuple(recorded_encoder(m) for m in models.values())
    changes: dict[str, Any] = {"encoders": kinds}
    transformers = next((m for m in models.values() if recorded_encoder(m) == DEFAULT_ENCODER), None)
    if precision and transformers and transformers.get("fingerprint"):
        fingerprint = str(transformers["fingerprint"])
        changes["quantize_int8"] = fingerprint.endswith(INT8_SUFFIX)
        if fingerprint.endswith(ONNX_INT8_SUFFIX):
            changes["backend"] = ONNX
        elif changes["quantize_int8"]:
            changes["backend"] = TORCH
    return settings.replace(**changes)


def check_compatible(
    index_meta: dict[str, Any] | None, models: ModelMeta | Mapping[str, ModelMeta], alias: str
) -> None:
    """Refuse to mix vectors from two models (or two precisions of one) in one index,
    and an encoder set that differs from the index's vector fields."""
    recorded = index_models(index_meta)
    if not recorded:
        return
    given = {next(iter(recorded)): models} if isinstance(models, ModelMeta) else dict(models)
    if set(given) != set(recorded):
        raise IndexMismatchError(
            f"index {alias!r} holds vectors in {', '.join(recorded)} but the configured encoders write "
            f"{', '.join(given)}; configure --encoders "
            f"{','.join(recorded_encoder(m) for m in recorded.values())} or rebuild with "
            f"'xlsearch ingest FILE --index {alias} --rebuild'"
        )
    for field, meta in given.items():
        _check_one(recorded[field], meta, alias)


def _check_one(recorded: dict[str, Any], meta: ModelMeta, alias: str) -> None:
    from .embed.encoder import ONNX, TORCH
    from .embed.fingerprints import INT8_SUFFIX, ONNX_INT8_SUFFIX, base_fingerprint

    fp = str(recorded.get("fingerprint"))
    if fp != meta.fingerprint and base_fingerprint(fp) == base_fingerprint(meta.fingerprint):
        if fp.endswith(INT8_SUFFIX) and meta.fingerprint.endswith(INT8_SUFFIX):
            held = "ONNX int8" if fp.endswith(ONNX_INT8_SUFFIX) else "torch int8"
            raise IndexMismatchError(
                f"index {alias!r} holds {held} vectors of {recorded.get('name')}; use --backend "
                f"{ONNX if fp.endswith(ONNX_INT8_SUFFIX) else TORCH} --int8, or rebuild with "
                f"'xlsearch ingest FILE --index {alias} --rebuild'"
            )
        held, given = ("int8", "fp32") if fp.endswith(INT8_SUFFIX) else ("fp32", "int8")
        raise IndexMismatchError(
            f"index {alias!r} holds {held} vectors of {recorded.get('name')} but the encoder is {given}; "
            f"{'add' if held == 'int8' else 'drop'} --int8 (XLSEARCH_QUANTIZE_INT8), or rebuild with "
            f"'xlsearch ingest FILE --index {alias} --rebuild'"
        )
    if fp != meta.fingerprint or int(recorded.get("dims", -1)) != meta.dims:
        raise IndexMismatchError(
            f"index {alias!r} was built with model {recorded.get('name')} "
            f"(fingerprint {recorded.get('fingerprint')}, {recorded.get('dims')} dims) but the configured "
            f"encoder is {meta.name} ({meta.fingerprint}, {meta.dims} dims); rebuild it with "
            f"'xlsearch ingest FILE --index {alias} --rebuild' or configure the original model"
        )


__all__ = ["check_compatible", "create_index", "index_body", "model_meta", "models_meta", "settings_for_index"]
