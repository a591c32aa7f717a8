"""Operations that join the parts: settings + model + cluster -> an index.

Kept apart from mapping (pure) and cluster (transport) so each stays testable
alone; the CLI and the Python API both call these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from .cluster.capabilities import probe
from .cluster.connection import connect
from .cluster.indices import create_versioned
from .config import Settings
from .errors import IndexMismatchError
from .mapping import ModelMeta, build_index_body, load_template


def model_meta(settings: Settings) -> ModelMeta:
    """The encoder's metadata; converts the default e5 first if needed."""
    from .embed.encoder import encoder_meta_without_loading

    meta = encoder_meta_without_loading(settings)
    if meta is not None:
        return meta
    if settings.model is None:
        from .embed.store import prepare_e5

        prepare_e5(Path(settings.model_ref))
        meta = encoder_meta_without_loading(settings)
        assert meta is not None
        return meta
    from .embed.encoder import Encoder, spec_from_settings

    return Encoder(spec_from_settings(settings)).meta()


def index_body(settings: Settings, client: Elasticsearch, meta: ModelMeta) -> dict[str, Any]:
    caps = probe(client)
    return build_index_body(
        load_template(), settings.languages, meta, settings.translator,
        language_analyzers=settings.language_analyzers and caps.language_analyzers,
        vectors_in_source=settings.vectors_in_source,
        exclude_source_vectors_setting=caps.exclude_source_vectors_setting,
    )


def create_index(settings: Settings, client: Elasticsearch | None = None,
                 point_alias: bool = True, meta: ModelMeta | None = None) -> dict[str, Any]:
    """Create the next versioned index for ``settings.index`` (alias pointed if asked)."""
    client = client or connect(settings)
    meta = meta or model_meta(settings)
    body = index_body(settings, client, meta)
    name = create_versioned(client, settings.index, body, point_alias=point_alias)
    return {"alias": settings.index, "index": name, "dims": meta.dims, "model": meta.name,
            "fingerprint": meta.fingerprint, "languages": list(settings.languages)}


def settings_for_index(settings: Settings, index_meta: dict[str, Any] | None) -> Settings:
    """Search with the precision (fp32 or int8) the index's vectors were made with,
    when the weights are the same: queries then match without a flag."""
    from .embed.encoder import INT8_SUFFIX

    recorded = str(((index_meta or {}).get("model") or {}).get("fingerprint", ""))
    return settings.replace(quantize_int8=recorded.endswith(INT8_SUFFIX)) if recorded else settings


def check_compatible(index_meta: dict[str, Any] | None, meta: ModelMeta, alias: str) -> None:
    """Refuse to mix vectors from two models (or two precisions of one) in one index."""
    from .embed.encoder import INT8_SUFFIX

    if not index_meta or "model" not in index_meta:
        return
    recorded = index_meta["model"]
    fp = str(recorded.get("fingerprint"))
    if fp != meta.fingerprint and fp.removesuffix(INT8_SUFFIX) == meta.fingerprint.removesuffix(INT8_SUFFIX):
        held, given = ("int8", "fp32") if fp.endswith(INT8_SUFFIX) else ("fp32", "int8")
        raise IndexMismatchError(
            f"index {alias!r} holds {held} vectors of {recorded.get('name')} but the encoder is {given}; "
            f"{'add' if held == 'int8' else 'drop'} --int8 (XLSEARCH_QUANTIZE_INT8), or rebuild with "
            f"'xlsearch ingest FILE --index {alias} --rebuild'")
    if fp != meta.fingerprint or int(recorded.get("dims", -1)) != meta.dims:
        raise IndexMismatchError(
            f"index {alias!r} was built with model {recorded.get('name')} "
            f"(fingerprint {recorded.get('fingerprint')}, {recorded.get('dims')} dims) but the configured "
            f"encoder is {meta.name} ({meta.fingerprint}, {meta.dims} dims); rebuild it with "
            f"'xlsearch ingest FILE --index {alias} --rebuild' or configure the original model"
        )


__all__ = ["check_compatible", "create_index", "index_body", "model_meta"]
